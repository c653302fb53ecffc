"""int_inventory_risk: one row per product in the snapshot for D (partition ingest_dt=D).

From the incremental `product_daily` state: units sold and returned over the 30 days ending D
(business dates D-29..D). avg_daily_units_30d = units_sold_30d / 30; days_of_cover =
inventory_quantity / avg_daily_units_30d (null without sales); return_ratio_30d = units returned
/ units sold in the window (null without sales); locked_capital = cost_price x inventory.
risk_tier, first match wins: HIGH (stock <= 0 with sales in the window: a stock-out with demand;
or days_of_cover < inventory_high_cover_days), MODERATE (days_of_cover <
inventory_moderate_cover_days or return_ratio_30d > inventory_return_ratio_moderate), OVERSTOCK
(days_of_cover > inventory_overstock_cover_days, or no sales with stock > 0), HEALTHY.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ecomlake.transforms.common import PRODUCT_WINDOW_DAYS, Context, conform, days, lit_date
from ecomlake.transforms.schemas import INVENTORY_RISK


def build(ctx: Context) -> tuple[ir.Table, None]:
    cfg = ctx.cfg
    st = ctx.product_state()
    lo = ctx.ingest_dt - days(PRODUCT_WINDOW_DAYS - 1)
    w = st.filter((st.dt >= lit_date(lo)) & (st.dt <= lit_date(ctx.ingest_dt)))
    agg = w.group_by("product_id").aggregate(
        units_sold_30d=w.units_sold.sum().cast("int64"),
        units_returned_30d=w.units_returned.sum().cast("int64"),
    )
    p = ctx.products()
    t = p.left_join(agg, "product_id").select(p, agg.units_sold_30d, agg.units_returned_30d)
    t = t.mutate(units_sold_30d=t.units_sold_30d.coalesce(0), units_returned_30d=t.units_returned_30d.coalesce(0))
    stock = t.inventory_quantity.coalesce(0)
    sold = t.units_sold_30d > 0
    avg = t.units_sold_30d.cast("float64") / PRODUCT_WINDOW_DAYS
    t = t.mutate(
        avg_daily_units_30d=avg,
        days_of_cover=ibis.ifelse(sold, stock.cast("float64") / avg, ibis.null("float64")),
        return_ratio_30d=ibis.ifelse(
            sold, t.units_returned_30d.cast("float64") / t.units_sold_30d.cast("float64"), ibis.null("float64")
        ),
        locked_capital=(t.cost_price.coalesce(0) * stock).cast("decimal(38, 2)"),
    )
    cover, ratio = t.days_of_cover, t.return_ratio_30d
    t = t.mutate(
        risk_tier=ibis.cases(
            (((stock <= 0) & sold) | (cover < cfg.inventory_high_cover_days).coalesce(False), "HIGH"),
            (
                (cover < cfg.inventory_moderate_cover_days).coalesce(False)
                | (ratio > cfg.inventory_return_ratio_moderate).coalesce(False),
                "MODERATE",
            ),
            ((cover > cfg.inventory_overstock_cover_days).coalesce(False) | (~sold & (stock > 0)), "OVERSTOCK"),
            else_="HEALTHY",
        )
    )
    return conform(t, INVENTORY_RISK, ctx.ingest_dt), None
