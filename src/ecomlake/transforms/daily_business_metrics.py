"""int_daily_business_metrics: one row per calendar day (partition metric_dt).

Per day M: orders (order_dt = M), carts (cart date = M), returns (return_dt = M) and their ratios
(null when the denominator is 0; return_rate may exceed 1 on a quiet day). Rolling values are
over calendar days with missing days counted as zero: orders_7d_avg and revenue_7d_avg over
M-6..M, revenue_30d_avg / revenue_30d_std (sample) over M-29..M, where revenue is net_revenue.
revenue_anomaly_flag compares net_revenue with the mean and standard deviation of the previous 30
days (M excluded): HIGH / LOW beyond `anomaly_std_multiplier` deviations, NORMAL otherwise or
when fewer than `anomaly_min_history_days` of those 30 days had any activity.

Standard deviations are computed from exact DECIMAL sums (n, sum, sum of squares), so a rerun
gives bit-identical doubles whatever order the engine adds rows in.

A run rewrites every day that received rows on D and the 30 days after each (their rolling values
change), up to D.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomlake.transforms.common import Context, conform, date_range, days, in_dates, spread
from ecomlake.transforms.schemas import DAILY_BUSINESS_METRICS

LONG = 30  # revenue_30d_* and the anomaly baseline (part of the column definitions)
SHORT = 7  # *_7d_avg


def affected_dates(ctx: Context) -> set[dt.date]:
    arrived = (
        ctx.dates(ctx.changed("orders").order_dt)
        | ctx.dates(ctx.changed("shopping_carts").created_dt)
        | ctx.dates(ctx.changed("returns").return_dt)
    )
    days = {d for d in arrived if d is not None}
    if not days:
        return set()
    return spread(days, 0, LONG, cap=max(*days, ctx.ingest_dt))


def _std(n: int, s1: ir.Value, s2: ir.Value) -> ir.Value:
    """Sample standard deviation from exact sums: sqrt((n*s2 - s1^2) / (n(n-1)))."""
    num = (s2 * n - s1 * s1).cast("float64")
    var = num / float(n * (n - 1))
    return ibis.ifelse(var > 0, var.sqrt(), 0.0)


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    if not dates:
        return None, set()
    lo, hi = min(dates), max(dates)
    first = lo - days(LONG)
    o = ctx.silver_between("orders", first, hi)
    orders = o.group_by(d=o.order_dt).aggregate(
        orders_count=o.count(),
        gross_revenue=o.gross_total.sum().cast("decimal(38, 2)"),
        net_revenue=o.net_total.sum().cast("decimal(38, 2)"),
    )
    c = ctx.silver_between("shopping_carts", first, hi)
    carts = c.group_by(d=c.created_at.date()).aggregate(carts_created=c.count())
    r = ctx.silver_between("returns", first, hi)
    rets = r.group_by(d=r.return_dt).aggregate(
        returns_count=r.count(),
        refund_total=r.refunded_amount.coalesce(0).sum().cast("decimal(38, 2)"),
    )
    spine = ibis.memtable(pa.table({"d": pa.array(date_range(first, hi), pa.date32())}))
    zero = ibis.literal(0).cast("decimal(38, 2)")
    t = spine.left_join(orders, "d").select(spine.d, orders.orders_count, orders.gross_revenue, orders.net_revenue)
    t = t.left_join(carts, "d").select(t, carts.carts_created)
    t = t.left_join(rets, "d").select(t, rets.returns_count, rets.refund_total)
    t = t.mutate(
        orders_count=t.orders_count.coalesce(0),
        gross_revenue=t.gross_revenue.coalesce(zero),
        net_revenue=t.net_revenue.coalesce(zero),
        carts_created=t.carts_created.coalesce(0),
        returns_count=t.returns_count.coalesce(0),
        refund_total=t.refund_total.coalesce(zero),
    )
    t = t.mutate(active=((t.orders_count > 0) | (t.carts_created > 0) | (t.returns_count > 0)).cast("int64"))
    t = ctx.materialize(t)

    # Rolling values: join each target day M to the spine days M-30..M.
    k = t.filter(in_dates(t.d, dates))
    h = t.select(h_d="d", h_orders="orders_count", h_rev="net_revenue", h_active="active")
    j = k.join(h, [h.h_d <= k.d, h.h_d >= k.d - ibis.interval(days=LONG)])
    in7 = j.h_d > j.d - ibis.interval(days=SHORT)
    in30 = j.h_d > j.d - ibis.interval(days=LONG)
    prev = j.h_d < j.d
    zero_rev = ibis.literal(0).cast("decimal(38, 2)")
    agg = j.group_by("d").aggregate(
        o7=ibis.ifelse(in7, j.h_orders, 0).sum(),
        r7=ibis.ifelse(in7, j.h_rev, zero_rev).sum(),
        r30=ibis.ifelse(in30, j.h_rev, zero_rev).sum(),
        r30sq=ibis.ifelse(in30, j.h_rev * j.h_rev, zero_rev).sum(),
        b1=ibis.ifelse(prev, j.h_rev, zero_rev).sum(),
        b2=ibis.ifelse(prev, j.h_rev * j.h_rev, zero_rev).sum(),
        b_active=ibis.ifelse(prev, j.h_active, 0).sum(),
    )
    t = k.join(agg, "d")
    mean_b = t.b1.cast("float64") / LONG
    std_b = _std(LONG, t.b1, t.b2)
    band = ctx.cfg.anomaly_std_multiplier * std_b
    rev = t.net_revenue.cast("float64")
    enough = t.b_active >= ctx.cfg.anomaly_min_history_days
    out = t.mutate(
        metric_dt=t.d,
        avg_order_value=ibis.ifelse(t.orders_count > 0, rev / t.orders_count.cast("float64"), ibis.null("float64")),
        cart_conversion_rate=ibis.ifelse(
            t.carts_created > 0, t.orders_count.cast("float64") / t.carts_created.cast("float64"), ibis.null("float64")
        ),
        return_rate=ibis.ifelse(
            t.orders_count > 0, t.returns_count.cast("float64") / t.orders_count.cast("float64"), ibis.null("float64")
        ),
        orders_7d_avg=t.o7.cast("float64") / SHORT,
        revenue_7d_avg=t.r7.cast("float64") / SHORT,
        revenue_30d_avg=t.r30.cast("float64") / LONG,
        revenue_30d_std=_std(LONG, t.r30, t.r30sq),
        revenue_anomaly_flag=ibis.cases(
            (~enough, "NORMAL"),
            (rev > mean_b + band, "HIGH"),
            (rev < mean_b - band, "LOW"),
            else_="NORMAL",
        ),
    )
    return conform(out, DAILY_BUSINESS_METRICS, ctx.ingest_dt), dates
