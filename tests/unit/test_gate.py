"""The one gate machinery: statuses, results, metrics JSON, Markdown and the runbook's exit codes."""

from __future__ import annotations

import json

import pytest

from ecomlake.quality import gate
from ecomlake.quality.gate import Check, CheckName, GateResult, Status


def test_worst_status():
    assert gate.worst([]) == Status.PASS
    assert gate.worst([Status.PASS, "WARN", Status.PASS]) == Status.WARN
    assert gate.worst(["WARN", Status.FAIL, "PASS"]) == Status.FAIL
    with pytest.raises(ValueError):
        gate.worst(["BROKEN"])


@pytest.mark.parametrize(
    "status, env, enforce, code",
    [
        (Status.PASS, "local", False, 0),
        (Status.PASS, "prod", True, 0),
        (Status.WARN, "local", True, 0),
        (Status.WARN, "prod", False, 0),
        (Status.WARN, "prod", True, 0),
        (Status.FAIL, "local", False, 0),
        (Status.FAIL, "dev", False, 0),
        (Status.FAIL, "local", True, 1),
        (Status.FAIL, "dev", True, 1),
        (Status.FAIL, "prod", False, 1),
        (Status.FAIL, "prod", True, 1),
    ],
)
def test_exit_code_table(status, env, enforce, code):
    assert gate.exit_code(status, env, enforce) == code


def _result() -> GateResult:
    r = GateResult(
        gate="bronze_quality",
        title="Bronze Quality Report",
        run_id="r1",
        environment="local",
        parameters={"bronze_path": "x"},
    )
    r.check(CheckName.CHECKSUM, True, "ok", table="orders")
    r.check(
        CheckName.SUCCESS_MARKER,
        False,
        "no _SUCCESS",
        table="orders",
        partition="ingest_dt=2023-01-02",
        action="re-run | the export",
    )
    r.check(CheckName.UNEXPECTED_COLUMN, False, "extra column", fail_status=Status.WARN, table="customers")
    r.table_metrics = [{"table_name": "orders", "status": r.table_status("orders").value}]
    return r


def test_result_statuses_and_problem_order():
    r = _result()
    assert r.overall_status == Status.FAIL
    assert r.table_status("orders") == Status.FAIL
    assert r.table_status("customers") == Status.WARN
    assert r.table_status("returns") == Status.PASS
    assert [c.status for c in r.problems] == [Status.FAIL, Status.WARN]


def test_to_dict_is_the_metrics_shape():
    d = json.loads(json.dumps(_result().to_dict()))
    assert d["overall_status"] == "FAIL"
    assert d["summary"] == {"checks": 3, "passed": 1, "warned": 1, "failed": 1}
    assert (
        d["validation_metadata"]["run_id"] == "r1" and d["validation_metadata"]["validation_type"] == "bronze_quality"
    )
    assert d["metadata"]["environment"] == "local"
    assert d["table_metrics"] == [{"table_name": "orders", "status": "FAIL"}]
    assert d["checks"][0] == {"name": "checksum_match", "status": "PASS", "message": "ok", "table": "orders"}


def test_finish_writes_metrics_and_report(tmp_path):
    r = _result()
    code, metrics, _report = gate.finish(
        r,
        metrics_dir=str(tmp_path / "m"),
        report_path=str(tmp_path / "r" / "R.md"),
        sections=[("Summary", "body text")],
        enforce=True,
    )
    assert code == 1
    assert metrics == str(tmp_path / "m" / "bronze_quality_r1.json")
    assert json.loads((tmp_path / "m" / "bronze_quality_r1.json").read_text())["overall_status"] == "FAIL"
    md = (tmp_path / "r" / "R.md").read_text()
    assert md.startswith("# Bronze Quality Report")
    assert "## Summary\n\nbody text" in md
    assert "**Overall Status:** ❌ FAIL" in md
    assert "re-run \\| the export" in md  # pipes escaped inside table cells
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["bronze_quality_r1.json"]  # no temp files left


def test_finish_without_report_and_not_enforcing(tmp_path):
    code, _, report = gate.finish(_result(), metrics_dir=str(tmp_path), report_path=None, sections=[], enforce=False)
    assert (code, report) == (0, None)


def test_markdown_helpers():
    assert gate.md_table(["a", "b"], [(1, "x|y")]) == "| a | b |\n|---|---|\n| 1 | x\\|y |"
    assert gate.fmt_int(1234567) == "1,234,567" and gate.fmt_int(None) == "-"
    assert gate.fmt_pct(12.345) == "12.35%" and gate.fmt_pct(None) == "-"


def test_check_vocabulary_is_unique_snake_case():
    names = [v for k, v in vars(CheckName).items() if k.isupper()]
    assert len(names) == len(set(names)) >= 15
    assert all(n == n.lower() and " " not in n for n in names)


def test_check_to_dict_drops_empty_fields():
    assert Check("x", Status.WARN, "m").to_dict() == {"name": "x", "status": "WARN", "message": "m"}
