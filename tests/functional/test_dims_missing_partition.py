"""A day on which a dimension has no change records: no Bronze partition at all.

Day 1: customers and products. Day 2: customers only (nothing in the catalog changed, so the
exporter wrote no product_catalog partition). Day 3: no dims partition at all, only orders.
snapshot(D) must then equal snapshot(D-1) row for row, published as D's snapshot, with a WARN in
the dims gate; `dims.require_daily_partition: true` (DIMS_REQUIRE_DAILY_PARTITION) makes such a
day an error (exit 2) for users who expect a partition every day.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from silver_fixtures import run_cli
from test_base_silver_support import customer, order, product, write_bronze

from ecomlake.config import load_settings
from ecomlake.dims.snapshot import pending_dates, run_dims
from ecomlake.dims.validate import validate_dims
from ecomlake.errors import InputError

REPO = Path(__file__).resolve().parents[2]
D1, D2, D3, D4 = "2023-01-01", "2023-01-02", "2023-01-03", "2023-01-04"
pytestmark = pytest.mark.slow


def _env(base: Path) -> dict:
    return {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }


def _settings(base: Path, **env):
    return load_settings(str(REPO / "config" / "config.yml"), env={**_env(base), **env})


def _snapshot(base: Path, name: str, day: str) -> list[dict]:
    rows = pq.read_table(base / "dims" / name / f"snapshot_dt={day}").to_pylist()
    return sorted(rows, key=repr)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("dims_missing")
    b = base / "bronze"
    write_bronze(b, "customers", D1, [customer("CUST-A", D1, n=1), customer("CUST-B", D1, n=2)])
    write_bronze(b, "product_catalog", D1, [product(11, D1, n=1), product(12, D1, n=2)])
    write_bronze(b, "customers", D2, [customer("CUST-C", D2, n=1), customer("CUST-A", D2, tier="gold", n=2)])
    write_bronze(b, "orders", D3, [order("ORD-1", "CUST-A", D3)])  # day 3: facts only, no dims change
    settings = _settings(base)
    runs = {d: run_dims(settings, d) for d in (D1, D2)}
    assert pending_dates(settings) == [D3]  # a day with facts but no dims change still needs its snapshot
    runs[D3] = run_dims(settings, D3)
    return {"base": base, "settings": settings, "runs": runs}


def test_snapshot_of_a_dim_without_changes_equals_the_previous_one(lake):
    base = lake["base"]
    assert _snapshot(base, "product_catalog", D2) == _snapshot(base, "product_catalog", D1)  # every column
    assert lake["runs"][D2].carried_forward == ["product_catalog"]
    assert lake["runs"][D2].previous["product_catalog"] == D1
    # the dimension that did change merged its changes as usual
    tiers = {r["customer_id"]: r["loyalty_tier"] for r in _snapshot(base, "customer_snapshot", D2)}
    assert tiers == {"CUST-A": "gold", "CUST-B": "bronze", "CUST-C": "bronze", "UNKNOWN": None}
    # no Bronze, no Base Silver partition for the dim that did not change
    assert not (base / "silver" / "product_catalog" / f"ingest_dt={D2}").exists()
    assert (base / "silver" / "customers" / f"ingest_dt={D2}").exists()


def test_a_day_without_any_dims_partition_carries_both_forward(lake):
    base = lake["base"]
    for name in ("customer_snapshot", "product_catalog"):
        assert _snapshot(base, name, D3) == _snapshot(base, name, D2)
    assert sorted(lake["runs"][D3].carried_forward) == ["customer_snapshot", "product_catalog"]
    assert lake["runs"][D3].silver.tables == []  # nothing for dbt to build


def test_dims_gate_warns_that_no_changes_landed(lake):
    rc, result = validate_dims(lake["settings"], D2, enforce=True, run_id="miss2")
    assert rc == 0 and result.overall_status.value == "WARN"
    landed = {c.table: c for c in result.checks if c.name == "changes_landed"}
    assert landed["customer_snapshot"].status.value == "PASS"
    assert landed["product_catalog"].status.value == "WARN"
    assert landed["product_catalog"].message == (
        f"no Bronze product_catalog partition for {D2}: no product_catalog changes landed, "
        f"so snapshot {D2} carries {D1} forward"
    )
    report = (lake["base"] / "reports" / f"DIMS_QUALITY_{D2}.md").read_text()
    assert "no product_catalog changes landed" in report


def test_strict_setting_fails_the_gate(lake):
    strict = _settings(lake["base"], DIMS_REQUIRE_DAILY_PARTITION="true")
    assert strict.dims.require_daily_partition is True
    rc, result = validate_dims(strict, D3, run_id="miss3")
    assert result.overall_status.value == "FAIL" and rc == 0  # local, not enforcing
    assert {c.table for c in result.checks if c.name == "changes_landed" and c.status.value == "FAIL"} == {
        "customer_snapshot",
        "product_catalog",
    }
    rc, _ = validate_dims(strict, D3, run_id="miss3e", enforce=True)
    assert rc == 1


def test_strict_setting_refuses_the_day_with_exit_2(lake):
    base = lake["base"]
    write_bronze(base / "bronze", "customers", D4, [customer("CUST-D", D4, n=1)])  # no product_catalog on day 4
    strict = _settings(base, DIMS_REQUIRE_DAILY_PARTITION="true")
    with pytest.raises(InputError, match="dims.require_daily_partition is true"):
        run_dims(strict, D4)
    for args in (["dim", "run", "--run-date", D4], ["local", "dims", "--date", D4]):
        r = run_cli(args, base, {"DIMS_REQUIRE_DAILY_PARTITION": "1"})
        assert r.returncode == 2, r.stdout + r.stderr
        expected = (
            f"error: no Bronze product_catalog partition for {D4} (looked in "
            f"{base / 'bronze' / 'product_catalog' / f'ingest_dt={D4}'}) and dims.require_daily_partition is true; "
            "land the partition (an empty one when nothing changed) or set DIMS_REQUIRE_DAILY_PARTITION=false "
            "to carry the previous snapshot forward"
        )
        assert r.stderr.strip().splitlines() == [expected]
    assert not (base / "dims" / "customer_snapshot" / f"snapshot_dt={D4}").exists()
    assert not (base / "silver" / "customers" / f"ingest_dt={D4}").exists()
