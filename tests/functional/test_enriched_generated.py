"""Enriched over a real generated lake: Bronze generator -> dims -> Base Silver -> Enriched + gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from enriched_fixtures import REPO, Lake

pytestmark = pytest.mark.slow


def _run(args, env, cwd):
    exe = str(Path(sys.executable).with_name("ecomlake"))
    p = subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p.stdout


def test_enriched_on_generated_silver(tmp_path):
    lake = Lake(tmp_path)
    env = {
        **os.environ,
        **lake.env(BRONZE_BASE_PATH=str(tmp_path / "bronze")),
        "ECOM_CONFIG_PATH": str(REPO / "config" / "config.yml"),
    }
    _run(
        [
            "bronze",
            "generate",
            "--start-date",
            "2023-01-01",
            "--days",
            "1",
            "--orders-per-day",
            "150",
            "--out",
            str(tmp_path / "bronze"),
        ],
        env,
        tmp_path,
    )
    # One day keeps this under the suite's budget (dbt dominates); multi-day behaviour is covered
    # on hand-made Silver in test_enriched_state.py.
    _run(["local", "dims", "--date", "2023-01-01"], env, tmp_path)
    _run(["local", "silver", "--date", "2023-01-01"], env, tmp_path)
    out = _run(["local", "enriched", "--enforce"], env, tmp_path)
    assert "PASS: 10/10 tables with data" in out and out.count("== enriched") == 1
    reports = sorted(p.name for p in lake.reports.glob("ENRICHED_QUALITY_*.md"))
    assert reports == ["ENRICHED_QUALITY_2023-01-01.md"]
    gate = max(lake.metrics.glob("enriched_quality_*.json"), key=lambda p: p.stat().st_mtime)
    data = json.loads(gate.read_text())
    assert data["overall_status"] == "PASS"
    rows = {m["table_name"]: m["row_count"] for m in data["table_metrics"]}
    assert all(n > 0 for n in rows.values()), rows
    checks = {c["name"] for c in data["checks"]}
    assert {"reconcile_order_rows", "reconcile_daily_revenue", "reconcile_clv", "attribution_agreement"} <= checks
