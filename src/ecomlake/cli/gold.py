"""`ecomlake gold`: Gold marts (dbt models over Enriched, in a DuckDB warehouse)."""

from __future__ import annotations

import click

from ecomlake.cli.common import date_value, echo_step, output_dir, run_id_option, settings_from


@click.group(name="gold", help="Gold marts (dbt models over Enriched, in a DuckDB warehouse).")
def group() -> None:
    pass


@group.command("run")
@click.option(
    "--date",
    "date",
    callback=date_value,
    default=None,
    help="As-of date D: snapshot marts read the Enriched snapshot for D, the others the business "
    "dates up to D. Default: the latest Enriched snapshot.",
)
@click.option(
    "--enriched-path",
    callback=output_dir,
    default=None,
    help="Enriched Silver root (default: SILVER_ENRICHED_PATH, then config).",
)
@click.option(
    "--gold-path",
    callback=output_dir,
    default=None,
    help="Gold root holding ecomlake.duckdb and the parquet exports (default: GOLD_PATH, then config).",
)
@run_id_option
@click.pass_context
def run_cmd(
    ctx: click.Context, date: str | None, enriched_path: str | None, gold_path: str | None, run_id: str | None
) -> None:
    """Build and test the eight Gold marts (dbt build) and publish the warehouse and parquet exports.

    \b
    Exit 0: all marts built and every Gold test passed.
    Exit 1: a Gold test failed (nothing was published).
    Exit 2: Enriched data is missing, or a mart could not be built.
    """
    from ecomlake.gold import run_gold

    settings = settings_from(ctx, **{"paths.silver_enriched_path": enriched_path, "paths.gold_path": gold_path})
    result = run_gold(settings, run_date=date, run_id=run_id, echo=click.echo)
    width = max(len(m.name) for m in result.marts)
    for m in result.marts:
        click.echo(f"  {m.name:<{width}} {m.rows:>10,} rows")
    tests = f"{result.tests_passed} tests passed" + (f", {result.tests_warned} warned" if result.tests_warned else "")
    echo_step(
        "gold",
        f"{len(result.marts)}/{len(result.marts)} marts built as of {result.as_of}, {tests} "
        f"-> {result.warehouse} ({result.seconds:.1f} s)",
    )
