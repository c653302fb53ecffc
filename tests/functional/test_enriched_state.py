"""Incremental state, reruns and backfills: the same answer whichever way a day is computed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from enriched_fixtures import DAYS, Lake, order
from enriched_fixtures import fill_small_lake as _fill

from ecomlake.enriched.runner import run_enriched
from ecomlake.transforms.schemas import TABLE_NAMES


def _files(root: Path, tables=TABLE_NAMES, partition: str | None = None) -> dict[str, bytes]:
    out = {}
    for t in tables:
        base = root / t
        if not base.exists():
            continue
        for f in sorted(base.glob(f"{partition or '*'}/*.parquet")):
            out[str(f.relative_to(root))] = f.read_bytes()
    return out


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    inc = Lake(tmp_path_factory.mktemp("incremental"))
    _fill(inc)
    results = [run_enriched(inc.settings(), d, run_id=f"inc_{d}") for d in DAYS]
    full = Lake(tmp_path_factory.mktemp("full"))
    shutil.copytree(inc.silver, full.silver)
    shutil.copytree(inc.dims, full.dims)
    full_result = run_enriched(full.settings(), DAYS[-1], run_id="full")
    return inc, results, full, full_result


def test_incremental_state_equals_full_recomputation(lakes):
    inc, results, full, full_result = lakes
    assert [r.states["customer_orders"]["mode"] for r in results] == [
        "full",
        "incremental",
        "incremental",
        "incremental",
    ]
    assert full_result.states == {
        k: {**v, "mode": "full", "base_state_dt": None} for k, v in results[-1].states.items()
    }
    snap = ["int_customer_lifetime_value", "int_customer_retention_signals", "int_inventory_risk"]
    a = _files(inc.enriched, snap, "ingest_dt=2023-01-04")
    b = _files(full.enriched, snap, "ingest_dt=2023-01-04")
    assert len(a) == 3 and a == b
    for name in ("customer_orders", "product_daily"):
        sa = _files(inc.enriched / "_state", [name], "ingest_dt=2023-01-04")
        sb = _files(full.enriched / "_state", [name], "ingest_dt=2023-01-04")
        assert sa and sa == sb
    # The late order (arrived day 3 for day 1) is in the lifetime totals exactly once.
    c4 = {r["customer_id"]: r for r in inc.read("int_customer_lifetime_value", "ingest_dt=2023-01-04")}["C4"]
    assert (c4["order_count"], str(c4["total_spent"]), str(c4["first_order_date"])) == (1, "77.00", "2023-01-01")


def test_business_date_partitions_match_full_run(lakes):
    inc, _, full, full_result = lakes
    for run in full_result.tables:
        if run.partition_key == "ingest_dt":
            continue
        for part in run.partitions:
            p = f"{run.partition_key}={part}"
            assert _files(inc.enriched, [run.table], p) == _files(full.enriched, [run.table], p), (run.table, p)


def test_late_order_rewrites_its_own_day(lakes):
    inc, results, _, _ = lakes
    assert "2023-01-01" in results[2].table("int_shipping_economics").partitions
    rows = inc.read("int_shipping_economics", "order_dt=2023-01-01")
    assert {r["order_id"] for r in rows} == {"O11", "O12", "O13", "LATE"}  # never half a day


def test_rerun_is_byte_identical_and_backfill_matches(lakes, tmp_path):
    inc, _, _, _ = lakes
    before = _files(inc.enriched)
    day2 = _files(inc.enriched, ["int_customer_lifetime_value", "int_inventory_risk"], "ingest_dt=2023-01-02")
    run_enriched(inc.settings(), "2023-01-04", run_id="rerun_4")
    assert _files(inc.enriched) == before
    # Backfilling day 2 after days 3 and 4 exist gives what day 2 gave on the day.
    run_enriched(inc.settings(), "2023-01-02", run_id="backfill_2")
    assert _files(inc.enriched, ["int_customer_lifetime_value", "int_inventory_risk"], "ingest_dt=2023-01-02") == day2


def test_rerun_leaves_no_stale_part_files(tmp_path):
    lake = Lake(tmp_path)
    _fill(lake)
    run_enriched(lake.settings(overrides={"enriched.max_rows_per_file": 2}), "2023-01-01", run_id="small")
    clv = lake.enriched / "int_customer_lifetime_value" / "ingest_dt=2023-01-01"
    assert sorted(p.name for p in clv.glob("*.parquet")) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert len(lake.read("int_customer_lifetime_value")) == 6  # 5 customers + UNKNOWN, 2 per file
    run_enriched(lake.settings(), "2023-01-01", run_id="big")
    assert sorted(p.name for p in clv.glob("*.parquet")) == ["part-00000.parquet"]
    assert len(lake.read("int_customer_lifetime_value")) == 6
    assert not (lake.enriched / "_staging").exists()


def test_changed_silver_history_forces_full_state(tmp_path):
    lake = Lake(tmp_path)
    _fill(lake)
    for d in DAYS[:2]:
        run_enriched(lake.settings(), d, run_id=f"r_{d}")
    # A repaired row is published into the old partition of day 1 (as quarantine recovery does).
    lake.write_silver("orders", "2023-01-01", [order("FIX", "C5", "2023-01-01T15:00:00", 40)], part=1)
    result = run_enriched(lake.settings(), "2023-01-03", run_id="r_3")
    assert result.states["customer_orders"]["mode"] == "full"
    assert any("recomputing from full history" in w for w in result.warnings)
    c5 = {r["customer_id"]: r for r in lake.read("int_customer_lifetime_value", "ingest_dt=2023-01-03")}["C5"]
    assert (c5["order_count"], str(c5["total_spent"])) == (1, "40.00")


def test_republished_partition_of_the_same_size_forces_full_state(tmp_path):
    """The state's fingerprint uses the manifests' sha256 per file, not names and sizes."""
    import os

    import pyarrow.parquet as pq

    from ecomlake import storage

    lake = Lake(tmp_path)
    _fill(lake)
    part = lake.silver / "orders" / "ingest_dt=2023-01-01"
    original = pq.read_table(part / "part-0000.parquet")

    def republish(rows, run_id: str) -> None:
        staged = storage.staging_path(str(lake.silver), run_id, "orders", "ingest_dt=2023-01-01")
        os.makedirs(staged)
        pq.write_table(rows, f"{staged}/part-0000.parquet")
        storage.publish(
            str(lake.silver), run_id, [storage.Publish(staged, str(part), "orders", "ingest_dt=2023-01-01")]
        )
        storage.release_staging(str(lake.silver), run_id)

    republish(original, "v1")  # as Base Silver publishes it: with a manifest
    for d in DAYS[:2]:
        run_enriched(lake.settings(), d, run_id=f"r_{d}")
    size_before = (part / "part-0000.parquet").stat().st_size
    # The same file name and size, other content: orders O11 and O12 swap customers.
    ids = original.column("customer_id").to_pylist()
    i = original.schema.get_field_index("customer_id")
    swapped = original.set_column(i, original.schema.field(i), [[ids[1], ids[0], *ids[2:]]])
    republish(swapped, "v2")
    assert (part / "part-0000.parquet").stat().st_size == size_before
    assert swapped.column("customer_id").to_pylist() != ids
    result = run_enriched(lake.settings(), "2023-01-03", run_id="r_3")
    assert result.states["customer_orders"]["mode"] == "full"
    assert any("Silver partitions changed since it was built" in w for w in result.warnings)
    # C1's first order is now O12 (12.00), not O11 (11.00): the stale state would have kept 11.00.
    c1 = {r["customer_id"]: r for r in lake.read("int_customer_lifetime_value", "ingest_dt=2023-01-03")}["C1"]
    assert (c1["order_count"], str(c1["total_spent"])) == (3, "64.00")  # 12 + 21 + 31
