"""`ecomlake enriched`: Enriched Silver: the ten business tables and their gate."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ecomlake.cli.common import (
    date_value,
    echo_step,
    enforce_option,
    env_option,
    output_dir,
    passthrough,
    report_option,
    run_id_option,
    run_id_value,
    settings_from,
)

if TYPE_CHECKING:
    from ecomlake.config import Settings
    from ecomlake.enriched.runner import TableRun
    from ecomlake.quality.gate import GateResult


def _table_line(run: TableRun) -> str:
    parts = len(run.partitions)
    return f"{run.table}: {run.rows:,} rows, {parts} partition{'s' if parts != 1 else ''}, {run.seconds:.2f}s"


def allow_older_dims_option(f):
    return click.option(
        "--allow-older-dims",
        is_flag=True,
        default=False,
        help="When D has no dims snapshot, use the latest one before D (recorded in the run record and the "
        "gate report). Without it such a run stops with exit 2.",
    )(f)


def run_and_validate(
    settings: Settings,
    ingest_dt: str,
    run_id: str | None,
    enforce: bool,
    output_report: str | None,
    allow_older_dims: bool = False,
) -> int:
    """Build all ten tables for D (progress bar, one line per table), then run the gate."""
    from ecomlake.enriched.inputs import check_engine
    from ecomlake.enriched.runner import run_enriched
    from ecomlake.enriched.validate import validate_enriched
    from ecomlake.lake import require_silver_day
    from ecomlake.runs import parse_date
    from ecomlake.transforms.schemas import TABLE_NAMES

    check_engine(settings, settings.enriched.engine)  # before touching any root
    require_silver_day(settings, parse_date(ingest_dt, "--ingest-dt").isoformat())  # before the progress bar
    lines: list[str] = []
    with click.progressbar(
        length=len(TABLE_NAMES), label=f"enriched {ingest_dt}", file=sys.stderr, show_pos=True
    ) as bar:

        def progress(run: TableRun) -> None:
            lines.append(_table_line(run))
            bar.update(1)

        result = run_enriched(settings, ingest_dt, run_id=run_id, progress=progress, allow_older_dims=allow_older_dims)
    for line in lines:
        echo_step("enriched", line)
    if result.recoveries_applied:
        click.echo(
            f"recomputed the business dates of {len(result.recoveries_applied)} quarantine recover"
            f"{'y' if len(result.recoveries_applied) == 1 else 'ies'}: "
            + ", ".join(f"{t} ingest_dt={d} (run {r})" for t, d, r in result.recoveries_applied)
        )
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    states = ", ".join(f"{k} {v['mode']}" for k, v in result.states.items())
    staged = result.publish_mode == "staging"
    verb = "staged, not published (ENRICHED_PUBLISH_MODE=staging)" if staged else "published"
    echo_step(
        "enriched",
        f"{sum(len(t.partitions) for t in result.tables)} partitions {verb} in {result.seconds:.1f}s "
        f"(state: {states}); run record {result.record_path}",
    )
    code, gate = validate_enriched(
        settings, ingest_dt=ingest_dt, enforce=enforce, output_report=output_report, run_id=result.run_id
    )
    _echo_gate(gate, code)
    status = gate.overall_status.value
    if staged:
        echo_step(
            "enriched",
            f"readers see nothing of run {result.run_id} until it is promoted: "
            f"`ecomlake enriched promote --run-id {result.run_id}`"
            + (" (its gate FAILED: fix that first)" if status == "FAIL" else ""),
            ok=status != "FAIL",
        )
    else:
        from ecomlake.enriched.current import publish_current

        echo_step("enriched", publish_current(settings, ingest_dt, result.run_id, status), ok=status != "FAIL")
    return code


def _echo_gate(gate: GateResult, code: int) -> None:
    status = gate.overall_status
    with_data = sum(1 for m in gate.table_metrics if m["row_count"] > 0)
    echo_step(
        "enriched validate",
        f"{status.value}: {with_data}/{len(gate.table_metrics)} tables with data; "
        f"{sum(c.status.value == 'FAIL' for c in gate.checks)} failed check(s); "
        f"report {gate.extra.get('report_path')} (exit {code})",
        ok=status.value != "FAIL",
    )
    for c in gate.problems[:10]:
        click.echo(f"  {c.status.value} {c.name}: {c.message}", err=True)


@click.group(name="enriched", help="Enriched Silver: the ten business tables and their gate.")
def group() -> None:
    pass


@group.command(name="run")
@click.option(
    "--ingest-dt", callback=date_value, required=True, help="Run date D (YYYY-MM-DD): reads Base Silver known as of D."
)
@click.option(
    "--enriched-path",
    callback=output_dir,
    default=None,
    help="Enriched root (default: SILVER_ENRICHED_PATH, then config).",
)
@env_option
@enforce_option
@report_option("<reports>/ENRICHED_QUALITY_<D>.md")
@run_id_option
@allow_older_dims_option
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default=None,
    help="Ibis backend of the transforms: duckdb, or spark (a local Spark session, `spark.master`) "
    "(default: ENRICHED_ENGINE, then config enriched.engine: duckdb).",
)
@click.pass_context
@passthrough
def run_cmd(
    ctx: click.Context,
    ingest_dt: str,
    enriched_path: str | None,
    environment: str | None,
    enforce: bool,
    output_report: str | None,
    run_id: str | None,
    allow_older_dims: bool,
    engine: str | None,
) -> int:
    """Build the ten Enriched tables for D, publish them atomically, then run the gate."""
    settings = settings_from(
        ctx,
        **{"paths.silver_enriched_path": enriched_path, "environment": environment, "enriched.engine": engine},
    )
    return run_and_validate(settings, ingest_dt, run_id, enforce, output_report, allow_older_dims)


@group.command(name="validate")
@click.option(
    "--enriched-path",
    callback=output_dir,
    default=None,
    help="Enriched root (default: SILVER_ENRICHED_PATH, then config).",
)
@click.option("--ingest-dt", callback=date_value, default=None, help="Run date D (default: the newest run record).")
@env_option
@enforce_option
@report_option("<reports>/ENRICHED_QUALITY_<D>.md")
@run_id_option
@click.pass_context
@passthrough
def validate_cmd(
    ctx: click.Context,
    enriched_path: str | None,
    ingest_dt: str | None,
    environment: str | None,
    enforce: bool,
    output_report: str | None,
    run_id: str | None,
) -> int:
    """Validate every partition a run wrote: presence, keys, sanity, semantic checks, reconciliation."""
    from ecomlake.enriched.validate import validate_enriched

    settings = settings_from(ctx, **{"paths.silver_enriched_path": enriched_path, "environment": environment})
    code, gate = validate_enriched(
        settings, ingest_dt=ingest_dt, enforce=enforce, output_report=output_report, run_id=run_id
    )
    _echo_gate(gate, code)
    return code


@group.command(name="promote")
@click.option("--run-id", required=True, callback=run_id_value, help="The staging-mode run to publish.")
@click.pass_context
def promote_cmd(ctx: click.Context, run_id: str) -> None:
    """Publish a staging-mode run's partitions after its gate passed (alias of `ecomlake promote enriched`)."""
    from ecomlake.cli.promote import promote_and_echo

    promote_and_echo(ctx, "enriched", run_id)
