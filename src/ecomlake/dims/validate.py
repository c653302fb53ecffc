"""The dims gate (`ecomlake dim validate`): is snapshot(D) of each dimension usable?

Per dimension: a Bronze partition of changes landed for D (none: WARN, the snapshot carries the
previous one forward; FAIL with ``dims.require_daily_partition``), the snapshot partition exists
and opens, is not empty, has every Silver column of the contract, its primary key is non-null and
unique, the unknown-member sentinel row is present, and it did not shrink by more than ``dims.max_shrink_pct`` percent against the previous snapshot
(dimension rows are never deleted, so a shrinking snapshot means lost data). Verdicts go through
`ecomlake.quality.gate`: metrics ``dims_quality_<run_id>.json``, report ``DIMS_QUALITY_<date>.md``.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ecomlake import ids, storage
from ecomlake.config import Settings
from ecomlake.contract import (
    CONTRACT,
    DIM_SNAPSHOTS,
    DIM_TABLES,
    UNKNOWN_CUSTOMER_ID,
    UNKNOWN_PRODUCT_ID,
    silver_columns,
)
from ecomlake.dims.snapshot import SNAPSHOT_KEY, bronze_landed, previous_snapshot
from ecomlake.duck import connect, one, sql_literal
from ecomlake.errors import InputError
from ecomlake.quality.gate import Check, GateResult, Status, finish, fmt_int, md_table
from ecomlake.runs import parse_date, resolve_run_id

GATE = "dims_quality"


def _rows(files: list[str]) -> int:
    return sum(storage.parquet_num_rows(f) for f in files)


def validate_dims(
    settings: Settings,
    run_date: str | dt.date,
    *,
    enforce: bool = False,
    output_report: str | None = None,
    run_id: str | None = None,
    echo: bool = False,
) -> tuple[int, GateResult]:
    """Run the dims gate for snapshot_dt = run_date; returns (exit code, result)."""
    day = parse_date(run_date, "--run-date").isoformat()
    run_id = resolve_run_id(run_id)
    if output_report is not None:
        ids.user_path(output_report, "--output-report")
    root = settings.paths.silver_dims_path
    if not storage.isdir(root):
        raise InputError(
            f"dims path not found: {root} (pass --dims-path or set SILVER_DIMS_PATH; run `ecomlake local dims` first)"
        )
    storage.settle(root)  # a publish killed after its commit is finished before we judge it
    staged = _staged(root, run_id)  # DIMS_PUBLISH_MODE=staging: judge what is about to be promoted
    result = GateResult(
        gate=GATE,
        title="Dims Snapshot Quality Report",
        run_id=run_id,
        environment=settings.environment,
        config_source=settings.source,
        parameters={
            "run_date": day,
            "dims_path": root,
            "max_shrink_pct": settings.dims.max_shrink_pct,
            "staged_partitions": len(staged),
        },
    )
    con = connect(settings)
    try:
        for dim in DIM_TABLES:
            _validate_one(settings, con, result, dim, day, staged)
    finally:
        con.close()
    report = output_report or storage.join(settings.paths.reports_base_path, f"DIMS_QUALITY_{day}.md")
    sections = [
        (
            "Snapshots",
            md_table(
                ["Snapshot", "Status", "Rows", "Previous", "Previous rows", "Path"],
                [
                    (
                        m["table_name"],
                        result.table_status(m["table_name"]).value,
                        fmt_int(m.get("rows")),
                        m.get("previous_snapshot_dt") or "-",
                        fmt_int(m.get("previous_rows")),
                        m["path"],
                    )
                    for m in result.table_metrics
                ],
            ),
        )
    ]
    rc, metrics_path, report_path = finish(
        result,
        metrics_dir=settings.paths.metrics_base_path,
        report_path=report,
        sections=sections,
        enforce=enforce,
        settings=settings,
    )
    result.parameters["metrics_path"] = metrics_path
    if echo:
        import click

        for m in result.table_metrics:
            st = result.table_status(m["table_name"])
            click.echo(f"{st.emoji} {m['table_name']}: {st.value} ({fmt_int(m.get('rows'))} rows)")
        click.echo(f"Overall: {result.overall_status.value}  metrics: {metrics_path}  report: {report_path}")
    return rc, result


def _staged(root: str, run_id: str) -> dict[str, str]:
    """Live partition path -> staged path, for a staging-mode dims run waiting for this gate."""
    pending = storage.join(storage.staging_root(root, run_id), "_pending.json")
    if not storage.exists(pending):
        return {}
    try:
        data = storage.read_json(pending)
    except (ValueError, OSError):
        return {}
    return {
        p["final"].rstrip("/"): p["staged"] for p in data.get("partitions", []) if p.get("final") and p.get("staged")
    }


def _validate_one(
    settings: Settings, con: duckdb.DuckDBPyConnection, result: GateResult, dim: str, day: str, staged: dict[str, str]
) -> None:
    name = DIM_SNAPSHOTS[dim]
    t = CONTRACT[dim]
    key = t.primary_key[0]
    path = storage.partition_path(settings.paths.silver_dims_path, name, day, SNAPSHOT_KEY)
    path = staged.get(path.rstrip("/"), path)
    metrics: dict = {"table_name": name, "snapshot_dt": day, "path": path}
    result.table_metrics.append(metrics)
    landed = bronze_landed(settings, dim, day)
    metrics["changes_landed"] = landed
    if landed:
        result.add(Check("changes_landed", Status.PASS, f"Bronze {dim} partition for {day} landed", table=name))
    else:
        strict = settings.dims.require_daily_partition
        prev = previous_snapshot(settings, dim, day)
        result.add(
            Check(
                "changes_landed",
                Status.FAIL if strict else Status.WARN,
                f"no Bronze {dim} partition for {day}: no {dim} changes landed, so snapshot {day} carries "
                f"{prev or 'an empty dimension'} forward"
                + (" (dims.require_daily_partition is true)" if strict else ""),
                table=name,
                partition=day,
                action=f"check the {dim} export for {day}"
                + (" or set DIMS_REQUIRE_DAILY_PARTITION=false" if strict else " if changes were expected"),
            )
        )
    files = storage.partition_files(path)
    if not files:
        result.add(
            Check(
                "snapshot_present",
                Status.FAIL,
                f"no {name} snapshot for {day} at {path}",
                table=name,
                partition=day,
                action=f"run `ecomlake dim run --run-date {day}` (or `ecomlake local dims --date {day}`)",
            )
        )
        return
    result.add(Check("snapshot_present", Status.PASS, f"{len(files)} file(s)", table=name, partition=day))
    try:
        rows = _rows(files)
    except InputError as exc:
        result.add(
            Check(
                "snapshot_readable",
                Status.FAIL,
                exc.message,
                table=name,
                partition=day,
                action=f"re-run `ecomlake dim run --run-date {day}`",
            )
        )
        return
    metrics["rows"] = rows
    result.check(
        "snapshot_not_empty",
        rows > 0,
        f"{rows} rows",
        table=name,
        partition=day,
        observed=rows,
        threshold="> 0",
        action=f"re-run `ecomlake dim run --run-date {day}` and check Bronze {dim}",
    )
    file_sql = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    columns = [
        r[0]
        for r in con.execute(
            f"select column_name from (describe select * from read_parquet({file_sql}, union_by_name = true))"
        ).fetchall()
    ]
    missing = [c for c, _ in silver_columns(dim) if c not in columns]
    result.check(
        "required_columns",
        not missing,
        f"missing columns: {', '.join(missing)}" if missing else "all Silver columns present",
        table=name,
        partition=day,
        observed=missing or None,
        action="rebuild the snapshot with the current contract",
    )
    if key not in columns:
        return
    nulls, dupes, sentinel = one(
        con,
        f"select count(*) filter (where {key} is null), count({key}) - count(distinct {key}), "
        f"count(*) filter (where {key} = {sql_literal(UNKNOWN_CUSTOMER_ID) if dim == 'customers' else UNKNOWN_PRODUCT_ID}) "
        f"from read_parquet({file_sql}, union_by_name = true)",
    )
    metrics.update(pk_nulls=int(nulls), pk_duplicates=int(dupes))
    result.check(
        "pk_not_null",
        nulls == 0,
        f"{nulls} null {key}",
        table=name,
        partition=day,
        observed=int(nulls),
        threshold=0,
        action="rebuild the snapshot; null keys must be quarantined in Base Silver",
    )
    result.check(
        "pk_unique",
        dupes == 0,
        f"{dupes} duplicate {key}",
        table=name,
        partition=day,
        observed=int(dupes),
        threshold=0,
        action="rebuild the snapshot; it must hold one row per key",
    )
    result.check(
        "sentinel_present",
        sentinel == 1,
        f"unknown-member row {'present' if sentinel == 1 else 'missing'}",
        table=name,
        partition=day,
        observed=int(sentinel),
        threshold=1,
        action="rebuild the snapshot",
    )
    prev = previous_snapshot(settings, dim, day)
    metrics["previous_snapshot_dt"] = prev
    if prev:
        prev_files = storage.partition_files(
            storage.partition_path(settings.paths.silver_dims_path, name, prev, SNAPSHOT_KEY)
        )
        prev_rows = _rows(prev_files) if prev_files else 0
        metrics["previous_rows"] = prev_rows
        shrink = 0.0 if prev_rows == 0 else max(0.0, (prev_rows - rows) * 100.0 / prev_rows)
        metrics["shrink_pct"] = round(shrink, 3)
        result.check(
            "row_count_not_shrinking",
            shrink <= settings.dims.max_shrink_pct,
            f"{rows} rows vs {prev_rows} on {prev} ({shrink:.2f}% fewer)",
            table=name,
            partition=day,
            observed=round(shrink, 3),
            threshold=settings.dims.max_shrink_pct,
            action=f"compare with snapshot {prev}; rebuild from {prev} with `ecomlake dim run --run-date {day}`",
        )
