"""Everything a transform reads for run date D, on the engine the run chose.

`make_context(settings, d, engine=...)` returns the `Context` the transforms receive (they see it
through the `ecomlake.transforms.common.Context` protocol): it lists Base Silver partitions and dims
snapshots through `ecomlake.storage`, reads them with the engine, and executes the small planning
queries (`dates`, `count`). Two engines:

- `duckdb`: the Ibis DuckDB backend on an `ecomlake.duck.connect()` connection (one per run);
- `spark`: the Ibis PySpark backend on the process's session (`ecomlake.spark.get_session`),
  which reads the same parquet files; temp views and cached frames of a run are dropped by `close`.

Differences between the engines handled here: an input without files is an empty table with
the contract's schema (a DuckDB temp table; an empty Spark DataFrame with the same schema, since a
bare Ibis memtable would be cached in Ibis's default backend); Spark reads a list of files in one
`read.parquet(*paths)`; in-memory Arrow tables (the incremental states) become a DuckDB table or a
Spark DataFrame of the same schema.
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
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ecomlake import storage
from ecomlake.config import Engine as EngineName
from ecomlake.config import EnrichedSettings, Settings
from ecomlake.contract import DIM_SNAPSHOTS
from ecomlake.errors import InputError
from ecomlake.transforms.common import (
    BUSINESS_DATE,
    CUSTOMER_COLUMNS,
    ONE_DAY,
    PRODUCT_COLUMNS,
    days,
    lit_date,
    silver_schema,
)

log = logging.getLogger("ecomlake.enriched")

ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")


class Engine(Protocol):
    """How a run reads parquet and executes on one Ibis backend."""

    name: str
    backend: Any

    def read_parquet(self, paths: list[str]) -> ir.Table: ...
    def empty(self, name: str, schema: pa.Schema) -> ir.Table: ...
    def table(self, data: pa.Table) -> ir.Table: ...
    def to_pyarrow(self, expr: ir.Expr) -> pa.Table: ...
    def materialize(self, expr: ir.Table) -> ir.Table: ...
    def release(self, table: ir.Table) -> None: ...
    def close(self) -> None: ...


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, settings: Settings) -> None:
        from ecomlake.duck import connect

        self.backend = ibis.duckdb.from_connection(connect(settings))
        self._empty: set[str] = set()
        self._built = 0

    def read_parquet(self, paths: list[str]) -> ir.Table:
        return self.backend.read_parquet(paths)

    def empty(self, name: str, schema: pa.Schema) -> ir.Table:
        # A table in the run's own connection, not an ibis.memtable: a memtable-only expression is
        # cached by `materialize` in Ibis's default backend, where this run's queries cannot see it.
        if name not in self._empty:
            self.backend.create_table(name, schema=ibis.schema(schema), temp=True)
            self._empty.add(name)
        return self.backend.table(name)

    def table(self, data: pa.Table) -> ir.Table:
        # Joined with this run's tables, a memtable is registered in this connection when executed.
        return ibis.memtable(data)

    def to_pyarrow(self, expr: ir.Expr) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    def materialize(self, expr: ir.Table) -> ir.Table:
        # A temp table of our own rather than Ibis's cache(): Ibis 12 cannot drop its cached tables
        # with this sqlglot (its DROP renders without the name), and a table built per Enriched
        # table must be freed before the next one is built.
        self._built += 1
        return self.backend.create_table(f"_built_{self._built}", expr, temp=True)

    def release(self, table: ir.Table) -> None:
        # get_name() is "temp.main.<name>"; the names are ours, so no quoting is needed.
        self.backend.con.execute(f"DROP TABLE IF EXISTS {table.get_name()}")

    def close(self) -> None:
        self.backend.con.close()


class SparkEngine:
    name = "spark"

    def __init__(self, settings: Settings) -> None:
        from ecomlake.spark import get_session

        self.session = get_session(settings)
        self.backend = ibis.pyspark.connect(self.session)
        self._views: list[str] = []
        self._reads: dict[tuple[str, ...], ir.Table] = {}

    def _view(self, df: Any, stem: str) -> ir.Table:
        name = f"{stem}_{len(self._views)}_{os.getpid()}_{id(self):x}"
        df.createOrReplaceTempView(name)
        self._views.append(name)
        return self.backend.table(name)

    def read_parquet(self, paths: list[str]) -> ir.Table:
        # Transforms read the same partitions many times; Spark lists and inspects files on every
        # read, so one view per distinct file list.
        key = tuple(paths)
        if key not in self._reads:
            self._reads[key] = self._view(self.session.read.parquet(*paths), "_parquet")
        return self._reads[key]

    def _spark_schema(self, schema: pa.Schema) -> Any:
        from ibis.backends.pyspark.datatypes import PySparkSchema

        return PySparkSchema.from_ibis(ibis.schema(schema))

    def empty(self, name: str, schema: pa.Schema) -> ir.Table:
        return self._view(self.session.createDataFrame([], self._spark_schema(schema)), name)

    def table(self, data: pa.Table) -> ir.Table:
        # PySpark 4 takes Arrow directly (exact decimals and dates, no pandas round trip).
        return self._view(self.session.createDataFrame(data, self._spark_schema(data.schema)), "_arrow")

    def to_pyarrow(self, expr: ir.Expr) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    def materialize(self, expr: ir.Table) -> ir.Table:
        # Ibis 12's PySpark cache() compiles the query without registering the expression's
        # memtables first (DuckDB's goes through create_table, which does): register them here.
        self.backend._run_pre_execute_hooks(expr)
        return expr.cache()

    def release(self, table: ir.Table) -> None:
        table.release()  # unpersists the DataFrame and drops its view

    def close(self) -> None:
        # The session outlives the run (one JVM per process); its views must not.
        for name in self._views:
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(name)
        self._views.clear()
        self._reads.clear()


def check_engine(settings: Settings, engine: str) -> EngineName:
    """The engine name, refused (exit 2) where it cannot run."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if engine == "spark":
        p = settings.paths
        remote = [r for r in (p.silver_base_path, p.silver_dims_path, p.silver_enriched_path) if storage.is_remote(r)]
        from ecomlake.spark import GCS_CONNECTOR_HINT, GCS_FS_CONF

        # The connector is not installed here; a cluster that has it says so in spark.conf.
        if remote and GCS_FS_CONF not in settings.spark.conf:
            raise InputError(
                f"--engine spark cannot read {remote[0]}: gs:// roots on Spark need {GCS_CONNECTOR_HINT}, "
                f"(not installed here; spark.conf sets no {GCS_FS_CONF}); or use --engine duckdb"
            )
    return "spark" if engine == "spark" else "duckdb"


def make_engine(settings: Settings, engine: str) -> Engine:
    return SparkEngine(settings) if check_engine(settings, engine) == "spark" else DuckDBEngine(settings)


def make_context(
    settings: Settings, ingest_dt: dt.date, allow_older_dims: bool = False, engine: str | None = None
) -> Context:
    """The transforms' context for D on `engine` (default: the setting `enriched.engine`)."""
    eng = make_engine(settings, engine or settings.enriched.engine)
    return Context(settings=settings, ingest_dt=ingest_dt, engine=eng, allow_older_dims=allow_older_dims)


@dataclass
class Context:
    """Everything a transform may read for run date D."""

    settings: Settings
    ingest_dt: dt.date
    engine: Engine | None = None  # None: a context used only for its file listings (the gate)
    warnings: list[str] = field(default_factory=list)
    snapshot_dates: dict[str, dt.date] = field(default_factory=dict)
    _partitions: dict[str, list[dt.date]] = field(default_factory=dict)
    _dims: dict[str, ir.Table] = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # results shared by transforms of one run (e.g. the cart matching)
    _cached: list = field(default_factory=list)
    allow_older_dims: bool = False
    # Recovery ledger files (Silver rows recovered into partitions <= D) Enriched has not applied yet.
    recovered_files: dict[str, list[str]] = field(default_factory=dict)

    @property
    def backend(self) -> Any:
        """The Ibis backend the run executes on (DuckDB or PySpark; ibis ships no types)."""
        return self._engine().backend

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("this context has no engine (built for file listings only)")
        return self.engine

    def materialize(self, expr: ir.Table) -> ir.Table:
        """Compute an intermediate once and reuse it; released by `close`.

        A temp table on DuckDB, a cached DataFrame (persisted, with a temp view) on PySpark."""
        t = self._engine().materialize(expr)
        self._cached.append(t)
        return t

    def release(self, table: ir.Table) -> None:
        """Free a `materialize`d table before the run ends."""
        self._cached = [t for t in self._cached if t is not table]  # Ibis overloads ==
        self._engine().release(table)

    def close(self) -> None:
        for t in self._cached:
            with contextlib.suppress(Exception):  # already gone: nothing to free
                self._engine().release(t)
        self._cached.clear()
        if self.engine is not None:
            self.engine.close()

    # ------------------------------------------------------------------ settings shortcuts
    @property
    def cfg(self) -> EnrichedSettings:
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
            return self._engine().empty(f"_empty_{table}", silver_schema(table))
        return self.read_files(files)

    def read_files(self, files: list[str]) -> ir.Table:
        """Parquet files (local or gs://) as one Ibis table on the run's engine."""
        return self._engine().read_parquet([f if storage.is_remote(f) else os.path.abspath(f) for f in files])

    def empty(self, name: str, schema: pa.Schema) -> ir.Table:
        return self._engine().empty(name, schema)

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        return self._engine().to_pyarrow(expr)

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
        values = self.to_pyarrow(column.name("d").as_table().distinct())
        return set(values.column("d").to_pylist())

    def count(self, expr: ir.Table) -> int:
        return int(self.backend.execute(expr.count()))

    # ------------------------------------------------------------------ incremental states
    def customer_state(self) -> ir.Table:
        """Per registered customer lifetime aggregates as of D (ecomlake.enriched.state)."""
        from ecomlake.enriched import state

        return self._engine().table(state.customer_state(self).table)

    def product_state(self) -> ir.Table:
        """Per product and business date units sold/returned, last PRODUCT_WINDOW_DAYS days."""
        from ecomlake.enriched import state

        return self._engine().table(state.product_state(self).table)

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
