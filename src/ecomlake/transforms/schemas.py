"""The output contract of the ten Enriched Silver tables, defined once.

Every transform casts its result to these columns and types before writing, the runner sorts and
partitions by them, the gate checks files against them (schema drift, key uniqueness, key nulls),
and docs/enriched.md describes them. Money is DECIMAL(18,2) (sums DECIMAL(38,2)), rates and
averages DOUBLE, partition columns DATE, and every row carries the run's `ingest_dt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

MONEY = "DECIMAL(18,2)"
MONEY_SUM = "DECIMAL(38,2)"

_ARROW = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    MONEY: pa.decimal128(18, 2),
    MONEY_SUM: pa.decimal128(38, 2),
}
_IBIS = {
    "VARCHAR": "string",
    "BIGINT": "int64",
    "DOUBLE": "float64",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp(6)",
    MONEY: "decimal(18, 2)",
    MONEY_SUM: "decimal(38, 2)",
}

NULL_PARTITION = "__null__"  # rows whose partition value is null are kept here (and the gate fails them)


def arrow_type(sql_type: str) -> pa.DataType:
    return _ARROW[sql_type]


def ibis_type(sql_type: str) -> str:
    return _IBIS[sql_type]


@dataclass(frozen=True)
class TableSpec:
    name: str
    partition_key: str  # partition directory column (DATE)
    grain: tuple[str, ...]  # unique, non-null key of a row within the table
    key_fields: tuple[str, ...]  # columns whose null rates the gate reports
    columns: tuple[tuple[str, str], ...]
    snapshot: bool = False  # one partition per run (ingest_dt=D) describing every entity
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, arrow_type(t)) for c, t in self.columns])

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]

    @property
    def sort_keys(self) -> list[str]:
        """Deterministic row order: partition, then the grain (which is unique)."""
        keys = [self.partition_key] + [k for k in self.grain if k != self.partition_key]
        return keys


_ORDER_COLUMNS = (
    ("order_id", "VARCHAR"),
    ("total_items", "BIGINT"),
    ("order_date", "TIMESTAMP"),
    ("customer_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("order_channel", "VARCHAR"),
    ("is_expedited", "BOOLEAN"),
    ("customer_tier", "VARCHAR"),
    ("gross_total", MONEY),
    ("net_total", MONEY),
    ("total_discount_amount", MONEY),
    ("payment_method", "VARCHAR"),
    ("shipping_speed", "VARCHAR"),
    ("shipping_cost", MONEY),
    ("agent_id", "VARCHAR"),
    ("actual_shipping_cost", MONEY),
    ("payment_processing_fee", MONEY),
    ("shipping_address", "VARCHAR"),
    ("billing_address", "VARCHAR"),
    ("clv_bucket", "VARCHAR"),
    ("is_reactivated", "BOOLEAN"),
)

SPECS: dict[str, TableSpec] = {}


def _spec(**kw: Any) -> TableSpec:
    s = TableSpec(**kw)
    SPECS[s.name] = s
    return s


ATTRIBUTED_PURCHASES = _spec(
    name="int_attributed_purchases",
    partition_key="order_dt",
    grain=("order_id",),
    key_fields=("order_id", "customer_id", "cart_id"),
    description="One row per order, with the cart that converted into it (if any).",
    columns=(
        *_ORDER_COLUMNS,
        ("order_dt", "DATE"),
        ("cart_id", "VARCHAR"),
        ("cart_created_at", "TIMESTAMP"),
        ("hours_from_cart", "DOUBLE"),
        ("is_recovered", "BOOLEAN"),
        ("ingest_dt", "DATE"),
    ),
)

CART_ATTRIBUTION = _spec(
    name="int_cart_attribution",
    partition_key="cart_dt",
    grain=("cart_id",),
    key_fields=("cart_id", "customer_id"),
    description="One row per cart: value, contents, and whether (and by which order) it converted.",
    columns=(
        ("cart_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"),
        ("cart_total", MONEY),
        ("cart_value", MONEY_SUM),
        ("item_count", "BIGINT"),
        ("units", "BIGINT"),
        ("category_count", "BIGINT"),
        ("cart_status", "VARCHAR"),
        ("time_to_purchase_hours", "DOUBLE"),
        ("order_id", "VARCHAR"),
        ("order_date", "TIMESTAMP"),
        ("order_channel", "VARCHAR"),
        ("abandoned_value", MONEY_SUM),
        ("cart_dt", "DATE"),
        ("ingest_dt", "DATE"),
    ),
)

PRODUCT_PERFORMANCE = _spec(
    name="int_product_performance",
    partition_key="product_dt",
    grain=("product_id", "product_dt"),
    key_fields=("product_id", "product_dt"),
    description="One row per product and day of activity (sold, returned or added to a cart).",
    columns=(
        ("product_id", "BIGINT"),
        ("product_dt", "DATE"),
        ("product_name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("units_sold", "BIGINT"),
        ("order_line_count", "BIGINT"),
        ("units_returned", "BIGINT"),
        ("units_in_carts", "BIGINT"),
        ("gross_revenue", MONEY_SUM),
        ("discount_amount", MONEY_SUM),
        ("cogs", MONEY_SUM),
        ("refunded_amount", MONEY_SUM),
        ("returned_cogs", MONEY_SUM),
        ("net_revenue", MONEY_SUM),
        ("gross_margin", MONEY_SUM),
        ("net_margin", MONEY_SUM),
        ("margin_pct", "DOUBLE"),
        ("units_sold_30d", "BIGINT"),
        ("units_returned_30d", "BIGINT"),
        ("return_rate", "DOUBLE"),
        ("cart_to_order_rate", "DOUBLE"),
        ("catalog_unit_price", MONEY),
        ("catalog_cost_price", MONEY),
        ("inventory_quantity", "BIGINT"),
        ("ingest_dt", "DATE"),
    ),
)

SALES_VELOCITY = _spec(
    name="int_sales_velocity",
    partition_key="order_dt",
    grain=("product_id", "order_dt"),
    key_fields=("product_id", "order_dt"),
    description="One row per product and order day with sales: daily units, 7-day velocity and trend.",
    columns=(
        ("product_id", "BIGINT"),
        ("order_dt", "DATE"),
        ("daily_quantity", "BIGINT"),
        ("velocity_7d", "DOUBLE"),
        ("prev_velocity_7d", "DOUBLE"),
        ("trend_signal", "VARCHAR"),
        ("ingest_dt", "DATE"),
    ),
)

CUSTOMER_RETENTION = _spec(
    name="int_customer_retention_signals",
    partition_key="ingest_dt",
    grain=("customer_id",),
    key_fields=("customer_id",),
    snapshot=True,
    description="Snapshot per registered customer: purchase recency and retention flags as of D.",
    columns=(
        ("customer_id", "VARCHAR"),
        ("signup_date", "DATE"),
        ("loyalty_tier", "VARCHAR"),
        ("customer_status", "VARCHAR"),
        ("first_purchase_date", "DATE"),
        ("last_purchase_date", "DATE"),
        ("total_orders", "BIGINT"),
        ("days_since_first_buy", "BIGINT"),
        ("days_since_last_buy", "BIGINT"),
        ("is_in_danger_zone", "BOOLEAN"),
        ("needs_bronze_nudge", "BOOLEAN"),
        ("ingest_dt", "DATE"),
    ),
)

CUSTOMER_LIFETIME_VALUE = _spec(
    name="int_customer_lifetime_value",
    partition_key="ingest_dt",
    grain=("customer_id",),
    key_fields=("customer_id",),
    snapshot=True,
    description="Snapshot per registered customer: lifetime orders, refunds, net CLV and segment as of D.",
    columns=(
        ("customer_id", "VARCHAR"),
        ("total_spent", MONEY_SUM),
        ("total_refunded", MONEY_SUM),
        ("net_clv", MONEY_SUM),
        ("order_count", "BIGINT"),
        ("return_count", "BIGINT"),
        ("avg_order_value", "DOUBLE"),
        ("first_order_date", "DATE"),
        ("last_order_date", "DATE"),
        ("days_since_last_order", "BIGINT"),
        ("customer_segment", "VARCHAR"),
        ("predicted_clv_bucket", "VARCHAR"),
        ("actual_clv_bucket", "VARCHAR"),
        ("ingest_dt", "DATE"),
    ),
)

REGIONAL_FINANCIALS = _spec(
    name="int_regional_financials",
    partition_key="order_dt",
    grain=("order_id",),
    key_fields=("order_id", "customer_id", "region"),
    description="One row per order: region, tax rate from the reference table, tax and revenue ex tax.",
    columns=(
        ("order_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("order_date", "TIMESTAMP"),
        ("order_dt", "DATE"),
        ("order_channel", "VARCHAR"),
        ("region", "VARCHAR"),
        ("region_source", "VARCHAR"),
        ("gross_total", MONEY),
        ("net_total", MONEY),
        ("total_discount_amount", MONEY),
        ("tax_rate", "DOUBLE"),
        ("tax_amount", MONEY),
        ("revenue_ex_tax", MONEY),
        ("ingest_dt", "DATE"),
    ),
)

SHIPPING_ECONOMICS = _spec(
    name="int_shipping_economics",
    partition_key="order_dt",
    grain=("order_id",),
    key_fields=("order_id", "order_dt"),
    description="One row per order: shipping charged versus paid, margin and expedite flags.",
    columns=(
        ("order_id", "VARCHAR"),
        ("order_dt", "DATE"),
        ("customer_id", "VARCHAR"),
        ("order_channel", "VARCHAR"),
        ("shipping_speed", "VARCHAR"),
        ("shipping_cost", MONEY),
        ("actual_shipping_cost", MONEY),
        ("shipping_margin", MONEY),
        ("shipping_margin_pct", "DOUBLE"),
        ("is_expedited", "BOOLEAN"),
        ("speed_is_expedited", "BOOLEAN"),
        ("expedited_mismatch", "BOOLEAN"),
        ("ingest_dt", "DATE"),
    ),
)

INVENTORY_RISK = _spec(
    name="int_inventory_risk",
    partition_key="ingest_dt",
    grain=("product_id",),
    key_fields=("product_id",),
    snapshot=True,
    description="Snapshot per catalog product: stock, 30-day demand, days of cover and risk tier as of D.",
    columns=(
        ("product_id", "BIGINT"),
        ("product_name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("unit_price", MONEY),
        ("cost_price", MONEY),
        ("inventory_quantity", "BIGINT"),
        ("units_sold_30d", "BIGINT"),
        ("units_returned_30d", "BIGINT"),
        ("avg_daily_units_30d", "DOUBLE"),
        ("days_of_cover", "DOUBLE"),
        ("return_ratio_30d", "DOUBLE"),
        ("locked_capital", MONEY_SUM),
        ("risk_tier", "VARCHAR"),
        ("ingest_dt", "DATE"),
    ),
)

DAILY_BUSINESS_METRICS = _spec(
    name="int_daily_business_metrics",
    partition_key="metric_dt",
    grain=("metric_dt",),
    key_fields=("metric_dt",),
    description="One row per calendar day: orders, revenue, carts, returns, rolling averages, anomaly flag.",
    columns=(
        ("metric_dt", "DATE"),
        ("orders_count", "BIGINT"),
        ("gross_revenue", MONEY_SUM),
        ("net_revenue", MONEY_SUM),
        ("avg_order_value", "DOUBLE"),
        ("carts_created", "BIGINT"),
        ("cart_conversion_rate", "DOUBLE"),
        ("returns_count", "BIGINT"),
        ("return_rate", "DOUBLE"),
        ("refund_total", MONEY_SUM),
        ("orders_7d_avg", "DOUBLE"),
        ("revenue_7d_avg", "DOUBLE"),
        ("revenue_30d_avg", "DOUBLE"),
        ("revenue_30d_std", "DOUBLE"),
        ("revenue_anomaly_flag", "VARCHAR"),
        ("ingest_dt", "DATE"),
    ),
)

# Build order (also the order of the progress lines and of the gate report).
TABLE_NAMES: tuple[str, ...] = tuple(SPECS)


def spec(name: str) -> TableSpec:
    from ecomlake.errors import InputError

    try:
        return SPECS[name]
    except KeyError:
        raise InputError(f"unknown enriched table {name!r} (known: {', '.join(SPECS)})") from None
