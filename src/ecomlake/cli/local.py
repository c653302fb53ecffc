"""`ecomlake local`: Run layers on the local default paths (the runbook's no-Docker helpers)."""

from __future__ import annotations

import click

from ecomlake.cli.common import date_value, echo_step, passthrough, settings_from


@click.group(name="local", help="Run layers on the local default paths (the runbook's no-Docker helpers).")
def group() -> None:
    pass


def echo_table_runs(run) -> None:
    """One line per table: bronze rows -> silver rows + quarantine rows, time."""
    for t in run.tables:
        note = "" if t.bronze_present else " (no Bronze partition: quiet day)"
        click.echo(
            f"  {t.table:<16} {t.bronze_rows:>10,} bronze -> {t.silver_rows:>10,} silver + "
            f"{t.quarantine_rows:>8,} quarantine  ({t.seconds:.2f} s){note}"
        )


def echo_dims_run(run) -> None:
    if run.silver is not None:
        echo_table_runs(run.silver)
    for name, rows in run.rows.items():
        prev = run.previous.get(name)
        if name in run.carried_forward:
            what = f"no Bronze partition for {run.snapshot_dt}: no changes landed, {prev or 'an empty dimension'} carried forward"
        else:
            what = f"{run.changes.get(name, 0):,} changes merged into {prev or 'an empty dimension'}"
        click.echo(f"  {name:<16} snapshot_dt={run.snapshot_dt}: {rows:,} rows ({what})")
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
@click.pass_context
@passthrough
def dims_cmd(ctx: click.Context, date: str | None) -> int:
    """Dims snapshots from Bronze: Base Silver for customers/product_catalog, then snapshot(D)."""
    from ecomlake.dims.snapshot import pending_dates, run_dims
    from ecomlake.dims.validate import validate_dims

    settings = settings_from(ctx)
    dates = [date] if date else pending_dates(settings)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== dims {day} ({i}/{len(dates)})")
        run = run_dims(settings, day, echo=click.echo)
        echo_dims_run(run)
        code, _ = validate_dims(settings, day, run_id=run.run_id, echo=True)
        rc = max(rc, code)
    return rc


def silver_dates(settings) -> list[str]:
    """Dates `local silver` processes without --date: every Bronze orders date not yet in Silver,
    oldest first (children check parents already published); when all are, the latest again."""
    from ecomlake import storage
    from ecomlake.errors import InputError

    arrived = storage.list_partitions(settings.paths.bronze_base_path, "orders")
    if not arrived:
        raise InputError(
            f"no Bronze orders partitions under {settings.paths.bronze_base_path}; "
            "generate Bronze first (`ecomlake bronze generate`)"
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
@click.pass_context
@passthrough
def silver_cmd(ctx: click.Context, date: str | None) -> int:
    """Base Silver for the six fact tables (dbt build + tests, then atomic publish), then the Silver gate."""
    from ecomlake.silver.run import dims_snapshot_for, run_tables

    settings = settings_from(ctx)
    dates = [date] if date else silver_dates(settings)
    for day in dates:  # fail before any dbt run when dims are missing for any date
        dims_snapshot_for(settings, day)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== silver {day} ({i}/{len(dates)})")
        run = run_tables(settings, day, "facts", echo=click.echo)
        echo_table_runs(run)
        echo_step("silver", f"{day} published (run {run.run_id}); ledger {run.ledger_path}")
        rc = max(rc, _silver_gate(settings, day, run.run_id))
    return rc


def _silver_gate(settings, day: str, run_id: str) -> int:
    """The Silver gate on what was just published (ecomlake.silver.validate.validate_silver)."""
    from ecomlake.contract import FACT_TABLES
    from ecomlake.silver.validate import validate_silver

    rc, _ = validate_silver(settings, partition_date=day, tables=list(FACT_TABLES), run_id=run_id, echo=True)
    return rc


# ------------------------------------------------------------------ enriched (owned by the Enriched layer)


def enriched_dates(settings) -> list[str]:
    """Dates `local enriched` builds without --date: every Base Silver orders date without an
    enriched run record, oldest first (snapshot state carries forward day by day); when all have
    one, the latest again."""
    from ecomlake import storage
    from ecomlake.enriched.runner import RUN_RECORD_PREFIX
    from ecomlake.errors import InputError

    silver = storage.list_partitions(settings.paths.silver_base_path, "orders")
    if not silver:
        raise InputError(
            f"no Base Silver orders under {settings.paths.silver_base_path}; run `ecomlake local silver` first"
        )
    done = set()
    metrics = settings.paths.metrics_base_path
    for name in storage.listdir(metrics):
        if name.startswith(RUN_RECORD_PREFIX) and name.endswith(".json"):
            try:
                done.add(storage.read_json(storage.join(metrics, name)).get("ingest_dt"))
            except (ValueError, OSError):
                continue
    todo = [d for d in silver if d not in done]
    return todo or [silver[-1]]


@group.command("enriched")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default=None,
    help="Run date D. Default: every Base Silver date without an enriched run, oldest first "
    "(or the latest date again when all have one).",
)
@click.option(
    "--enforce",
    "--enforce-quality",
    "enforce",
    is_flag=True,
    default=False,
    help="Exit 1 when the Enriched gate fails.",
)
@click.pass_context
@passthrough
def enriched_cmd(ctx: click.Context, date: str | None, enforce: bool) -> int:
    """Enriched Silver for D on local paths: the ten tables, then the Enriched gate."""
    from ecomlake.cli.enriched import run_and_validate
    from ecomlake.runs import parse_date

    settings = settings_from(ctx)
    dates = [parse_date(date, "--date").isoformat()] if date else enriched_dates(settings)
    rc = 0
    for i, day in enumerate(dates, 1):
        click.echo(f"== enriched {day} ({i}/{len(dates)})")
        rc = max(rc, run_and_validate(settings, day, None, enforce, None))
    return rc


# ------------------------------------------------------------------------------------- demos


def _print_summary(summary) -> None:
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

    Unzips samples/bronze_samples.zip when samples/bronze is missing, loads samples/dims_samples.zip,
    then runs Base Silver (dbt build and tests), the Silver gate, Enriched, the Enriched gate and Gold
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

    Exercises lookbacks, incremental Enriched state and the attribution window across days.
    """
    from ecomlake.demo import demo_full

    settings = settings_from(ctx)
    _print_summary(demo_full(settings, end_date, echo=click.echo))
