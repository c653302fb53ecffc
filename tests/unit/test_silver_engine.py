"""`--engine` of Base Silver: the choice is checked before anything runs (the Spark runs themselves
are in tests/spark)."""

from __future__ import annotations

import importlib.util

import pytest

from ecomlake.errors import EcomlakeError
from ecomlake.silver import dbt_runner


def test_unknown_engine_is_refused():
    with pytest.raises(EcomlakeError, match=r"unknown engine 'flink' \(expected one of: duckdb, spark\)"):
        dbt_runner.check_engine("flink")


def test_spark_without_the_spark_extra_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(EcomlakeError, match=r"--engine spark needs pyspark and dbt-spark: install the spark extra"):
        dbt_runner.check_engine("spark")


def test_each_run_gets_its_own_spark_schema():
    assert dbt_runner.spark_schema("20230101T000000Z_ab12") == "silver_20230101t000000z_ab12"
    assert dbt_runner.spark_schema("a") != dbt_runner.spark_schema("b")


def test_cli_refuses_an_unknown_engine():
    from click.testing import CliRunner

    from ecomlake.cli import main as cli_main

    res = CliRunner().invoke(cli_main.cli, ["local", "silver", "--date", "2023-01-01", "--engine", "flink"])
    assert res.exit_code == 2
    assert "Invalid value for '--engine'" in res.output
