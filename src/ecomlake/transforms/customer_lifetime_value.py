"""int_customer_lifetime_value: one row per registered customer in the snapshot for D
(partition ingest_dt=D), over every Silver order and return known as of D.

Lifetime aggregates come from the incremental `customer_orders` state (see ecomlake.enriched.state).
net_clv = total_spent - total_refunded exactly. customer_segment, first match wins: no_orders,
churned (days_since_last_order >= churn_days), whale (net_clv >= whale_clv or order_count >=
whale_orders), one_timer (one order), regular. actual_clv_bucket: high_value (net_clv >=
whale_clv), medium_value (>= medium_clv), low_value. predicted_clv_bucket = the snapshot's
clv_bucket. Guests have no row.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, is_registered, lit_date
from ecomlake.transforms.schemas import CUSTOMER_LIFETIME_VALUE


def lifetime(ctx: Context) -> ir.Table:
    """Registered customers of the snapshot for D with their lifetime aggregates (zeros when none)."""
    st = ctx.customer_state()
    cust = ctx.customers()
    cust = cust.filter(is_registered(cust.customer_id))
    t = cust.left_join(st, "customer_id").select(cust, *[st[c] for c in st.columns if c != "customer_id"])
    zero = ibis.literal(0).cast("decimal(38, 2)")
    return t.mutate(
        order_count=t.order_count.coalesce(0),
        total_spent=t.total_spent.coalesce(zero),
        return_count=t.return_count.coalesce(0),
        total_refunded=t.total_refunded.coalesce(zero),
    )


def build(ctx: Context) -> tuple[ir.Table, None]:
    cfg = ctx.cfg
    t = lifetime(ctx)
    d = lit_date(ctx.ingest_dt)
    t = t.mutate(
        net_clv=t.total_spent - t.total_refunded,
        avg_order_value=ibis.ifelse(
            t.order_count > 0, t.total_spent.cast("float64") / t.order_count.cast("float64"), ibis.null("float64")
        ),
        first_order_date=t.first_order_dt,
        last_order_date=t.last_order_dt,
        days_since_last_order=d.delta(t.last_order_dt, unit="day"),
        predicted_clv_bucket=t.clv_bucket,
    )
    t = t.mutate(
        customer_segment=ibis.cases(
            (t.order_count == 0, "no_orders"),
            (t.days_since_last_order >= cfg.churn_days, "churned"),
            ((t.net_clv >= cfg.whale_clv) | (t.order_count >= cfg.whale_orders), "whale"),
            (t.order_count == 1, "one_timer"),
            else_="regular",
        ),
        actual_clv_bucket=ibis.cases(
            (t.net_clv >= cfg.whale_clv, "high_value"),
            (t.net_clv >= cfg.medium_clv, "medium_value"),
            else_="low_value",
        ),
    )
    return conform(t, CUSTOMER_LIFETIME_VALUE, ctx.ingest_dt), None
