"""int_regional_financials: one row per order (partition order_dt).

region: from the shipping address, else the billing address ("..., CA 90210" -> US-CA; an
address in Germany -> EU-DE), else UNKNOWN. tax_rate comes from a reference table built from
config `enriched.tax_rates`, with `enriched.default_tax_rate` for regions it does not list.
tax_amount = round(gross_total x tax_rate, 2); revenue_ex_tax = gross_total - tax_amount.
A run rewrites the order dates of the orders that arrived on D.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomlake.transforms.common import Context, conform, in_dates
from ecomlake.transforms.schemas import REGIONAL_FINANCIALS

UNKNOWN_REGION = "UNKNOWN"
_US_STATE = r",\s*(?:[AFD]PO\s+)?([A-Z]{2})\s+\d{5}(-\d{4})?\s*$"  # also military APO/FPO/DPO addresses
_GERMANY = r"(?i)(germany|deutschland)\s*$"


def region_of(address: ir.StringValue) -> ir.StringValue:
    state = address.re_extract(_US_STATE, 1)
    return ibis.cases(
        (address.isnull(), ibis.null("string")),
        (address.re_search(_US_STATE), ibis.literal("US-") + state),
        (address.re_search(_GERMANY), ibis.literal("EU-DE")),
        else_=ibis.null("string"),
    )


def tax_table(ctx: Context) -> ir.Table:
    rates = ctx.cfg.tax_rates
    return ibis.memtable(
        pa.table(
            {
                "tax_region": pa.array(sorted(rates), pa.string()),
                "region_tax_rate": pa.array([float(rates[r]) for r in sorted(rates)], pa.float64()),
            }
        )
    )


def affected_dates(ctx: Context) -> set[dt.date]:
    return {d for d in ctx.dates(ctx.changed("orders").order_dt) if d is not None}


def build(ctx: Context) -> tuple[ir.Table, set[dt.date]]:
    dates = affected_dates(ctx)
    if not dates:
        return None, set()
    o = ctx.silver("orders", since=min(dates))
    o = o.filter(in_dates(o.order_dt, dates))
    ship, bill = region_of(o.shipping_address), region_of(o.billing_address)
    o = o.mutate(
        region=ship.coalesce(bill).coalesce(UNKNOWN_REGION),
        region_source=ibis.cases(
            (ship.notnull(), "shipping_address"), (bill.notnull(), "billing_address"), else_="none"
        ),
    )
    tax = tax_table(ctx)
    o = o.left_join(tax, o.region == tax.tax_region).select(o, tax.region_tax_rate)
    rate = o.region_tax_rate.coalesce(float(ctx.cfg.default_tax_rate))
    # In decimals, not doubles: rounding a double product to cents depends on the engine (DuckDB
    # rounds the binary value, Spark its decimal expansion), so a half cent could go either way.
    # Both factors as decimal(38, 8) (Ibis multiplies equal decimal types): the product is exact on
    # DuckDB (scale 16) and kept to 6 places on Spark (its precision-loss rule), which is exact for
    # any rate given to 4 places, as all configured rates are; round half up to cents on both.
    tax_amount = (o.gross_total.cast("decimal(38, 8)") * rate.cast("decimal(38, 8)")).round(2).cast("decimal(18, 2)")
    o = o.mutate(tax_rate=rate, tax_amount=tax_amount)
    o = o.mutate(revenue_ex_tax=o.gross_total - o.tax_amount)
    return conform(o, REGIONAL_FINANCIALS, ctx.ingest_dt), dates
