"""Airflow DAG `ecom_silver_to_gold`: the day's facts from Bronze to Gold (steps from ecomlake.pipeline)."""

from ecomlake.airflow_dags import build_dag

dag = build_dag("ecom_silver_to_gold")
