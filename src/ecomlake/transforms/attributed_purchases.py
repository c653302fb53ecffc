"""int_attributed_purchases: one row per order (partition order_dt) with the cart that converted
into it, under exactly the matching of int_cart_attribution (see `cart_attribution.matches`)."""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir

from ecomlake.transforms import cart_attribution
from ecomlake.transforms.common import Context, conform, in_dates
from ecomlake.transforms.schemas import ATTRIBUTED_PURCHASES


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = cart_attribution.affected_dates(ctx)
    orders = ctx.silver("orders", since=min(dates))
    orders = orders.filter(in_dates(orders.order_dt, dates))
    m = cart_attribution.matches(ctx).select("order_id", "cart_id", "cart_created_at", "hours")
    j = orders.left_join(m, "order_id").select(orders, m.cart_id, m.cart_created_at, m.hours)
    out = j.mutate(hours_from_cart=j.hours, is_recovered=j.cart_id.notnull())
    return conform(out, ATTRIBUTED_PURCHASES, ctx.ingest_dt), dates
