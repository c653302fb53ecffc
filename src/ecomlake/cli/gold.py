"""`ecomlake gold`: Gold marts (dbt models over Enriched, in a DuckDB warehouse)."""

from __future__ import annotations

import click


@click.group(name="gold", help="Gold marts (dbt models over Enriched, in a DuckDB warehouse).")
def group() -> None:
    pass
