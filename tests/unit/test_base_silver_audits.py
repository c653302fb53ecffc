"""The generated audits of Base Silver (tests/base_silver) and how a failing one is reported."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ecomlake import rules as R
from ecomlake.contract import TABLES
from ecomlake.silver import codegen, dbt_runner


@pytest.mark.parametrize("table", TABLES)
def test_every_rule_visible_in_silver_has_its_audit_check(table):
    """Null, range, enum, e-mail, future, cross-column and FK rules and the in-run duplicate: each one
    is a check of the audit, named by its registry code; cast failures and already-published keys are
    not visible in Silver (their failing cases are in the scoring tests)."""
    checks = dict(codegen.audit_checks(codegen.CONTRACT[table]))
    for r in R.rules_for(table):
        visible = r.family in (R.NULL_PRIMARY_KEY, R.OUT_OF_RANGE, R.INVALID_FOREIGN_KEY) or (
            r.family == R.DUPLICATE_PRIMARY_KEY and r.code == R.duplicate_code(table)
        )
        assert (r.code in checks) == visible, r.code
    assert "ingest_dt_is_run_date" in checks
    audit = codegen.render()[f"{codegen.AUDIT_DIR}/audit_stg_{table}.sql"]
    assert "row_conservation" in audit and f"ref('stg_{table}_quarantine')" in audit


def test_failed_audit_is_reported_with_its_checks_and_rows(tmp_path: Path):
    warehouse = tmp_path / "silver.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table t as select * from (values ('null_batch_id', 3), ('duplicate_order_id', 1)) v(c, n)")
    con.close()
    summary = dbt_runner.DbtSummary(command="build", success=False)
    summary.failed_tests = ["audit_stg_orders: Got 2 results, configured to fail if != 0", "other: error"]
    summary.failed_sql = {"audit_stg_orders": "select c as check_name, n as failing_rows from t"}
    dbt_runner._name_failed_checks(summary, warehouse)
    assert summary.failed_tests == [
        "audit_stg_orders: Got 2 results, configured to fail if != 0 [null_batch_id: 3 rows, duplicate_order_id: 1 row]",
        "other: error",
    ]
