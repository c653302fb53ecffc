"""Dims snapshots: point in time, incremental, one row per key, sentinel rows, _latest.json, gate.

Three days of hand-made dims Bronze; customer CUST-A changes tier on day 3 and product 11 changes
price on day 2. One dims run per day (module-scoped).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_base_silver_support import customer, product, write_bronze

from ecomlake.config import load_settings
from ecomlake.dims.snapshot import check_history, pending_dates, run_dims
from ecomlake.dims.validate import validate_dims
from ecomlake.errors import InputError

REPO = Path(__file__).resolve().parents[2]
ECOMLAKE = str(Path(sys.executable).with_name("ecomlake"))
D1, D2, D3 = "2023-01-01", "2023-01-02", "2023-01-03"
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


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("dims")
    b = base / "bronze"
    write_bronze(b, "customers", D1, [customer("CUST-A", D1, tier="bronze", n=1), customer("CUST-B", D1, n=2)])
    write_bronze(b, "product_catalog", D1, [product(11, D1, price=20.0, n=1), product(12, D1, n=2)])
    # day 2: a new customer, and two versions of product 11 the same day (the later one wins)
    write_bronze(
        b, "customers", D2, [customer("CUST-C", D2, n=1), {**customer("CUST-D", D2, n=2), "customer_id": "None"}]
    )
    write_bronze(
        b,
        "product_catalog",
        D2,
        [
            product(
                11,
                D2,
                price=25.0,
                n=1,
            ),
            product(11, D2, price=30.0, n=5),
        ],
    )
    # day 3: CUST-A moves to gold; a quiet day for products (empty partition)
    write_bronze(b, "customers", D3, [customer("CUST-A", D3, tier="gold", n=1)])
    write_bronze(b, "product_catalog", D3, [])
    settings = _settings(base)
    runs = {d: run_dims(settings, d) for d in (D1, D2, D3)}
    return {"base": base, "settings": settings, "runs": runs}


def snap(base: Path, name: str, day: str) -> dict:
    rows = pq.read_table(base / "dims" / name / f"snapshot_dt={day}").to_pylist()
    key = "customer_id" if name == "customer_snapshot" else "product_id"
    return {r[key]: r for r in rows}


def test_snapshots_are_point_in_time(lake):
    base = lake["base"]
    assert snap(base, "customer_snapshot", D2)["CUST-A"]["loyalty_tier"] == "bronze"  # old tier before day 3
    assert snap(base, "customer_snapshot", D3)["CUST-A"]["loyalty_tier"] == "gold"
    assert "CUST-C" not in snap(base, "customer_snapshot", D1)
    assert str(snap(base, "product_catalog", D1)[11]["unit_price"]) == "20.00"
    assert str(snap(base, "product_catalog", D2)[11]["unit_price"]) == "30.00"  # latest version of the day
    assert str(snap(base, "product_catalog", D3)[11]["unit_price"]) == "30.00"  # carried forward on a quiet day


def test_one_row_per_key_with_sentinels(lake):
    base = lake["base"]
    c3 = pq.read_table(base / "dims" / "customer_snapshot" / f"snapshot_dt={D3}")
    ids = c3.column("customer_id").to_pylist()
    assert sorted(ids) == ["CUST-A", "CUST-B", "CUST-C", "UNKNOWN"]  # null-key change quarantined, not merged
    p3 = snap(base, "product_catalog", D3)
    assert sorted(p3) == [-1, 11, 12] and p3[-1]["product_name"] == "UNKNOWN"
    # the null-key customer went to quarantine of day 2
    q = pq.read_table(base / "silver" / "quarantine" / "customers" / f"ingest_dt={D2}").to_pylist()
    assert [r["_quarantine_reason"] for r in q] == ["null_customer_id"]


def test_latest_json_points_at_newest_snapshot(lake):
    latest = json.loads((lake["base"] / "dims" / "_latest.json").read_text())
    assert latest["snapshot_dt"] == D3
    assert latest["run_id"] == lake["runs"][D3].run_id
    assert latest["tables"] == {"customer_snapshot": 4, "product_catalog": 3}
    assert latest["published_at"]


def test_incremental_merge_reads_only_previous_snapshot(lake):
    run = lake["runs"][D3]
    assert run.previous == {"customer_snapshot": D2, "product_catalog": D2}
    assert run.changes == {"customer_snapshot": 1, "product_catalog": 0}


def test_missing_earlier_snapshot_says_what_to_run(lake, tmp_path):
    base = tmp_path / "gap"
    shutil.copytree(lake["base"] / "bronze", base / "bronze")
    settings = _settings(base)
    with pytest.raises(InputError) as err:
        check_history(settings, D3)  # no snapshot for day 1 or 2, but their changes exist
    assert f"ecomlake local dims --date {D1}" in err.value.message
    assert pending_dates(settings) == [D1, D2, D3]


def test_dim_validate_passes_and_writes_metrics_and_report(lake):
    rc, result = validate_dims(lake["settings"], D3, enforce=True, run_id="v1")
    assert rc == 0 and result.overall_status.value == "PASS"
    metrics = json.loads((lake["base"] / "metrics" / "dims_quality_v1.json").read_text())
    assert {m["table_name"] for m in metrics["table_metrics"]} == {"customer_snapshot", "product_catalog"}
    assert (lake["base"] / "reports" / f"DIMS_QUALITY_{D3}.md").exists()


def _copy_dims(lake, tmp_path) -> Path:
    base = tmp_path / "copy"
    shutil.copytree(lake["base"] / "dims", base / "dims")
    return base


def test_dim_validate_fails_on_shrink_duplicates_and_missing(lake, tmp_path):
    base = _copy_dims(lake, tmp_path)
    part = base / "dims" / "customer_snapshot" / f"snapshot_dt={D3}" / "part-0000.parquet"
    t = pq.read_table(part)
    pq.write_table(t.slice(0, 2), part)  # 4 -> 2 rows: 50% shrink (limit 5%)
    ppart = base / "dims" / "product_catalog" / f"snapshot_dt={D3}" / "part-0000.parquet"
    pt = pq.read_table(ppart)
    pq.write_table(pa.concat_tables([pt, pt.slice(0, 1)]), ppart)  # a duplicate key
    settings = _settings(base)
    rc, result = validate_dims(settings, D3, enforce=True, run_id="v2")
    assert rc == 1
    failed = {(c.table, c.name) for c in result.checks if c.status.value == "FAIL"}
    assert ("customer_snapshot", "row_count_not_shrinking") in failed
    assert ("product_catalog", "pk_unique") in failed
    rc, _ = validate_dims(settings, D3, enforce=False, run_id="v3")
    assert rc == 0  # FAIL without --enforce in local
    rc, result = validate_dims(settings, "2023-02-01", enforce=True, run_id="v4")
    assert rc == 1 and {c.name for c in result.checks if c.status.value == "FAIL"} == {"snapshot_present"}


def test_dim_validate_cli_exit_codes(lake, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        **_env(lake["base"]),
        "REPORTS_BASE_PATH": str(tmp_path / "r"),
        "METRICS_BASE_PATH": str(tmp_path / "m"),
        "ECOM_CONFIG_PATH": str(REPO / "config" / "config.yml"),
    }
    ok = subprocess.run(
        [ECOMLAKE, "dim", "validate", "--run-date", D3, "--enforce"], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [ECOMLAKE, "dim", "validate", "--run-date", "2023-03-01", "--env", "prod"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    nopath = subprocess.run(
        [ECOMLAKE, "dim", "validate", "--run-date", D3, "--dims-path", str(tmp_path / "none")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert nopath.returncode == 2
    assert nopath.stderr.strip().count("\n") == 0 and nopath.stderr.startswith("error: dims path not found")
    report = tmp_path / "custom.md"
    subprocess.run(
        [ECOMLAKE, "dim", "validate", "--run-date", D3, "--output-report", str(report)],
        env=env,
        check=True,
        capture_output=True,
    )
    assert "Dims Snapshot Quality Report" in report.read_text()


def test_silver_without_dims_stops_before_dbt_with_one_line(tmp_path):
    base = tmp_path / "nodims"
    write_bronze(base / "bronze", "orders", D1, [])
    env = {"PATH": "/usr/bin:/bin", **_env(base), "ECOM_CONFIG_PATH": str(REPO / "config" / "config.yml")}
    proc = subprocess.run(
        [ECOMLAKE, "local", "silver", "--date", D1], env=env, capture_output=True, text=True, cwd=str(tmp_path)
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `ecomlake local dims` first" in lines[0]
    assert not (base / "work").exists() or not list((base / "work").glob("silver_*"))  # dbt never started
