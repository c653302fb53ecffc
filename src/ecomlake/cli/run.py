"""`ecomlake run`: the daily pipeline in process (ecomlake.pipeline), one day or a backfill."""

from __future__ import annotations

import time

import click

from ecomlake.cli.common import date_value, echo_step, run_id_option, settings_from
from ecomlake.pipeline import Outcome


def echo_outcome(outcome: Outcome) -> None:
    if outcome.status == "warn":
        click.echo(f"[{click.style('warn', fg='yellow')}] {outcome.step}: {outcome.message} ({outcome.seconds:.1f} s)")
    else:
        echo_step(outcome.step, f"{outcome.message} ({outcome.seconds:.1f} s)")


@click.command(name="run")
@click.option("--date", "date", callback=date_value, default=None, help="The day to run (YYYY-MM-DD).")
@click.option("--start", callback=date_value, default=None, help="First day of a backfill (with --end).")
@click.option("--end", callback=date_value, default=None, help="Last day of a backfill, inclusive.")
@click.option(
    "--env",
    "environment",
    type=click.Choice(["local", "dev", "prod"]),
    default=None,
    help="Environment (default: PIPELINE_ENV, then config). Layer gates block in prod only.",
)
@click.option(
    "--strict/--no-strict",
    default=None,
    help="Block on every FAILed gate (--strict) or on none of the layer gates (--no-strict); "
    "default: the environment decides. The quarantine-rate gate always blocks.",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default=None,
    help="Run dims, Base Silver and Enriched on DuckDB or on local Spark (docs/SCALE_OUT.md); Gold stays "
    "on DuckDB. Default: DuckDB, except Enriched follows ENRICHED_ENGINE / enriched.engine.",
)
@run_id_option
@click.pass_context
def command(
    ctx: click.Context,
    date: str | None,
    start: str | None,
    end: str | None,
    environment: str | None,
    strict: bool | None,
    engine: str | None,
    run_id: str | None,
) -> None:
    """The daily pipeline: every step, gate and promote of a day, in order (ecom_dim_refresh's steps,
    then ecom_silver_to_gold's). With --start/--end, day by day, stopping at the first failure.

    Exit 0 when every step ran (warnings included), 1 when a blocking gate FAILed (nothing after it
    ran or was promoted), 2 when the day could not run (e.g. its Bronze is missing).
    """
    from ecomlake.enriched.inputs import check_engine
    from ecomlake.errors import InputError
    from ecomlake.pipeline import Day, dates_between, run_day, steps
    from ecomlake.runs import resolve_run_id

    if date and (start or end):
        raise InputError("pass either --date or --start/--end, not both")
    if not date and not (start and end):
        raise InputError("pass --date D, or --start D1 --end D2 for a backfill")
    days = [date] if date else dates_between(str(start), str(end))
    settings = settings_from(ctx, environment=environment)
    if engine:
        check_engine(settings, engine)  # refused (exit 2) before any step, e.g. gs:// roots on Spark
    base = resolve_run_id(run_id, "run_")
    for i, day in enumerate(days, 1):
        rid = base if len(days) == 1 else f"{base}_{day}"
        on = f", engine {engine}" if engine else ""
        click.echo(f"== {day} ({i}/{len(days)}) run {rid}, environment {settings.environment}{on}")
        t0 = time.perf_counter()
        outcomes = run_day(Day(settings, day, rid, strict=strict, engine=engine), steps(), echo=echo_outcome)
        warned = sum(o.status == "warn" for o in outcomes)
        note = f", {warned} with warnings" if warned else ""
        echo_step(f"day {day}", f"{len(outcomes)} steps in {time.perf_counter() - t0:.1f} s{note} (run {rid})")
