"""The Silver gate and quarantine summary on generated data, through the commands a user types:
`ecomlake bronze generate`, `ecomlake local dims`, `ecomlake local silver`, then the gate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import silver_fixtures as sf

from ecomlake import rules

pytestmark = pytest.mark.slow

D = "2023-01-01"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("silver_generated")
    for step in (
        ["bronze", "generate", "--start-date", D, "--days", "1", "--orders-per-day", "150", "--seed", "11"],
        ["local", "dims", "--date", D],
        ["local", "silver", "--date", D],
    ):
        r = sf.run_cli(step, base)
        assert r.returncode == 0, f"{step}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
    return base


def test_gate_on_generated_data(lake, tmp_path):
    silver = lake / "silver"
    report = tmp_path / "SILVER_QUALITY_2025_W03.md"
    r = sf.run_cli(
        [
            "silver",
            "validate",
            "--silver-path",
            str(silver),
            "--quarantine-path",
            str(silver / "quarantine"),
            "--env",
            "local",
            "--output-report",
            str(report),
            "--run-id",
            "gen",
        ],
        lake,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    metrics = json.loads((lake / "metrics" / "silver_quality_gen.json").read_text())
    by_table = {t["table_name"]: t for t in metrics["table_metrics"]}
    assert set(by_table) == set(sf.CONTRACT)
    # Nothing lost: every table and partition is conserved, every file matches its manifest.
    assert all(t["conservation"]["ok"] for t in by_table.values())
    assert not [
        c
        for c in metrics["checks"]
        if c["status"] == "FAIL" and c["name"] not in ("pass_rate_sla", "max_quarantine_pct")
    ]
    assert sum(t["quarantine_rows"] for t in by_table.values()) > 0  # the generator injects defects
    # The gate's own reading of the files agrees with what Base Silver says it wrote.
    ledgers = [json.loads(p.read_text()) for p in (lake / "metrics").glob("silver_run_*.json")]
    for ledger in ledgers:
        for table, run in ledger["tables"].items():
            assert by_table[table]["silver_rows"] == run["silver_rows"]
            assert by_table[table]["quarantine_rows"] == run["quarantine_rows"]
            assert by_table[table]["reasons"] == run["reasons"]
    for table, t in by_table.items():
        assert all(rules.family_of(table, code) for code in t["reasons"]), t["reasons"]
        assert sum(t["families"].values()) == sum(t["reasons"].values())
    assert "| orders |" in report.read_text()
    orders_pct = by_table["orders"]["quarantine_pct"]
    if shutil.which("jq"):
        out = subprocess.run(
            f"cat {lake}/metrics/silver_quality_*.json | jq '.table_metrics[] | select(.table_name==\"orders\") | .quarantine_pct'",
            shell=True,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert orders_pct in [float(x) for x in out]


def test_alert_threshold_blocks_when_enforced(lake):
    # MAX_QUARANTINE_RATE=0.001 (0.1%) is below the generator's defect rate: FAIL, exit 1 under --enforce only.
    args = ["silver", "validate", "--partition-date", D]
    relaxed = sf.run_cli(args, lake, {"MAX_QUARANTINE_RATE": "0.001"})
    assert relaxed.returncode == 0 and "Silver gate: FAIL" in relaxed.stdout
    enforced = sf.run_cli([*args, "--enforce"], lake, {"MAX_QUARANTINE_RATE": "0.001"})
    assert enforced.returncode == 1 and "vs limit 0.10%" in enforced.stdout


def test_summary_agrees_with_the_gate(lake, tmp_path):
    r = sf.run_cli(["quarantine", "summary", "--output", str(tmp_path / "q.json")], lake)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "q.json").read_text())
    gate = json.loads(
        max((lake / "metrics").glob("silver_quality_*.json"), key=lambda p: p.stat().st_mtime).read_text()
    )
    expected = {t["table_name"]: t["quarantine_rows"] for t in gate["table_metrics"]}
    assert {t: summary["by_table"].get(t, 0) for t in expected} == expected
    table = next(t for t, n in expected.items() if n)
    shown = sf.run_cli(["quarantine", "inspect", "--table", table, "--ingest-dt", D, "--limit", "3", "--json"], lake)
    assert shown.returncode == 0 and json.loads(shown.stdout)["shown"] == min(3, expected[table])


def test_staging_publish_says_staged_and_the_printed_promote_publishes(lake, tmp_path):
    """SILVER_PUBLISH_MODE=staging: "staged, NOT published" (never "published"), and the promote
    command it prints (what exists today) is the one that makes the partitions visible."""
    import re

    staged_lake = Path(shutil.copytree(lake, tmp_path / "lake"))
    orders = staged_lake / "silver" / "orders" / f"ingest_dt={D}" / "_manifest.json"
    before = json.loads(orders.read_text())["run_id"]
    r = sf.run_cli(["local", "silver", "--date", D], staged_lake, {"SILVER_PUBLISH_MODE": "staging"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("[ok] silver: "))
    assert f"{D} staged, NOT published (SILVER_PUBLISH_MODE=staging)" in line and "published (run" not in line
    assert json.loads(orders.read_text())["run_id"] == before  # readers still see the previous partition
    promote = re.search(r"`ecomlake (promote silver --run-id \S+)`", line)[1]
    done = sf.run_cli(promote.split(), staged_lake)
    assert done.returncode == 0, done.stderr
    assert "partitions published" in done.stdout
    assert json.loads(orders.read_text())["run_id"] != before
    assert not (staged_lake / "silver" / "_staging").exists()
