"""int_shipping_economics: one row per order (partition order_dt).

shipping_margin = shipping_cost (charged) - actual_shipping_cost (paid); shipping_margin_pct =
margin / shipping_cost as DOUBLE, null when shipping_cost is 0 or null. The source
`is_expedited` is kept as it is; `speed_is_expedited` is what shipping_speed implies (two-day or
overnight) and `expedited_mismatch` flags a disagreement instead of overwriting the source.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, in_dates
from ecomlake.transforms.regional_financials import affected_dates
from ecomlake.transforms.schemas import SHIPPING_ECONOMICS

EXPEDITED_SPEEDS = ("two-day", "overnight")


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    if not dates:
        return None, set()
    o = ctx.silver("orders", since=min(dates))
    o = o.filter(in_dates(o.order_dt, dates))
    margin = o.shipping_cost - o.actual_shipping_cost
    speed_exp = ibis.ifelse(o.shipping_speed.isnull(), ibis.null("boolean"), o.shipping_speed.isin(EXPEDITED_SPEEDS))
    o = o.mutate(
        shipping_margin=margin,
        shipping_margin_pct=ibis.ifelse(
            o.shipping_cost.notnull() & (o.shipping_cost != 0),
            margin.cast("float64") / o.shipping_cost.cast("float64"),
            ibis.null("float64"),
        ),
        speed_is_expedited=speed_exp,
    )
    o = o.mutate(expedited_mismatch=(o.is_expedited != o.speed_is_expedited).coalesce(False))
    return conform(o, SHIPPING_ECONOMICS, ctx.ingest_dt), dates
