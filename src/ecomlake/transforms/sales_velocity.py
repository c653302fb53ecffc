"""int_sales_velocity: one row per product and order day with sales (partition order_dt).

velocity_7d = units over the calendar window M-6..M divided by 7 (days without sales count as
zero); prev_velocity_7d = the same over the 7 days before that. trend_signal is UP when
velocity_7d > trend_up_multiplier x prev_velocity_7d, DOWN when < trend_down_multiplier x
prev_velocity_7d, else STABLE (so a product that starts selling after a quiet fortnight is UP).
A run rewrites the order dates of the lines that arrived on D and the two windows after each.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, days, in_dates, spread
from ecomlake.transforms.schemas import SALES_VELOCITY


def affected_dates(ctx: Context) -> set[dt.date]:
    n = ctx.cfg.sales_velocity_window_days
    arrived = {d for d in ctx.dates(ctx.changed("order_items").order_dt) if d is not None}
    if not arrived:
        return set()
    return spread(arrived, 0, 2 * n - 1, cap=max(*arrived, ctx.ingest_dt))


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    if not dates:
        return None, set()
    n = ctx.cfg.sales_velocity_window_days
    lo, hi = min(dates), max(dates)
    oi = ctx.silver_between("order_items", lo - days(2 * n - 1), hi)
    daily = oi.group_by(product_id=oi.product_id, dt=oi.order_dt).aggregate(qty=oi.quantity.sum())
    rows = daily.filter(in_dates(daily.dt, dates))
    k = rows.select(k_pid="product_id", k_dt="dt", daily_quantity="qty")
    j = k.join(daily, [k.k_pid == daily.product_id, daily.dt <= k.k_dt, daily.dt > k.k_dt - ibis.interval(days=2 * n)])
    recent = j.dt > j.k_dt - ibis.interval(days=n)
    agg = j.group_by(product_id=j.k_pid, order_dt=j.k_dt, daily_quantity=j.daily_quantity).aggregate(
        cur=ibis.ifelse(recent, j.qty, 0).sum(),
        prev=ibis.ifelse(recent, 0, j.qty).sum(),
    )
    agg = agg.mutate(
        velocity_7d=agg.cur.cast("float64") / n,
        prev_velocity_7d=agg.prev.cast("float64") / n,
    )
    up, down = ctx.cfg.trend_up_multiplier, ctx.cfg.trend_down_multiplier
    agg = agg.mutate(
        trend_signal=ibis.cases(
            (agg.velocity_7d > agg.prev_velocity_7d * up, "UP"),
            (agg.velocity_7d < agg.prev_velocity_7d * down, "DOWN"),
            else_="STABLE",
        )
    )
    return conform(agg, SALES_VELOCITY, ctx.ingest_dt), dates
