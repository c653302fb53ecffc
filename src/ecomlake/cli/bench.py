"""`ecomlake bench`: time each stage against its floor (see benchmarks/)."""

from __future__ import annotations

import click


@click.command(name="bench")
def group() -> None:
    """Benchmarks: time each stage against its floor."""
    raise click.ClickException("the benchmark harness is not built yet (issue: benchmark harness)")
