"""`ecomlake enriched`: Enriched Silver: the ten business tables and their gate."""

from __future__ import annotations

import click


@click.group(name="enriched", help="Enriched Silver: the ten business tables and their gate.")
def group() -> None:
    pass
