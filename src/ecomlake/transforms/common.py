"""Shared pieces of the ten transforms: what a run may read, and how results are shaped.

A transform is `build(ctx) -> (Ibis expression or None, business dates it rewrites)`. It reads only
through `ctx` (the `Context` protocol below), which hands it Ibis tables and executes the few
small questions a transform asks while planning (which dates changed, how many rows); it never
reads files, opens a connection or names an engine. The Enriched runner builds the context
(`ecomlake.enriched.inputs.make_context`) on the DuckDB or the PySpark backend of Ibis, so the
same transforms run on both. Nothing in this package imports storage, duckdb or pyspark
(tests/unit/test_transforms_engine_neutral.py checks it).

The context exposes
- Base Silver "known as of D" (partitions with ingest_dt <= D, never a later one), optionally pruned
  to the arrival partitions that can hold a given range of business dates;
- D's own arrivals (partition ingest_dt = D), from which each table derives the partitions it
  rewrites;
- exactly the dims snapshot for D, one row per key (an older one only when the run was started
  with `allow_older_dims`, which the run record and the gate report name);
- the rows `quarantine recover` published since Enriched last looked (`changed`), so the business
  dates they touch are recomputed like those of D's arrivals;
- the incremental per-entity states (`customer_state`, `product_state`) of the snapshot tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomlake.config import EnrichedSettings, Settings
from ecomlake.contract import GUEST_PREFIX, silver_columns
from ecomlake.transforms.schemas import TableSpec, ibis_type

ONE_DAY = dt.timedelta(days=1)

_SILVER_ARROW = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}

# Business date column of each Base Silver fact table (the rows' own date, not the arrival date).
BUSINESS_DATE = {
    "orders": "order_dt",
    "order_items": "order_dt",
    "shopping_carts": "created_dt",
    "cart_items": "added_dt",
    "returns": "return_dt",
    "return_items": "return_dt",
}

# Dims columns the transforms use; extra snapshot columns are never read, so they cannot matter.
CUSTOMER_COLUMNS = ("customer_id", "signup_date", "loyalty_tier", "customer_status", "clv_bucket")
PRODUCT_COLUMNS = ("product_id", "product_name", "category", "unit_price", "cost_price", "inventory_quantity")
# Days of per-product history the product_daily state keeps (older days can never enter a window).
PRODUCT_WINDOW_DAYS = 30


def _silver_arrow_type(sql_type: str) -> pa.DataType:
    if sql_type.startswith("DECIMAL"):
        p, s = sql_type[sql_type.index("(") + 1 : -1].split(",")
        return pa.decimal128(int(p), int(s))
    return _SILVER_ARROW[sql_type]


def silver_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(c, _silver_arrow_type(t)) for c, t in silver_columns(table)])


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def date_range(lo: dt.date, hi: dt.date) -> list[dt.date]:
    return [lo + days(i) for i in range((hi - lo).days + 1)] if hi >= lo else []


def lit_date(d: dt.date) -> ir.DateScalar:
    return ibis.date(d.year, d.month, d.day)


def is_registered(customer_id: ir.StringValue) -> ir.BooleanValue:
    """Guests (`GUEST-` ids) are not customers."""
    return customer_id.notnull() & ~customer_id.startswith(GUEST_PREFIX)


def in_dates(col: ir.DateValue, dates: Iterable[dt.date]) -> ir.BooleanValue:
    values = sorted(set(dates))
    if not values:
        return ibis.literal(False)
    return col.isin([lit_date(d) for d in values])


def conform(expr: ir.Table, spec: TableSpec, ingest_dt: dt.date) -> ir.Table:
    """Select the spec's columns in order, cast to the spec's types, and stamp `ingest_dt`."""
    cols = {}
    for name, sql_type in spec.columns:
        if name == "ingest_dt":  # always the run that produced the row (never an input's arrival date)
            cols[name] = lit_date(ingest_dt)
            continue
        cols[name] = expr[name].cast(ibis_type(sql_type))
    return expr.select(**cols)


class Context(Protocol):
    """What a transform may ask of its run (implemented by ecomlake.enriched.inputs.Context)."""

    settings: Settings
    ingest_dt: dt.date
    cache: dict  # results shared by the transforms of one run (e.g. the cart matching)

    @property
    def cfg(self) -> EnrichedSettings: ...
    @property
    def skew_days(self) -> int: ...
    @property
    def tolerance_days(self) -> int: ...
    @property
    def day_end(self) -> dt.datetime: ...
    def warn(self, message: str) -> None: ...
    def silver(self, table: str, since: dt.date | None = None) -> ir.Table: ...
    def silver_between(self, table: str, lo: dt.date, hi: dt.date) -> ir.Table: ...
    def arrived_since(self, table: str, lo: dt.date) -> ir.Table: ...
    def arrivals(self, table: str, after: dt.date | None = None) -> ir.Table: ...
    def changed(self, table: str) -> ir.Table: ...
    def customers(self) -> ir.Table: ...
    def products(self) -> ir.Table: ...
    def customer_state(self) -> ir.Table: ...
    def product_state(self) -> ir.Table: ...
    def dates(self, column: ir.Value) -> set[dt.date | None]: ...
    def count(self, expr: ir.Table) -> int: ...
    def materialize(self, expr: ir.Table) -> ir.Table: ...


def spread(dates: Iterable[dt.date | None], before: int, after: int, cap: dt.date | None = None) -> set[dt.date]:
    """Every date within [d - before, d + after] of a given date (capped at `cap`), nulls dropped."""
    out: set[dt.date] = set()
    for d in dates:
        if d is None:
            continue
        hi = d + days(after)
        if cap is not None:
            hi = min(hi, max(cap, d))
        out.update(date_range(d - days(before), hi))
    return out
