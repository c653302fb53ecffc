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
    "dates up to D. Default: the current Enriched day (the last one whose gate passed).",
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
    Exit 2: Enriched data is missing (a table, the snapshot for D, or Base Silver days Enriched has not
    built), or a mart could not be built.
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


@group.command("load-bigquery")
@click.option("--date", "date", callback=date_value, required=True, help="The date D whose partition each mart loads.")
@click.option(
    "--project", default=None, help="BigQuery project (default: BIGQUERY_PROJECT, then config bigquery.project)."
)
@click.option(
    "--dataset", default=None, help="BigQuery dataset (default: BIGQUERY_DATASET, then config bigquery.dataset)."
)
@click.option(
    "--location", default=None, help="Location of the jobs and of a dataset created (default: BIGQUERY_LOCATION)."
)
@click.option("--gold-path", callback=output_dir, default=None, help="Gold root (default: GOLD_PATH, then config).")
@click.option("--dry-run", is_flag=True, default=False, help="Print the load job configurations (JSON); load nothing.")
@click.pass_context
def load_bigquery_cmd(
    ctx: click.Context,
    date: str,
    project: str | None,
    dataset: str | None,
    location: str | None,
    gold_path: str | None,
    dry_run: bool,
) -> None:
    """Load each Gold mart's rows of D into BigQuery, replacing that date's partition.

    \b
    Each mart goes to <project>.<dataset>.<mart>$YYYYMMDD with WRITE_TRUNCATE: a rerun replaces the
    day, never appends. Tables are created when absent, partitioned by day on the mart's date and
    clustered on the rest of its grain. Credentials: GOOGLE_APPLICATION_CREDENTIALS or application
    default credentials; BIGQUERY_EMULATOR_HOST points at a local emulator.
    Exit 0: loaded (or printed, with --dry-run). Exit 2: no Gold export, no project/dataset, or
    BigQuery refused the load.
    """
    from ecomlake.errors import InputError
    from ecomlake.gold.bigquery import load

    settings = settings_from(
        ctx,
        **{
            "paths.gold_path": gold_path,
            "bigquery.project": project,
            "bigquery.dataset": dataset,
            "bigquery.location": location,
        },
    )
    bq = settings.bigquery
    if not bq.project or not bq.dataset:
        missing = "--project" if not bq.project else "--dataset"
        raise InputError(f"gold load-bigquery needs {missing} (or BIGQUERY_PROJECT / BIGQUERY_DATASET)")
    result = load(settings, date, bq.project, bq.dataset, dry_run=dry_run, location=bq.location)
    if dry_run:
        click.echo(result.to_json())
        return
    for m in result.loads:
        created = " (table created)" if m.created else ""
        click.echo(f"  {m.destination:<60} {m.rows:>8,} rows  WRITE_TRUNCATE{created}")
    echo_step("gold load-bigquery", f"{len(result.loads)} marts loaded for {date} into {bq.project}.{bq.dataset}")
