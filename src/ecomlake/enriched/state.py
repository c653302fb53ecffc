"""Incremental per-entity state for the snapshot tables, so a daily run costs the same on day 1 and
day 1000.

Two states, each stored under ``<silver_enriched_path>/_state/<name>/ingest_dt=D/`` and
published atomically with the run's tables:

- ``customer_orders``: per registered customer, lifetime order count, sum of net_total,
  first/last order date, return count and sum of refunded_amount over every Silver order and
  return known as of D. Feeds int_customer_lifetime_value and int_customer_retention_signals.
- ``product_daily``: per product and business date of the last 30 days (and any later date),
  units sold and units returned. Feeds int_inventory_risk.

state(D) = state(P) + the rows of the Silver partitions P < ingest_dt <= D, where P is the latest
state before D. With no usable previous state it is computed from full history; both give the
same rows because every aggregate is an exact sum, count, min or max. A previous state is usable
only when the Silver partitions it was built from are unchanged (a fingerprint of their files is
kept in the state's manifest), so a partition republished later (quarantine recovery) triggers a
full recomputation instead of a silent miss.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage
from ecomlake.transforms.common import PRODUCT_WINDOW_DAYS, days, is_registered, lit_date

if TYPE_CHECKING:
    from ecomlake.enriched.inputs import Context

STATE_DIR = "_state"


@dataclass
class StateResult:
    name: str
    table: pa.Table
    mode: str  # "incremental" or "full"
    base_state_dt: str | None
    fingerprint: dict

    @property
    def table_dir(self) -> str:
        return f"{STATE_DIR}/{self.name}"


CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("order_count", pa.int64()),
        ("total_spent", pa.decimal128(38, 2)),
        ("first_order_dt", pa.date32()),
        ("last_order_dt", pa.date32()),
        ("return_count", pa.int64()),
        ("total_refunded", pa.decimal128(38, 2)),
    ]
)
PRODUCT_SCHEMA = pa.schema(
    [
        ("product_id", pa.int64()),
        ("dt", pa.date32()),
        ("units_sold", pa.int64()),
        ("units_returned", pa.int64()),
    ]
)


def _latest_state(ctx: Context, name: str) -> tuple[dt.date, str] | None:
    root = ctx.settings.paths.silver_enriched_path
    best = None
    for value in storage.list_partitions(root, f"{STATE_DIR}/{name}"):
        try:
            d = dt.date.fromisoformat(value)
        except ValueError:
            continue
        if d < ctx.ingest_dt and (best is None or d > best):
            best = d
    if best is None:
        return None
    return best, storage.partition_path(root, f"{STATE_DIR}/{name}", best.isoformat())


def _usable_previous(ctx: Context, name: str, inputs: tuple[str, ...]) -> tuple[dt.date, list[str]] | None:
    found = _latest_state(ctx, name)
    if found is None:
        return None
    prev_dt, pdir = found
    try:
        manifest = storage.read_manifest(pdir) or {}
    except Exception:
        manifest = {}
    if manifest.get("fingerprint") != ctx.fingerprint(inputs, prev_dt):
        ctx.warn(f"state {name}@{prev_dt}: Silver partitions changed since it was built; recomputing from full history")
        return None
    return prev_dt, storage.partition_files(pdir)


def _sorted(table: pa.Table, keys: list[str], schema: pa.Schema) -> pa.Table:
    table = table.select(schema.names).cast(schema)
    return table.sort_by([(k, "ascending") for k in keys])


# ------------------------------------------------------------------------------------ customers


def _customer_delta(orders: ir.Table, returns: ir.Table) -> ir.Table:
    o = orders.filter(is_registered(orders.customer_id))
    oa = (
        o.group_by("customer_id")
        .aggregate(
            order_count=o.count(),
            total_spent=o.net_total.sum().cast("decimal(38, 2)"),
            first_order_dt=o.order_dt.min(),
            last_order_dt=o.order_dt.max(),
        )
        .mutate(return_count=ibis.literal(0).cast("int64"), total_refunded=ibis.literal(0).cast("decimal(38, 2)"))
    )
    r = returns.filter(is_registered(returns.customer_id))
    ra = (
        r.group_by("customer_id")
        .aggregate(
            return_count=r.count(),
            total_refunded=r.refunded_amount.coalesce(0).sum().cast("decimal(38, 2)"),
        )
        .mutate(
            order_count=ibis.literal(0).cast("int64"),
            total_spent=ibis.literal(0).cast("decimal(38, 2)"),
            first_order_dt=ibis.null("date"),
            last_order_dt=ibis.null("date"),
        )
    )
    return oa.union(ra.select(*oa.columns))


def _customer_merge(parts: ir.Table) -> ir.Table:
    return parts.group_by("customer_id").aggregate(
        order_count=parts.order_count.sum().cast("int64"),
        total_spent=parts.total_spent.sum().cast("decimal(38, 2)"),
        first_order_dt=parts.first_order_dt.min(),
        last_order_dt=parts.last_order_dt.max(),
        return_count=parts.return_count.sum().cast("int64"),
        total_refunded=parts.total_refunded.sum().cast("decimal(38, 2)"),
    )


def customer_state(ctx: Context, force_full: bool = False) -> StateResult:
    key = "state:customer_orders"
    if key in ctx.cache and not force_full:
        return ctx.cache[key]
    inputs = ("orders", "returns")
    prev = None if force_full else _usable_previous(ctx, "customer_orders", inputs)
    if prev is not None:
        prev_dt, files = prev
        base = ctx.read_files(files) if files else ctx.empty("_empty_customer_state", CUSTOMER_SCHEMA)
        base = base.select(*CUSTOMER_SCHEMA.names)
        delta = _customer_delta(ctx.arrivals("orders", after=prev_dt), ctx.arrivals("returns", after=prev_dt))
        expr = _customer_merge(base.union(delta.select(*CUSTOMER_SCHEMA.names)))
        mode, base_dt = "incremental", prev_dt.isoformat()
    else:
        expr = _customer_merge(
            _customer_delta(ctx.silver("orders"), ctx.silver("returns")).select(*CUSTOMER_SCHEMA.names)
        )
        mode, base_dt = "full", None
    table = _sorted(ctx.to_pyarrow(expr), ["customer_id"], CUSTOMER_SCHEMA)
    result = StateResult("customer_orders", table, mode, base_dt, ctx.fingerprint(inputs, ctx.ingest_dt))
    ctx.cache[key] = result
    return result


# ------------------------------------------------------------------------------------ products


def _product_delta(items: ir.Table, returns: ir.Table, since: dt.date) -> ir.Table:
    i = items.filter(items.order_dt >= lit_date(since))
    ia = i.group_by(product_id=i.product_id, dt=i.order_dt).aggregate(units_sold=i.quantity.sum().cast("int64"))
    ia = ia.mutate(units_returned=ibis.literal(0).cast("int64"))
    r = returns.filter(returns.return_dt >= lit_date(since))
    ra = r.group_by(product_id=r.product_id, dt=r.return_dt).aggregate(
        units_returned=r.quantity_returned.sum().cast("int64")
    )
    ra = ra.mutate(units_sold=ibis.literal(0).cast("int64"))
    return ia.select(*PRODUCT_SCHEMA.names).union(ra.select(*PRODUCT_SCHEMA.names))


def _product_merge(parts: ir.Table) -> ir.Table:
    return parts.group_by("product_id", "dt").aggregate(
        units_sold=parts.units_sold.sum().cast("int64"),
        units_returned=parts.units_returned.sum().cast("int64"),
    )


def product_state(ctx: Context, force_full: bool = False) -> StateResult:
    key = "state:product_daily"
    if key in ctx.cache and not force_full:
        return ctx.cache[key]
    inputs = ("order_items", "return_items")
    since = ctx.ingest_dt - days(PRODUCT_WINDOW_DAYS - 1)  # older days can never enter a window again
    prev = None if force_full else _usable_previous(ctx, "product_daily", inputs)
    if prev is not None:
        prev_dt, files = prev
        base = ctx.read_files(files) if files else ctx.empty("_empty_product_state", PRODUCT_SCHEMA)
        base = base.select(*PRODUCT_SCHEMA.names)
        base = base.filter(base.dt >= lit_date(since))
        delta = _product_delta(
            ctx.arrivals("order_items", after=prev_dt), ctx.arrivals("return_items", after=prev_dt), since
        )
        expr = _product_merge(base.union(delta))
        mode, base_dt = "incremental", prev_dt.isoformat()
    else:
        expr = _product_merge(
            _product_delta(ctx.silver("order_items", since=since), ctx.silver("return_items", since=since), since)
        )
        mode, base_dt = "full", None
    table = _sorted(ctx.to_pyarrow(expr), ["product_id", "dt"], PRODUCT_SCHEMA)
    result = StateResult("product_daily", table, mode, base_dt, ctx.fingerprint(inputs, ctx.ingest_dt))
    ctx.cache[key] = result
    return result


# ------------------------------------------------------------------------------- recoveries

RECOVERIES_SCHEMA = pa.schema([("table", pa.string()), ("ingest_dt", pa.string()), ("recovery_run_id", pa.string())])


def recoveries_state(ctx: Context) -> StateResult | None:
    """Which recorded quarantine recoveries (ecomlake.quarantine.ledger) Enriched has applied.

    applied(D) = applied(P) + every recovery of a partition <= D, where P is the latest state
    before D. The recoveries in applied(D) but not in applied(P) are this run's: their recovered
    rows go into `ctx.changed`, so the business dates they touch are recomputed by this run, and
    the next run does not recompute them again. None when no recovery was ever recorded.
    """
    key = "state:recoveries"
    if key in ctx.cache:
        return ctx.cache[key]
    from ecomlake.quarantine import ledger
    from ecomlake.transforms.common import BUSINESS_DATE

    recorded: set[tuple[str, str, str]] = set()
    for table in BUSINESS_DATE:
        for day in ledger.ledger_dates(ctx.settings, table):
            if day <= ctx.ingest_dt.isoformat():
                recorded |= {(table, day, e["run_id"]) for e in ledger.entries(ctx.settings, table, day)}
    found = _latest_state(ctx, "recoveries")
    if not recorded and found is None:
        return None
    applied: set[tuple[str, str, str]] = set()
    if found is not None:
        files = storage.partition_files(found[1])
        if files:
            prev = pa.concat_tables([pq.read_table(f) for f in files])
            applied = set(zip(*(prev.column(c).to_pylist() for c in RECOVERIES_SCHEMA.names), strict=True))
    pending = sorted(recorded - applied)
    by_part: dict[tuple[str, str], list[str]] = {}
    for table, day, rid in pending:
        by_part.setdefault((table, day), []).append(rid)
    for (table, day), rids in by_part.items():
        ctx.recovered_files.setdefault(table, []).extend(ledger.silver_files(ctx.settings, table, day, rids))
    rows = sorted(applied | recorded)
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(RECOVERIES_SCHEMA.names)}, schema=RECOVERIES_SCHEMA)
    result = StateResult(
        "recoveries",
        table,
        "incremental" if found is not None else "full",
        found[0].isoformat() if found is not None else None,
        {"pending": [list(r) for r in pending]},
    )
    ctx.cache[key] = result
    return result


def states_of_run(ctx: Context) -> list[StateResult]:
    """The states computed during this run (to publish with the tables)."""
    return [v for k, v in ctx.cache.items() if k.startswith("state:")]
