"""Build the ten Enriched Silver tables for run date D and publish them atomically.

For each table: run its Ibis transform on DuckDB, cast to the table's schema, sort by partition
and grain (so a rerun writes identical bytes), split into partitions (a null partition value goes
to `<key>=__null__`, never dropped) and part files of at most `enriched.max_rows_per_file` rows,
and stage them under `<silver_enriched_path>/_staging/<run_id>/`. When all ten are staged, they
and the incremental state are published in one atomic swap (direct mode), or sealed and left for
`promote` after the gate (staging mode). The set of partitions written is recorded in
`<metrics_base_path>/enriched_run_<run_id>.json`, which the gate reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomlake import ids, lineage, locks, storage
from ecomlake.config import Settings
from ecomlake.enriched import state as state_mod
from ecomlake.enriched.inputs import Context, check_engine, make_context
from ecomlake.lake import require_silver_day
from ecomlake.runs import parse_date, resolve_run_id, utc_now_iso
from ecomlake.transforms import builders
from ecomlake.transforms.schemas import NULL_PARTITION, SPECS, TABLE_NAMES, TableSpec

if TYPE_CHECKING:
    from ecomlake.promote import PromoteResult

RUN_RECORD_PREFIX = "enriched_run_"


@dataclass
class TableRun:
    table: str
    partition_key: str
    rows: int
    partitions: list[str]
    files: int
    seconds: float


@dataclass
class EnrichedRunResult:
    run_id: str
    ingest_dt: str
    publish_mode: str
    engine: str = "duckdb"
    tables: list[TableRun] = field(default_factory=list)
    states: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    snapshot_dates: dict = field(default_factory=dict)
    record_path: str | None = None
    seconds: float = 0.0
    allow_older_dims: bool = False
    recoveries_applied: list = field(default_factory=list)  # [table, ingest_dt, recovery run id]

    def table(self, name: str) -> TableRun:
        return next(t for t in self.tables if t.table == name)


def run_record_path(settings: Settings, run_id: str) -> str:
    return storage.join(settings.paths.metrics_base_path, f"{RUN_RECORD_PREFIX}{run_id}.json")


def partition_label(value: object) -> str:
    return NULL_PARTITION if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))


# Rows per parquet row group and per batch read from the engine. The writer holds at most one row
# group (plus one engine batch) of a table in Python, whatever the table's size; the boundaries
# depend only on the row count, so the same rows give the same bytes however the engine batches them.
ROW_GROUP_ROWS = 122_880  # DuckDB hands results over in batches of its row group size

Batches: TypeAlias = pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]


class UnsortedStreamError(RuntimeError):
    """A stream said to be sorted by partition came back to a partition it had already finished."""


class _PartFileWriter:
    """One partition's rows, in order, as part-NNNNN.parquet files of at most `max_rows` rows.

    Row groups are cut at ROW_GROUP_ROWS rows counted from the start of each file, and a file
    is closed (fault point `while_writing`) when it holds `max_rows` rows.
    """

    def __init__(self, target: str, schema: pa.Schema, max_rows: int) -> None:
        self.target, self.schema, self.max_rows = target, schema, max_rows
        self.rows = 0
        self.files = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._in_file = 0
        self._writer: pq.ParquetWriter | None = None
        self._handle: Any = None

    def _group_size(self) -> int:
        return min(ROW_GROUP_ROWS, self.max_rows - self._in_file)

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            while self._pending_rows >= self._group_size():
                self._flush(self._group_size())

    def _flush(self, n: int) -> None:
        pending = pa.Table.from_batches(self._pending, self.schema)
        group, rest = pending.slice(0, n), pending.slice(n)
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.write_table(group.combine_chunks(), row_group_size=n)
        self._in_file += n
        self.rows += n
        self._pending = rest.to_batches()
        self._pending_rows -= n
        if self._in_file >= self.max_rows:
            self._close_file()

    def _open(self) -> None:
        path = storage.join(self.target, f"part-{self.files:05d}.parquet")
        if storage.is_remote(path):
            fs, p = storage.fs_for(path)
            self._handle = fs.open(p, "wb")
            self._writer = pq.ParquetWriter(self._handle, self.schema, compression="zstd")
        else:
            self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._handle is not None:
            self._handle.close()  # the upload of a gs:// object completes here
            self._handle = None
        self.files += 1
        self._in_file = 0
        storage.fault("while_writing")

    def finish(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        if self._writer is not None:
            self._close_file()

    def abort(self) -> None:
        """Release the open file after an error (the staging directory is discarded anyway)."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._writer = None
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _as_batches(data: Batches, schema: pa.Schema, sort_keys: list[str] | None) -> Iterator[pa.RecordBatch]:
    """The rows of `data` in `schema`, sorted by `sort_keys` first when given (which needs them all)."""
    if sort_keys is not None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches(list(data), schema)
        data = table.sort_by([(k, "ascending", "at_end") for k in sort_keys])
    if isinstance(data, pa.Table):
        data = data.to_batches(max_chunksize=ROW_GROUP_ROWS)
    for batch in data:
        if batch.schema != schema:
            batch = batch.select(schema.names).cast(schema)
        yield batch


def write_partitions(
    data: Batches,
    spec: TableSpec,
    staging_dir: Callable[[str], str],
    max_rows: int,
    presorted: bool = False,
    *,
    within: str,
) -> dict[str, tuple[str, int, int]]:
    """Write the rows of `data` (in the spec's schema) as sorted part files per partition value.

    Rows are ordered by partition then grain (unique), so the same rows always give the same
    bytes. A `presorted` stream (batches already in that order, e.g. from `_execute`) is written
    as it comes, one row group at a time; otherwise the rows are gathered and sorted first.
    `within` is the root every staged directory lies in (a stale one is replaced).
    Returns {partition value label: (staged directory, rows, files)}.
    """
    schema = spec.arrow_schema()
    key = spec.partition_key
    out: dict[str, tuple[str, int, int]] = {}
    current: _PartFileWriter | None = None
    label = ""

    def close() -> None:
        assert current is not None
        current.finish()
        out[label] = (current.target, current.rows, current.files)

    try:
        for batch in _as_batches(data, schema, None if presorted else spec.sort_keys):
            runs = pc.run_end_encode(batch.column(key))
            start = 0
            for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
                run_label = partition_label(value)
                if current is None or run_label != label:
                    if current is not None:
                        close()
                    if run_label in out:
                        raise UnsortedStreamError(
                            f"{spec.name}: rows of {key}={run_label} came after another partition; "
                            "the stream is not sorted by partition"
                        )
                    label = run_label
                    target = staging_dir(f"{key}={label}")
                    storage.remove_tree(target, within)
                    storage.makedirs(target)
                    current = _PartFileWriter(target, schema, max_rows)
                current.add(batch.slice(start, end - start))
                start = end
        if current is not None:
            close()
            current = None
    finally:
        if current is not None:
            current.abort()
    return out


def _write_parquet(table: pa.Table, path: str) -> None:
    if storage.is_remote(path):
        fs, p = storage.fs_for(path)
        with fs.open(p, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
    else:
        pq.write_table(table, path, compression="zstd")


def _execute(ctx: Context, expr: Any, spec: TableSpec) -> Iterator[pa.RecordBatch]:
    """The rows of `expr`, in the spec's schema, ordered by partition and grain, as a stream.

    The engine sorts (in parallel, spilling past its memory limit) and hands the result over
    ROW_GROUP_ROWS rows at a time, so Python never holds the whole table.
    """
    if expr is None:
        return iter(())
    return _sorted_batches(ctx, expr.select(*spec.arrow_schema().names), spec)


def _sorted_batches(ctx: Context, expr: Any, spec: TableSpec) -> Iterator[pa.RecordBatch]:
    schema = spec.arrow_schema()
    # On DuckDB, build the table first and sort the built table: a sort fed straight by the joins
    # competes with their pinned hash tables and ran out of memory at 1M orders/day under a 2 GB
    # limit, while each half alone spills. (Spark's batches are collected whole anyway.)
    built = ctx.materialize(expr) if ctx.backend.name == "duckdb" else expr
    try:
        # The grain is unique, so the order is total and deterministic.
        ordered = built.order_by([built[k].asc(nulls_first=False) for k in spec.sort_keys])
        with record_batches(ctx.backend, ordered, ROW_GROUP_ROWS) as reader:  # closed before the DROP
            for batch in reader:
                yield batch.cast(schema) if batch.schema != schema else batch
    finally:
        if built is not expr:
            ctx.release(built)


def record_batches(backend: Any, expr: Any, rows: int) -> pa.RecordBatchReader:
    """Stream the result of `expr` in record batches of about `rows` rows, on any Ibis backend.

    Ibis 12's DuckDB `to_pyarrow_batches` calls `DuckDBPyConnection.fetch_record_batch`, which
    DuckDB 2.0 removed; on DuckDB this reads the same query through the relation Ibis builds for
    `to_pyarrow` (memtables registered, same SQL), whose Arrow reader streams. Every other backend
    (Spark) uses Ibis's own `to_pyarrow_batches`.
    """
    if backend.name == "duckdb":
        return backend._to_duckdb_relation(expr).to_arrow_reader(rows)
    return backend.to_pyarrow_batches(expr, chunk_size=rows)


@lineage.emits("enriched")
def run_enriched(
    settings: Settings,
    ingest_dt: str | dt.date,
    run_id: str | None = None,
    progress: Callable[[TableRun], None] | None = None,
    tables: list[str] | None = None,
    allow_older_dims: bool = False,
    engine: str | None = None,
) -> EnrichedRunResult:
    """Build the Enriched tables for `ingest_dt`, publish them, write the run record.

    `engine` is the Ibis backend the transforms run on: "duckdb" or "spark" (default: the setting
    `enriched.engine`); the output is written the same way by either.

    Holds the Enriched lease (the whole layer: a run rewrites business-date partitions of many
    days and the incremental state, so two Enriched writers must never interleave). Without
    `allow_older_dims`, a missing dims snapshot for D stops the run (exit 2).
    """
    d = parse_date(ingest_dt, "--ingest-dt")
    eng = check_engine(settings, engine or settings.enriched.engine)
    # Refuse before anything is written: a day without Base Silver would publish empty partitions.
    require_silver_day(settings, d.isoformat())
    run_id = resolve_run_id(run_id, "enriched_")
    if tables is not None:
        for name in tables:
            ids.table(name, TABLE_NAMES, "Enriched table")
    root = settings.paths.silver_enriched_path
    storage.makedirs(root)
    with locks.lease(root, "enriched", locks.ALL, run_id, locks.timeout_of(settings)):
        return _run_enriched(settings, d, run_id, progress, tables, allow_older_dims, eng)


def _run_enriched(
    settings: Settings,
    d: dt.date,
    run_id: str,
    progress: Callable[[TableRun], None] | None,
    tables: list[str] | None,
    allow_older_dims: bool,
    engine: str,
) -> EnrichedRunResult:
    root = settings.paths.silver_enriched_path
    mode = settings.publish.enriched_publish_mode
    wanted = [t for t in TABLE_NAMES if tables is None or t in tables]
    build_fns = builders()
    started = time.perf_counter()
    # Read Silver and the dims as last committed (finish a publish a killed writer left mid-swap).
    storage.settle(settings.paths.silver_base_path)
    storage.settle(settings.paths.silver_dims_path)
    ctx = make_context(settings, d, allow_older_dims, engine)
    try:
        ctx.require_silver()
        ctx.customers()  # fail early (exit 2) when the dims are missing
        ctx.products()
        state_mod.recoveries_state(ctx)  # before any transform asks which dates changed
    except Exception:
        ctx.close()
        raise
    storage.claim_staging(root, run_id)
    result = EnrichedRunResult(run_id=run_id, ingest_dt=d.isoformat(), publish_mode=mode, engine=engine)
    publishes: list[storage.Publish] = []
    ok = False
    try:
        for name in wanted:
            spec = SPECS[name]
            t0 = time.perf_counter()
            expr, _dates = build_fns[name](ctx)
            written = write_partitions(
                _execute(ctx, expr, spec),
                spec,
                functools.partial(storage.staging_path, root, run_id, name),
                settings.enriched.max_rows_per_file,
                presorted=expr is not None,
                within=root,
            )
            for label, (staged, rows, _files) in written.items():
                publishes.append(
                    storage.Publish(
                        staged=staged,
                        final=storage.partition_path(root, name, label, spec.partition_key),
                        table=name,
                        partition=f"{spec.partition_key}={label}",
                        expected_rows=rows,
                        extra={"ingest_dt": d.isoformat(), "layer": "enriched"},
                    )
                )
            run = TableRun(
                name,
                spec.partition_key,
                sum(rows for _, rows, _ in written.values()),
                sorted(written),
                sum(f for _, _, f in written.values()),
                round(time.perf_counter() - t0, 3),
            )
            result.tables.append(run)
            if progress:
                progress(run)
        for st in state_mod.states_of_run(ctx):
            # Same writer as the tables (row groups, part files), one partition: ingest_dt=D.
            staged = storage.staging_path(root, run_id, st.table_dir, f"ingest_dt={d.isoformat()}")
            storage.remove_tree(staged, root)
            storage.makedirs(staged)
            part = _PartFileWriter(staged, st.table.schema, settings.enriched.max_rows_per_file)
            try:
                for batch in st.table.to_batches(max_chunksize=ROW_GROUP_ROWS):
                    part.add(batch)
                part.finish()
                if not part.files:  # an empty state is still a state: one file, no rows
                    _write_parquet(st.table, storage.join(staged, "part-00000.parquet"))
            except BaseException:
                part.abort()
                raise
            publishes.append(
                storage.Publish(
                    staged=staged,
                    final=storage.partition_path(root, st.table_dir, d.isoformat()),
                    table=st.table_dir,
                    partition=f"ingest_dt={d.isoformat()}",
                    expected_rows=st.table.num_rows,
                    extra={"fingerprint": st.fingerprint, "mode": st.mode, "base_state_dt": st.base_state_dt},
                )
            )
            result.states[st.name] = {"mode": st.mode, "base_state_dt": st.base_state_dt, "rows": st.table.num_rows}
            if st.name == "recoveries":
                result.recoveries_applied = st.fingerprint.get("pending", [])
        if mode == "staging":
            storage.seal(publishes, run_id)
            storage.mark_pending(root, run_id, publishes, gate="enriched_quality")
        else:
            storage.publish(root, run_id, publishes)
            # `_latest.parquet` and Gold's default as-of date move only after the gate passed:
            # ecomlake.enriched.current.publish_current, called by whoever runs the gate.
        ok = True
    finally:
        ctx.close()
        if mode != "staging" or not ok:
            storage.release_staging(root, run_id)
    result.warnings = list(ctx.warnings)
    result.allow_older_dims = allow_older_dims
    result.snapshot_dates = {k: v.isoformat() for k, v in ctx.snapshot_dates.items()}
    result.seconds = round(time.perf_counter() - started, 3)
    result.record_path = run_record_path(settings, run_id)
    storage.write_json_atomic(
        result.record_path,
        {
            "run_id": run_id,
            "ingest_dt": d.isoformat(),
            "created_at": utc_now_iso(),
            "publish_mode": mode,
            "engine": engine,
            "status": "pending" if mode == "staging" else "published",
            "enriched_path": root,
            "config_source": settings.source,
            "staging_root": storage.staging_root(root, run_id) if mode == "staging" else None,
            "tables": {
                t.table: {
                    "partition_key": t.partition_key,
                    "partitions": t.partitions,
                    "rows": t.rows,
                    "files": t.files,
                    "seconds": t.seconds,
                }
                for t in result.tables
            },
            "states": result.states,
            "snapshot_dates": result.snapshot_dates,
            "allow_older_dims": allow_older_dims,
            "recoveries_applied": result.recoveries_applied,
            "warnings": result.warnings,
            "seconds": result.seconds,
        },
    )
    return result


LATEST_NAME = "_latest.parquet"


def refresh_latest(settings: Settings, ingest_dt: dt.date, tables: list[str]) -> list[str]:
    """Copy the snapshot for `ingest_dt` of each snapshot table to `<table>/_latest.parquet`.

    The runbook diagnoses with `pl.read_parquet('data/silver/enriched/int_customer_lifetime_value/*.parquet')`,
    which only sees files at the table root. The leading underscore keeps the copy out of every
    partitioned reader (Spark, Hive, BigQuery and our own listing skip `_` files). Only
    `ecomlake.enriched.current.publish_current` calls this, after the gate passed and only for a
    date not older than the current one, so neither a failed run nor a backfill replaces it.
    """
    root = settings.paths.silver_enriched_path
    written = []
    for name in tables:
        spec = SPECS[name]
        if not spec.snapshot:
            continue
        files = storage.partition_files(storage.partition_path(root, name, ingest_dt.isoformat(), spec.partition_key))
        if not files:
            continue
        table = pa.concat_tables([storage.read_table(f) for f in files])
        target = storage.join(root, name, LATEST_NAME)
        storage.check_inside(target, root, "replace")
        if storage.is_remote(target):
            _write_parquet(table, target)  # one object upload replaces it atomically
        else:
            tmp = storage.join(root, name, f"_latest.tmp-{os.getpid()}.parquet")
            _write_parquet(table, tmp)
            os.replace(tmp, target)
        written.append(target)
    return written


def promote_enriched(settings: Settings, run_id: str) -> PromoteResult:
    """Staging publish mode: move a gated run's partitions into place (`ecomlake promote enriched`).

    Returns the `ecomlake.promote.PromoteResult`."""
    from ecomlake.promote import promote

    return promote(settings, "enriched", run_id)


def load_run_record(settings: Settings, run_id: str | None = None, ingest_dt: dt.date | None = None) -> dict | None:
    """The record of `run_id`, else the newest record for `ingest_dt`, else the newest record (None if none)."""
    metrics = settings.paths.metrics_base_path
    if run_id is not None:
        ids.run_id(run_id)
        path = run_record_path(settings, run_id)
        return storage.read_json(path) if storage.exists(path) else None
    best = None
    for name in storage.listdir(metrics):
        if not (name.startswith(RUN_RECORD_PREFIX) and name.endswith(".json")):
            continue
        try:
            rec = storage.read_json(storage.join(metrics, name))
        except (ValueError, OSError):
            continue
        if ingest_dt is not None and rec.get("ingest_dt") != ingest_dt.isoformat():
            continue
        if best is None or (rec.get("created_at", ""), rec.get("run_id", "")) > (
            best.get("created_at", ""),
            best.get("run_id", ""),
        ):
            best = rec
    return best
