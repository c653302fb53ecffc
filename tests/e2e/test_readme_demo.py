"""The newcomer's path: a fresh clone in a temp dir, the README's commands as typed.

The clone has no data/ and no unpacked samples, exactly like a new checkout; the commands run in a
shell with the project's environment on PATH (as after `make` + `source .venv/bin/activate`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = str(Path(sys.executable).parent)


def _shell_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "ECOM",
                "BRONZE_",
                "SILVER_",
                "GOLD_",
                "METRICS_",
                "REPORTS_",
                "PIPELINE_ENV",
                "RUN_ID",
                "MAX_QUARANTINE",
                "DUCKDB_",
            )
        )
    }
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def sh(cmd: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=_shell_env(), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`{cmd}` exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("fresh") / "ecomlake"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    # The suite may run before the working tree is committed: bring the current samples and config.
    for rel in ("samples/bronze_samples.zip", "samples/dims_samples.zip", "config/config.yml"):
        shutil.copy2(REPO / rel, dest / rel)
    return dest


def _unzip(cwd: Path) -> None:
    if shutil.which("unzip"):
        sh("unzip -q -o samples/bronze_samples.zip -d samples/", cwd)
    else:  # the machine has no unzip binary: the same extraction in Python
        with zipfile.ZipFile(cwd / "samples/bronze_samples.zip") as zf:
            zf.extractall(cwd / "samples")


def _summary_numbers(stdout: str) -> dict[str, int]:
    silver = re.search(r"Silver: (\d+)/(\d+) fact tables passing", stdout)
    enriched = re.search(r"Enriched: (\d+)/(\d+) business tables with data", stdout)
    dbt = re.search(r"dbt: (\d+) data quality tests pass", stdout)
    assert silver and enriched and dbt, stdout
    return {
        "silver_pass": int(silver[1]),
        "silver_total": int(silver[2]),
        "enriched_data": int(enriched[1]),
        "enriched_total": int(enriched[2]),
        "dbt_tests": int(dbt[1]),
    }


@pytest.fixture(scope="module")
def demo(clone: Path) -> dict:
    _unzip(clone)
    first = sh("ecomlake local demo-fast", clone)
    second = sh("ecomlake local demo-fast", clone)
    return {"first": first.stdout, "second": second.stdout}


def test_runbook_quick_start_outputs_exist(clone: Path, demo: dict):
    assert os.listdir(clone / "data/silver/base/orders/ingest_dt=2023-01-01")
    assert sh("ls data/silver/base/orders/ingest_dt=2023-01-01", clone).stdout.strip()
    assert "part-" in sh("ls data/silver/enriched/int_cart_attribution/cart_dt=2023-01-01", clone).stdout
    report = sh("cat docs/validation_reports/ENRICHED_QUALITY_2023-01-01.md", clone).stdout
    assert "Enriched Silver Quality Report" in report
    assert (clone / "docs/validation_reports/SILVER_QUALITY_2023-01-01.md").is_file()
    assert (clone / "data/gold/ecomlake.duckdb").is_file()


def test_summary_numbers_come_from_the_metrics(clone: Path, demo: dict):
    numbers = _summary_numbers(demo["first"])
    assert numbers["silver_pass"] == numbers["silver_total"] == 6
    assert numbers["enriched_data"] == numbers["enriched_total"] == 10
    assert numbers["dbt_tests"] >= 17 + 4  # Base Silver's audits (facts, dims), and Gold's tests
    summary_path = re.search(r"Summary:\s+(\S+)", demo["first"])[1]
    summary = json.loads((clone / summary_path).read_text())
    silver = json.loads((clone / summary["metrics"]["silver"]).read_text())
    facts = [
        m
        for m in silver["table_metrics"]
        if m["table_name"] in ("orders", "order_items", "shopping_carts", "cart_items", "returns", "return_items")
    ]
    assert sum(m["status"] == "PASS" for m in facts) == numbers["silver_pass"]
    enriched = json.loads((clone / summary["metrics"]["enriched"]).read_text())
    assert sum((m.get("row_count") or 0) > 0 for m in enriched["table_metrics"]) == numbers["enriched_data"]
    silver_runs = sorted((clone / "data/metrics").glob("silver_run_*_silver.json"))
    gold_runs = sorted((clone / "data/metrics").glob("gold_run_*.json"))
    run = json.loads(silver_runs[-1].read_text())
    gold = json.loads(gold_runs[-1].read_text())
    silver_tests = run["dbt"]["tests_passed"]
    gold_tests = gold.get("tests_passed", gold.get("dbt", {}).get("tests_passed"))
    assert silver_tests + gold_tests == numbers["dbt_tests"]
    assert summary["returns_silver_rows"] > 0, "returns must flow through the demo"


def test_demo_twice_gives_the_same_result(demo: dict):
    assert _summary_numbers(demo["first"]) == _summary_numbers(demo["second"])


def test_runbook_jq_line_prints_the_orders_quarantine_pct(clone: Path, demo: dict):
    if not shutil.which("jq"):
        pytest.skip("jq is not installed on this machine")
    out = sh(
        """cat data/metrics/silver_quality_*.json | jq '.table_metrics[] | select(.table_name=="orders") | .quarantine_pct'""",
        clone,
    ).stdout.split()
    assert out and all(float(v) >= 0 for v in out)


def test_gold_run_by_hand(clone: Path, demo: dict):
    proc = sh("ecomlake gold run --date 2023-01-01", clone)
    assert "8/8 marts" in proc.stdout


def test_bronze_commands_as_typed(tmp_path: Path, clone: Path):
    # A new lake: after the demo, data/bronze holds the sample and generate refuses to replace it.
    work = tmp_path / "synthetic"
    work.mkdir()
    shutil.copytree(clone / "config", work / "config")
    sh(
        "ecomlake bronze generate --start-date 2023-01-01 --days 3 --orders-per-day 300 --seed 7 --out data/bronze",
        work,
    )
    ok = sh("ecomlake bronze validate --bronze-path data/bronze --partition-date 2023-01-02", work)
    assert "PASS" in ok.stdout
    sh("ecomlake bronze profile --bronze-path data/bronze --output docs/data/BRONZE_PROFILE_REPORT.md", work)
    assert (work / "docs/data/BRONZE_PROFILE_REPORT.md").is_file()


def test_silver_before_dims_gives_one_clear_line(tmp_path: Path, clone: Path):
    work = tmp_path / "nodims"
    work.mkdir()
    shutil.copytree(clone / "config", work / "config")
    sh("ecomlake bronze generate --start-date 2023-01-01 --days 1 --orders-per-day 50 --out data/bronze", work)
    proc = sh("ecomlake local silver --date 2023-01-01", work, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "ecomlake local dims" in proc.stderr


def test_dashboard_and_dbt_docs_after_the_demo(clone: Path, demo: dict):
    out = sh("ecomlake report --since 14d", clone)
    assert "wrote docs/validation_reports/index.html" in out.stdout and out.stderr == ""
    html = (clone / "docs/validation_reports/index.html").read_text(encoding="utf-8")
    verdicts = dict(re.findall(r'data-cell="([^"]+)" data-status="(\w+)"', html))
    assert verdicts["Silver|(whole gate)|2023-01-01"] == "PASS"
    assert verdicts["Gold|marts (dbt build + tests)|2023-01-01"] == "PASS"
    assert {
        verdicts[f"Enriched|(whole gate)|{d}"] for d in ("2022-12-29", "2022-12-30", "2022-12-31", "2023-01-01")
    } == {"PASS"}
    assert "data-unreadable" not in html and 'href="SILVER_QUALITY_2023-01-01.md"' in html
    sh("cd dbt_duckdb && dbt docs generate --vars '{gold: true}' --static", clone)
    assert (clone / "dbt_duckdb/target/static_index.html").is_file()
