"""`--engine` of `ecomlake enriched run`: the refusals, before any JVM starts or anything is written.

The Spark runs themselves (and their parity with DuckDB) are in tests/spark/test_enriched_parity.py.
"""

from __future__ import annotations

import pytest
from cli_helpers import REPO, lake_env, run_cli

from ecomlake.config import load_settings
from ecomlake.errors import ConfigError, InputError


def test_spark_with_a_gs_root_is_refused_naming_the_connector(tmp_path):
    lake = tmp_path / "lake"
    env = lake_env(lake, SILVER_BASE_PATH="gs://some-bucket/silver/base")
    r = run_cli(["enriched", "run", "--ingest-dt", "2023-01-01", "--engine", "spark"], env, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "gs://some-bucket/silver/base" in lines[0] and "gcs-connector-hadoop3" in lines[0]
    assert "--engine duckdb" in lines[0] and "Traceback" not in r.stderr
    assert not (lake / "silver" / "enriched").exists()  # refused before anything was written
    assert not (lake / "work" / "spark").exists()  # and before a Spark session started


def test_spark_from_the_environment_with_a_gs_root_is_refused_too(tmp_path):
    env = lake_env(tmp_path / "lake", ENRICHED_ENGINE="spark", SILVER_DIMS_PATH="gs://some-bucket/dims")
    r = run_cli(["enriched", "run", "--ingest-dt", "2023-01-01"], env, cwd=tmp_path)
    assert r.returncode == 2 and "gs://some-bucket/dims" in r.stderr and "GCS connector" in r.stderr


def test_spark_with_a_gs_root_is_allowed_once_spark_conf_names_the_connector(tmp_path):
    from ecomlake.enriched.inputs import check_engine

    s = load_settings(
        REPO / "config" / "config.yml", env=lake_env(tmp_path, SILVER_BASE_PATH="gs://some-bucket/silver")
    )
    with pytest.raises(InputError, match="spark.conf sets no spark.hadoop.fs.gs.impl"):
        check_engine(s, "spark")
    assert check_engine(s, "duckdb") == "duckdb"
    s.spark.conf = {"spark.hadoop.fs.gs.impl": "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem"}
    assert check_engine(s, "spark") == "spark"


def test_unknown_engine_flag_is_a_usage_error(tmp_path):
    r = run_cli(["enriched", "run", "--ingest-dt", "2023-01-01", "--engine", "flink"], lake_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert "Invalid value for '--engine'" in r.stderr and "'duckdb', 'spark'" in r.stderr


def test_unknown_engine_in_the_environment_names_the_variable(tmp_path):
    env = lake_env(tmp_path, ENRICHED_ENGINE="flink")
    with pytest.raises(ConfigError, match="ENRICHED_ENGINE='flink'"):
        load_settings(REPO / "config" / "config.yml", env=env)
    r = run_cli(["enriched", "run", "--ingest-dt", "2023-01-01"], env, cwd=tmp_path)
    assert r.returncode == 2 and "ENRICHED_ENGINE='flink'" in r.stderr and "Traceback" not in r.stderr


def test_bad_driver_memory_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="SPARK_DRIVER_MEMORY='lots'.*JVM size"):
        load_settings(REPO / "config" / "config.yml", env=lake_env(tmp_path, SPARK_DRIVER_MEMORY="lots"))


def test_engine_defaults_to_duckdb_and_the_setting_is_read(tmp_path):
    s = load_settings(REPO / "config" / "config.yml", env=lake_env(tmp_path))
    assert s.enriched.engine == "duckdb" and s.spark.master == "local[2]"
    s = load_settings(REPO / "config" / "config.yml", env=lake_env(tmp_path, ENRICHED_ENGINE="spark"))
    assert s.enriched.engine == "spark"


def test_api_refuses_an_unknown_engine(tmp_path):
    from ecomlake.enriched.runner import run_enriched

    s = load_settings(REPO / "config" / "config.yml", env=lake_env(tmp_path / "lake"))
    with pytest.raises(InputError, match="unknown engine 'flink'; use one of: duckdb, spark"):
        run_enriched(s, "2023-01-01", engine="flink")
    assert not (tmp_path / "lake" / "silver" / "enriched").exists()
