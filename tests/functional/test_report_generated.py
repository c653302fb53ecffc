"""The dashboard of a generated week that went through the real pipeline, and the page in a real browser.

Our generator writes seven clean days (`--defect-rate 0`), then half of the orders of 2023-01-05 get an
order_date that does not cast (an upstream export gone wrong; the manifest is resealed, so Bronze still
passes). The real pipeline runs on the week: the Bronze gate, `ecomlake local dims` and `ecomlake local
silver` (dbt, publish and the Silver gate, day by day). The week is built once per test session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import silver_fixtures as sf
from report_fixtures import CHROMIUM, NO_CHROMIUM, Page, build_once, chromium, console_messages, plant_bad_day, png_size

pytestmark = pytest.mark.slow

DAYS = [f"2023-01-0{i}" for i in range(1, 8)]
BAD = "2023-01-05"


def _build_week(base: Path) -> None:
    r = sf.run_cli(
        [
            "bronze",
            "generate",
            "--start-date",
            DAYS[0],
            "--days",
            "7",
            "--orders-per-day",
            "30",
            "--seed",
            "16",
            "--defect-rate",
            "0",
        ],
        base,
        cwd=base.parent,
    )
    assert r.returncode == 0, r.stderr
    assert plant_bad_day(base / "bronze", BAD, fraction=0.5) > 0
    for step in (["bronze", "validate"], ["local", "dims"], ["local", "silver"]):
        r = sf.run_cli(step, base, cwd=base.parent)
        assert r.returncode == 0, f"{step}: {r.stdout[-2000:]}{r.stderr[-2000:]}"


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    # Under xdist each worker has its own base temp dir inside the session's: build there once for all of them.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return build_once(shared / "shared", "report_generated_week", _build_week)


@pytest.fixture(scope="module")
def page(week, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated_page") / "index.html"
    r = sf.run_cli(["report", "--since", "14d", "--output", str(out)], week, cwd=week.parent)
    assert r.returncode == 0, r.stderr
    assert "days with a FAIL: 2023-01-05" in r.stdout
    return out


def _gate_rates(week: Path) -> dict[tuple[str, str], float]:
    """(table, day) -> quarantine rate, from the Silver gate's own metrics (one file per day)."""
    out = {}
    for f in (week / "metrics").glob("silver_quality_*.json"):
        for tm in json.loads(f.read_text())["table_metrics"]:
            for p in tm["partitions"]:
                n = p["silver_rows"] + p["quarantine_rows"]
                out[(tm["table_name"], p["ingest_dt"])] = p["quarantine_rows"] / n if n else None
    return out


def test_planted_day_fails_and_spikes(week, page):
    p = Page(page.read_text(encoding="utf-8"))
    cells = p.cells()
    assert cells[("Silver", "orders", BAD)] == "FAIL"
    assert cells[("Silver", "(whole gate)", BAD)] == "FAIL"
    # The clean days before it pass everywhere; Bronze passes on the bad day too (the files are sound).
    for d in DAYS[:4]:
        assert {s for (layer, _, day), s in cells.items() if day == d and layer in ("Silver", "Bronze", "Dims")} == {
            "PASS"
        }
    assert cells[("Bronze", "orders", BAD)] == "PASS"
    # The spike: the page shows exactly the gate's rates; the bad day is the highest and above the limit.
    rates = p.rates()
    truth = _gate_rates(week)
    for (table, day), rate in truth.items():
        if rate is not None:
            assert rates[(table, day)][0] == pytest.approx(rate, abs=1e-6)
    orders = {d: rates[("orders", d)] for d in DAYS}
    assert orders[BAD][1] == "over" and orders[BAD][0] >= 0.45
    assert max(orders, key=lambda d: orders[d][0]) == BAD
    assert all(orders[d] == (0.0, "ok") for d in DAYS[:4])
    # The planted code is new on the bad day, and every Bronze row is accounted for.
    assert "orders: cast_failed_order_date" in {a["data-new-code"] for a in p.data["data-new-code"]}
    cons = p.conservation()
    assert {c["data-ok"] for c in cons.values()} == {"yes"} and ("orders", BAD) in cons
    assert int(cons[("orders", BAD)]["data-quarantine"]) > 0


@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
def test_page_renders_in_headless_chromium_without_console_errors(page, tmp_path):
    shot = tmp_path / "dashboard.png"
    proc = chromium(page, tmp_path, f"--screenshot={shot}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_messages(proc.stderr) == []
    assert shot.stat().st_size > 30_000 and png_size(shot) == (1400, 2400)
    dom = chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and console_messages(dom.stderr) == []
    assert "✗ FAIL" in dom.stdout and dom.stdout.count('role="img"') >= 6


@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
def test_the_console_check_catches_errors_and_blocked_fetches(tmp_path):
    # The control: a page that logs an error and tries to load from the network, under the same CSP.
    head = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\"></head><body>"
    )
    bad = tmp_path / "bad.html"
    bad.write_text(head + '<img src="https://cdn.example.com/x.png" alt="x"></body></html>')
    messages = console_messages(chromium(bad, tmp_path, "--dump-dom").stderr)
    assert any("cdn.example.com" in m for m in messages), messages
    ok = tmp_path / "ok.html"
    ok.write_text(head + "<p>fine</p></body></html>")
    assert console_messages(chromium(ok, tmp_path, "--dump-dom").stderr) == []
