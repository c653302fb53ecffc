"""dbt unit tests (dbt_duckdb/models/base_silver/_unit_tests.yml) run here, in `make test`.

They test our SQL on fixed rows, not a day's data, so the production `dbt build` of a day leaves
them out (`--exclude-resource-type unit_test`). Here the models are built empty (`dbt run
--empty`: the unit tests read their inputs' column types from the warehouse) over a tiny generated
Bronze day and a keys-only dims snapshot, then `dbt test --select test_type:unit` runs every unit
test. A copy of the project with one wrong expectation proves that a failing unit test fails here.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.config import load_settings
from ecomlake.silver import dbt_runner
from ecomlake.silver.run import dbt_vars

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_duckdb"
UNIT_TESTS = PROJECT / "models" / "base_silver" / "_unit_tests.yml"
D = "2023-01-01"
pytestmark = pytest.mark.slow


def run_unit_tests(settings, warehouse: Path, run_id: str) -> dbt_runner.DbtSummary:
    summary = dbt_runner.invoke(
        settings,
        ["test", "--select", "test_type:unit"],
        dbt_vars=dbt_vars(settings, D, run_id),
        run_id=run_id,
        warehouse=warehouse,
        raise_on_failure=False,
    )
    dbt_runner.close_dbt_connections()
    return summary


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("dbt_unit")
    env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    settings = load_settings(str(REPO / "config" / "config.yml"), env=env)
    generate(settings, GeneratorOptions(start_date=D, days=1, orders_per_day=5, seed=3, defect_rate=0.0))
    # The dims models read a snapshot's keys; the unit tests give their own rows.
    for name, key, typ, value in (
        ("customer_snapshot", "customer_id", pa.string(), "UNKNOWN"),
        ("product_catalog", "product_id", pa.int64(), -1),
    ):
        part = base / "dims" / name / f"snapshot_dt={D}"
        part.mkdir(parents=True)
        pq.write_table(pa.table({key: pa.array([value], typ)}), part / "part-0000.parquet")
    warehouse = base / "work" / "unit.duckdb"
    built = dbt_runner.invoke(
        settings,
        ["run", "--empty"],
        dbt_vars=dbt_vars(settings, D, "unit_build"),
        run_id="unit_build",
        warehouse=warehouse,
    )
    dbt_runner.close_dbt_connections()
    assert built.success and built.models >= 40
    return {"base": base, "settings": settings, "warehouse": warehouse}


def _defined() -> list[str]:
    return [t["name"] for t in yaml.safe_load(UNIT_TESTS.read_text())["unit_tests"]]


def test_every_dbt_unit_test_passes(lake):
    summary = run_unit_tests(lake["settings"], lake["warehouse"], "unit_pass")
    assert summary.success, summary.failed_tests or summary.errors
    assert summary.unit_tests_failed == 0
    assert summary.unit_tests_passed == len(_defined()) >= 4


def test_a_failing_dbt_unit_test_fails_here(lake, tmp_path, monkeypatch):
    project = tmp_path / "dbt_duckdb"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    broken = project / "models" / "base_silver" / "_unit_tests.yml"
    text = broken.read_text()
    # the first expectation of the null-token test: ' WEB ' is normalised to 'web'; expect 'WEB' instead
    wrong, n = re.subn(r'order_id: "ORD-1", order_channel: "web"', 'order_id: "ORD-1", order_channel: "WEB"', text)
    assert n == 1
    broken.write_text(wrong)
    monkeypatch.setenv("ECOM_DBT_PROJECT_DIR", str(project))
    summary = run_unit_tests(lake["settings"], lake["warehouse"], "unit_fail")
    assert not summary.success
    assert summary.unit_tests_failed == 1
    assert summary.unit_tests_passed == len(_defined()) - 1
    assert summary.failed_tests == ["null_tokens_become_null_and_enums_are_normalised (fail)"]
