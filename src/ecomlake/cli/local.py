"""`ecomlake local`: Run layers on the local default paths (the runbook's no-Docker helpers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ecomlake.cli.common import date_value, echo_step, passthrough, settings_from
from ecomlake.cli.enriched import allow_older_dims_option

if TYPE_CHECKING:
    from ecomlake.config import Settings
    from ecomlake.demo import DemoSummary
    from ecomlake.dims.snapshot import DimsRun
    from ecomlake.silver.run import SilverRun


@click.group(name="local", help="Run layers on the local default paths (the runbook's no-Docker helpers).")
def group() -> None:
    pass


def echo_table_runs(run: SilverRun) -> None:
    """One line per table: bronze rows -> silver rows + quarantine rows, time."""
    for t in run.tables:
        note = "" if t.bronze_present else " (no Bronze partition: quiet day)"
        click.echo(
            f"  {t.table:<16} {t.bronze_rows:>10,} bronze -> {t.silver_rows:>10,} silver + "
            f"{t.quarantine_rows:>8,} quarantine  ({t.seconds:.2f} s){note}"
        )


def staged_note(layer: str, env_var: str, root: str, run_id: str) -> str:
    """What a staging-mode run did, and the command that promotes it."""
    from ecomlake import storage

    return (
        f"staged, NOT published ({env_var}=staging): readers still see the previous data; the partitions wait "
        f"under {storage.staging_root(root, run_id)}. After the gate passed, publish them with "
        f"`ecomlake promote {layer} --run-id {run_id}`"
    )


# Which engine runs the Base Silver dbt models (the export, publish and gates are the same).
ENGINE_OPTION = click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Run the Base Silver dbt models on DuckDB (target local) or on local Spark (target spark: "
    "dbt-spark's session method, local[2], in this process).",
)


def echo_dims_run(run: DimsRun, settings: Settings | None = None) -> None:
    if run.silver is not None:
        echo_table_runs(run.silver)
    for name, rows in run.rows.items():
        prev = run.previous.get(name)
        if name in run.carried_forward:
            what = f"no Bronze partition for {run.snapshot_dt}: no changes landed, {prev or 'an empty dimension'} carried forward"
        else:
            what = f"{run.changes.get(name, 0):,} changes merged into {prev or 'an empty dimension'}"
        click.echo(f"  {name:<16} snapshot_dt={run.snapshot_dt}: {rows:,} rows ({what})")
    if settings is not None and settings.publish.dims_publish_mode == "staging":
        note = staged_note("dims", "DIMS_PUBLISH_MODE", settings.paths.silver_dims_path, run.run_id)
        echo_step("dims", f"snapshot {run.snapshot_dt} {note}")
    else:
        echo_step("dims", f"snapshot {run.snapshot_dt} published (run {run.run_id})")


@group.command("dims")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default=None,
    help="Snapshot date. Default: every Bronze dims date without a snapshot, oldest first "
    "(or the latest Bronze date again when all have one).",
)
@ENGINE_OPTION
@click.pass_context
@passthrough
def dims_cmd(ctx: click.Context, date: str | None, engine: str) -> int:
    """Dims snapshots from Bronze: Base Silver for customers/product_catalog, then snapshot(D)."""
    from ecomlake.dims.snapshot import pending_dates, run_dims
    from ecomlake.dims.validate import validate_dims

    settings = settings_from(ctx)
    dates = [date] if date else pending_dates(settings)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== dims {day} ({i}/{len(dates)})")
        run = run_dims(settings, day, echo=click.echo, engine=engine)
        echo_dims_run(run, settings)
        code, _ = validate_dims(settings, day, run_id=run.run_id, echo=True)
        rc = max(rc, code)
    return rc


def silver_dates(settings: Settings) -> list[str]:
    """Dates `local silver` processes without --date: every Bronze orders date not yet in Silver,
    oldest first (children check parents already published); when all are, the latest again."""
    from ecomlake import storage
    from ecomlake.errors import InputError

    arrived = storage.list_partitions(settings.paths.bronze_base_path, "orders")
    if not arrived:
        from ecomlake.lake import missing_bronze_hint

        raise InputError(
            f"no Bronze orders partitions under {settings.paths.bronze_base_path}; {missing_bronze_hint(settings)}"
        )
    done = set(storage.list_partitions(settings.paths.silver_base_path, "orders"))
    todo = [d for d in arrived if d not in done]
    return todo or [arrived[-1]]


@group.command("silver")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default=None,
    help="ingest_dt to process. Default: every Bronze date not yet in Silver, oldest first "
    "(or the latest Bronze date again when all are).",
)
@ENGINE_OPTION
@click.pass_context
@passthrough
def silver_cmd(ctx: click.Context, date: str | None, engine: str) -> int:
    """Base Silver for the six fact tables (dbt build + tests, then atomic publish), then the Silver gate."""
    from ecomlake.silver.run import dims_snapshot_for, run_tables

    settings = settings_from(ctx)
    dates = [date] if date else silver_dates(settings)
    for day in dates:  # fail before any dbt run when dims are missing for any date
        dims_snapshot_for(settings, day)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== silver {day} ({i}/{len(dates)})")
        run = run_tables(settings, day, "facts", echo=click.echo, engine=engine)
        echo_table_runs(run)
        if run.publish_mode == "staging":
            note = staged_note("silver", "SILVER_PUBLISH_MODE", settings.paths.silver_base_path, run.run_id)
            echo_step("silver", f"{day} {note}; ledger {run.ledger_path}")
        else:
            echo_step("silver", f"{day} published (run {run.run_id}); ledger {run.ledger_path}")
        rc = max(rc, _silver_gate(settings, day, run.run_id))
    return rc


def _silver_gate(settings: Settings, day: str, run_id: str) -> int:
    """The Silver gate on what was just published (ecomlake.silver.validate.validate_silver)."""
    from ecomlake.contract import FACT_TABLES
    from ecomlake.silver.validate import validate_silver

    rc, _ = validate_silver(settings, partition_date=day, tables=list(FACT_TABLES), run_id=run_id, echo=True)
    return rc


# ------------------------------------------------------------------ enriched (owned by the Enriched layer)


def enriched_dates(settings: Settings) -> list[str]:
    """Dates `local enriched` builds without --date, from the lake itself: every Base Silver day from
    the first one Enriched lacks, oldest first (ecomlake.lake.enriched_days_to_build)."""
    from ecomlake.lake import enriched_days_to_build

    return enriched_days_to_build(settings)


@group.command("enriched")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default=None,
    help="Run date D. Default: every Base Silver day from the first one Enriched lacks, oldest first "
    "(or the latest day again when none is missing).",
)
@click.option(
    "--enforce",
    "--enforce-quality",
    "enforce",
    is_flag=True,
    default=False,
    help="Exit 1 when the Enriched gate fails.",
)
@allow_older_dims_option
@click.pass_context
@passthrough
def enriched_cmd(ctx: click.Context, date: str | None, enforce: bool, allow_older_dims: bool) -> int:
    """Enriched Silver for D on local paths: the ten tables, then the Enriched gate."""
    from ecomlake.cli.enriched import run_and_validate
    from ecomlake.runs import parse_date

    settings = settings_from(ctx)
    dates = [parse_date(date, "--date").isoformat()] if date else enriched_dates(settings)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== enriched {day} ({i}/{len(dates)})")
        rc = max(rc, run_and_validate(settings, day, None, enforce, None, allow_older_dims))
    return rc


# ------------------------------------------------------------------------------------- demos


def _print_summary(summary: DemoSummary) -> None:
    from ecomlake.demo import render_summary

    for line in render_summary(summary):
        click.echo(line)


@group.command("demo-fast")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default="2023-01-01",
    show_default=True,
    help="Demo date (must be in the sample).",
)
@click.pass_context
def demo_fast_cmd(ctx: click.Context, date: str) -> None:
    """Pre-cooked dims + one day end to end, all gates (the runbook's two-minute demo).

    Unzips samples/bronze_samples.zip when samples/bronze is missing and lands that Bronze in the
    lake's Bronze root (data/bronze; it refuses to mix it with other Bronze found there), loads
    samples/dims_samples.zip, then runs Base Silver (dbt build and tests), the Silver gate, Enriched, the Enriched gate and Gold
    for the date. Exits 1 when a gate fails.
    """
    from ecomlake.demo import demo_fast

    settings = settings_from(ctx)
    _print_summary(demo_fast(settings, date, echo=click.echo))


@group.command("demo")
@click.option(
    "--end-date", callback=date_value, default=None, help="Last day to process (default: the last sample day)."
)
@click.pass_context
def demo_cmd(ctx: click.Context, end_date: str | None) -> None:
    """The full demo: every sample day from Bronze (dims, Silver, Enriched day by day), then Gold.

    Lands the sample Bronze in the lake's Bronze root (data/bronze) first, as demo-fast does.

    Exercises lookbacks, incremental Enriched state and the attribution window across days.
    """
    from ecomlake.demo import demo_full

    settings = settings_from(ctx)
    _print_summary(demo_full(settings, end_date, echo=click.echo))
