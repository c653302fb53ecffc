"""`ecomlake run`: the daily pipeline in process on generated Bronze (exit codes, order, what stops it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import ECOMLAKE, lake_env, run_cli

from ecomlake import pipeline

pytestmark = pytest.mark.slow
D, D2 = "2023-01-01", "2023-01-02"


def _generate(lake: Path, defect_rate: float) -> None:
    import subprocess

    r = subprocess.run(
        [
            ECOMLAKE,
            "bronze",
            "generate",
            "--start-date",
            D,
            "--days",
            "1",
            "--orders-per-day",
            "40",
            "--defect-rate",
            str(defect_rate),
            "--seed",
            "7",
            "--out",
            str(lake / "bronze"),
        ],
        env=lake_env(lake),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_run_needs_a_day_or_a_range(tmp_path):
    env = lake_env(tmp_path / "lake")
    for argv, message in (
        (["run"], "error: pass --date D, or --start D1 --end D2 for a backfill\n"),
        (["run", "--date", D, "--start", D], "error: pass either --date or --start/--end, not both\n"),
        (["run", "--start", D2, "--end", D], f"error: --end {D} is before --start {D2}\n"),
        (
            ["run", "--date", "2023-02-30"],
            "error: invalid --date '2023-02-30': expected YYYY-MM-DD (not a calendar date)\n",
        ),
    ):
        r = run_cli(argv, env)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", message), argv
    assert not (tmp_path / "lake").exists()


def test_a_day_without_bronze_stops_at_its_sensor_with_exit_2(tmp_path):
    lake = tmp_path / "lake"
    r = run_cli(["run", "--date", D], lake_env(lake))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: wait_for_bronze_dims: missing {lake / 'bronze' / 'customers' / f'ingest_dt={D}' / '_SUCCESS'} (+1 more); "
    )
    assert "land Bronze under" in err[0]
    assert not (lake / "silver").exists()


def test_a_backfill_runs_every_step_day_by_day_and_stops_at_the_first_day_it_cannot_run(tmp_path):
    lake = tmp_path / "lake"
    _generate(lake, 0.0)
    r = run_cli(["run", "--start", D, "--end", D2, "--run-id", "bf"], lake_env(lake))
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"== {D} (1/2) run bf_{D}, environment local"
    done = [ln.split(":", 1)[0].removeprefix("[ok] ") for ln in lines[1 : len(pipeline.STEPS) + 1]]
    assert done == list(pipeline.STEP_NAMES)  # every step of both DAGs, in the pipeline's order
    assert lines[len(pipeline.STEPS) + 1].startswith(f"[ok] day {D}: {len(pipeline.STEPS)} steps in ")
    assert lines[-1] == f"== {D2} (2/2) run bf_{D2}, environment local"
    assert r.stderr.startswith(f"error: wait_for_bronze_dims: missing {lake / 'bronze' / 'customers'}")
    # Day one is complete and current; the gate metrics carry the day's run ids.
    assert json.loads((lake / "silver" / "enriched" / "_latest.json").read_text())["run_id"] == f"bf_{D}_enriched"
    assert (lake / "metrics" / f"quarantine_rate_bf_{D}_silver.json").exists()
    assert (lake / "gold" / "ecomlake.duckdb").exists()
    # The two Bronze gates of a day write two reports, named by the date like the other gates'.
    for name in ("BRONZE_DIMS_QUALITY", "BRONZE_QUALITY", "DIMS_QUALITY", "SILVER_QUALITY", "ENRICHED_QUALITY"):
        assert (lake / "reports" / f"{name}_{D}.md").exists(), name


def test_a_high_defect_day_stops_at_the_quarantine_rate_gate_or_in_prod_at_the_silver_gate(tmp_path):
    lake = tmp_path / "lake"
    _generate(lake, 0.3)
    prod_lake = Path(shutil.copytree(lake, tmp_path / "prod"))
    r = run_cli(["run", "--date", D, "--run-id", "hd"], lake_env(lake))
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr
    assert "[warn] silver_gate: FAIL, not blocking (environment local): orders: pass rate 77.59% vs SLA 95%" in r.stdout
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "error: orders: Quarantine rate 22.41% exceeds 5.00%; order_items: Quarantine rate 22.22% exceeds 5.00%"
    )
    assert "nothing later runs and nothing is promoted" in err[0]
    assert "promote_silver_base" not in r.stdout and not (lake / "silver" / "enriched").exists()

    r = run_cli(["run", "--date", D, "--env", "prod", "--run-id", "hp"], lake_env(prod_lake))
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: silver_gate FAILED for {D} (orders: pass rate 77.59% vs SLA 95%")
    assert "quarantine_rate_gate" not in r.stdout
    assert not (prod_lake / "metrics" / "quarantine_rate_hp_silver.json").exists()
