"""int_product_performance: one row per product and day of activity (partition product_dt).

product_dt is the business date of the activity: order lines on their order_dt, return lines on
their return_dt, cart lines on their added_dt. A run rewrites the product dates of the lines that
arrived on D plus the 30 days after each of them (their 30-day return rate changes), up to the
latest date known. Catalog attributes and the fallback unit cost come from the snapshot for D.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import Context, conform, days, in_dates, spread
from ecomlake.transforms.schemas import PRODUCT_PERFORMANCE

RATE_WINDOW_DAYS = 30  # the return rate's window, part of its definition (units over the 30 days ending that day)


def affected_dates(ctx: Context) -> set[dt.date]:
    arrived = (
        ctx.dates(ctx.changed("order_items").order_dt)
        | ctx.dates(ctx.changed("return_items").return_dt)
        | ctx.dates(ctx.changed("cart_items").added_dt)
    )
    days = {d for d in arrived if d is not None}
    if not days:
        return set()
    return spread(days, 0, RATE_WINDOW_DAYS - 1, cap=max(*days, ctx.ingest_dt))


def _money(x: ir.Value) -> ir.Value:
    return x.cast("decimal(38, 2)")


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    if not dates:
        return None, set()
    lo, hi = min(dates), max(dates)
    window_lo = lo - days(RATE_WINDOW_DAYS - 1)
    catalog = ctx.products()
    cost = catalog.select(product_id="product_id", snap_cost=catalog.cost_price)

    oi = ctx.silver_between("order_items", window_lo, hi)
    oi = oi.left_join(cost, "product_id").select(oi, cost.snap_cost)
    unit_cost = oi.cost_price.coalesce(oi.snap_cost).coalesce(ibis.literal(0).cast("decimal(18, 2)"))
    sales = oi.group_by(product_id=oi.product_id, dt=oi.order_dt).aggregate(
        units_sold=oi.quantity.sum(),
        order_line_count=oi.count(),
        gross_revenue=_money((oi.quantity * oi.unit_price).sum()),
        discount_amount=_money(oi.discount_amount.coalesce(0).sum()),
        cogs=_money((oi.quantity * unit_cost).sum()),
    )
    ri = ctx.silver_between("return_items", window_lo, hi)
    ri = ri.left_join(cost, "product_id").select(ri, cost.snap_cost)
    ret_cost = ri.cost_price.coalesce(ri.snap_cost).coalesce(ibis.literal(0).cast("decimal(18, 2)"))
    rets = ri.group_by(product_id=ri.product_id, dt=ri.return_dt).aggregate(
        units_returned=ri.quantity_returned.sum(),
        refunded_amount=_money(ri.refunded_amount.coalesce(0).sum()),
        returned_cogs=_money((ri.quantity_returned * ret_cost).sum()),
    )
    ci = ctx.silver_between("cart_items", lo, hi)
    carts = ci.group_by(product_id=ci.product_id, dt=ci.added_dt).aggregate(units_in_carts=ci.quantity.sum())

    keys = (
        sales.select("product_id", "dt")
        .union(rets.select("product_id", "dt"))
        .union(carts.select("product_id", "dt"))
        .distinct()
    )
    keys = keys.filter(in_dates(keys.dt, dates))
    t = keys.left_join(sales, ["product_id", "dt"]).select(
        keys, *[sales[c] for c in sales.columns if c not in ("product_id", "dt")]
    )
    t = t.left_join(rets, ["product_id", "dt"]).select(
        t, *[rets[c] for c in rets.columns if c not in ("product_id", "dt")]
    )
    t = t.left_join(carts, ["product_id", "dt"]).select(t, carts.units_in_carts)
    zero = ibis.literal(0).cast("decimal(38, 2)")
    t = t.mutate(
        units_sold=t.units_sold.coalesce(0),
        order_line_count=t.order_line_count.coalesce(0),
        units_returned=t.units_returned.coalesce(0),
        units_in_carts=t.units_in_carts.coalesce(0),
        gross_revenue=t.gross_revenue.coalesce(zero),
        discount_amount=t.discount_amount.coalesce(zero),
        cogs=t.cogs.coalesce(zero),
        refunded_amount=t.refunded_amount.coalesce(zero),
        returned_cogs=t.returned_cogs.coalesce(zero),
    )

    # 30-day window ending each product day: a range join on the daily totals (calendar days, so
    # days without activity simply contribute nothing).
    daily = sales.select("product_id", "dt", sold="units_sold", returned=ibis.literal(0).cast("int64")).union(
        rets.select("product_id", "dt", sold=ibis.literal(0).cast("int64"), returned="units_returned")
    )
    k = keys.select(k_pid="product_id", k_dt="dt")
    w = k.join(
        daily,
        [k.k_pid == daily.product_id, daily.dt <= k.k_dt, daily.dt > k.k_dt - ibis.interval(days=RATE_WINDOW_DAYS)],
    )
    rolling = w.group_by(product_id=w.k_pid, dt=w.k_dt).aggregate(
        units_sold_30d=w.sold.sum(), units_returned_30d=w.returned.sum()
    )
    t = t.left_join(rolling, ["product_id", "dt"]).select(t, rolling.units_sold_30d, rolling.units_returned_30d)
    t = t.mutate(units_sold_30d=t.units_sold_30d.coalesce(0), units_returned_30d=t.units_returned_30d.coalesce(0))

    net_sales = t.gross_revenue - t.discount_amount
    t = t.mutate(
        net_revenue=t.gross_revenue - t.discount_amount - t.refunded_amount,
        gross_margin=net_sales - t.cogs,
    )
    t = t.mutate(
        net_margin=t.net_revenue - (t.cogs - t.returned_cogs),
        margin_pct=ibis.ifelse(
            net_sales != 0, t.gross_margin.cast("float64") / net_sales.cast("float64"), ibis.null("float64")
        ),
        return_rate=ibis.ifelse(
            t.units_sold_30d > 0,
            t.units_returned_30d.cast("float64") / t.units_sold_30d.cast("float64"),
            ibis.null("float64"),
        ),
        cart_to_order_rate=ibis.ifelse(
            t.units_in_carts > 0, t.units_sold.cast("float64") / t.units_in_carts.cast("float64"), ibis.null("float64")
        ),
    )
    cat = catalog.select(
        "product_id",
        "product_name",
        "category",
        catalog_unit_price=catalog.unit_price,
        catalog_cost_price=catalog.cost_price,
        inventory_quantity=catalog.inventory_quantity,
    )
    t = t.left_join(cat, "product_id").select(
        t, cat.product_name, cat.category, cat.catalog_unit_price, cat.catalog_cost_price, cat.inventory_quantity
    )
    t = t.mutate(product_dt=t.dt)
    return conform(t, PRODUCT_PERFORMANCE, ctx.ingest_dt), dates
