"""`ecomlake bronze`: generate the synthetic source, validate partitions, profile columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ecomlake.cli.common import (
    date_value,
    enforce_option,
    env_option,
    output_dir,
    output_file,
    report_option,
    run_id_option,
    settings_from,
)

if TYPE_CHECKING:
    from ecomlake.config import Settings


@click.group(name="bronze")
def group() -> None:
    """Bronze: generate the synthetic source, validate partitions, profile columns."""


@group.command("generate")
@click.option("--start-date", callback=date_value, required=True, help="First ingest_dt to write (YYYY-MM-DD).")
@click.option("--days", type=click.IntRange(min=1), default=1, show_default=True, help="Number of consecutive days.")
@click.option(
    "--orders-per-day",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Average orders per day (the other tables scale with it; weekly and yearly seasonality apply).",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed: same arguments and seed give the same rows."
)
@click.option(
    "--out",
    "out",
    callback=output_dir,
    default=None,
    help="Bronze root to write (default: BRONZE_BASE_PATH, then config).",
)
@click.option(
    "--defect-rate",
    type=click.FloatRange(0, 0.5),
    default=0.03,
    show_default=True,
    help="Fraction of extra dirty rows injected per table (0 for clean data).",
)
@click.option(
    "--file-faults",
    default="",
    help="Whole-file faults to inject, comma-separated: "
    "truncated_parquet, missing_manifest, manifest_row_mismatch, dropped_required_column "
    "(optionally TABLE:KIND@DATE, e.g. orders:truncated_parquet@2023-01-02).",
)
@click.option(
    "--history-start",
    callback=date_value,
    default=None,
    help="Customers signed up from this earlier date on, so the first day has history (their signups "
    "and spend are spread over it; default: 365 days before --start-date).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    default=False,
    help="Replace partitions that already exist under the Bronze root (refused otherwise: a lake may be built on them).",
)
@click.pass_context
def generate_cmd(ctx, start_date, days, orders_per_day, seed, out, defect_rate, file_faults, history_start, overwrite):
    """Write a synthetic Bronze lake: all eight tables per ingest_dt, with manifests and a defects ledger."""
    from ecomlake.bronze.generator import GeneratorOptions, generate

    settings = settings_from(ctx, **{"paths.bronze_base_path": out})
    if not overwrite:
        _refuse_existing(settings, start_date, days)
    opts = GeneratorOptions(
        start_date=start_date,
        days=days,
        orders_per_day=orders_per_day,
        seed=seed,
        defect_rate=defect_rate,
        file_faults=file_faults,
        history_start=history_start,
    )
    generate(settings, opts, out=settings.paths.bronze_base_path, progress=True)


def _refuse_existing(settings: Settings, start_date: str, days: int) -> None:
    """Generated rows are an unrelated world: never let them replace Bronze a lake was built from."""
    import datetime as dt

    from ecomlake import storage
    from ecomlake.contract import TABLES
    from ecomlake.errors import InputError
    from ecomlake.lake import bronze_holding
    from ecomlake.runs import parse_date

    root = settings.paths.bronze_base_path
    first = parse_date(start_date, "--start-date")
    wanted = {(first + dt.timedelta(days=i)).isoformat() for i in range(days)}
    existing = [(t, d) for t in TABLES for d in storage.list_partitions(root, t) if d in wanted]
    if existing:
        t, d = existing[0]
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise InputError(
            f"{root} already has {t}/ingest_dt={d}{more} ({bronze_holding(settings)}); generated rows would replace "
            "Bronze that a lake may be built from: write elsewhere (--out data/generated/bronze) or pass --overwrite"
        )


@group.command("validate")
@click.option(
    "--bronze-path", callback=output_dir, default=None, help="Bronze root (default: BRONZE_BASE_PATH, then config)."
)
@click.option(
    "--partition-date", callback=date_value, default=None, help="ingest_dt to validate (default: every partition)."
)
@click.option(
    "--lookback-days",
    type=click.IntRange(min=0),
    default=None,
    help="Also validate the N days before --partition-date (default: config bronze.lookback_days).",
)
@click.option("--tables", default=None, help="Comma-separated tables (default: all eight).")
@env_option
@enforce_option
@click.option(
    "--fail-on-issues", "fail_on_issues", is_flag=True, default=False, hidden=True, help="Legacy alias of --enforce."
)
@click.option(
    "--rewrite-manifest",
    "--regenerate-manifest",
    "rewrite_manifest",
    is_flag=True,
    default=False,
    help="First rewrite the manifest of each partition in scope whose files are intact (_SUCCESS present, "
    "every file decodes, required columns present) but whose manifest disagrees with them; then validate.",
)
@report_option("docs/validation_reports/BRONZE_QUALITY_<date or run_id>.md")
@run_id_option
@click.pass_context
def validate_cmd(
    ctx,
    bronze_path,
    partition_date,
    lookback_days,
    tables,
    environment,
    enforce,
    fail_on_issues,
    rewrite_manifest,
    output_report,
    run_id,
):
    """Check every partition: manifest, row counts, checksums, parquet magic bytes, schema, _SUCCESS.

    The runbook's "Regenerate manifest" is `--rewrite-manifest`: it never rewrites a partition whose
    files are damaged (that partition still fails, naming the file).
    """
    from ecomlake.bronze.validate import validate_bronze

    settings = settings_from(ctx, **{"paths.bronze_base_path": bronze_path, "environment": environment})
    rc = validate_bronze(
        settings,
        partition_date=partition_date,
        lookback_days=lookback_days,
        tables=tables,
        enforce=enforce or fail_on_issues,
        output_report=output_report,
        run_id=run_id,
        rewrite_manifest=rewrite_manifest,
    )
    raise SystemExit(rc)


@group.command("profile")
@click.option(
    "--bronze-path", callback=output_dir, default=None, help="Bronze root (default: BRONZE_BASE_PATH, then config)."
)
@click.option("--tables", default=None, help="Comma-separated tables (default: all eight).")
@click.option(
    "--output",
    callback=output_file,
    default="docs/data/BRONZE_PROFILE_REPORT.md",
    show_default=True,
    help="Markdown profile.",
)
@click.option(
    "--schema-json",
    callback=output_file,
    default="docs/data/BRONZE_SCHEMA_MAP.json",
    show_default=True,
    help="JSON schema map (table -> partition -> column -> type).",
)
@click.option(
    "--max-rows", type=click.IntRange(min=0), default=0, show_default=True, help="Rows sampled per table (0 = all)."
)
@click.pass_context
def profile_cmd(ctx, bronze_path, tables, output, schema_json, max_rows):
    """Per table and column: null %, distinct counts, min/max, top values, and schema drift across partitions."""
    from ecomlake.bronze.profile import profile_bronze

    settings = settings_from(ctx, **{"paths.bronze_base_path": bronze_path})
    profile_bronze(settings, tables=tables, output=output, schema_json=schema_json, max_rows=max_rows)
