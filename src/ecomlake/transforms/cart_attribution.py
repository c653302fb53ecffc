"""int_cart_attribution: one row per cart (partition cart_dt), and the cart-to-order matching.

Matching rule (shared with int_attributed_purchases, so the two tables always agree):
1. each order attaches to the latest cart of the same customer created at most
   `attribution_tolerance_hours` before it (created_at <= order_date <= created_at + tolerance);
2. each cart is converted by the earliest order attached to it.
So an order converts at most one cart, and a cart is converted by at most one order.

Which cart dates a run rewrites: the cart dates of carts and cart items that arrived on D, the
dates within the tolerance of any cart or order that arrived on D (a new order or cart can change
the matching of its neighbours, in both directions across midnight), and every cart date whose
tolerance window was still open at the start of D (it may convert today, or its window closes).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, date_range, days, in_dates, spread
from ecomlake.transforms.schemas import CART_ATTRIBUTION


def _tolerance(ctx: Context) -> ir.IntervalScalar:
    return ibis.interval(seconds=round(ctx.cfg.attribution_tolerance_hours * 3600))


def _item_cart_dates(ctx: Context) -> set[dt.date]:
    """Cart dates of the carts that received items on D."""
    items = ctx.changed("cart_items")
    added = {d for d in ctx.dates(items.added_dt) if d is not None}
    if not added:
        return set()
    ids = items.select("cart_id").distinct()
    # Items are normally added within a session of their cart: look among recent carts first and
    # only scan all history for cart ids not found there.
    recent = ctx.silver("shopping_carts", since=min(added) - days(2 * ctx.tolerance_days + 2))
    found = recent.semi_join(ids, "cart_id").select("cart_id", "created_dt")
    out = ctx.dates(found.created_dt)
    missing = ids.anti_join(found, "cart_id")
    if ctx.count(missing):
        old = ctx.silver("shopping_carts").semi_join(missing, "cart_id")
        out |= ctx.dates(old.created_dt)
    return {d for d in out if d is not None}


def affected_dates(ctx: Context) -> set[dt.date]:
    """Cart dates and order dates whose attribution run D recomputes."""
    if "attribution_dates" in ctx.cache:
        return ctx.cache["attribution_dates"]
    t = ctx.tolerance_days
    arrived = ctx.dates(ctx.changed("orders").order_dt) | ctx.dates(ctx.changed("shopping_carts").created_dt)
    arrived |= _item_cart_dates(ctx)
    out = spread(arrived, t, t)
    window_open_from = (
        dt.datetime.combine(ctx.ingest_dt, dt.time()) - dt.timedelta(hours=ctx.cfg.attribution_tolerance_hours)
    ).date()
    out |= set(date_range(window_open_from, ctx.ingest_dt))
    ctx.cache["attribution_dates"] = out
    return out


def matches(ctx: Context) -> ir.Table:
    """(cart_id, order_id, cart_created_at, order_date, order_channel, hours) for every converted pair
    that involves a cart or an order dated in `affected_dates`."""
    if "attribution_matches" in ctx.cache:
        return ctx.cache["attribution_matches"]
    dates = affected_dates(ctx)
    pad = ctx.tolerance_days + 1
    lo, hi = min(dates) - days(pad), max(dates) + days(pad)
    carts = ctx.silver_between("shopping_carts", lo, hi).select("cart_id", "customer_id", "created_at")
    orders = ctx.silver_between("orders", lo, hi).select("order_id", "customer_id", "order_date", "order_channel")
    # Explicit range join instead of asof_join: Ibis 12's asof_join(tolerance=) compiles to wrong SQL.
    j = orders.join(
        carts,
        [
            orders.customer_id == carts.customer_id,
            carts.created_at <= orders.order_date,
            orders.order_date <= carts.created_at + _tolerance(ctx),
        ],
    )
    latest_cart = ibis.window(group_by=j.order_id, order_by=[ibis.desc(j.created_at), ibis.desc(j.cart_id)])
    attached = j.mutate(_rn=ibis.row_number().over(latest_cart)).filter(lambda x: x._rn == 0)
    first_order = ibis.window(group_by=attached.cart_id, order_by=[attached.order_date, attached.order_id])
    m = attached.mutate(_rn2=ibis.row_number().over(first_order)).filter(lambda x: x._rn2 == 0)
    m = m.select(
        "cart_id",
        "order_id",
        "order_date",
        "order_channel",
        cart_created_at=m.created_at,
        # Exact microseconds on every engine: epoch_seconds() is whole seconds on Spark (unix_timestamp).
        hours=m.order_date.delta(m.created_at, unit="microsecond").cast("float64") / 3_600_000_000.0,
    )
    m = ctx.materialize(m)  # computed once per run, used by both attribution tables
    ctx.cache["attribution_matches"] = m
    return m


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    carts = ctx.silver("shopping_carts", since=min(dates))
    carts = carts.filter(in_dates(carts.created_at.date(), dates))
    items = ctx.arrived_since("cart_items", min(dates) - days(ctx.skew_days))
    items = items.semi_join(carts, "cart_id")
    agg = items.group_by("cart_id").aggregate(
        item_count=items.count(),
        units=items.quantity.sum(),
        category_count=items.category.nunique(),
        items_value=(items.quantity * items.unit_price).sum(),
    )
    m = matches(ctx).select("cart_id", "order_id", "order_date", "order_channel", "hours")
    c = carts.left_join(agg, "cart_id").select(carts, agg.item_count, agg.units, agg.category_count, agg.items_value)
    c = c.left_join(m, "cart_id").select(c, m.order_id, m.order_date, m.order_channel, m.hours)
    closed = (c.created_at + _tolerance(ctx)) < ibis.timestamp(ctx.day_end)
    cart_value = c.cart_total.cast("decimal(38, 2)").coalesce(c.items_value.cast("decimal(38, 2)"))
    status = ibis.cases(
        (c.order_id.notnull(), "converted"),
        (~closed, "open"),
        (cart_value > 0, "abandoned"),
        else_="empty",
    )
    out = c.mutate(
        cart_value=cart_value,
        item_count=c.item_count.coalesce(0),
        units=c.units.coalesce(0),
        category_count=c.category_count.coalesce(0),
        cart_status=status,
        cart_dt=c.created_at.date(),
    )
    out = out.mutate(
        time_to_purchase_hours=ibis.ifelse(out.cart_status == "converted", out.hours, ibis.null("float64")),
        abandoned_value=ibis.ifelse(out.cart_status == "abandoned", out.cart_value, ibis.null("decimal(38, 2)")),
    )
    return conform(out, CART_ATTRIBUTION, ctx.ingest_dt), dates
