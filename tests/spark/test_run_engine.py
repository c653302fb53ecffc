"""`ecomlake run --engine spark`: the whole day on local Spark (dims, Base Silver, Enriched), Gold on DuckDB.

The row-for-row comparison with DuckDB is the parity tests' job (test_silver_parity.py,
test_enriched_parity.py); this test checks the pipeline hands the engine to every layer that has
one, and that the day is the same day: every step in order, gates PASS, the run records name Spark.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import ECOMLAKE, lake_env, run_cli

from ecomlake import pipeline

pytestmark = [pytest.mark.spark, pytest.mark.slow]
D = "2023-01-01"


def test_run_with_engine_spark_runs_every_layer_on_spark(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = lake_env(lake)
    gen = [ECOMLAKE, "bronze", "generate", "--start-date", D, "--days", "1", "--orders-per-day", "30"]
    r = subprocess.run([*gen, "--seed", "5", "--out", str(lake / "bronze")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = run_cli(["run", "--date", D, "--engine", "spark", "--run-id", "sp"], env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines[0] == f"== {D} (1/1) run sp, environment local, engine spark"
    done = [ln.split(":", 1)[0].removeprefix("[ok] ") for ln in lines[1 : len(pipeline.STEPS) + 1]]
    assert done == list(pipeline.STEP_NAMES)
    metrics = lake / "metrics"
    assert json.loads((metrics / "silver_run_sp_dims.json").read_text())["engine"] == "spark"
    assert json.loads((metrics / "silver_run_sp_silver.json").read_text())["engine"] == "spark"
    assert json.loads((metrics / "enriched_run_sp_enriched.json").read_text())["engine"] == "spark"
    assert json.loads((lake / "silver" / "enriched" / "_latest.json").read_text())["run_id"] == "sp_enriched"
    assert (lake / "gold" / "ecomlake.duckdb").exists()


def test_run_with_engine_spark_on_a_gs_root_is_refused_before_any_step(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = lake_env(lake, SILVER_BASE_PATH="gs://bucket/silver/base")
    r = run_cli(["run", "--date", D, "--engine", "spark"], env)
    assert (r.returncode, r.stdout) == (2, "")
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --engine spark cannot read gs://bucket/silver/base")
    assert not lake.exists()
