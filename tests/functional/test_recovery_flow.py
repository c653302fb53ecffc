"""Recovered rows flow downstream, and nothing undoes a recovery.

- Enriched: the next run recomputes every business date the recovered rows touch (it finds them in
  the recovery ledger in the lake), once; a later run does not redo them.
- Base Silver: a rerun of D re-reads Bronze and re-applies every recorded recovery of D, or skips one
  whose rows Bronze no longer quarantines (it was fixed at the source), and says so.
- Dims: recovered customers reach the snapshot of D and every later snapshot; a rerun of the dims
  of D keeps them.
- A recover and a silver run of the same date exclude each other (two real processes).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import silver_fixtures as sf
from enriched_fixtures import DAYS, Lake, fill_small_lake, order
from test_base_silver_support import customer, product, write_bronze

from ecomlake import storage
from ecomlake.config import load_settings
from ecomlake.enriched.runner import run_enriched
from ecomlake.quarantine import ledger
from ecomlake.quarantine.recover import recover_quarantine
from ecomlake.silver.validate import validate_silver

pytestmark = pytest.mark.slow

D = "2023-01-01"
RECOVER = ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--fill", "customer_id=UNKNOWN"]
RECOVER += ["--reason", "null_customer_id"]


# ------------------------------------------------------------------------------ Enriched (no dbt)


def _record_recovery(lake: Lake, run_id: str, rows: list[dict], day: str) -> None:
    """What `quarantine recover` leaves in the lake: the rows in Silver D and a ledger entry."""
    path = lake.write_silver("orders", day, rows, part=9)
    settings = lake.settings()
    entry = {"run_id": run_id, "recovered_at": "2023-01-05T00:00:00+00:00", "moved": len(rows), "kept": 0}
    pub = ledger.stage(settings, run_id, "orders", day, entry, pq.read_table(path), ["x" * 64] * len(rows), None)
    storage.publish(settings.paths.silver_base_path, run_id, [pub])
    storage.release_staging(settings.paths.silver_base_path, run_id)


def _shipping(lake: Lake, day: str) -> set[str]:
    return {r["order_id"] for r in lake.read("int_shipping_economics", f"order_dt={day}")}


def test_next_enriched_run_recomputes_the_business_dates_a_recovery_touched(tmp_path):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    for d in DAYS[:3]:
        run_enriched(lake.settings(), d, run_id=f"r_{d}")
    assert _shipping(lake, "2023-01-01") == {"O11", "O12", "O13", "LATE"}
    metrics_before = lake.read("int_daily_business_metrics", "metric_dt=2023-01-01")[0]

    # An order of day 1 is recovered after day 3 was built.
    _record_recovery(lake, "recA", [order("FIX", "C5", "2023-01-01T15:00:00", 40)], "2023-01-01")
    r4 = run_enriched(lake.settings(), DAYS[3], run_id="r_4")
    assert r4.recoveries_applied == [["orders", "2023-01-01", "recA"]]
    assert "2023-01-01" in r4.table("int_shipping_economics").partitions  # D4's own arrivals never touch day 1
    assert _shipping(lake, "2023-01-01") == {"O11", "O12", "O13", "LATE", "FIX"}
    metrics = lake.read("int_daily_business_metrics", "metric_dt=2023-01-01")[0]
    assert metrics["orders_count"] == metrics_before["orders_count"] + 1
    c5 = {r["customer_id"]: r for r in lake.read("int_customer_lifetime_value", "ingest_dt=2023-01-04")}["C5"]
    assert (c5["order_count"], str(c5["total_spent"])) == (1, "40.00")
    record = json.loads((lake.metrics / "enriched_run_r_4.json").read_text())
    assert record["recoveries_applied"] == [["orders", "2023-01-01", "recA"]]
    # What Enriched has applied is kept in the lake, published with the run's tables.
    applied = pq.read_table(lake.enriched / "_state" / "recoveries" / "ingest_dt=2023-01-04").to_pylist()
    assert applied == [{"table": "orders", "ingest_dt": "2023-01-01", "recovery_run_id": "recA"}]

    # A later run does not recompute day 1 again.
    lake.write_day("2023-01-05")
    for name in ("customer_snapshot", "product_catalog"):
        shutil.copytree(lake.dims / name / "snapshot_dt=2023-01-04", lake.dims / name / "snapshot_dt=2023-01-05")
    r5 = run_enriched(lake.settings(), "2023-01-05", run_id="r_5")
    assert r5.recoveries_applied == []
    assert "2023-01-01" not in r5.table("int_shipping_economics").partitions
    assert _shipping(lake, "2023-01-01") == {"O11", "O12", "O13", "LATE", "FIX"}


# -------------------------------------------------------------------- Base Silver (real pipeline)


@pytest.fixture
def lake(real_lake, tmp_path) -> Path:
    dst = tmp_path / "lake"
    shutil.copytree(real_lake, dst)  # conftest.py: the real lake, built once per worker
    return dst


def _rows(base: Path, table: str, quarantine: bool = False) -> list[dict]:
    root = base / "silver" / ("quarantine" if quarantine else "") / table / f"ingest_dt={D}"
    tables = [pq.read_table(f) for f in sorted(root.glob("*.parquet"))]
    return pa.concat_tables(tables, promote_options="permissive").to_pylist()


def _without(rows: list[dict], *cols: str) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k not in cols}, default=str, sort_keys=True) for r in rows)


def test_rerun_of_silver_reapplies_recorded_recoveries(lake):
    r = sf.run_cli([*RECOVER, "--run-id", "rec1"], lake)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        f"recovery ledger: {lake / 'silver' / 'quarantine' / '_recoveries' / 'orders' / f'ingest_dt={D}'}" in r.stdout
    )
    recovered = {t: (_rows(lake, t), _rows(lake, t, quarantine=True)) for t in ("orders",)}
    entries = ledger.entries(sf.settings_for(lake), "orders", D)
    assert [(e["run_id"], e["moved"], e["kept"]) for e in entries] == [("rec1", 2, 2)]

    rerun = sf.run_cli(["local", "silver", "--date", D], lake)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "orders: re-applied 1 recorded recovery (2 rows back in Silver)" in rerun.stdout
    silver, quarantine = _rows(lake, "orders"), _rows(lake, "orders", quarantine=True)
    assert len(silver) == 19 and len(quarantine) == 2  # not 17 + 4, as Bronze alone gives
    # The same rows as after the recovery; only the rerun's own run id and timestamps differ.
    assert _without(silver, "_run_id") == _without(recovered["orders"][0], "_run_id")
    moved = [row for row in silver if row["order_id"] in ("ORD-0", "ORD-1")]
    assert {(row["customer_id"], row["_run_id"]) for row in moved} == {("UNKNOWN", "rec1")}
    assert _without(quarantine, "_quarantine_timestamp", "_run_id") == _without(
        recovered["orders"][1], "_quarantine_timestamp", "_run_id"
    )
    ledger_run = json.loads(next((lake / "metrics").glob("silver_run_*.json")).read_text())
    assert ledger_run["tables"]["orders"]["recoveries"] == {"applied": ["rec1"], "skipped": {}, "rows_moved": 2}
    # The Silver gate agrees: every Bronze row in exactly one of silver or quarantine.
    _, gate = validate_silver(sf.settings_for(lake), partition_date=D, tables="orders", echo=False)
    assert gate.table_metrics[0]["conservation"] == {
        "ok": True,
        "bronze": 21,
        "silver": 19,
        "quarantine": 2,
        "difference": 0,
    }


def test_rerun_after_bronze_was_fixed_skips_the_recovery_and_says_so(lake):
    assert sf.run_cli([*RECOVER, "--run-id", "rec1"], lake).returncode == 0
    # Upstream fixes ORD-0 and ORD-1 at the source: Bronze now carries their real customer ids.
    bronze = lake / "bronze" / "orders" / f"ingest_dt={D}"
    t = pq.read_table(bronze / "part-0000.parquet")
    ids = t.column("customer_id").to_pylist()
    fixed = [
        "CUST-0" if oid == "ORD-0" else "CUST-1" if oid == "ORD-1" else c
        for oid, c in zip(t.column("order_id").to_pylist(), ids, strict=True)
    ]
    sf.write_bronze(str(lake / "bronze"), "orders", D, sf.set_column(t, "customer_id", fixed))
    rerun = sf.run_cli(["local", "silver", "--date", D], lake)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "warning: orders: recovery rec1 not re-applied: 2 of its 4 rows are no longer in quarantine" in rerun.stdout
    silver = {row["order_id"]: row for row in _rows(lake, "orders")}
    assert len(silver) == 19 and (silver["ORD-0"]["customer_id"], silver["ORD-1"]["customer_id"]) == (
        "CUST-0",
        "CUST-1",
    )
    assert sorted(row["order_id"] for row in _rows(lake, "orders", quarantine=True)) == ["ORD-2", "ORD-5"]


def _wait_stopped(pid: int) -> None:
    """Until the process has stopped itself (SIGSTOP at its fault point); a bound, not a timing check."""
    for _ in range(6000):
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never reached its stop point")


def _popen_cli(args: list[str], base: Path, extra: dict) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_ENV", "MAX_QUARANTINE_RATE", "SILVER_QUARANTINE_PATH", "RUN_ID", "ECOMLAKE_FAULT")
    }
    env.update(sf.paths_env(base), ECOM_CONFIG_PATH=sf.CONFIG, **extra)
    return subprocess.Popen(
        [sys.executable, "-m", "ecomlake", *args],
        env=env,
        cwd=str(base),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _tree(base: Path) -> dict[str, bytes]:
    root = base / "silver"
    return {
        str(f.relative_to(root)): f.read_bytes()
        for f in sorted(root.rglob("*"))
        if f.is_file() and f.relative_to(root).parts[0] not in ("_staging", "_locks")
    }


@pytest.mark.parametrize("holder", ["silver", "recover"])
def test_recover_and_silver_run_of_one_date_exclude_each_other(lake, holder):
    first, second = (
        (["local", "silver", "--date", D], RECOVER)
        if holder == "silver"
        else (RECOVER, ["local", "silver", "--date", D])
    )
    proc = _popen_cli(first, lake, {"RUN_ID": "holder_run", "ECOMLAKE_FAULT": "stop:before_staging"})
    try:
        _wait_stopped(proc.pid)
        before = _tree(lake)
        r = sf.run_cli(second, lake, {"RUN_ID": "second_run"})
        assert r.returncode == 2
        errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 1 and errors[0].startswith(
            f"error: silver {D} is being written by run holder_run (host {socket.gethostname()}, pid {proc.pid}, since "
        ), r.stderr
        assert _tree(lake) == before  # the second writer changed nothing
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the holder dies holding its lease
        proc.communicate(timeout=600)
    if holder == "silver":
        # The next writer breaks the dead holder's lease (its pid is gone) and runs.
        r = sf.run_cli(second, lake)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "moved 2 to silver" in r.stdout


# ----------------------------------------------------------------------------------------- dims


def test_recovered_customers_reach_the_snapshot_of_d_and_every_later_one(tmp_path):
    env = {
        "BRONZE_BASE_PATH": str(tmp_path / "bronze"),
        "SILVER_BASE_PATH": str(tmp_path / "silver"),
        "SILVER_DIMS_PATH": str(tmp_path / "dims"),
        "METRICS_BASE_PATH": str(tmp_path / "metrics"),
        "REPORTS_BASE_PATH": str(tmp_path / "reports"),
        "ECOM_WORK_PATH": str(tmp_path / "work"),
    }
    settings = load_settings(sf.CONFIG, env=env)
    d1, d2 = "2023-01-01", "2023-01-02"
    b = tmp_path / "bronze"
    write_bronze(b, "customers", d1, [customer("CUST-A", d1, n=1), {**customer("CUST-B", d1, n=2), "email": None}])
    write_bronze(b, "product_catalog", d1, [product(11, d1, n=1)])
    write_bronze(b, "customers", d2, [customer("CUST-C", d2, n=1)])
    write_bronze(b, "product_catalog", d2, [product(12, d2, n=1)])
    from ecomlake.dims.snapshot import run_dims

    for d in (d1, d2):
        run_dims(settings, d)

    def snapshot(day: str) -> list[str]:
        t = pq.read_table(tmp_path / "dims" / "customer_snapshot" / f"snapshot_dt={day}")
        return sorted(t.column("customer_id").to_pylist())

    assert snapshot(d1) == ["CUST-A", "UNKNOWN"] and snapshot(d2) == ["CUST-A", "CUST-C", "UNKNOWN"]
    r = recover_quarantine(
        settings, table="customers", ingest_dt=d1, fills=["email=b@example.com"], reason="null_email"
    )
    assert (r["moved"], r["dims_refreshed"]) == (1, [d1, d2])
    assert snapshot(d1) == ["CUST-A", "CUST-B", "UNKNOWN"]
    assert snapshot(d2) == ["CUST-A", "CUST-B", "CUST-C", "UNKNOWN"]
    latest = json.loads((tmp_path / "dims" / "_latest.json").read_text())
    assert latest["snapshot_dt"] == d2
    # A rerun of the dims of day 1 keeps the recovered customer (re-applied from the ledger).
    run_dims(settings, d1)
    assert snapshot(d1) == ["CUST-A", "CUST-B", "UNKNOWN"]
    silver = pq.read_table(tmp_path / "silver" / "customers" / f"ingest_dt={d1}")
    b_row = silver.filter(pc.equal(silver.column("customer_id"), "CUST-B")).to_pylist()
    assert [row["email"] for row in b_row] == ["b@example.com"]
