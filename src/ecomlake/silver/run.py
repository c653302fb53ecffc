"""Base Silver: write (dbt build in a per-run DuckDB), audit (dbt tests), publish (atomic swap).

For one arrival date D and a group of tables (the six facts, or the two dims):

1. Check inputs before dbt starts: every Bronze partition of D exists (returns and return_items
   may be absent: a quiet day reads as zero rows; so may a dimension, see step 2), no column has a
   physical type that cannot be cast to the contract's; for facts, a dims snapshot for D or earlier.
2. ``dbt build`` (models + their audit tests) of the group's models in
   ``<work>/silver_<run_id>/silver.duckdb``: the day's rows are materialised once per table
   (``int_<t>__scored``; the stg models are views over it) and audited in one scan per model. A
   failing audit stops the run: nothing is published. dbt unit tests (tests of our SQL on fixed
   rows, not of the day's data) run in ``make test`` instead. A dimension without a Bronze
   partition that day changed nothing: its models are left out.
3. Export, per table, the valid rows (``stg_<t>``) and the rejected rows (``stg_<t>_quarantine``)
   to staging with ``COPY ... (FORMAT parquet, COMPRESSION zstd)``, check that Bronze (counted
   from its footers) = silver + quarantine, and publish every silver and quarantine partition of
   D in one `storage.publish` (all or nothing; other dates untouched), checking the row counts.
4. Write the run ledger ``<metrics>/silver_run_<run_id>.json``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import lineage, locks, storage
from ecomlake.config import Settings
from ecomlake.contract import (
    CONTRACT,
    DIM_SNAPSHOTS,
    DIM_TABLES,
    FACT_TABLES,
    QUARANTINE_COLUMNS,
    RAW_TEXT_COLUMN,
    silver_columns,
)
from ecomlake.contract import table as contract_table
from ecomlake.duck import connect, sql_literal
from ecomlake.errors import EcomlakeError, InputError
from ecomlake.quarantine import ledger
from ecomlake.runs import parse_date, resolve_run_id, utc_now_iso
from ecomlake.silver import dbt_runner
from ecomlake.silver.codegen import OPTIONAL_BRONZE, PARENT_KEYS

QUARANTINE_STAGING = "_quarantine"  # quarantine partitions are staged beside silver, published together
Echo = Callable[[str], None]


@dataclass
class TableRun:
    table: str
    ingest_dt: str
    bronze_rows: int
    silver_rows: int
    quarantine_rows: int
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bronze_present: bool = True
    recoveries: dict = field(default_factory=dict)  # recorded recoveries re-applied (ledger.Replay)


@dataclass
class SilverRun:
    run_id: str
    ingest_dt: str
    group: str  # facts | dims
    tables: list[TableRun]
    dbt: dict
    publish_mode: str
    ledger_path: str | None = None
    seconds: dict = field(default_factory=dict)
    engine: str = "duckdb"  # what ran the dbt models: duckdb (target local) or spark (target spark)

    def table(self, name: str) -> TableRun:
        return next(t for t in self.tables if t.table == name)


# ------------------------------------------------------------------------------------ inputs


def bronze_dates(settings: Settings, table: str) -> list[str]:
    return storage.list_partitions(settings.paths.bronze_base_path, table)


def _has_bronze(settings: Settings, table: str, day: str) -> bool:
    part = storage.partition_path(settings.paths.bronze_base_path, table, day)
    return bool(storage.partition_files(part))


def check_bronze(settings: Settings, tables: tuple[str, ...], day: str) -> None:
    missing = [t for t in tables if t not in OPTIONAL_BRONZE and not _has_bronze(settings, t, day)]
    if missing:
        where = storage.partition_path(settings.paths.bronze_base_path, missing[0], day)
        from ecomlake.lake import missing_bronze_hint

        raise InputError(
            f"no Bronze data for {', '.join(missing)} on {day} (looked in {where}); "
            f"{missing_bronze_hint(settings, day)}"
        )
    check_bronze_types(settings, tables, day)


def check_bronze_types(settings: Settings, tables: tuple[str, ...], day: str) -> None:
    """Refuse, before dbt, a Bronze column whose physical type can never cast to the contract's.

    Castable drift (a number as text, text as a number, a real TIMESTAMP, int32, ...) is fine: the
    Bronze models cast it (ecomlake.bronze.coerce); only footers are read here.
    """
    from ecomlake.bronze.coerce import INCOMPATIBLE, schema_drift
    from ecomlake.bronze.validate import read_footer

    for table in tables:
        part = storage.partition_path(settings.paths.bronze_base_path, table, day)
        for f in storage.partition_files(part) if storage.isdir(part) else []:
            try:
                schema = read_footer(f).schema.to_arrow_schema()
            except Exception as exc:
                raise InputError(
                    f"Bronze file {f} does not open as parquet ({str(exc).splitlines()[0]}); nothing was published; "
                    f"run `ecomlake bronze validate --partition-date {day}` and land {table} {day} again"
                ) from None
            bad = [d for d in schema_drift(table, schema) if d.verdict == INCOMPATIBLE]
            if bad:
                d = bad[0]
                raise InputError(
                    f"Bronze {table}.{d.column} is {d.arrived_type} in {f}, which cannot be cast to the contract's "
                    f"{d.contract_type}; nothing was published; fix the exporter and land {table} {day} again "
                    f"(`ecomlake bronze validate --partition-date {day}` lists every such column)"
                )


def landed_tables(
    settings: Settings, group: str, tables: tuple[str, ...], day: str, present: dict[str, bool], say: Echo
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tables to build, dims left out). Dims arrive as change records: a dimension without a Bronze
    partition for D changed nothing (its snapshot carries the previous one forward), unless
    dims.require_daily_partition says a partition is due every day (then: exit 2)."""
    if group != "dims":
        return tables, ()
    skipped = tuple(t for t in tables if not present[t])
    if skipped and settings.dims.require_daily_partition:
        where = storage.partition_path(settings.paths.bronze_base_path, skipped[0], day)
        raise InputError(
            f"no Bronze {' or '.join(skipped)} partition for {day} (looked in {where}) and "
            "dims.require_daily_partition is true; land the partition (an empty one when nothing changed) "
            "or set DIMS_REQUIRE_DAILY_PARTITION=false to carry the previous snapshot forward"
        )
    for t in skipped:
        say(f"      note: no Bronze {t} partition for {day}: no {t} changes landed that day")
    return tuple(t for t in tables if present[t]), skipped


def snapshot_dates(settings: Settings, dim_table: str) -> list[str]:
    return storage.list_partitions(settings.paths.silver_dims_path, DIM_SNAPSHOTS[dim_table], key="snapshot_dt")


def dims_snapshot_for(settings: Settings, day: str) -> str:
    """The snapshot date Base Silver uses for D: D itself, else the latest before D (both dims)."""
    chosen = []
    for dim in DIM_TABLES:
        usable = [d for d in snapshot_dates(settings, dim) if d <= day]
        if not usable:
            raise InputError(
                f"no dims snapshot for {day} or earlier under {settings.paths.silver_dims_path} "
                f"({DIM_SNAPSHOTS[dim]}); run `ecomlake local dims` first"
            )
        chosen.append(usable[-1])
    return min(chosen)


# ------------------------------------------------------------------------------------- vars


def dbt_vars(settings: Settings, day: str, run_id: str, **extra) -> dict:
    """Every var the dbt project reads (macros/ecom_vars.sql), from Settings, as absolute paths."""

    def absolute(p: str) -> str:
        return p if storage.is_remote(p) else str(Path(p).resolve())

    out = {
        "bronze_root": absolute(settings.paths.bronze_base_path),
        "silver_root": absolute(settings.paths.silver_base_path),
        "quarantine_root": absolute(settings.paths.quarantine_path),
        "dims_root": absolute(settings.paths.silver_dims_path),
        "run_date": day,
        "run_id": run_id,
        "run_ts": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
        "max_future_skew_hours": int(settings.silver.max_future_skew_hours),
    }
    out.update(extra)
    return out


# ----------------------------------------------------------------------------------- export


def _check_columns(con, relation: str, expected: list[str]) -> None:
    got = [r[0] for r in con.execute(f"select column_name from (describe {relation})").fetchall()]
    if got != expected:
        raise EcomlakeError(
            f"{relation} columns {got} differ from the contract {expected}; regenerate the models "
            "(`python -m ecomlake.silver.codegen`)"
        )


def _copy(con, relation: str, out_dir: str) -> int:
    """Write `relation` as one zstd parquet file into `out_dir`; returns the rows written."""
    storage.makedirs(out_dir)
    target = storage.join(out_dir, "part-0000.parquet")
    return int(
        con.execute(
            f"COPY (select * from {relation}) TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchone()[0]
    )


def _bronze_rows(settings: Settings, table: str, day: str) -> int:
    """Rows of the Bronze partition, from the files' footers: counted apart from dbt's models."""
    part = storage.partition_path(settings.paths.bronze_base_path, table, day)
    if not storage.isdir(part):
        return 0  # an optional table on a quiet day
    return sum(storage.parquet_num_rows(f) for f in storage.list_data_files(part))


def _reasons(con, relation: str) -> dict[str, int]:
    rows = con.execute(
        f"select code, count(*) from (select unnest(string_split(_quarantine_reason, '|')) as code from {relation}) "
        "group by code order by count(*) desc, code"
    ).fetchall()
    return {code: int(n) for code, n in rows}


def _reason_counts(values: list[str | None]) -> dict[str, int]:
    from collections import Counter

    counts = Counter(code for v in values if v for code in v.split("|"))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _reapply_recoveries(
    settings: Settings, table: str, day: str, s_stage: str, q_stage: str, echo: Echo | None
) -> ledger.Replay:
    """Re-apply the recoveries recorded for table/D to the freshly staged partitions, so a rerun of
    D keeps what `quarantine recover` did (see ecomlake.quarantine.ledger)."""
    if not ledger.entries(settings, table, day):
        return ledger.Replay()
    s_file = storage.join(s_stage, "part-0000.parquet")
    q_file = storage.join(q_stage, "part-0000.parquet")
    pk = list(CONTRACT[table].primary_key)
    if storage.is_remote(s_file):
        silver = storage.read_table(s_file)
        schema, keys = silver.schema, silver.select(pk)
    else:  # only the key columns: a day's Silver can be large
        schema, keys = pq.read_schema(s_file), pq.read_table(s_file, columns=pk)
    result = ledger.replay(settings, table, day, schema, keys, storage.read_table(q_file))
    if result.quarantine is not None:
        ledger._write(result.quarantine, q_file)  # still in staging: nothing is visible yet
        for rid, rows in result.silver_extra:
            ledger._write(rows, storage.join(s_stage, f"part-recovered-{rid}.parquet"))
    say = echo or (lambda _m: None)
    if result.applied:
        say(
            f"      {table}: re-applied {len(result.applied)} recorded recover{'y' if len(result.applied) == 1 else 'ies'} "
            f"({result.rows_moved} rows back in Silver) from {ledger.ledger_dir(settings, table, day)}"
        )
    for rid, why in result.skipped.items():
        say(f"      warning: {table}: recovery {rid} not re-applied: {why}")
    return result


def export_and_publish(
    settings: Settings,
    con,
    tables: tuple[str, ...],
    day: str,
    run_id: str,
    bronze_present: dict[str, bool],
    echo: Echo | None,
) -> list[TableRun]:
    silver_root = settings.paths.silver_base_path
    quarantine_root = settings.paths.quarantine_path
    part = storage.partition_name(day)
    publishes: list[storage.Publish] = []
    results: list[TableRun] = []
    for table in tables:
        started = time.perf_counter()
        t = CONTRACT[table]
        _check_columns(con, f"stg_{table}", [c for c, _ in silver_columns(table)])
        _check_columns(
            con,
            f"stg_{table}_quarantine",
            [*t.bronze_column_names, "ingest_dt", *QUARANTINE_COLUMNS],
        )
        s_stage = storage.staging_path(silver_root, run_id, table, part)
        q_stage = storage.staging_path(silver_root, run_id, f"{QUARANTINE_STAGING}/{table}", part)
        # One pass each over the day's one table (int_<table>__scored): the stg models are views.
        silver_rows = _copy(con, f"stg_{table}", s_stage)
        storage.fault("while_writing")
        quarantine_rows = _copy(con, f"stg_{table}_quarantine", q_stage)
        bronze_rows = _bronze_rows(settings, table, day)
        if bronze_rows != silver_rows + quarantine_rows:  # the dbt audit checks it too; never publish a loss
            raise EcomlakeError(
                f"{table} {day}: {bronze_rows} Bronze rows but {silver_rows} silver + {quarantine_rows} "
                "quarantine; nothing was published"
            )
        replayed = _reapply_recoveries(settings, table, day, s_stage, q_stage, echo)
        reasons = _reasons(con, f"stg_{table}_quarantine")
        if replayed.quarantine is not None:
            silver_rows += replayed.rows_moved
            quarantine_rows = replayed.quarantine.num_rows
            reasons = _reason_counts(replayed.quarantine.column("_quarantine_reason").to_pylist())
        publishes.append(
            storage.Publish(
                s_stage,
                storage.partition_path(silver_root, table, day),
                table,
                part,
                expected_rows=silver_rows,
                extra={"layer": "silver", "bronze_rows": bronze_rows},
            )
        )
        publishes.append(
            storage.Publish(
                q_stage,
                storage.partition_path(quarantine_root, table, day),
                table,
                part,
                expected_rows=quarantine_rows,
                extra={"layer": "quarantine", "bronze_rows": bronze_rows},
                root=quarantine_root,
            )
        )
        results.append(
            TableRun(
                table,
                day,
                int(bronze_rows),
                int(silver_rows),
                int(quarantine_rows),
                reasons,
                round(time.perf_counter() - started, 3),
                bronze_present.get(table, True),
                replayed.to_dict() if (replayed.applied or replayed.skipped) else {},
            )
        )
    if settings.publish.silver_publish_mode == "staging":
        storage.seal(publishes, run_id)
        storage.mark_pending(silver_root, run_id, publishes, gate="silver_quality")
        if echo:
            echo(
                f"staged {len(publishes)} partitions under {storage.staging_root(silver_root, run_id)} "
                f"(SILVER_PUBLISH_MODE=staging: promote after the gate)"
            )
    else:
        storage.publish(silver_root, run_id, publishes)
    return results


# -------------------------------------------------------------------------------------- run


@lineage.emits("silver")
def run_tables(
    settings: Settings,
    ingest_dt: str | dt.date,
    group: str = "facts",
    *,
    run_id: str | None = None,
    echo: Echo | None = None,
    keep_warehouse: bool = False,
    engine: str = "duckdb",
) -> SilverRun:
    """Build, test and publish Base Silver for one date and one group ('facts' or 'dims').

    `engine` runs the same dbt models on DuckDB ('duckdb', a per-run warehouse file) or on Spark
    ('spark': dbt-spark's session method, a SparkSession in this process, local[2] by default);
    either way the rows are exported and published the same way, only after every audit passed.

    Holds the lease of Silver D for the whole run: a `quarantine recover` of D (or a second run
    of D) fails at once, naming this run, instead of racing it.
    """
    day = parse_date(ingest_dt, "ingest date").isoformat()
    if group not in ("facts", "dims"):
        raise InputError(f"unknown table group {group!r} (expected 'facts' or 'dims')")
    dbt_runner.check_engine(engine)
    run_id = resolve_run_id(run_id)
    silver_root = settings.paths.silver_base_path
    storage.makedirs(silver_root)
    with locks.lease(silver_root, "silver", day, run_id, locks.timeout_of(settings)):
        return _run_tables(settings, day, group, run_id, echo, keep_warehouse, engine)


def _export_from(
    settings: Settings,
    warehouse: Path,
    tables: tuple[str, ...],
    day: str,
    run_id: str,
    present: dict[str, bool],
    echo: Echo | None,
) -> list[TableRun]:
    con = connect(settings, str(warehouse), read_only=True)
    con.execute("SET enable_progress_bar = false")  # our own progress lines, not DuckDB's bar
    try:
        return export_and_publish(settings, con, tables, day, run_id, present, echo)
    finally:
        con.close()


def _export_from_spark(
    settings: Settings,
    run_id: str,
    tables: tuple[str, ...],
    day: str,
    present: dict[str, bool],
    echo: Echo | None,
) -> list[TableRun]:
    """Export from the Spark run: each table's stg_<t> and stg_<t>_quarantine are collected through
    Arrow from the SparkSession dbt used, then handed to the same export as DuckDB's (a DuckDB
    connection over the Arrow tables writes the parquet), so both engines publish the same files:
    same writer, same column types (Spark's TIMESTAMP_NTZ, DECIMAL(18,2) and DATE arrive in Arrow
    as timestamp[us], decimal128(18,2) and date32, as DuckDB's own types). The day's rows pass
    through the driver's memory: fine for a day per process, not for a cluster-sized day."""
    session = dbt_runner.spark_session()
    schema = dbt_runner.spark_schema(run_id)
    con = connect(settings)
    con.execute("SET enable_progress_bar = false")
    try:
        for table in tables:
            for relation in (f"stg_{table}", f"stg_{table}_quarantine"):
                con.register(relation, session.table(f"{schema}.{relation}").toArrow())
        return export_and_publish(settings, con, tables, day, run_id, present, echo)
    finally:
        con.close()


def publish_from_warehouse(
    settings: Settings, day: str, group: str, run_id: str, warehouse: Path, echo: Echo | None = None
) -> list[TableRun]:
    """The publish half of `run_tables` from a warehouse it already built and tested (kept with
    ``keep_warehouse=True``): lease, staging, export, recorded recoveries, atomic publish."""
    tables: tuple[str, ...] = FACT_TABLES if group == "facts" else DIM_TABLES
    silver_root = settings.paths.silver_base_path
    present = {t: _has_bronze(settings, t, day) for t in tables}
    tables, _skipped = landed_tables(settings, group, tables, day, present, echo or (lambda _m: None))
    with locks.lease(silver_root, "silver", day, run_id, locks.timeout_of(settings)):
        storage.claim_staging(silver_root, run_id)
        ok = False
        try:
            results = _export_from(settings, warehouse, tables, day, run_id, present, echo)
            ok = True
        finally:
            if settings.publish.silver_publish_mode != "staging" or not ok:
                storage.release_staging(silver_root, run_id)
    return results


def _run_tables(
    settings: Settings,
    day: str,
    group: str,
    run_id: str,
    echo: Echo | None,
    keep_warehouse: bool,
    engine: str = "duckdb",
) -> SilverRun:
    tables: tuple[str, ...] = FACT_TABLES if group == "facts" else DIM_TABLES
    say = echo or (lambda _m: None)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    say(f"[1/4] checking inputs for {day}")
    present = {t: _has_bronze(settings, t, day) for t in tables}
    tables, skipped = landed_tables(settings, group, tables, day, present, say)
    check_bronze(settings, tables, day)
    extra = {}
    if group == "facts":
        storage.settle(settings.paths.silver_dims_path)  # read the dims as last committed
        snap = dims_snapshot_for(settings, day)
        if snap != day:
            say(f"      note: no dims snapshot for {day}; using the latest before it ({snap})")
        extra["dims_snapshot_dt"] = snap
    timings["inputs"] = round(time.perf_counter() - t0, 3)
    if not tables:  # a dims day on which neither dimension changed: nothing for dbt to do
        run = SilverRun(
            run_id, day, group, [], {}, settings.publish.silver_publish_mode, seconds=timings, engine=engine
        )
        run.ledger_path = write_ledger(settings, run)
        return run

    silver_root = settings.paths.silver_base_path
    storage.claim_staging(silver_root, run_id)
    spark = engine == "spark"
    warehouse = dbt_runner.warehouse_path(settings, run_id)
    ok = False
    try:
        t0 = time.perf_counter()
        if spark:
            say(f"[2/4] dbt build ({group}) on Spark, schema {dbt_runner.spark_schema(run_id)}")
        else:
            say(f"[2/4] dbt build ({group}) in {warehouse.name}")
        summary = dbt_runner.invoke(
            settings,
            # dbt unit tests test our SQL, not the day's data: they run in `make test`, not here
            [
                "build",
                "--select",
                f"tag:{group}",
                *(["--exclude", *(f"int_{t}__bronze+" for t in skipped)] if skipped else []),
                "--indirect-selection",
                "cautious",
                "--exclude-resource-type",
                "unit_test",
            ],
            dbt_vars=dbt_vars(settings, day, run_id, **extra),
            run_id=run_id,
            warehouse=warehouse,
            engine=engine,
        )
        dbt_runner.close_dbt_connections()
        timings["dbt_build"] = round(time.perf_counter() - t0, 3)
        say(
            f"      {summary.models} models, {summary.tests_passed} tests passed, {summary.tests_warned} warned, "
            f"{summary.tests_failed} failed"
        )

        t0 = time.perf_counter()
        say("[3/4] export + publish (silver and quarantine together)")
        if spark:
            results = _export_from_spark(settings, run_id, tables, day, present, echo)
        else:
            results = _export_from(settings, warehouse, tables, day, run_id, present, echo)
        timings["export_publish"] = round(time.perf_counter() - t0, 3)
        ok = True
    finally:
        dbt_runner.close_dbt_connections()
        if settings.publish.silver_publish_mode != "staging" or not ok:
            storage.release_staging(silver_root, run_id)
        if ok and not keep_warehouse:
            work = str(dbt_runner.work_dir(settings))
            if spark:
                dbt_runner.drop_spark_schema(run_id)  # its tables' files under the session's warehouse dir
            storage.remove_tree(str(warehouse.parent), work)  # silver_<run_id>/: the file and its WAL
            storage.remove_tree(str(dbt_runner.work_dir(settings) / "dbt" / run_id), work)

    run = SilverRun(
        run_id=run_id,
        ingest_dt=day,
        group=group,
        tables=results,
        dbt=summary.to_dict(),
        publish_mode=settings.publish.silver_publish_mode,
        seconds=timings,
        engine=engine,
    )
    say("[4/4] run ledger")
    run.ledger_path = write_ledger(settings, run)
    return run


def write_ledger(settings: Settings, run: SilverRun) -> str:
    path = storage.join(settings.paths.metrics_base_path, f"silver_run_{run.run_id}.json")
    storage.write_json_atomic(
        path,
        {
            "run_id": run.run_id,
            "ingest_dt": run.ingest_dt,
            "group": run.group,
            "written_at": utc_now_iso(),
            "publish_mode": run.publish_mode,
            "engine": run.engine,
            "config_source": settings.source,
            "tables": {t.table: {k: v for k, v in asdict(t).items() if k != "table"} for t in run.tables},
            "dbt": run.dbt,
            "seconds": run.seconds,
        },
    )
    return path


# ------------------------------------------------------------------------------ revalidation


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _revalidation_bronze(schema: pa.Schema, raw_rows: pa.Table) -> pa.Table:
    """Quarantined (repaired) rows as a Bronze table for the same models.

    Columns are in the contract's Bronze types, except a non-text column that has arrived text in
    `_raw_text` (Bronze that came in another physical type): it is written as text again, the
    arrived text where the typed value is still null (a value that did not cast, not repaired) and
    the typed value otherwise, so a row that still fails keeps its `cast_failed_*` code and its text.
    """
    import json

    n = raw_rows.num_rows
    texts: list[dict] = [{}] * n
    if RAW_TEXT_COLUMN in raw_rows.column_names:
        texts = [json.loads(v) if v else {} for v in raw_rows.column(RAW_TEXT_COLUMN).to_pylist()]
    retyped = {name for d in texts for name in d}
    fields, cols = [], []
    for f in schema:
        values = raw_rows.column(f.name) if f.name in raw_rows.column_names else pa.nulls(n, f.type)
        if f.name in retyped:
            typed = values.to_pylist()
            text = [texts[i].get(f.name) if typed[i] is None else _as_text(typed[i]) for i in range(n)]
            fields.append(pa.field(f.name, pa.string()))
            cols.append(pa.array(text, pa.string()))
        else:
            fields.append(f)
            cols.append(values.cast(f.type))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def revalidate(
    settings: Settings, table: str, ingest_dt: str | dt.date, raw_rows: pa.Table, run_id: str
) -> tuple[pa.Table, pa.Table]:
    """Re-run THE SAME dbt models on repaired raw rows; return (now valid, still failing).

    Used by quarantine recovery. `raw_rows` holds Bronze columns (as in the quarantine files; extra
    columns such as _quarantine_reason are ignored, missing Bronze columns are null). They are written
    as a temporary Bronze partition ``<work>/revalidate_<run_id>/bronze/<table>/ingest_dt=D/`` and the
    table's models run against it with:

    - the dims snapshot for D (or the latest before it), exactly as the daily run;
    - parents (for children) read from published Silver through D only (var parent_source='silver');
    - the already-published rule extended to Silver partition D itself
      (var published_through_run_date), so a recovered key that is already in Silver is a duplicate
      and recovering twice never duplicates rows.

    Returns ``(valid, failing)``: `valid` has contract.silver_columns(table) in order (``_run_id`` =
    `run_id`); `failing` has the Bronze columns, ``ingest_dt`` and ``_quarantine_reason``. Nothing is
    published here: the caller publishes both.
    """
    day = parse_date(ingest_dt, "ingest date").isoformat()
    t = contract_table(table)
    run_id = resolve_run_id(run_id)
    return score_bronze(settings, day, {table: [_revalidation_bronze(t.bronze_schema(), raw_rows)]}, run_id)[table]


def score_bronze(
    settings: Settings, day: str, bronze: dict[str, list[pa.Table]], run_id: str
) -> dict[str, tuple[pa.Table, pa.Table]]:
    """Run the Base Silver models of the tables in `bronze` on those rows; per table (valid, failing).

    Each Arrow table becomes one parquet file of a temporary Bronze partition
    ``<work>/revalidate_<run_id>/bronze/<table>/ingest_dt=D/``, written as given (any physical
    types; the files may disagree), and the tables' models run against it with the vars of a
    recovery (see `revalidate`). Nothing is published. Quarantine recovery and the property tests
    of the cleaning rules go through here, so both exercise exactly the daily run's models.
    """
    import pyarrow.parquet as pq

    day = parse_date(day, "ingest date").isoformat()
    run_id = resolve_run_id(run_id)
    for table in bronze:
        contract_table(table)

    work = dbt_runner.work_dir(settings) / f"revalidate_{run_id}"
    models: list[str] = []
    extra: dict = {"bronze_root": str(work / "bronze"), "published_through_run_date": True, "parent_source": "silver"}
    for table, files in bronze.items():
        t = CONTRACT[table]
        part = work / "bronze" / table / f"ingest_dt={day}"
        part.mkdir(parents=True, exist_ok=True)
        for i, tbl in enumerate(files):
            pq.write_table(tbl, part / f"part-{i:04d}.parquet")
        models += [
            f"int_{table}__bronze",
            f"int_{table}__cleaned",
            f"int_{table}__scored",
            f"stg_{table}",
            f"stg_{table}_quarantine",
        ]
        if t.kind == "fact":
            extra["dims_snapshot_dt"] = dims_snapshot_for(settings, day)
            for _col, fk in t.foreign_keys:
                if fk.table in PARENT_KEYS:
                    models.append(f"int_{fk.table}__keys")
                else:
                    models.append("int_dims__customers" if fk.table == "customers" else "int_dims__product_catalog")
    warehouse = work / "warehouse.duckdb"
    out: dict[str, tuple[pa.Table, pa.Table]] = {}
    try:
        dbt_runner.invoke(
            settings,
            ["run", "--select", *sorted(set(models))],
            dbt_vars=dbt_vars(settings, day, run_id, **extra),
            run_id=f"revalidate_{run_id}",
            warehouse=warehouse,
        )
        dbt_runner.close_dbt_connections()
        con = connect(settings, str(warehouse), read_only=True)
        try:
            for table in bronze:
                valid = con.sql(f"select * from stg_{table}").to_arrow_table()  # duckdb 2.0: no fetch_arrow_table
                failing = con.sql(
                    f"select * exclude (_quarantine_timestamp, _run_id) from stg_{table}_quarantine"
                ).to_arrow_table()
                out[table] = (valid, failing)
        finally:
            con.close()
    finally:
        dbt_runner.close_dbt_connections()
        root = str(dbt_runner.work_dir(settings))
        storage.remove_tree(str(work), root)
        storage.remove_tree(str(dbt_runner.work_dir(settings) / "dbt" / f"revalidate_{run_id}"), root)
    return out
