"""`ecomlake silver`: Base Silver (dbt-duckdb) and its quality gate."""

from __future__ import annotations

import click


@click.group(name="silver", help="Base Silver (dbt-duckdb) and its quality gate.")
def group() -> None:
    pass
