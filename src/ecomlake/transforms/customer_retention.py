"""int_customer_retention_signals: one row per registered customer in the snapshot for D
(partition ingest_dt=D), from the same lifetime `customer_orders` state as the CLV table.

is_in_danger_zone: exactly one order, and the first purchase between churn_danger_window_days
[lo, hi] days before D (inclusive). needs_bronze_nudge: the customer's loyalty tier is
`bronze_nudge_tier` and the last purchase is more than bronze_nudge_days before D (false for a
customer without orders: there is no purchase to follow up).
"""

from __future__ import annotations

import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, lit_date
from ecomlake.transforms.customer_lifetime_value import lifetime
from ecomlake.transforms.schemas import CUSTOMER_RETENTION


def build(ctx: Context) -> tuple[ir.Table, None]:
    cfg = ctx.cfg
    lo, hi = cfg.churn_danger_window_days
    t = lifetime(ctx)
    d = lit_date(ctx.ingest_dt)
    t = t.mutate(
        first_purchase_date=t.first_order_dt,
        last_purchase_date=t.last_order_dt,
        total_orders=t.order_count,
        days_since_first_buy=d.delta(t.first_order_dt, unit="day"),
        days_since_last_buy=d.delta(t.last_order_dt, unit="day"),
    )
    t = t.mutate(
        is_in_danger_zone=((t.total_orders == 1) & t.days_since_first_buy.between(lo, hi)).coalesce(False),
        needs_bronze_nudge=(
            (t.loyalty_tier.lower() == cfg.bronze_nudge_tier.lower()) & (t.days_since_last_buy > cfg.bronze_nudge_days)
        ).coalesce(False),
    )
    return conform(t, CUSTOMER_RETENTION, ctx.ingest_dt), None
