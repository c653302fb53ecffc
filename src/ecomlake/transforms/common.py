"""Shared pieces of the ten transforms: what a run may read, and how results are shaped.

`Context` is the only way a transform reads data. It knows the run date D and exposes
- Base Silver "known as of D" (partitions with ingest_dt <= D, never a later one), optionally pruned
  to the arrival partitions that can hold a given range of business dates;
- D's own arrivals (partition ingest_dt = D), from which each table derives the partitions it
  rewrites;
- exactly the dims snapshot for D, one row per key (an older one only when the run was started
  with `allow_older_dims`, which the run record and the gate report name);
- the rows `quarantine recover` published since Enriched last looked (`changed`), so the business
  dates they touch are recomputed like those of D's arrivals.

Everything returned is an Ibis table on the DuckDB backend, so a transform written against these
inputs runs unchanged on another Ibis backend once the readers point at it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.contract import DIM_SNAPSHOTS, GUEST_PREFIX, silver_columns
from ecomlake.errors import InputError
from ecomlake.transforms.schemas import TableSpec, ibis_type

log = logging.getLogger("ecomlake.enriched")

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


@dataclass
class Context:
    """Everything a transform may read for run date D."""

    settings: Settings
    ingest_dt: dt.date
    backend: Any  # ibis DuckDB backend on an ecomlake.duck.connect() connection (ibis ships no types)
    warnings: list[str] = field(default_factory=list)
    snapshot_dates: dict[str, dt.date] = field(default_factory=dict)
    _partitions: dict[str, list[dt.date]] = field(default_factory=dict)
    _dims: dict[str, ir.Table] = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # results shared by transforms of one run (e.g. the cart matching)
    _cached: list = field(default_factory=list)
    allow_older_dims: bool = False
    # Recovery ledger files (Silver rows recovered into partitions <= D) Enriched has not applied yet.
    recovered_files: dict[str, list[str]] = field(default_factory=dict)
    _empty: set = field(default_factory=set)  # temp tables standing in for inputs without files

    def materialize(self, expr: ir.Table) -> ir.Table:
        """Compute an intermediate once (a temp table) and reuse it; released by `close`."""
        t = expr.cache()
        self._cached.append(t)
        return t

    def close(self) -> None:
        for t in self._cached:
            with contextlib.suppress(Exception):  # already gone: nothing to free
                t.release()
        self._cached.clear()
        con = getattr(self.backend, "con", None)
        if con is not None:
            con.close()

    # ------------------------------------------------------------------ settings shortcuts
    @property
    def cfg(self):
        return self.settings.enriched

    @property
    def silver_root(self) -> str:
        return self.settings.paths.silver_base_path

    @property
    def dims_root(self) -> str:
        return self.settings.paths.silver_dims_path

    @property
    def skew_days(self) -> int:
        """How far a business date may lie after its arrival date (Silver's future-skew rule), plus a day."""
        return math.ceil(self.settings.silver.max_future_skew_hours / 24) + 1

    @property
    def tolerance_days(self) -> int:
        return math.ceil(self.cfg.attribution_tolerance_hours / 24)

    @property
    def day_end(self) -> dt.datetime:
        """The first instant after D."""
        return dt.datetime.combine(self.ingest_dt + ONE_DAY, dt.time())

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    # ------------------------------------------------------------------ Base Silver
    def partitions(self, table: str) -> list[dt.date]:
        """ingest_dt partitions of a Base Silver table known as of D (<= D), oldest first."""
        if table not in self._partitions:
            out = []
            for value in storage.list_partitions(self.silver_root, table):
                try:
                    d = dt.date.fromisoformat(value)
                except ValueError:
                    continue
                if d <= self.ingest_dt:
                    out.append(d)
            self._partitions[table] = sorted(out)
        return self._partitions[table]

    def files(self, table: str, lo: dt.date | None = None, hi: dt.date | None = None) -> list[str]:
        hi = min(hi or self.ingest_dt, self.ingest_dt)
        out: list[str] = []
        for d in self.partitions(table):
            if (lo is None or d >= lo) and d <= hi:
                out += storage.partition_files(storage.partition_path(self.silver_root, table, d.isoformat()))
        return out

    def _read(self, table: str, files: list[str]) -> ir.Table:
        if not files:
            # An empty table in the run's own connection, not an ibis.memtable: a memtable-only
            # expression is cached by `materialize` in Ibis's default backend, where this run's
            # queries cannot see it (CatalogException "ibis_cached_... does not exist").
            name = f"_empty_{table}"
            if name not in self._empty:
                cols = ", ".join(f'"{c}" {t}' for c, t in silver_columns(table))
                self.backend.raw_sql(f'create or replace temp table "{name}" ({cols})')
                self._empty.add(name)
            return self.backend.table(name)
        paths = [f if storage.is_remote(f) else os.path.abspath(f) for f in files]
        return self.backend.read_parquet(paths)

    def arrived_since(self, table: str, lo: dt.date) -> ir.Table:
        """Rows that arrived in partitions lo..D (by arrival date, not business date)."""
        return self._read(table, self.files(table, lo=lo))

    def silver(self, table: str, since: dt.date | None = None) -> ir.Table:
        """Base Silver rows known as of D; with `since`, only rows whose business date is >= since.

        Pruning by arrival partition is safe because Silver rejects business dates more than its
        future skew after their arrival date, so a row dated >= since arrived on or after
        since - skew_days.
        """
        lo = since - days(self.skew_days) if since is not None else None
        t = self._read(table, self.files(table, lo=lo))
        if since is not None:
            t = t.filter(t[BUSINESS_DATE[table]] >= lit_date(since))
        return t

    def silver_between(self, table: str, lo: dt.date, hi: dt.date) -> ir.Table:
        t = self.silver(table, since=lo)
        return t.filter(t[BUSINESS_DATE[table]] <= lit_date(hi))

    def arrivals(self, table: str, after: dt.date | None = None) -> ir.Table:
        """Rows that arrived on D (or, with `after`, in partitions after that date up to D)."""
        lo = (after + ONE_DAY) if after is not None else self.ingest_dt
        return self._read(table, self.files(table, lo=lo))

    def changed(self, table: str) -> ir.Table:
        """Rows whose business dates this run must recompute: D's arrivals, plus the rows quarantine
        recovery published into any partition <= D since Enriched last applied the ledger."""
        return self._read(table, self.files(table, lo=self.ingest_dt) + self.recovered_files.get(table, []))

    def dates(self, column: ir.Value) -> set[dt.date | None]:
        """Distinct values of a date column (executed)."""
        values = self.backend.to_pyarrow(column.name("d").as_table().distinct())
        return set(values.column("d").to_pylist())

    def count(self, expr: ir.Table) -> int:
        return int(self.backend.execute(expr.count()))

    def require_silver(self) -> None:
        if not storage.isdir(self.silver_root) or not any(self.partitions(t) for t in BUSINESS_DATE):
            raise InputError(
                f"no Base Silver partition with ingest_dt <= {self.ingest_dt} under {self.silver_root}; "
                f"run `ecomlake local silver --date {self.ingest_dt}` first"
            )

    # ------------------------------------------------------------------ dims
    def snapshot_date(self, dim_table: str) -> dt.date:
        name = DIM_SNAPSHOTS[dim_table]
        if name in self.snapshot_dates:
            return self.snapshot_dates[name]
        found = []
        for value in storage.list_partitions(self.dims_root, name, key="snapshot_dt"):
            try:
                d = dt.date.fromisoformat(value)
            except ValueError:
                continue
            if d <= self.ingest_dt and storage.partition_files(
                storage.partition_path(self.dims_root, name, value, "snapshot_dt")
            ):
                found.append(d)
        if not found:
            raise InputError(
                f"no {name} snapshot on or before {self.ingest_dt} under {self.dims_root}; "
                f"run `ecomlake local dims --date {self.ingest_dt}` first"
            )
        chosen = max(found)
        if chosen != self.ingest_dt:
            if not self.allow_older_dims:
                # ENRICHED.md: the tables for D read exactly the snapshot of D.
                raise InputError(
                    f"no {name} snapshot for {self.ingest_dt} under {self.dims_root} (latest before it: {chosen}); "
                    f"run `ecomlake local dims --date {self.ingest_dt}` first, or pass --allow-older-dims to use {chosen}"
                )
            self.warn(
                f"{name}: no snapshot for {self.ingest_dt}; using the latest before it ({chosen}) (--allow-older-dims)"
            )
        self.snapshot_dates[name] = chosen
        return chosen

    def _dim(self, dim_table: str, key: str, columns: tuple[str, ...]) -> ir.Table:
        if dim_table in self._dims:
            return self._dims[dim_table]
        name = DIM_SNAPSHOTS[dim_table]
        snap = self.snapshot_date(dim_table)
        files = storage.partition_files(storage.partition_path(self.dims_root, name, snap.isoformat(), "snapshot_dt"))
        raw = self._read_dim(files, dim_table, columns)
        # One row per key even if a snapshot were ever duplicated: a deterministic pick (the dims
        # gate reports duplicates; here they must not fan out joins).
        w = ibis.window(group_by=raw[key], order_by=[raw[c] for c in columns if c != key])
        t = raw.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0).drop("_rn")
        self._dims[dim_table] = t
        return t

    def _read_dim(self, files: list[str], dim_table: str, columns: tuple[str, ...]) -> ir.Table:
        schema = silver_schema(dim_table)
        t = self._read(dim_table, files)
        missing = [c for c in columns if c not in t.columns]
        if missing:
            raise InputError(
                f"{DIM_SNAPSHOTS[dim_table]} snapshot {files[0]} lacks column(s) {', '.join(missing)}; rebuild the dims"
            )
        return t.select(**{c: t[c].cast(ibis.dtype(schema.field(c).type)) for c in columns})

    def customers(self) -> ir.Table:
        return self._dim("customers", "customer_id", CUSTOMER_COLUMNS)

    def products(self) -> ir.Table:
        return self._dim("product_catalog", "product_id", PRODUCT_COLUMNS)

    # ------------------------------------------------------------------ fingerprints (state validity)
    def fingerprint(self, tables: Iterable[str], upto: dt.date) -> dict[str, dict[str, str]]:
        """Per table and partition <= upto, a hash of its data files' contents.

        The sha256 of every file comes from the partition's `_manifest.json` (written at publish);
        a partition without a manifest (placed by hand) has its files hashed here. Incremental
        state built at `upto` is only reused when these still match, so a partition republished
        later, even with files of the same names and sizes (e.g. by `quarantine recover` or a rerun
        of Base Silver), forces a full recomputation.
        """
        out: dict[str, dict[str, str]] = {}
        for table in tables:
            parts = {}
            for d in self.partitions(table):
                if d > upto:
                    continue
                pdir = storage.partition_path(self.silver_root, table, d.isoformat())
                parts[d.isoformat()] = _partition_digest(pdir)
            out[table] = parts
        return out


def _partition_digest(pdir: str) -> str:
    files = {f.rsplit("/", 1)[-1]: f for f in storage.partition_files(pdir)}
    try:
        manifest = storage.read_manifest(pdir) or {}
    except InputError:
        manifest = {}
    listed = {e.get("path"): e.get("sha256") for e in manifest.get("files", []) if isinstance(e, dict)}
    h = hashlib.sha256()
    # By content and logical name: a republish of the same bytes on gs:// (new version names) is unchanged.
    for name in sorted(files, key=storage.logical_name):
        digest = listed.get(name) or storage.sha256_file(files[name])  # not in the manifest: hash it
        h.update(f"{storage.logical_name(name)}:{digest};".encode())
    return h.hexdigest()[:32]


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
