"""DuckDB connections with the memory limit, threads and spill directory always set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ecomlake.config import Settings


def connect(settings: Settings, database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    temp_dir = settings.temp_directory
    if "://" not in temp_dir:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(database, read_only=read_only)
    # Quoted as literals: a path may hold a quote or a space (it's a lake, not a lake's name).
    con.execute(f"SET memory_limit = {sql_literal(settings.duckdb.engine_memory_limit)}")
    con.execute(f"SET threads = {int(settings.duckdb.threads)}")
    con.execute(f"SET temp_directory = {sql_literal(temp_dir)}")
    # Keeping insertion order costs memory and buys nothing for partitioned writes.
    con.execute("SET preserve_insertion_order = false")
    if uses_gcs(settings):
        register_gcs(con)
    return con


def uses_gcs(settings: Settings) -> bool:
    p = settings.paths
    roots = (
        p.bronze_base_path,
        p.silver_base_path,
        p.quarantine_path,
        p.silver_dims_path,
        p.silver_enriched_path,
        p.gold_path,
    )
    return any(str(r).startswith("gs://") for r in roots)


def register_gcs(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB read and write gs:// through gcsfs (DuckDB 2.0 cannot load httpfs offline)."""
    from ecomlake import gcs

    con.register_filesystem(gcs.filesystem())


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    """The row of a query that always returns one (aggregates without GROUP BY, COPY's row count)."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"query returned no row: {sql[:200]}")
    return row


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of `one`."""
    return one(con, sql, params)[0]


def sql_literal(value: str) -> str:
    """Quote a string for SQL (paths, dates)."""
    return "'" + str(value).replace("'", "''") + "'"
