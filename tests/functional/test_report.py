"""`ecomlake report` on a hand-made week that went through the real Silver gate, with one bad day.

Seven days of orders (100 rows a day: 98 valid, 2 quarantined) and cart_items (50 rows, 1 quarantined) are
published the way Base Silver publishes them; the Silver gate runs on each day in order and writes its
metrics and report. On 2023-01-05 an upstream problem sends 40 of the 100 orders to quarantine with two
codes never seen before. Every number below is computed by hand from those counts.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import silver_fixtures as sf
from report_fixtures import Page

from ecomlake.report import build_dashboard
from ecomlake.silver.validate import validate_silver

DAYS = [f"2023-01-0{i}" for i in range(1, 8)]
BAD = "2023-01-05"


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report_week")
    s = sf.settings_for(base)
    for i, day in enumerate(DAYS):
        if day == BAD:
            sf.make_day(
                s, "orders", day, 60, ["cast_failed_order_date"] * 30 + ["invalid_customer_fk"] * 10, start=i * 1000
            )
        else:
            sf.make_day(s, "orders", day, 98, ["null_order_id", "negative_gross_total"], start=i * 1000)
        sf.make_day(s, "cart_items", day, 49, ["nonpositive_quantity"], start=i * 1000)
        rc, _ = validate_silver(
            s, partition_date=day, tables=["orders", "cart_items"], run_id=f"day{i + 1}", echo=False
        )
        assert rc == 0
    return base


def _report(base: Path, *args: str, env: dict | None = None):
    return sf.run_cli(["report", *args], base, env)


def _page(path: Path) -> tuple[str, Page]:
    html = path.read_text(encoding="utf-8")
    return html, Page(html)


def test_bad_day_fails_and_its_quarantine_spike_shows(week):
    r = _report(week, "--since", "14d")
    assert r.returncode == 0, r.stderr
    assert "days with a FAIL: 2023-01-05" in r.stdout
    page_path = week / "reports" / "index.html"  # the default: <reports>/index.html
    assert f"wrote {page_path}" in r.stdout
    html, page = _page(page_path)
    cells = page.cells()
    for table in ("orders", "(whole gate)"):
        assert cells[("Silver", table, BAD)] == "FAIL"
        assert {cells[("Silver", table, d)] for d in DAYS if d != BAD} == {"PASS"}
    assert {cells[("Silver", "cart_items", d)] for d in DAYS} == {"PASS"}
    # The spike: 40 of 100 orders on the bad day, 2 of 100 on the others; 1 of 50 cart_items every day.
    rates = page.rates()
    assert rates[("orders", BAD)] == (0.4, "over")
    assert all(rates[("orders", d)] == (0.02, "ok") for d in DAYS if d != BAD)
    assert all(rates[("cart_items", d)] == (0.02, "ok") for d in DAYS)
    assert "▲ 40.0%" in html
    # Conservation per table and date, with the three counts.
    cons = page.conservation()
    expected = {"data-bronze": "100", "data-silver": "60", "data-quarantine": "40", "data-ok": "yes"}
    assert {k: cons[("orders", BAD)][k] for k in expected} == expected
    assert cons[("cart_items", "2023-01-01")]["data-bronze"] == "50"
    assert len(cons) == 14 and all(c["data-source"] == "gate" for c in cons.values())
    # The two codes first seen on the bad day are marked new, on that day only.
    new = {a["data-new-code"] for a in page.data["data-new-code"]}
    assert new == {"orders: cast_failed_order_date", "orders: invalid_customer_fk"}
    assert [a["data-new-day"] for a in page.data["data-new-day"]] == [BAD]
    # The family chart says the bad day's total in words: 40 orders + 1 cart line quarantined.
    assert "2023-01-05: 41 (invalid foreign key 10, type cast failure 30, out of range 1)" in html


def test_window_is_counted_back_from_the_newest_metrics_date(week, tmp_path):
    out = tmp_path / "w.html"
    r = _report(week, "--since", "2w", "--output", str(out))
    assert r.returncode == 0, r.stderr
    html, page = _page(out)
    # 14 days ending at 2023-01-07 (the newest metrics date, not today); the metrics start on 2023-01-01.
    assert "14 days (2022-12-25 to 2023-01-07), counted back from the newest date in the metrics (2023-01-07)" in html
    assert "the metrics start on 2023-01-01" in html
    assert {k[2] for k in page.cells()} == set(DAYS)
    r = _report(week, "--since", "2d", "--output", str(out))
    assert r.returncode == 0 and "; no FAIL" in r.stdout
    _, page = _page(out)
    assert {k[2] for k in page.cells()} == {"2023-01-06", "2023-01-07"}
    assert "FAIL" not in set(page.cells().values())


def test_page_is_self_contained_accessible_and_links_reports(week, tmp_path):
    out = tmp_path / "sub" / "dash.html"
    assert _report(week, "--output", str(out)).returncode == 0
    html, page = _page(out)
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html) and "@import" not in html and "url(http" not in html
    # Links are anchors or relative paths to the gates' Markdown reports, and they resolve.
    reports = [ref for ref in page.refs if not ref.startswith("#")]
    assert reports and all(ref.endswith(".md") and not ref.startswith("/") for ref in reports)
    assert all((out.parent / ref).is_file() for ref in reports)
    assert any(ref.startswith("../") and ref.endswith("/reports/SILVER_QUALITY_2023-01-05.md") for ref in reports)
    # Every chart is an image with a title and a description; every verdict is spelled out, not only coloured.
    charts = re.findall(
        r"<svg class=\"chart\"[^>]*>(<title id=\"[^\"]+\">[^<]+</title><desc id=\"[^\"]+\">[^<]+</desc>)?", html
    )
    assert charts and all(charts), "every chart needs role=img, a <title> and a <desc>"
    assert html.count('role="img"') >= len(charts)
    for status, mark in (("PASS", "✓"), ("FAIL", "✗")):
        cells = re.findall(rf'data-status="{status}"[^>]*>(?:<a [^>]*>)?([^<]*)<', html)
        assert cells and set(cells) == {f"{mark} {status}"}


def test_malformed_and_older_metrics_are_reported_not_fatal(week, tmp_path):
    base = tmp_path / "lake"
    shutil.copytree(week, base)
    metrics = base / "metrics"
    (metrics / "silver_quality_broken.json").write_text('{"table_metrics": [')
    (metrics / "bronze_quality_list.json").write_text("[1, 2, 3]")
    (metrics / "enriched_quality_partial.json").write_text(
        json.dumps(
            {"validation_metadata": {"parameters": {"ingest_dt": "2023-01-06"}}, "table_metrics": "?", "checks": 5}
        )
    )
    (metrics / "notes.txt").write_text("not metrics")
    # An older Silver gate file: no per-partition counts, only the table verdicts of its day.
    (metrics / "silver_quality_old.json").write_text(
        json.dumps(
            {
                "validation_metadata": {"parameters": {"partition_date": "2022-12-31"}},
                "table_metrics": [{"table_name": "orders", "status": "WARN"}],
                "overall_status": "WARN",
            }
        )
    )
    r = _report(base)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "warning: skipped unreadable metrics file silver_quality_broken.json: not valid JSON" in r.stderr
    assert "bronze_quality_list.json: expected a JSON object, found list" in r.stderr
    _, page = _page(base / "reports" / "index.html")
    assert {a["data-unreadable"] for a in page.data["data-unreadable"]} == {
        "silver_quality_broken.json",
        "bronze_quality_list.json",
    }
    cells = page.cells()
    assert cells[("Silver", "orders", "2022-12-31")] == "WARN"
    assert cells[("Silver", "orders", BAD)] == "FAIL"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("missing", [], "error: metrics directory not found: "),
        ("empty", [], "error: no metrics with a date in "),
        ("junk", [], "error: no metrics with a date in "),
        ("week", ["--since", "fortnight"], "error: invalid --since 'fortnight': expected a duration such as 14d or 2w"),
        ("week", ["--since", "0d"], "error: invalid --since '0d'"),
        ("week", ["--output", "metrics/silver_quality_day1.json/index.html"], "error: cannot write the dashboard to "),
    ],
)
def test_cannot_run_exits_2_with_one_line(week, tmp_path, setup, args, message):
    base = tmp_path / "lake"
    if setup == "week":
        shutil.copytree(week, base)
    elif setup == "missing":
        base.mkdir()
    elif setup in ("empty", "junk"):
        (base / "metrics").mkdir(parents=True)
        if setup == "junk":
            (base / "metrics" / "silver_quality_x.json").write_text("{oops")
    r = _report(base, *args)
    assert r.returncode == 2
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    if setup == "junk":
        assert "1 unreadable (first: silver_quality_x.json: not valid JSON" in r.stderr


def test_open_uses_the_browser_when_there_is_one(week, tmp_path):
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {seen}\n')
    browser.chmod(0o755)
    out = tmp_path / "o.html"
    r = _report(
        week, "--open", "--output", str(out), env={"BROWSER": str(browser), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    )
    assert r.returncode == 0, r.stderr
    assert seen.read_text() == out.resolve().as_uri()
    assert f"opened {out.resolve().as_uri()}" in r.stdout


def test_open_without_a_browser_prints_the_path(week, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "o.html"
    env = {"PATH": str(empty), "BROWSER": "", "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    r = _report(week, "--open", "--output", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert f"no browser found; open {out.resolve().as_uri()} by hand" in r.stdout
    assert out.is_file()


def test_python_api_returns_the_window_and_the_failing_days(week, tmp_path):
    result = build_dashboard(sf.settings_for(week), since="7d", output=str(tmp_path / "api.html"))
    assert (result.window.start, result.window.end, result.window.shown) == ("2023-01-01", "2023-01-07", DAYS)
    assert result.failing_days == [BAD] and result.bad_files == []
    assert Path(result.path).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_lost_rows_show_as_a_conservation_failure(week, tmp_path):
    base = tmp_path / "lake"
    shutil.copytree(week, base)
    s = sf.settings_for(base)
    Path(sf.silver_file(s, "orders", "2023-01-03")).unlink()  # someone deleted a Silver file by hand
    rc, _ = validate_silver(s, partition_date="2023-01-03", tables=["orders", "cart_items"], run_id="rerun", echo=False)
    assert rc == 0
    assert _report(base).returncode == 0
    html, page = _page(base / "reports" / "index.html")
    cell = page.conservation()[("orders", "2023-01-03")]
    assert (cell["data-ok"], cell["data-bronze"], cell["data-silver"], cell["data-quarantine"]) == (
        "no",
        "100",
        "0",
        "2",
    )
    assert "lost 98" in html and "1 of 14 table-days do not add up: orders 2023-01-03" in html
    # The re-run gate is the newest verdict for that day.
    assert page.cells()[("Silver", "orders", "2023-01-03")] == "FAIL"
