"""The dashboard's reading rules on tiny hand-written metrics files: windows, precedence, derived verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake.errors import InputError
from ecomlake.report.collect import OVERALL, collect, sla_status
from ecomlake.report.dashboard import make_window, parse_since
from ecomlake.report.render import _new_codes


@pytest.mark.parametrize(("text", "days"), [("14d", 14), ("2w", 14), ("7", 7), (" 3D ", 3), ("1w", 7), (1, 1)])
def test_since_durations(text, days):
    assert parse_since(text) == days


@pytest.mark.parametrize("text", ["", "0d", "-1d", "2m", "fortnight", "1.5d", "d", "9999d"])
def test_bad_since_is_an_input_error(text):
    with pytest.raises(InputError, match="invalid --since"):
        parse_since(text)


@pytest.mark.parametrize(
    ("rate", "sla", "status"),
    [(0.95, 0.95, "PASS"), (0.9499, 0.95, "WARN"), (0.855, 0.95, "WARN"), (0.8549, 0.95, "FAIL"), (None, 0.95, None)],
)
def test_sla_bands_match_the_silver_gate(rate, sla, status):
    assert sla_status(rate, sla) == status


def _silver(day_counts: dict[str, tuple[int, int]], *, written_at: str, status: str = "PASS", table="orders") -> dict:
    """A Silver gate metrics file for `table` with {day: (silver, quarantine)}."""
    parts = [
        {"ingest_dt": d, "bronze_rows": s + q, "silver_rows": s, "quarantine_rows": q, "conservation_ok": True}
        for d, (s, q) in day_counts.items()
    ]
    return {
        "metadata": {"written_at": written_at},
        "table_metrics": [
            {"table_name": table, "status": status, "sla": 0.95, "partitions": parts, "reasons": {"null_order_id": 1}}
        ],
        "checks": [],
        "overall_status": status,
    }


def _write(d: Path, name: str, doc) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(json.dumps(doc))


def test_newest_file_wins_and_the_cell_counts_the_files(tmp_path):
    _write(
        tmp_path,
        "silver_quality_a.json",
        _silver({"2023-01-02": (90, 10)}, written_at="2026-01-01T00:00:00", status="FAIL"),
    )
    _write(tmp_path, "silver_quality_b.json", _silver({"2023-01-02": (99, 1)}, written_at="2026-01-02T00:00:00"))
    lake = collect(str(tmp_path))
    cell = lake.cells[("Silver", "orders", "2023-01-02")]
    assert (cell.status, cell.file, cell.files) == ("PASS", "silver_quality_b.json", 2)
    assert lake.counts[("orders", "2023-01-02")].quarantine == 1


def test_gate_counts_win_over_a_newer_run_ledger(tmp_path):
    _write(tmp_path, "silver_quality_a.json", _silver({"2023-01-02": (99, 1)}, written_at="2026-01-01T00:00:00"))
    ledger = {
        "ingest_dt": "2023-01-02",
        "written_at": "2026-01-03T00:00:00",
        "tables": {"orders": {"bronze_rows": 100, "silver_rows": 97, "quarantine_rows": 3, "reasons": {"x": 3}}},
        "seconds": {"dbt_build": 2.0},
    }
    _write(tmp_path, "silver_run_z.json", ledger)
    lake = collect(str(tmp_path))
    c = lake.counts[("orders", "2023-01-02")]
    assert (c.source, c.quarantine) == ("gate", 1)
    # A one-day gate's reasons are preferred to the ledger's, too.
    assert lake.reasons[("orders", "2023-01-02")].codes == {"null_order_id": 1}
    run = lake.runs[0]
    assert (run.kind, run.seconds, run.rows, run.rows_per_second) == ("Base Silver", 2.0, 100, 50.0)


def test_multi_day_gate_run_gives_each_day_its_own_verdict(tmp_path):
    # One run over three days: the table is FAIL over the window, but only the middle day is below the SLA.
    doc = _silver(
        {"2023-01-01": (99, 1), "2023-01-02": (50, 50), "2023-01-03": (93, 7)}, written_at="2026-01-01", status="FAIL"
    )
    _write(tmp_path, "silver_quality_w.json", doc)
    lake = collect(str(tmp_path))
    got = {d: lake.cells[("Silver", "orders", d)].status for d in ("2023-01-01", "2023-01-02", "2023-01-03")}
    assert got == {"2023-01-01": "PASS", "2023-01-02": "FAIL", "2023-01-03": "WARN"}
    assert ("Silver", OVERALL, "2023-01-02") not in lake.cells  # no per-day overall verdict to claim
    assert ("orders", "2023-01-02") not in lake.reasons  # window totals are not one day's reasons


def test_window_ends_at_the_newest_metrics_date_and_starts_at_the_data(tmp_path):
    _write(tmp_path, "silver_quality_a.json", _silver({"2022-12-01": (1, 0)}, written_at="2026-01-01"))
    _write(tmp_path, "silver_quality_b.json", _silver({"2023-01-05": (1, 0)}, written_at="2026-01-02"))
    _write(tmp_path, "silver_quality_c.json", _silver({"2023-01-08": (1, 0)}, written_at="2026-01-03"))
    w = make_window(collect(str(tmp_path)), "7d")
    assert (w.start, w.end, w.first_data) == ("2023-01-02", "2023-01-08", "2023-01-05")
    assert w.shown == ["2023-01-05", "2023-01-06", "2023-01-07", "2023-01-08"]
    assert make_window(collect(str(tmp_path / "none")), "7d") is None


def test_new_codes_after_the_baseline_day_only(tmp_path):
    def ledger(day, reasons, stamp):
        return {
            "ingest_dt": day,
            "written_at": stamp,
            "tables": {
                "orders": {
                    "bronze_rows": 9,
                    "silver_rows": 9 - sum(reasons.values()),
                    "quarantine_rows": sum(reasons.values()),
                    "reasons": reasons,
                }
            },
        }

    _write(tmp_path, "silver_run_1.json", ledger("2023-01-01", {"null_order_id": 1}, "2026-01-01"))
    _write(tmp_path, "silver_run_2.json", ledger("2023-01-02", {"future_order_date": 1}, "2026-01-02"))
    _write(
        tmp_path,
        "silver_run_3.json",
        ledger("2023-01-03", {"future_order_date": 1, "invalid_customer_fk": 2}, "2026-01-03"),
    )
    lake = collect(str(tmp_path))
    days = ["2023-01-01", "2023-01-02", "2023-01-03"]
    assert _new_codes(lake, days) == {
        "2023-01-02": ["orders: future_order_date"],
        "2023-01-03": ["orders: invalid_customer_fk"],
    }
    # A code first seen before the window is not new inside it.
    assert _new_codes(lake, days[2:]) == {"2023-01-03": ["orders: invalid_customer_fk"]}


def test_enriched_gold_and_demo_records_become_runs_and_a_gold_verdict(tmp_path):
    _write(
        tmp_path,
        "enriched_run_e.json",
        {
            "run_id": "e",
            "ingest_dt": "2023-01-01",
            "created_at": "2026-01-01T00:00:00",
            "status": "published",
            "tables": {"int_a": {"rows": 300, "seconds": 0.5}, "int_b": {"rows": 100, "seconds": 0.5}},
            "seconds": 2.0,
        },
    )
    gold = {
        "run_id": "g",
        "as_of": "2023-01-01",
        "started_at": "2026-01-01T00:01:00",
        "status": "published",
        "dbt": {"success": True, "tests_passed": 10, "tests_failed": 0},
        "seconds": 4.0,
        "marts": {"fct_a": 30, "fct_b": 10},
    }
    _write(tmp_path, "gold_run_g.json", gold)
    _write(tmp_path, "gold_run_h.json", gold | {"run_id": "h", "as_of": "2023-01-02", "tests_failed": 2})
    _write(
        tmp_path,
        "demo_summary_d.json",
        {
            "run_id": "d",
            "demo_date": "2023-01-01",
            "written_at": "2026-01-01T00:02:00",
            "seconds": 9.0,
            "stages": [{"stage": "base silver", "seconds": 5.0}, {"stage": "gold", "seconds": 4.0}],
            "silver_status": "PASS",
        },
    )
    lake = collect(str(tmp_path))
    runs = {r.run_id: r for r in lake.runs}
    e = runs["e"]
    assert (e.kind, e.rows, e.seconds, e.rows_per_second) == ("Enriched", 400, 2.0, 200.0)
    assert e.stages[-1] == ("state, checks and publish", 1.0)
    assert (runs["g"].rows, runs["g"].rows_per_second, runs["g"].status) == (40, 10.0, "PASS")
    assert runs["h"].status == "FAIL" and runs["d"].stages == [("base silver", 5.0), ("gold", 4.0)]
    assert lake.cells[("Gold", "marts (dbt build + tests)", "2023-01-01")].status == "PASS"
    assert lake.cells[("Gold", "marts (dbt build + tests)", "2023-01-02")].status == "FAIL"
