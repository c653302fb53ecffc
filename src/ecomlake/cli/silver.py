"""`ecomlake silver`: Base Silver (dbt-duckdb) and its quality gate."""

from __future__ import annotations

import click

from ecomlake.cli.common import (
    date_value,
    enforce_option,
    env_option,
    output_dir,
    report_option,
    run_id_option,
    settings_from,
)


@click.group(name="silver", help="Base Silver (dbt-duckdb) and its quality gate.")
def group() -> None:
    pass


@group.command("validate")
@click.option(
    "--silver-path",
    callback=output_dir,
    default=None,
    help="Base Silver root (default: SILVER_BASE_PATH, then config).",
)
@click.option(
    "--quarantine-path",
    callback=output_dir,
    default=None,
    help="Quarantine root (default: SILVER_QUARANTINE_PATH, then <silver-path>/quarantine).",
)
@click.option(
    "--bronze-path",
    callback=output_dir,
    default=None,
    help="Bronze root, for row conservation (default: BRONZE_BASE_PATH, then config).",
)
@click.option(
    "--partition-date",
    callback=date_value,
    default=None,
    help="ingest_dt to validate (default: every ingest_dt in Bronze).",
)
@click.option(
    "--lookback-days",
    type=click.IntRange(min=0),
    default=None,
    help="Also validate the N days before --partition-date (default: SILVER_VALIDATION_LOOKBACK_DAYS, then config).",
)
@click.option("--tables", default=None, help="Comma-separated tables (default: all eight).")
@env_option
@enforce_option
@click.option(
    "--fail-on-sla-breach",
    "fail_on_sla_breach",
    is_flag=True,
    default=False,
    hidden=True,
    help="Legacy alias of --enforce.",
)
@report_option("docs/validation_reports/SILVER_QUALITY_<date or run_id>.md")
@run_id_option
@click.pass_context
def validate_cmd(
    ctx,
    silver_path,
    quarantine_path,
    bronze_path,
    partition_date,
    lookback_days,
    tables,
    environment,
    enforce,
    fail_on_sla_breach,
    output_report,
    run_id,
):
    """Row conservation (bronze = silver + quarantine), pass rate vs SLA, quarantine by reason and family,
    manifest integrity, gaps, and the overall quarantine rate. Exit 1 on FAIL with --enforce or in prod."""
    from ecomlake.silver.validate import validate_silver

    settings = settings_from(
        ctx,
        **{
            "paths.silver_base_path": silver_path,
            "paths.silver_quarantine_path": quarantine_path,
            "paths.bronze_base_path": bronze_path,
            "environment": environment,
        },
    )
    rc, _ = validate_silver(
        settings,
        partition_date=partition_date,
        lookback_days=lookback_days,
        tables=tables,
        enforce=enforce or fail_on_sla_breach,
        output_report=output_report,
        run_id=run_id,
    )
    raise SystemExit(rc)
