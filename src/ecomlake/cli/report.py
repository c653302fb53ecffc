"""`ecomlake report`: the static HTML quality dashboard, built from the metrics JSON."""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path

import click

from ecomlake.cli.common import settings_from


@click.command(name="report")
@click.option(
    "--since",
    default="14d",
    show_default=True,
    help="Window: a duration such as 14d or 2w, counted back from the newest date in the metrics (not from today).",
)
@click.option("--open", "open_page", is_flag=True, default=False, help="Open the page in a browser when there is one.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="HTML file to write (default: <reports>/index.html, i.e. docs/validation_reports/index.html).",
)
@click.option("--metrics-path", default=None, help="Metrics directory (default: METRICS_BASE_PATH, then config).")
@click.pass_context
def command(ctx, since, open_page, output, metrics_path):
    """One self-contained HTML page: verdicts per layer, table and day, quarantine rate vs MAX_QUARANTINE_RATE,
    reason codes by family (new codes marked), row conservation, stage durations, links to the Markdown reports.

    \b
      ecomlake report --since 14d
      ecomlake report --since 2w --open
    """
    from ecomlake.report import build_dashboard

    settings = settings_from(ctx, **{"paths.metrics_base_path": metrics_path})
    result = build_dashboard(settings, since=since, output=output)
    for name, error in result.bad_files:
        click.echo(f"warning: skipped unreadable metrics file {name}: {error}", err=True)
    w = result.window
    failing = f"; days with a FAIL: {', '.join(result.failing_days)}" if result.failing_days else "; no FAIL"
    click.echo(
        f"dashboard: {w.first_data} to {w.end} ({len(w.shown)} days with metrics in a {w.days}-day window){failing}"
    )
    click.echo(f"wrote {result.path}")
    if open_page:
        _open(result.path)


def _open(path: str) -> None:
    """Open the page with the default browser, or say where it is when there is none (a server, CI)."""
    uri = Path(os.path.abspath(path)).as_uri() if "://" not in path else path
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        click.echo(f"no browser found; open {uri} by hand")
        return
    if browser.open(uri):
        click.echo(f"opened {uri}")
    else:
        click.echo(f"could not start a browser; open {uri} by hand")
