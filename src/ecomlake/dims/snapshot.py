"""Point-in-time dimension snapshots (customer_snapshot, product_catalog), built incrementally.

``snapshot(D) = snapshot(P) merged with the valid Silver changes of D``, where P is the latest
snapshot before D. Per key the latest version wins (ingestion_ts, then the newer source, then
event_id and source_file), so the cost of a day depends on the size of the dimension and of the
day's changes, not on the length of history. Every snapshot holds exactly one row per key plus the
"unknown member" sentinel row (customer_id 'UNKNOWN', product_id -1).

`run_dims(settings, D)` first runs the dims' Base Silver models for D (their silver and quarantine
partitions are published like any table), then builds and publishes both snapshots atomically,
and writes ``<dims>/_latest.json`` last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ecomlake import lineage, locks, storage
from ecomlake.config import Settings
from ecomlake.contract import (
    CONTRACT,
    DIM_SNAPSHOTS,
    DIM_TABLES,
    TABLES,
    UNKNOWN_CUSTOMER_ID,
    UNKNOWN_PRODUCT_ID,
    silver_columns,
)
from ecomlake.duck import connect, scalar, sql_literal
from ecomlake.errors import InputError
from ecomlake.runs import parse_date, resolve_run_id, utc_now_iso

if TYPE_CHECKING:
    from ecomlake.silver.run import SilverRun

SNAPSHOT_KEY = "snapshot_dt"
LATEST_NAME = "_latest.json"
SENTINEL_SOURCE = "ecomlake:unknown-member"


@dataclass
class DimsRun:
    run_id: str
    snapshot_dt: str
    rows: dict[str, int] = field(default_factory=dict)
    previous: dict[str, str | None] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    carried_forward: list[str] = field(default_factory=list)  # snapshots of dims with no Bronze partition for D
    silver: SilverRun | None = None  # the SilverRun of the dims' Base Silver models


def snapshot_dates(settings: Settings, dim_table: str) -> list[str]:
    return storage.list_partitions(settings.paths.silver_dims_path, DIM_SNAPSHOTS[dim_table], key=SNAPSHOT_KEY)


def previous_snapshot(settings: Settings, dim_table: str, day: str) -> str | None:
    earlier = [d for d in snapshot_dates(settings, dim_table) if d < day]
    return earlier[-1] if earlier else None


def bronze_landed(settings: Settings, dim_table: str, day: str) -> bool:
    """Did a Bronze partition of `dim_table` land for D (an empty one counts: nothing changed, said so)?"""
    part = storage.partition_path(settings.paths.bronze_base_path, dim_table, day)
    return storage.isdir(part) and bool(storage.partition_files(part))


def check_history(settings: Settings, day: str) -> None:
    """Refuse to build D when an earlier day with dimension changes has no snapshot yet.

    Skipping it would silently drop that day's changes from every later snapshot.
    """
    for dim in DIM_TABLES:
        prev = previous_snapshot(settings, dim, day)
        arrived = set(storage.list_partitions(settings.paths.bronze_base_path, dim))
        arrived |= set(storage.list_partitions(settings.paths.silver_base_path, dim))
        gaps = sorted(d for d in arrived if d < day and (prev is None or d > prev))
        if gaps:
            raise InputError(
                f"dims snapshot for {gaps[0]} is missing ({dim} changes arrived that day, latest snapshot "
                f"before {day}: {prev or 'none'}); run `ecomlake local dims --date {gaps[0]}` first "
                f"(or `ecomlake local dims` to catch up every missing day in order)"
            )


def _sentinel_sql(dim_table: str, day: str, run_id: str) -> str:
    """One row with the silver columns of the dim: the key, a name, and nulls elsewhere."""
    t = CONTRACT[dim_table]
    values = {
        "batch_id": "'sentinel'",
        "ingestion_ts": "TIMESTAMP '1970-01-01 00:00:00'",
        "event_id": f"'{dim_table}:sentinel'",
        "source_file": f"'{SENTINEL_SOURCE}'",
        "_run_id": sql_literal(run_id),
    }
    if dim_table == "customers":
        values["customer_id"] = sql_literal(UNKNOWN_CUSTOMER_ID)
    else:
        values.update({"product_id": str(UNKNOWN_PRODUCT_ID), "product_name": "'UNKNOWN'", "unit_price": "0"})
    return "select " + ", ".join(
        f"cast({values.get(name, 'null')} as {typ}) as {name}" for name, typ in silver_columns(t.name)
    )


def build_snapshot_sql(settings: Settings, dim_table: str, day: str, run_id: str) -> tuple[str, str | None]:
    """SQL of snapshot(D) for one dim, and the previous snapshot date it merges."""
    t = CONTRACT[dim_table]
    key = t.primary_key[0]
    sentinel_key = sql_literal(UNKNOWN_CUSTOMER_ID) if dim_table == "customers" else str(UNKNOWN_PRODUCT_ID)
    cols = [n for n, _ in silver_columns(dim_table)]
    col_list = ", ".join(cols)
    prev = previous_snapshot(settings, dim_table, day)
    parts = []
    prev_files: list[str] = []
    if prev:
        prev_files = storage.partition_files(
            storage.partition_path(settings.paths.silver_dims_path, DIM_SNAPSHOTS[dim_table], prev, SNAPSHOT_KEY)
        )
    prev_sql = f"read_parquet([{', '.join(sql_literal(f) for f in prev_files)}], union_by_name = true)"
    if prev_files:
        parts.append(f"select {col_list}, 0 as _newer from {prev_sql}")
    changes = storage.partition_files(storage.partition_path(settings.paths.silver_base_path, dim_table, day))
    if not changes and prev_files:
        # No change records landed for D: snapshot(D) is snapshot(prev), row for row (sentinel included).
        return f"select {col_list} from {prev_sql}", prev
    if changes:
        parts.append(
            f"select {col_list}, 1 as _newer from read_parquet([{', '.join(sql_literal(f) for f in changes)}], union_by_name = true)"
        )
    if not parts:
        body = f"select {col_list} from ({_sentinel_sql(dim_table, day, run_id)}) where false"
    else:
        unioned = " union all by name ".join(f"({p})" for p in parts)
        body = (
            f"select {col_list} from ({unioned}) as versions where {key} is not null and {key} <> {sentinel_key} "
            f"qualify row_number() over (partition by {key} order by ingestion_ts desc nulls last, _newer desc, "
            f"event_id desc nulls last, source_file desc nulls last) = 1"
        )
    return f"{body} union all by name {_sentinel_sql(dim_table, day, run_id)}", prev


def publish_snapshots(settings: Settings, day: str, run_id: str, echo: Callable[[str], None] | None = None) -> DimsRun:
    """Build both snapshots for D from Silver and publish them together; then write _latest.json.

    Holds the dims lease (the whole layer: snapshot(D) is built from snapshot(D-1), so two dims
    writers must never interleave).
    """
    dims_root = settings.paths.silver_dims_path
    storage.makedirs(dims_root)
    with locks.lease(dims_root, "dims", locks.ALL, run_id, locks.timeout_of(settings)):
        return _publish_snapshots(settings, day, run_id, echo)


def _publish_snapshots(settings: Settings, day: str, run_id: str, echo: Callable[[str], None] | None) -> DimsRun:
    dims_root = settings.paths.silver_dims_path
    storage.settle(settings.paths.silver_base_path)  # read the changes of D as last committed
    run = DimsRun(run_id=run_id, snapshot_dt=day)
    storage.claim_staging(dims_root, run_id)
    keep_staging = False  # staging publish mode leaves sealed partitions for `promote`
    try:
        con = connect(settings)
        publishes = []
        try:
            for dim in DIM_TABLES:
                sql, prev = build_snapshot_sql(settings, dim, day, run_id)
                name = DIM_SNAPSHOTS[dim]
                part = storage.partition_name(day, SNAPSHOT_KEY)
                staged = storage.staging_path(dims_root, run_id, name, part)
                storage.makedirs(staged)
                con.execute(f"create or replace temp table snap as {sql}")
                rows = scalar(con, "select count(*) from snap")
                keys = scalar(con, f"select count(distinct {CONTRACT[dim].primary_key[0]}) from snap")
                if keys != rows:  # one row per key, always
                    raise InputError(f"{name} snapshot {day}: {rows} rows for {keys} keys; nothing was published")
                target = storage.join(staged, "part-0000.parquet")
                con.execute(f"COPY snap TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)")
                storage.fault("while_writing")
                run.rows[name] = int(rows)
                run.previous[name] = prev
                changes = storage.partition_files(storage.partition_path(settings.paths.silver_base_path, dim, day))
                run.changes[name] = sum(storage.parquet_num_rows(f) for f in changes)
                if not bronze_landed(settings, dim, day):
                    run.carried_forward.append(name)
                publishes.append(
                    storage.Publish(
                        staged,
                        storage.partition_path(dims_root, name, day, SNAPSHOT_KEY),
                        name,
                        part,
                        expected_rows=int(rows),
                        extra={"previous_snapshot_dt": prev},
                    )
                )
        finally:
            con.close()
        if settings.publish.dims_publish_mode == "staging":
            storage.seal(publishes, run_id)
            storage.mark_pending(dims_root, run_id, publishes, gate="dims_quality")
            keep_staging = True
            if echo:
                echo(
                    f"staged dims snapshots under {storage.staging_root(dims_root, run_id)} (DIMS_PUBLISH_MODE=staging)"
                )
            return run
        # The _latest.json pointer moves in the same journal as the snapshots it points at.
        pointer = storage.join(storage.staging_root(dims_root, run_id), LATEST_NAME)
        files = [(pointer, storage.join(dims_root, LATEST_NAME))] if write_latest(settings, run, pointer) else []
        storage.publish(dims_root, run_id, publishes, files=files)
    finally:
        if not keep_staging:
            storage.release_staging(dims_root, run_id)
    return run


def write_latest(settings: Settings, run: DimsRun, target: str | None = None) -> bool:
    """Point _latest.json at the newest snapshot (a rerun of an older day never moves it back).

    Writes the pointer to `target` (default: the live one); False when it must not move.
    """
    path = storage.join(settings.paths.silver_dims_path, LATEST_NAME)
    if storage.exists(path):
        try:
            current = storage.read_json(path)
            if str(current.get("snapshot_dt", "")) > run.snapshot_dt:
                return False
        except ValueError:
            pass  # unreadable pointer: replace it
    storage.write_json_atomic(
        target or path,
        {"snapshot_dt": run.snapshot_dt, "run_id": run.run_id, "published_at": utc_now_iso(), "tables": dict(run.rows)},
    )
    return True


@lineage.emits("dims")
def run_dims(
    settings: Settings,
    run_date: str | dt.date,
    *,
    run_id: str | None = None,
    echo: Callable[[str], None] | None = None,
    engine: str = "duckdb",
) -> DimsRun:
    """Base Silver for customers and product_catalog of D (dbt on `engine`: duckdb or spark), then
    snapshot(D) of both dims (the snapshot merge itself is the same Python/DuckDB code either way)."""
    from ecomlake.silver.run import run_tables

    day = parse_date(run_date, "--run-date").isoformat()
    run_id = resolve_run_id(run_id)
    dims_root = settings.paths.silver_dims_path
    storage.makedirs(dims_root)
    with locks.lease(dims_root, "dims", locks.ALL, run_id, locks.timeout_of(settings)):
        storage.settle(dims_root)
        check_history(settings, day)
        silver = run_tables(settings, day, "dims", run_id=run_id, echo=echo, engine=engine)
        if echo:
            echo("[5/5] dims snapshots (previous snapshot + today's valid changes)")
        run = publish_snapshots(settings, day, run_id, echo)
    run.silver = silver
    return run


def pending_dates(settings: Settings) -> list[str]:
    """Dates `local dims` processes without --date: every Bronze date (of any table: a day on which
    no dimension changed still needs its snapshot) without a snapshot, in order; when all have one,
    the latest Bronze dims date again (the runbook's "re-run to refresh")."""
    root = settings.paths.bronze_base_path
    dims_arrived = set(storage.list_partitions(root, "customers")) | set(
        storage.list_partitions(root, "product_catalog")
    )
    if not dims_arrived:
        from ecomlake.lake import missing_bronze_hint

        raise InputError(
            f"no Bronze customers or product_catalog partitions under {settings.paths.bronze_base_path}; "
            f"{missing_bronze_hint(settings)}"
        )
    first = min(dims_arrived)  # days before the first dimension change have nothing to snapshot
    arrived = sorted({d for t in TABLES for d in storage.list_partitions(root, t) if d >= first})
    done = set(snapshot_dates(settings, "customers")) & set(snapshot_dates(settings, "product_catalog"))
    todo = [d for d in arrived if d not in done]
    return todo or [sorted(dims_arrived)[-1]]
