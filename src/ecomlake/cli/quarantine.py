"""`ecomlake quarantine`: Quarantine: summary, inspect, recover and prune rejected rows."""

from __future__ import annotations

import click


@click.group(name="quarantine", help="Quarantine: summary, inspect, recover and prune rejected rows.")
def group() -> None:
    pass
