"""`ecomlake dim`: Dimension snapshots (customer_snapshot, product_catalog): build and validate."""

from __future__ import annotations

import click

from ecomlake.cli.common import (
    date_value,
    enforce_option,
    env_option,
    output_dir,
    passthrough,
    report_option,
    run_id_option,
    settings_from,
)


@click.group(name="dim", help="Dimension snapshots (customer_snapshot, product_catalog): build and validate.")
def group() -> None:
    pass


@group.command("run")
@click.option(
    "--run-date",
    callback=date_value,
    required=True,
    help="Snapshot date D (YYYY-MM-DD): Bronze dims changes of D merged into snapshot(D-1).",
)
@click.option(
    "--dims-path", callback=output_dir, default=None, help="Dims root (default: SILVER_DIMS_PATH, then config)."
)
@run_id_option
@click.pass_context
def run_cmd(ctx: click.Context, run_date: str, dims_path: str | None, run_id: str | None) -> None:
    """Build and publish snapshot(D) of both dims (runs the dims' Base Silver models for D first)."""
    from ecomlake.cli.local import echo_dims_run
    from ecomlake.dims.snapshot import run_dims

    settings = settings_from(ctx, **{"paths.silver_dims_path": dims_path})
    run = run_dims(settings, run_date, run_id=run_id, echo=click.echo)
    echo_dims_run(run)


@group.command("validate")
@click.option("--run-date", callback=date_value, required=True, help="Snapshot date to validate (YYYY-MM-DD).")
@click.option(
    "--dims-path", callback=output_dir, default=None, help="Dims root (default: SILVER_DIMS_PATH, then config)."
)
@env_option
@enforce_option
@report_option("<reports>/DIMS_QUALITY_<date>.md")
@run_id_option
@click.pass_context
@passthrough
def validate_cmd(
    ctx: click.Context,
    run_date: str,
    dims_path: str | None,
    environment: str | None,
    enforce: bool,
    output_report: str | None,
    run_id: str | None,
) -> int:
    """Snapshot exists, not empty, required columns, PK non-null and unique, sentinel, no big shrink."""
    from ecomlake.dims.validate import validate_dims

    settings = settings_from(ctx, **{"paths.silver_dims_path": dims_path, "environment": environment})
    rc, _ = validate_dims(settings, run_date, enforce=enforce, output_report=output_report, run_id=run_id, echo=True)
    return rc
