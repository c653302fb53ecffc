"""Gold: the eight BI marts (dbt models in dbt_duckdb/models/gold) in a DuckDB warehouse file."""

from ecomlake.gold.runner import MARTS, GoldRunResult, MartResult, resolve_as_of, run_gold, warehouse_path

__all__ = ["MARTS", "GoldRunResult", "MartResult", "resolve_as_of", "run_gold", "warehouse_path"]
