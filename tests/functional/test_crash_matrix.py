"""SIGKILL at every step of every layer's publish: dims, Silver + quarantine, Enriched, Gold.

Each layer's real publish code runs in a fresh subprocess that kills itself with SIGKILL
(``ECOMLAKE_FAULT=kill:<point>``: no exception handler, no `finally`, no atexit runs) at each of
`storage.FAULT_POINTS`: before staging, while writing staged files, between verify and swap,
after the journal (the commit point), in the middle of the swap, and after the swap. After each
kill:

1. every live partition is complete (manifest, _SUCCESS, files, checksums and row counts agree)
   and is either its previous version or the new one; none is missing;
2. a reader (which settles first: it finishes a committed publish of a dead run) sees the whole
   previous version or the whole new one, never a mix across partitions;
3. the next run completes, leaves no staging, lease or aside copy behind, and produces exactly
   the rows an uninterrupted run produced.

The layers' inputs are built once per test (the dbt builds, which the kill points follow, are
done once and their warehouses reused), so the whole matrix stays around two minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gold_fixtures as gf
import pyarrow.parquet as pq
import pytest
import silver_fixtures as sf
from enriched_fixtures import DAYS, Lake, fill_small_lake

from ecomlake import locks, storage
from ecomlake.contract import FACT_TABLES
from ecomlake.quarantine.recover import recover_quarantine

pytestmark = pytest.mark.slow

COMMITTED = {"after_journal", "mid_swap", "after_swap"}  # the journal exists: the new version wins
D = "2023-01-01"


# ------------------------------------------------------------------------------------ helpers


def run_py(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID", "SILVER_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def published(root: Path) -> dict[str, dict]:
    """Every published partition under a layer root, checked complete: {relative dir: version}."""
    out = {}
    for manifest in sorted(root.rglob(storage.MANIFEST_NAME)):
        rel = manifest.parent.relative_to(root)
        if rel.parts[0] in (storage.STAGING_DIR, locks.LOCK_DIR):
            continue
        assert ".__old__" not in str(rel), f"an aside copy is visible to readers: {rel}"
        m = json.loads(manifest.read_text())
        pdir = str(manifest.parent)
        files = storage.list_data_files(pdir)
        assert (manifest.parent / storage.SUCCESS_NAME).exists(), f"{rel}: no _SUCCESS"
        assert sorted(f["path"] for f in m["files"]) == sorted(f.rsplit("/", 1)[-1] for f in files), rel
        for entry in m["files"]:
            assert storage.sha256_file(f"{pdir}/{entry['path']}") == entry["sha256"], (rel, entry["path"])
        rows = sum(storage.parquet_num_rows(f) for f in files)
        assert rows == m["total_rows"], rel
        out[str(rel)] = {"run_id": m["run_id"], "rows": rows}
    return out


def rows_of(root: Path, partitions) -> dict[str, list]:
    """The rows of each partition, in a canonical order, to compare two lakes row for row."""
    out = {}
    for rel in partitions:
        rows = [r for f in storage.list_data_files(str(root / rel)) for r in pq.ParquetFile(f).read().to_pylist()]
        out[rel] = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)
    return out


def check_kill_matrix(
    lake_for: Callable[[str], Any],
    root_of: Callable[[Any], Path],
    driver: Callable[[Any, str | None], subprocess.CompletedProcess],
    old: dict,
    new: dict,
    reference_rows: dict,
    extra_check: Callable[[Any, str, str], None] | None = None,
) -> None:
    """The three promises above, for every fault point. `extra_check(lake, point, version)` checks
    what lives outside the partitions, with version "raw" (right after the kill: old or new),
    "old" or "new" (what a reader sees), or "final" (after the next run)."""
    for point in storage.FAULT_POINTS:
        lake = lake_for(point)
        root = root_of(lake)
        r = driver(lake, f"kill:{point}")
        assert r.returncode == -9, f"{point}: not killed (rc {r.returncode}): {r.stderr[-2000:]}"
        # 1. Raw tree: every partition complete, each the old or the new version, none missing.
        raw = published(root)
        assert set(old) <= set(raw) <= set(old) | set(new), f"{point}: partitions missing or unknown"
        for rel, v in raw.items():
            assert v in (old.get(rel), new.get(rel)), f"{point}: {rel} is neither version: {v}"
        if extra_check:
            extra_check(lake, point, "raw")
        # 2. A reader settles first: one version everywhere.
        storage.settle(str(root))
        committed = point in COMMITTED
        assert published(root) == ({**old, **new} if committed else old), f"{point}: a reader sees a mix"
        if extra_check:
            extra_check(lake, point, "new" if committed else "old")
        # 3. The next run completes and produces exactly the rows of an uninterrupted run.
        again = driver(lake, None)
        assert again.returncode == 0, f"{point}: next run failed: {again.stderr[-2000:]}"
        after = published(root)
        assert {k: v["rows"] for k, v in after.items()} == {k: v["rows"] for k, v in {**old, **new}.items()}, point
        assert rows_of(root, reference_rows) == reference_rows, f"{point}: rows differ from an uninterrupted run"
        assert not (root / storage.STAGING_DIR).exists(), f"{point}: staging left behind"
        assert not list((root / locks.LOCK_DIR).glob("*.lease")), f"{point}: a lease left behind"
        if extra_check:
            extra_check(lake, point, "final")


# -------------------------------------------------------------------------- Silver + quarantine

SILVER_DRIVER = """
    import sys
    from pathlib import Path
    from ecomlake.config import load_settings
    from ecomlake.silver.run import publish_from_warehouse
    publish_from_warehouse(load_settings(), sys.argv[1], "facts", "new", Path(sys.argv[2]))
"""


def test_sigkill_silver_and_quarantine_publish(tmp_path, real_lake):
    # Real Bronze -> dims -> Base Silver (dbt; conftest.py), one recovery recorded in the ledger (so
    # the rerun re-applies it), then one more run whose warehouse every publish below reuses.
    golden = tmp_path / "golden"
    shutil.copytree(real_lake, golden)
    rec = recover_quarantine(
        sf.settings_for(golden), table="orders", ingest_dt=D, fills=["customer_id=UNKNOWN"], reason="null_customer_id"
    )
    assert rec["moved"] == 2
    reference = tmp_path / "reference"
    shutil.copytree(golden, reference)
    from ecomlake.silver import dbt_runner
    from ecomlake.silver.run import run_tables

    run = run_tables(sf.settings_for(reference), D, "facts", run_id="new", keep_warehouse=True)
    assert run.table("orders").recoveries["applied"] == [rec["run_id"]]
    warehouse = dbt_runner.warehouse_path(sf.settings_for(reference), "new")
    old, new = published(golden / "silver"), published(reference / "silver")
    assert {new[f"{q}{t}/ingest_dt={D}"]["run_id"] for t in FACT_TABLES for q in ("", "quarantine/")} == {"new"}
    assert (
        new["orders/ingest_dt=2023-01-01"]["rows"] == 19 and new["quarantine/orders/ingest_dt=2023-01-01"]["rows"] == 2
    )
    ref_rows = rows_of(reference / "silver", new)

    def lake_for(point: str) -> Path:
        lake = tmp_path / point
        shutil.copytree(golden, lake)
        return lake

    def driver(lake: Path, fault: str | None) -> subprocess.CompletedProcess:
        env = {**sf.paths_env(lake), "ECOM_CONFIG_PATH": sf.CONFIG}
        if fault:
            env["ECOMLAKE_FAULT"] = fault
        return run_py(SILVER_DRIVER, env, D, str(warehouse))

    def conservation(lake: Path, point: str, version: str) -> None:
        # Silver and quarantine of a table are one version: Bronze = silver + quarantine (as the
        # manifests recorded at publish), and both manifests name the same run.
        got = published(lake / "silver")
        for table in FACT_TABLES:
            s_dir, q_dir = f"{table}/ingest_dt={D}", f"quarantine/{table}/ingest_dt={D}"
            bronze = json.loads((lake / "silver" / s_dir / storage.MANIFEST_NAME).read_text())["bronze_rows"]
            assert got[s_dir]["rows"] + got[q_dir]["rows"] == bronze, (point, table)
            if version != "raw":
                assert got[s_dir]["run_id"] == got[q_dir]["run_id"] or table == "orders", (point, table)

    check_kill_matrix(lake_for, lambda lake: lake / "silver", driver, old, new, ref_rows, conservation)


# ----------------------------------------------------------------------------------------- dims

DIMS_DRIVER = """
    import sys
    from ecomlake.config import load_settings
    from ecomlake.dims.snapshot import publish_snapshots
    publish_snapshots(load_settings(), sys.argv[1], "new")
"""


def test_sigkill_dims_publish(tmp_path):
    golden = tmp_path / "golden"
    s = sf.settings_for(golden)
    from ecomlake.dims.snapshot import publish_snapshots

    for i, day in enumerate(("2023-01-01", "2023-01-02")):
        sf.make_day(s, "customers", day, n_good=4, bad_reasons=[], start=10 * i)
        sf.make_day(s, "product_catalog", day, n_good=3, bad_reasons=[], start=10 * i)
        publish_snapshots(s, day, f"old{i}")
    reference = tmp_path / "reference"
    shutil.copytree(golden, reference)
    publish_snapshots(sf.settings_for(reference), "2023-01-02", "new")
    old, new = published(golden / "dims"), published(reference / "dims")
    assert new["customer_snapshot/snapshot_dt=2023-01-02"] == {"run_id": "new", "rows": 9}  # 8 + UNKNOWN
    ref_rows = rows_of(reference / "dims", new)

    def lake_for(point: str) -> Path:
        lake = tmp_path / point
        shutil.copytree(golden, lake)
        return lake

    def driver(lake: Path, fault: str | None) -> subprocess.CompletedProcess:
        env = {**sf.paths_env(lake), "ECOM_CONFIG_PATH": sf.CONFIG}
        if fault:
            env["ECOMLAKE_FAULT"] = fault
        return run_py(DIMS_DRIVER, env, "2023-01-02")

    def pointer(lake: Path, point: str, version: str) -> None:
        run_id = json.loads((lake / "dims" / "_latest.json").read_text())["run_id"]
        want = {"raw": {"old1", "new"}, "old": {"old1"}}.get(version, {"new"})
        assert run_id in want, (point, version, run_id)

    check_kill_matrix(lake_for, lambda lake: lake / "dims", driver, old, new, ref_rows, pointer)


# ------------------------------------------------------------------------------------- Enriched

ENRICHED_DRIVER = """
    import sys
    from ecomlake.config import load_settings
    from ecomlake.enriched.runner import run_enriched
    run_enriched(load_settings(sys.argv[2]), sys.argv[1], run_id="new")
"""


def test_sigkill_enriched_publish(tmp_path):
    # Three days built; the run of the fourth day (which also rewrites business dates of the days
    # before it, and the incremental state) is the one killed.
    golden = Lake(tmp_path / "golden")
    fill_small_lake(golden)
    from ecomlake.enriched.runner import run_enriched

    for d in DAYS[:3]:
        run_enriched(golden.settings(), d, run_id=f"old_{d}")
    reference = Lake(tmp_path / "reference")
    shutil.copytree(golden.root, reference.root)
    run_enriched(reference.settings(), DAYS[3], run_id="new")
    old, new = published(golden.enriched), published(reference.enriched)
    rewritten = [k for k in new if k in old and new[k]["run_id"] == "new"]
    assert rewritten and [k for k in new if k not in old]  # both replaced and brand-new partitions
    ref_rows = rows_of(reference.enriched, new)
    # int_*/_latest.parquet is not part of the run's publish: it moves only after a passing gate
    # (ecomlake.enriched.current.publish_current), so a killed run never touches it.
    latest = golden.enriched / "int_customer_lifetime_value" / "_latest.parquet"
    before = latest.read_bytes() if latest.exists() else None

    def lake_for(point: str) -> Lake:
        lake = Lake(tmp_path / point)
        shutil.copytree(golden.root, lake.root)
        return lake

    def driver(lake: Lake, fault: str | None) -> subprocess.CompletedProcess:
        env = lake.env(**({"ECOMLAKE_FAULT": fault} if fault else {}))
        return run_py(ENRICHED_DRIVER, env, DAYS[3], str(sf.CONFIG))

    def latest_copy(lake: Lake, point: str, version: str) -> None:
        copy = lake.enriched / "int_customer_lifetime_value" / "_latest.parquet"
        assert (copy.read_bytes() if copy.exists() else None) == before, point

    check_kill_matrix(lake_for, lambda lake: lake.enriched, driver, old, new, ref_rows, latest_copy)


# ----------------------------------------------------------------------------------------- Gold

GOLD_DRIVER = """
    import sys, datetime as dt
    from pathlib import Path
    from ecomlake.config import load_settings
    from ecomlake.gold.runner import publish_from_warehouse
    publish_from_warehouse(load_settings(), Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), "new")
"""


def test_sigkill_gold_publish(tmp_path):
    # The live Gold is as of day 1 (old); the killed run publishes a warehouse built as of day 2.
    golden = tmp_path / "golden" / "lake"
    gf.write_enriched(golden / "silver" / "enriched")
    r = gf.run_cli(["gold", "run", "--date", "2023-01-01", "--run-id", "old"], golden)
    assert r.returncode == 0, r.stdout + r.stderr
    reference = tmp_path / "reference" / "lake"
    shutil.copytree(golden, reference)
    r = gf.run_cli(["gold", "run", "--run-id", "new"], reference)
    assert r.returncode == 0, r.stdout + r.stderr
    built = tmp_path / "built.duckdb"
    shutil.copyfile(reference / "gold" / "ecomlake.duckdb", built)
    old, new = published(golden / "gold"), published(reference / "gold")
    assert set(old) == set(new) and len(new) == 8
    ref_rows = rows_of(reference / "gold", new)
    marts = {
        "old": {m: gf.read_mart(golden / "gold" / "ecomlake.duckdb", m) for m in new},
        "new": {m: gf.read_mart(built, m) for m in new},
    }
    assert marts["old"] != marts["new"]

    def lake_for(point: str) -> Path:
        lake = tmp_path / point / "lake"
        shutil.copytree(golden, lake)
        return lake

    def driver(lake: Path, fault: str | None) -> subprocess.CompletedProcess:
        env = gf.lake_env(lake, **({"ECOMLAKE_FAULT": fault} if fault else {}))
        return run_py(GOLD_DRIVER, env, str(built), "2023-01-02")

    def warehouse_matches_exports(lake: Path, point: str, version: str) -> None:
        # The warehouse a BI tool opens moves in the same journal as the parquet exports.
        got = {m: gf.read_mart(lake / "gold" / "ecomlake.duckdb", m) for m in new}
        if version == "raw":
            assert got in (marts["old"], marts["new"]), point
            return
        assert got == marts["old" if version == "old" else "new"], (point, version)

    check_kill_matrix(lake_for, lambda lake: lake / "gold", driver, old, new, ref_rows, warehouse_matches_exports)
