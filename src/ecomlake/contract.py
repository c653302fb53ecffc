"""The table contract, defined once: every Bronze table, its columns, types, keys and rules.

The generator writes Bronze with these Arrow types, the Bronze gate checks files against them,
the profile reports drift from them, the dbt models cast to the silver types, and the quarantine
rule registry (`ecomlake.rules`) derives its codes from the column flags below.

Bronze keeps the source's loose typing on purpose (timestamps and dates as strings, money as
float64, a few numeric fields as strings) so that cast failures really happen in Silver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# Bronze (Arrow) type names used in the contract.
STRING = "string"
INT64 = "int64"
FLOAT64 = "float64"
BOOL = "bool"

_ARROW = {STRING: pa.string(), INT64: pa.int64(), FLOAT64: pa.float64(), BOOL: pa.bool_()}

# Silver (DuckDB SQL) types.
MONEY = "DECIMAL(18,2)"

FACT_TABLES = ("orders", "order_items", "shopping_carts", "cart_items", "returns", "return_items")
DIM_TABLES = ("customers", "product_catalog")
# Processing order: parents before children, so a child is checked against validated parents.
TABLES = (
    "customers",
    "product_catalog",
    "orders",
    "order_items",
    "shopping_carts",
    "cart_items",
    "returns",
    "return_items",
)

# Dimension snapshot name per dimension table (the runbook's names).
DIM_SNAPSHOTS = {"customers": "customer_snapshot", "product_catalog": "product_catalog"}

PARTITION_KEY = "ingest_dt"  # Bronze, Base Silver and quarantine all partition by arrival date.
LINEAGE_COLUMNS = ("batch_id", "ingestion_ts", "event_id", "source_file")
GUEST_PREFIX = "GUEST-"
UNKNOWN_CUSTOMER_ID = "UNKNOWN"  # the dims' "unknown member" sentinel rows
UNKNOWN_PRODUCT_ID = -1


@dataclass(frozen=True)
class ForeignKey:
    table: str  # parent table
    column: str  # parent column
    guest_exempt: bool = False  # `GUEST-` customer ids are not in the customer dimension


@dataclass(frozen=True)
class Column:
    name: str
    bronze: str  # Arrow type in Bronze
    silver: str  # DuckDB type in Base Silver
    required: bool = False  # NULL (after null-token cleaning) quarantines the row
    fk: ForeignKey | None = None
    normalize: str = "trim"  # trim | lower (trim + lower-case) | none
    enum: tuple[str, ...] = ()  # accepted values after normalisation
    min_value: str | None = None  # "positive" (> 0) or "non_negative" (>= 0)
    no_future: bool = False  # business timestamp/date may not be in the future
    email: bool = False
    description: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.bronze]

    @property
    def castable(self) -> bool:
        """True when Bronze holds a string that Silver casts to another type (cast can fail)."""
        return self.bronze == STRING and self.silver != "VARCHAR"

    @property
    def cast_can_fail(self) -> bool:
        """True when a value can fail to reach the Silver type: a string to parse, a DOUBLE that is
        infinite or too large for DECIMAL, or a non-text column whose Bronze arrived in another
        physical type (see ecomlake.bronze.coerce). Text columns kept as text never fail."""
        return self.silver != "VARCHAR"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    event_date_column: str | None  # drives the manifest's min/max_event_dt
    business_date: tuple[str, str] | None  # (silver column, how) e.g. ("order_dt", "date(order_date)")
    kind: str = "fact"  # fact | dim
    description: str = ""
    checks: tuple[tuple[str, str, str], ...] = ()  # (code, sql violation predicate on cast columns, description)
    parent_date_from: str | None = None  # child tables take their business date from this parent

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def bronze_column_names(self) -> list[str]:
        return self.column_names + list(LINEAGE_COLUMNS)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required or c.name in self.primary_key]

    @property
    def foreign_keys(self) -> list[tuple[str, ForeignKey]]:
        return [(c.name, c.fk) for c in self.columns if c.fk is not None]

    def bronze_schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.arrow_type) for c in self.columns]
        fields += [pa.field(n, pa.string()) for n in LINEAGE_COLUMNS]
        return pa.schema(fields)


def _c(name: str, bronze: str, silver: str, **kw: Any) -> Column:
    return Column(name, bronze, silver, **kw)


CHANNELS = ("web", "phone", "social media", "ebay", "newegg")
PAYMENT_METHODS = ("credit card", "paypal", "apple pay", "google pay", "ach")
SHIPPING_SPEEDS = ("standard", "two-day", "overnight")
TIERS = ("bronze", "silver", "gold", "platinum")
CLV_BUCKETS = ("low", "medium", "high")
CATEGORIES = ("electronics", "clothing", "books", "home", "toys")
CART_STATUSES = ("open", "converted", "abandoned", "emptied")
GENDERS = ("male", "female", "unknown")
CUSTOMER_STATUSES = ("active", "inactive", "dormant")
SIGNUP_CHANNELS = ("website", "email", "social media", "phone")
RETURN_TYPES = ("refund", "exchange", "store credit")
RETURN_REASONS = (
    "Defective",
    "Wrong item",
    "Arrived damaged",
    "Product did not match description",
    "Found a better price",
    "Item arrived late",
    "No longer needed",
    "Damaged in transit",
    "Changed mind",
)

_CUSTOMER_FK = ForeignKey("customers", "customer_id", guest_exempt=True)
_PRODUCT_FK = ForeignKey("product_catalog", "product_id")
_ORDER_FK = ForeignKey("orders", "order_id")

CONTRACT: dict[str, Table] = {
    "customers": Table(
        name="customers",
        kind="dim",
        description="Registered customers, as change records (new and updated customers of the day).",
        primary_key=("customer_id",),
        event_date_column="signup_date",
        business_date=None,
        columns=(
            _c("customer_id", STRING, "VARCHAR", required=True, description="Customer id (CUST-n)."),
            _c(
                "email",
                STRING,
                "VARCHAR",
                required=True,
                normalize="lower",
                email=True,
                description="Login e-mail, lower-case.",
            ),
            _c(
                "signup_date", STRING, "DATE", required=True, no_future=True, description="Date the customer signed up."
            ),
            _c("first_name", STRING, "VARCHAR"),
            _c("last_name", STRING, "VARCHAR"),
            _c("phone_number", STRING, "VARCHAR"),
            _c("gender", STRING, "VARCHAR", normalize="lower", enum=GENDERS),
            _c("age", FLOAT64, "DECIMAL(10,2)", description="Age in years."),
            _c("is_guest", BOOL, "BOOLEAN"),
            _c("customer_status", STRING, "VARCHAR", normalize="lower", enum=CUSTOMER_STATUSES),
            _c("signup_channel", STRING, "VARCHAR", normalize="lower", enum=SIGNUP_CHANNELS),
            _c("loyalty_tier", STRING, "VARCHAR", normalize="lower", enum=TIERS),
            _c("initial_loyalty_tier", STRING, "VARCHAR", normalize="lower", enum=TIERS),
            _c("email_verified", BOOL, "BOOLEAN"),
            _c("marketing_opt_in", BOOL, "BOOLEAN"),
            _c("mailing_address", STRING, "VARCHAR"),
            _c("billing_address", STRING, "VARCHAR"),
            _c("loyalty_enrollment_date", STRING, "DATE"),
            _c("clv_bucket", STRING, "VARCHAR", normalize="lower", enum=CLV_BUCKETS),
        ),
    ),
    "product_catalog": Table(
        name="product_catalog",
        kind="dim",
        description="Products, as change records (new products and price or stock changes of the day).",
        primary_key=("product_id",),
        event_date_column=None,
        business_date=None,
        columns=(
            _c("product_id", INT64, "BIGINT", required=True, min_value="positive"),
            _c("product_name", STRING, "VARCHAR", required=True),
            _c("category", STRING, "VARCHAR", normalize="lower", enum=CATEGORIES),
            _c("unit_price", FLOAT64, MONEY, required=True, min_value="non_negative"),
            _c("cost_price", FLOAT64, MONEY, min_value="non_negative"),
            _c("inventory_quantity", INT64, "BIGINT", min_value="non_negative"),
        ),
        checks=(("cost_above_price", "cost_price > unit_price", "cost_price is above unit_price"),),
    ),
    "orders": Table(
        name="orders",
        description="One row per order.",
        primary_key=("order_id",),
        event_date_column="order_date",
        business_date=("order_dt", "order_date"),
        columns=(
            _c("order_id", STRING, "VARCHAR", required=True),
            _c("total_items", INT64, "BIGINT", min_value="non_negative"),
            _c("order_date", STRING, "TIMESTAMP", required=True, no_future=True),
            _c("customer_id", STRING, "VARCHAR", required=True, fk=_CUSTOMER_FK),
            _c("email", STRING, "VARCHAR", normalize="lower"),
            _c("order_channel", STRING, "VARCHAR", normalize="lower", enum=CHANNELS),
            _c("is_expedited", BOOL, "BOOLEAN"),
            _c("customer_tier", STRING, "VARCHAR", normalize="lower", enum=TIERS),
            _c("gross_total", FLOAT64, MONEY, required=True, min_value="non_negative"),
            _c("net_total", FLOAT64, MONEY, required=True, min_value="non_negative"),
            _c("total_discount_amount", FLOAT64, MONEY, min_value="non_negative"),
            _c("payment_method", STRING, "VARCHAR", normalize="lower", enum=PAYMENT_METHODS),
            _c("shipping_speed", STRING, "VARCHAR", normalize="lower", enum=SHIPPING_SPEEDS),
            _c("shipping_cost", FLOAT64, MONEY, min_value="non_negative"),
            _c("agent_id", STRING, "VARCHAR"),
            _c("actual_shipping_cost", FLOAT64, MONEY, min_value="non_negative"),
            _c(
                "payment_processing_fee",
                STRING,
                MONEY,
                min_value="non_negative",
                description="Fee charged by the payment processor; a string in Bronze (the source declares TEXT).",
            ),
            _c("shipping_address", STRING, "VARCHAR"),
            _c("billing_address", STRING, "VARCHAR"),
            _c("clv_bucket", STRING, "VARCHAR", normalize="lower", enum=CLV_BUCKETS),
            _c("is_reactivated", BOOL, "BOOLEAN"),
        ),
        checks=(("net_total_above_gross_total", "net_total > gross_total", "net_total is above gross_total"),),
    ),
    "order_items": Table(
        name="order_items",
        description="One row per product on an order.",
        primary_key=("order_id", "product_id"),
        event_date_column=None,
        business_date=("order_dt", "parent"),
        parent_date_from="orders",
        columns=(
            _c("order_id", STRING, "VARCHAR", required=True, fk=_ORDER_FK),
            _c("product_id", INT64, "BIGINT", required=True, min_value="positive", fk=_PRODUCT_FK),
            _c("product_name", STRING, "VARCHAR"),
            _c("category", STRING, "VARCHAR", normalize="lower", enum=CATEGORIES),
            _c("quantity", INT64, "BIGINT", required=True, min_value="positive"),
            _c("unit_price", FLOAT64, MONEY, required=True, min_value="non_negative"),
            _c("discount_amount", FLOAT64, MONEY, min_value="non_negative"),
            _c("cost_price", FLOAT64, MONEY, min_value="non_negative"),
        ),
    ),
    "shopping_carts": Table(
        name="shopping_carts",
        description="One row per shopping cart (session).",
        primary_key=("cart_id",),
        event_date_column="created_at",
        business_date=("created_dt", "created_at"),
        columns=(
            _c("cart_id", STRING, "VARCHAR", required=True),
            _c("customer_id", STRING, "VARCHAR", required=True, fk=_CUSTOMER_FK),
            _c("created_at", STRING, "TIMESTAMP", required=True, no_future=True),
            _c("updated_at", STRING, "TIMESTAMP"),
            _c("cart_total", FLOAT64, MONEY, min_value="non_negative"),
            _c("status", STRING, "VARCHAR", normalize="lower", enum=CART_STATUSES),
        ),
        checks=(("updated_before_created", "updated_at < created_at", "updated_at is before created_at"),),
    ),
    "cart_items": Table(
        name="cart_items",
        description="One row per line added to a cart.",
        primary_key=("cart_item_id",),
        event_date_column="added_at",
        business_date=("added_dt", "added_at"),
        columns=(
            _c("cart_item_id", INT64, "BIGINT", required=True, min_value="positive"),
            _c("cart_id", STRING, "VARCHAR", required=True, fk=ForeignKey("shopping_carts", "cart_id")),
            _c("product_id", INT64, "BIGINT", required=True, min_value="positive", fk=_PRODUCT_FK),
            _c("product_name", STRING, "VARCHAR"),
            _c("category", STRING, "VARCHAR", normalize="lower", enum=CATEGORIES),
            _c("added_at", STRING, "TIMESTAMP", required=True, no_future=True),
            _c("quantity", INT64, "BIGINT", required=True, min_value="positive"),
            _c("unit_price", FLOAT64, MONEY, required=True, min_value="non_negative"),
        ),
    ),
    "returns": Table(
        name="returns",
        description="One row per return (refund) event.",
        primary_key=("return_id",),
        event_date_column="return_date",
        business_date=("return_dt", "return_date"),
        columns=(
            _c("return_id", STRING, "VARCHAR", required=True),
            _c("order_id", STRING, "VARCHAR", required=True, fk=_ORDER_FK),
            _c("customer_id", STRING, "VARCHAR", required=True, fk=_CUSTOMER_FK),
            _c("email", STRING, "VARCHAR", normalize="lower"),
            _c("return_date", STRING, "TIMESTAMP", required=True, no_future=True),
            _c("reason", STRING, "VARCHAR", enum=RETURN_REASONS),
            _c("return_type", STRING, "VARCHAR", normalize="lower", enum=RETURN_TYPES),
            _c("refunded_amount", FLOAT64, MONEY, min_value="non_negative"),
            _c("return_channel", STRING, "VARCHAR", normalize="lower", enum=CHANNELS),
            _c("agent_id", STRING, "VARCHAR"),
            _c("refund_method", STRING, "VARCHAR", normalize="lower", enum=PAYMENT_METHODS),
        ),
    ),
    "return_items": Table(
        name="return_items",
        description="One row per product line on a return.",
        primary_key=("return_item_id",),
        event_date_column=None,
        business_date=("return_dt", "parent"),
        parent_date_from="returns",
        columns=(
            _c("return_item_id", INT64, "BIGINT", required=True, min_value="positive"),
            _c("return_id", STRING, "VARCHAR", required=True, fk=ForeignKey("returns", "return_id")),
            _c("order_id", STRING, "VARCHAR", required=True, fk=_ORDER_FK),
            _c("product_id", INT64, "BIGINT", required=True, min_value="positive", fk=_PRODUCT_FK),
            _c("product_name", STRING, "VARCHAR"),
            _c("category", STRING, "VARCHAR", normalize="lower", enum=CATEGORIES),
            _c("quantity_returned", INT64, "BIGINT", required=True, min_value="positive"),
            _c("unit_price", FLOAT64, MONEY, min_value="non_negative"),
            _c("cost_price", FLOAT64, MONEY, min_value="non_negative"),
            _c("refunded_amount", FLOAT64, MONEY, min_value="non_negative"),
        ),
    ),
}

assert tuple(CONTRACT) == TABLES or set(CONTRACT) == set(TABLES)

# Silver adds these to every table (after the contract columns and the lineage columns):
#   ingest_dt DATE   the Bronze arrival partition (also the Silver partition directory)
#   <business date>  order_dt / created_dt / added_dt / return_dt (facts only)
#   _run_id VARCHAR  the pipeline run that published the row
SILVER_LINEAGE_TYPES = {
    "batch_id": "VARCHAR",
    "ingestion_ts": "TIMESTAMP",
    "event_id": "VARCHAR",
    "source_file": "VARCHAR",
}
# Quarantine keeps every Bronze column as it arrived, plus these. `_raw_text` is a JSON object
# {column: value as text} of the non-text columns whose Bronze arrived in another physical type
# than the contract's (null for Bronze in the contract's types): a value that did not cast to the
# contract's type is kept there, as it arrived.
QUARANTINE_COLUMNS = ("_quarantine_reason", "_quarantine_timestamp", "_run_id", "_raw_text")
RAW_TEXT_COLUMN = "_raw_text"


def table(name: str) -> Table:
    """The contract of one table; a clear error (exit 2) for an unknown name (`ecomlake.ids.table`)."""
    from ecomlake import ids

    return CONTRACT[ids.table(name, TABLES)]


def parse_tables(csv: str | None, default: tuple[str, ...] = TABLES) -> list[str]:
    """Parse a `--tables a,b` flag, keeping contract order. None means `default`; an empty value is refused."""
    from ecomlake.errors import InputError

    if csv is None:
        return list(default)
    wanted = [t.strip() for t in str(csv).split(",")]
    if not any(wanted):
        raise InputError(f"invalid --tables {csv!r}: expected table names such as orders,returns")
    for name in wanted:
        if name:  # a stray comma is harmless; every name given must be a table
            table(name)
    return [t for t in TABLES if t in wanted]


def silver_columns(name: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a Base Silver table, in order."""
    t = CONTRACT[name]
    cols = [(c.name, c.silver) for c in t.columns]
    cols += list(SILVER_LINEAGE_TYPES.items())
    cols.append(("ingest_dt", "DATE"))
    if t.business_date:
        cols.append((t.business_date[0], "DATE"))
    cols.append(("_run_id", "VARCHAR"))
    return cols
