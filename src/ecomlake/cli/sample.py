"""`ecomlake sample`: Sample data: package the demo's Bronze and dims archives."""

from __future__ import annotations

import click


@click.group(name="sample", help="Sample data: package the demo's Bronze and dims archives.")
def group() -> None:
    pass
