"""`ecomlake promote dims|silver|enriched`: a staging-mode run of each layer, staged by the real
layer run, gated where the gate reads staging, promoted, then promoted again (a no-op)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import silver_fixtures as sf
from conftest import REAL_LAKE_DATE as D
from enriched_fixtures import DAYS, Lake, fill_small_lake

from ecomlake import locks
from ecomlake.errors import InputError
from ecomlake.promote import promote, record_path

pytestmark = pytest.mark.slow


def _manifest_run(part: Path) -> str:
    return json.loads((part / "_manifest.json").read_text())["run_id"]


def test_dims_staged_then_promoted_moves_latest_and_twice_is_a_noop(tmp_path):
    from ecomlake.dims.snapshot import run_dims

    base = tmp_path / "lake"
    for t in ("customers", "product_catalog"):
        sf.write_bronze(str(base / "bronze"), t, D, sf.bronze_rows(t, 5, D))
    settings = sf.settings_for(base, **{"publish.dims_publish_mode": "staging"})
    run_dims(settings, D, run_id="dims_stg")
    snap = base / "dims" / "customer_snapshot" / f"snapshot_dt={D}"
    assert not snap.exists() and not (base / "dims" / "_latest.json").exists()  # nothing live before promote
    assert (base / "dims" / "_staging" / "dims_stg" / "_pending.json").exists()
    from ecomlake.dims.validate import validate_dims

    code, gate = validate_dims(settings, D, run_id="dims_stg")  # the gate judges what is staged
    assert code == 0 and gate.overall_status.value == "PASS" and gate.parameters["staged_partitions"] == 2
    assert {m["rows"] for m in gate.table_metrics} == {6}

    first = promote(settings, "dims", "dims_stg")
    assert first.status == "promoted" and first.day == D
    assert sorted(first.partitions) == [
        f"customer_snapshot/snapshot_dt={D}",
        f"product_catalog/snapshot_dt={D}",
    ]
    assert _manifest_run(snap) == "dims_stg"
    latest = json.loads((base / "dims" / "_latest.json").read_text())
    assert latest["snapshot_dt"] == D and latest["run_id"] == "dims_stg"
    assert latest["tables"] == {"customer_snapshot": 6, "product_catalog": 6}  # 5 + the sentinel row
    assert not (base / "dims" / "_staging").exists()

    again = promote(settings, "dims", "dims_stg")
    assert again.status == "already promoted" and again.noop
    assert "was already promoted at" in again.message and "nothing to do" in again.message
    assert _manifest_run(snap) == "dims_stg"

    # A promote killed after its publish, before `_latest.json` moved: the next promote finishes it.
    rec = Path(record_path(settings, "dims", "dims_stg"))
    rec.write_text(json.dumps({**json.loads(rec.read_text()), "status": "promoting"}))
    (base / "dims" / "_latest.json").unlink()
    finished = promote(settings, "dims", "dims_stg")
    assert finished.status == "promoted"
    assert json.loads((base / "dims" / "_latest.json").read_text())["run_id"] == "dims_stg"


def test_silver_staged_gated_then_promoted_and_twice_is_a_noop(real_lake, tmp_path):
    from ecomlake.contract import FACT_TABLES
    from ecomlake.silver.run import run_tables
    from ecomlake.silver.validate import validate_silver

    base = Path(shutil.copytree(real_lake, tmp_path / "lake"))
    settings = sf.settings_for(base, **{"publish.silver_publish_mode": "staging"})
    orders = base / "silver" / "orders" / f"ingest_dt={D}"
    quarantine = base / "silver" / "quarantine" / "orders" / f"ingest_dt={D}"
    before = _manifest_run(orders)
    run = run_tables(settings, D, "facts", run_id="silver_stg")
    assert run.publish_mode == "staging" and _manifest_run(orders) == before
    rc, gate = validate_silver(settings, partition_date=D, tables=list(FACT_TABLES), run_id="silver_stg")
    # The gate judged the staged partitions (silver + quarantine per table), i.e. this run's counts.
    assert rc == 0 and gate.parameters["staged_partitions"] == 2 * len(FACT_TABLES)
    judged = {m["table_name"]: m["silver_rows"] for m in gate.table_metrics}
    assert judged["orders"] == run.table("orders").silver_rows

    done = promote(settings, "silver", "silver_stg")
    assert done.status == "promoted" and done.day == D and len(done.partitions) == 2 * len(FACT_TABLES)
    assert _manifest_run(orders) == "silver_stg" and _manifest_run(quarantine) == "silver_stg"
    assert json.loads((base / "metrics" / "silver_run_silver_stg.json").read_text())["status"] == "published"
    assert not (base / "silver" / "_staging").exists()
    assert not (base / "silver" / "_locks" / f"silver_{D}.lease").exists()  # the lease was released

    again = sf.run_cli(["promote", "silver", "--run-id", "silver_stg"], base)
    assert again.returncode == 0, again.stderr
    assert "silver run silver_stg was already promoted at" in again.stdout and "nothing to do" in again.stdout
    assert _manifest_run(orders) == "silver_stg"


def test_enriched_staged_gated_then_promoted_moves_current_and_twice_is_a_noop(tmp_path):
    from ecomlake.enriched.current import read_current
    from ecomlake.enriched.runner import run_enriched
    from ecomlake.enriched.validate import validate_enriched

    lake = Lake(tmp_path)
    fill_small_lake(lake)
    settings = lake.settings(ENRICHED_PUBLISH_MODE="staging")
    run_enriched(settings, DAYS[0], run_id="enr_stg")
    assert read_current(settings) is None and not (lake.enriched / "int_customer_lifetime_value").exists()
    code, gate = validate_enriched(settings, ingest_dt=DAYS[0], run_id="enr_stg", enforce=True)
    assert code == 0 and gate.overall_status.value == "PASS"

    done = promote(settings, "enriched", "enr_stg")
    assert done.status == "promoted" and done.day == DAYS[0]
    assert f"{DAYS[0]} is current" in done.message
    assert read_current(settings)["run_id"] == "enr_stg"
    assert (lake.enriched / "int_customer_lifetime_value" / "_latest.parquet").exists()

    # The CLI alias promotes the same way, and says it has nothing to do.
    again = sf.run_cli(["enriched", "promote", "--run-id", "enr_stg"], tmp_path, lake.env())
    assert again.returncode == 0, again.stderr
    assert "enriched run enr_stg was already promoted at" in again.stdout


def test_promote_without_a_staged_run_is_exit_2_with_one_line(tmp_path):
    r = sf.run_cli(["promote", "dims", "--run-id", "nope"], tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: nothing staged for dims run nope under ") and r.stderr.count("\n") == 1
    r = sf.run_cli(["promote", "silver", "--run-id", "../x"], tmp_path)
    assert r.returncode == 2 and "run id" in r.stderr
    with pytest.raises(InputError, match="unknown layer 'gold'"):
        promote(sf.settings_for(tmp_path), "gold", "r1")


def test_promote_waits_for_the_layers_writer(tmp_path):
    """The dims promote takes the dims lease: while a writer holds it, exit 2 naming the holder."""
    base = tmp_path / "lake"
    for t in ("customers", "product_catalog"):
        sf.write_bronze(str(base / "bronze"), t, D, sf.bronze_rows(t, 3, D))
    settings = sf.settings_for(base, **{"publish.dims_publish_mode": "staging"})
    from ecomlake.dims.snapshot import publish_snapshots
    from ecomlake.silver.run import run_tables

    run_tables(settings, D, "dims", run_id="dims_base")
    publish_snapshots(settings, D, "dims_held")  # staged only
    with locks.lease(str(base / "dims"), "dims", locks.ALL, "other_writer"):
        r = sf.run_cli(["promote", "dims", "--run-id", "dims_held"], base, {"DIMS_PUBLISH_MODE": "staging"})
    assert r.returncode == 2 and "dims all is being written by run other_writer" in r.stderr
    assert not (base / "dims" / "customer_snapshot").exists()
    r = sf.run_cli(["promote", "dims", "--run-id", "dims_held"], base)
    assert r.returncode == 0 and "dims run dims_held: 2 partitions published" in r.stdout, r.stderr
