"""Airflow DAG `ecom_dim_refresh`: the day's dims snapshot (steps from ecomlake.pipeline)."""

from ecomlake.airflow_dags import build_dag

dag = build_dag("ecom_dim_refresh")
