"""Base Silver: dbt-duckdb build, export and atomic publish (run.py), and the Silver gate (validate.py)."""
