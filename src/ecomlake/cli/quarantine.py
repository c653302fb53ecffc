"""`ecomlake quarantine`: Quarantine: summary, inspect, recover and prune rejected rows."""

from __future__ import annotations

import json

import click

from ecomlake.cli.common import date_value, env_option, output_dir, output_file, run_id_option, settings_from

_paths = [
    click.option(
        "--silver-path",
        callback=output_dir,
        default=None,
        help="Base Silver root (default: SILVER_BASE_PATH, then config).",
    ),
    click.option(
        "--quarantine-path",
        callback=output_dir,
        default=None,
        help="Quarantine root (default: SILVER_QUARANTINE_PATH, then <silver-path>/quarantine).",
    ),
]


def path_options(f):
    for opt in reversed(_paths):
        f = opt(f)
    return f


def _settings(ctx, silver_path=None, quarantine_path=None, **more):
    return settings_from(
        ctx, **{"paths.silver_base_path": silver_path, "paths.silver_quarantine_path": quarantine_path, **more}
    )


@click.group(name="quarantine", help="Quarantine: summary, inspect, recover and prune rejected rows.")
def group() -> None:
    pass


@group.command("summary")
@click.option("--table", default=None, help="One table, or several comma-separated (default: all eight).")
@click.option(
    "--since", default=None, help="Only ingest_dt on or after this: 7d (days before today, UTC) or YYYY-MM-DD."
)
@click.option(
    "--output",
    callback=output_file,
    default=None,
    help="JSON path (default: <reports>/quarantine_summary_<period>.json); the Markdown twin goes next to it.",
)
@path_options
@run_id_option
@click.pass_context
def summary_cmd(ctx, table, since, output, silver_path, quarantine_path, run_id):
    """Counts by table, date, reason code and family, trend vs previous days, example keys per reason."""
    from ecomlake.quarantine.summary import compact_table, quarantine_summary

    settings = _settings(ctx, silver_path, quarantine_path)
    summary = quarantine_summary(settings, table=table, since=since, output=output, run_id=run_id)
    click.echo(compact_table(summary))
    click.echo(f"json: {summary['output']['json']}")
    click.echo(f"markdown: {summary['output']['markdown']}")


@group.command("inspect")
@click.option("--table", required=True, help="Table name, e.g. orders.")
@click.option("--ingest-dt", callback=date_value, required=True, help="Quarantine partition (YYYY-MM-DD).")
@click.option("--reason", default=None, help="Only rows carrying this reason code.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Rows to show.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print JSON instead of text.")
@path_options
@click.pass_context
def inspect_cmd(ctx, table, ingest_dt, reason, limit, as_json, silver_path, quarantine_path):
    """Show quarantined rows: key columns, reasons, and the raw values that failed."""
    from ecomlake.quarantine.inspect import format_inspect, inspect_quarantine

    settings = _settings(ctx, silver_path, quarantine_path)
    result = inspect_quarantine(settings, table=table, ingest_dt=ingest_dt, reason=reason, limit=limit)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else format_inspect(result))


@group.command("recover")
@click.option("--table", required=True, help="Table name, e.g. orders.")
@click.option("--ingest-dt", callback=date_value, required=True, help="Partition to recover (YYYY-MM-DD).")
@click.option(
    "--fill",
    "fills",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="Set a raw column where it is NULL or a null token (repeatable), e.g. --fill customer_id=UNKNOWN.",
)
@click.option("--where", default=None, help="Boolean SQL expression over the quarantine columns selecting the rows.")
@click.option("--reason", default=None, help="Only rows carrying this reason code.")
@click.option("--dry-run", is_flag=True, default=False, help="Report what would move; change nothing.")
@path_options
@run_id_option
@click.pass_context
def recover_cmd(ctx, table, ingest_dt, fills, where, reason, dry_run, silver_path, quarantine_path, run_id):
    """Repair, re-validate and publish quarantined rows into Silver (atomically, exactly once)."""
    from ecomlake.quarantine.recover import recover_quarantine

    settings = _settings(ctx, silver_path, quarantine_path)
    r = recover_quarantine(
        settings,
        table=table,
        ingest_dt=ingest_dt,
        fills=list(fills),
        where=where,
        reason=reason,
        dry_run=dry_run,
        run_id=run_id,
    )
    verb = "would move" if dry_run else "moved"
    click.echo(
        f"{table} ingest_dt={r['ingest_dt']}: selected {r['selected']}, {verb} {r['moved']} to silver, "
        f"kept {r['kept']} in quarantine"
        + (f" ({r['already_published']} already published)" if r["already_published"] else "")
    )
    if r["still_failing_reasons"]:
        click.echo("still failing: " + ", ".join(f"{c} ({n})" for c, n in r["still_failing_reasons"].items()))
    if r.get("message"):
        click.echo(r["message"])
    click.echo(
        f"silver rows {r.get('silver_rows_before')} -> {r.get('silver_rows_after')}, "
        f"quarantine rows {r.get('quarantine_rows_before')} -> {r.get('quarantine_rows_after')}"
    )
    if r.get("ledger"):
        click.echo(f"recorded: {r['ledger']}")


@group.command("prune")
@click.option(
    "--older-than",
    default=None,
    help="Delete partitions whose ingest_dt is more than N days before today, e.g. 7d "
    "(default: quarantine.retention_days for the environment; prod 30, dev 7, local refuses).",
)
@click.option("--tables", "--table", "tables", default=None, help="Comma-separated tables (default: all eight).")
@click.option("--dry-run", is_flag=True, default=False, help="List what would be deleted; delete nothing.")
@env_option
@path_options
@run_id_option
@click.pass_context
def prune_cmd(ctx, older_than, tables, dry_run, environment, silver_path, quarantine_path, run_id):
    """Delete whole quarantine partitions older than the retention."""
    from ecomlake.quarantine.prune import prune_quarantine

    settings = _settings(ctx, silver_path, quarantine_path, environment=environment)
    r = prune_quarantine(settings, older_than=older_than, dry_run=dry_run, tables=tables, run_id=run_id)
    verb = "would delete" if dry_run else "deleted"
    for p in r["pruned"]:
        click.echo(f"{verb} {p['path']} ({p['rows']} rows)")
    for s in r["skipped"]:
        click.echo(f"skipped {s}")
    click.echo(
        f"{verb} {r['partitions_pruned']} partitions ({r['rows_pruned']} rows) older than {r['older_than_days']} days "
        f"(before {r['cutoff']}); kept {r['partitions_kept']}"
    )
