"""`ecomlake dim`: Dimension snapshots (customer_snapshot, product_catalog): build and validate."""

from __future__ import annotations

import click


@click.group(name="dim", help="Dimension snapshots (customer_snapshot, product_catalog): build and validate.")
def group() -> None:
    pass
