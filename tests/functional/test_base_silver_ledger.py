"""Base Silver on generated Bronze: the generator's defect ledger is the ground truth.

Two days of ~200 orders with 3% dirty rows of every kind. Every injected defect must land in
quarantine with its expected code and family, no clean row may be quarantined (rows compared by
event_id + ingestion_ts), rows are conserved, a rerun is idempotent and leaves other dates alone,
and a crash before the swap leaves the previous partitions intact.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ecomlake import rules, storage
from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.config import load_settings
from ecomlake.contract import FACT_TABLES, TABLES
from ecomlake.dims.snapshot import run_dims
from ecomlake.silver.run import run_tables

REPO = Path(__file__).resolve().parents[2]
DAYS = ["2023-01-01", "2023-01-02"]
ECOMLAKE = str(Path(sys.executable).with_name("ecomlake"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("ledger")
    env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    settings = load_settings(str(REPO / "config" / "config.yml"), env=env)
    generate(
        settings,
        GeneratorOptions(start_date=DAYS[0], days=len(DAYS), orders_per_day=200, seed=11, defect_rate=0.03),
        out=str(base / "bronze"),
    )
    runs = {}
    for day in DAYS:
        run_dims(settings, day)
        runs[day] = run_tables(settings, day, "facts")
    return {"base": base, "settings": settings, "env": env, "runs": runs}


def _ledger(base: Path, table: str, day: str) -> list[dict]:
    path = base / "bronze" / table / f"ingest_dt={day}" / "_defects.json"
    return json.loads(path.read_text())["row_defects"] if path.exists() else []


def _part(base: Path, layer: str, table: str, day: str) -> Path:
    return base / "silver" / ("quarantine" if layer == "quarantine" else "") / table / f"ingest_dt={day}"


@pytest.mark.parametrize("table", TABLES)
def test_every_injected_defect_is_quarantined_with_its_code_and_nothing_else(lake, table):
    checked = 0
    for day in DAYS:
        ledger = _ledger(lake["base"], table, day)
        q = pq.read_table(_part(lake["base"], "quarantine", table, day)).to_pylist()
        quarantined = collections.defaultdict(list)
        for r in q:
            quarantined[(r["event_id"], r["ingestion_ts"])].append(rules.split_reasons(r["_quarantine_reason"]))
        expected = collections.defaultdict(list)
        for e in ledger:
            if e["code"]:
                assert rules.family_of(table, e["code"]) == e["family"], e  # the ledger speaks the registry
                expected[(e["event_id"], e["ingestion_ts"])].append(e)
        # every injected defect: quarantined, with its code (a row may carry more codes)
        for pair, entries in expected.items():
            assert pair in quarantined, (day, entries)
            for e in entries:
                assert any(e["code"] in codes for codes in quarantined[pair]), (day, e, quarantined[pair])
                checked += 1
        # nothing else: no clean row is quarantined, and one quarantine row per dirty row
        assert set(quarantined) == set(expected), (day, set(quarantined) ^ set(expected))
        assert len(q) == len(expected), day
        # harmless dirt (null tokens in optional columns, enum variants) passes into Silver
        silver_ids = set(
            pq.read_table(_part(lake["base"], "silver", table, day), columns=["event_id"]).column(0).to_pylist()
        )
        for e in ledger:
            if e["code"] is None:
                assert e["event_id"] in silver_ids, (day, e)
    if table in FACT_TABLES and table not in ("returns", "return_items"):
        assert checked > 0  # the generator did inject something here


@pytest.mark.parametrize("table", TABLES)
def test_conservation_every_table_and_date(lake, table):
    for day in DAYS:
        bronze_dir = lake["base"] / "bronze" / table / f"ingest_dt={day}"
        bronze = sum(pq.ParquetFile(f).metadata.num_rows for f in bronze_dir.glob("*.parquet"))
        silver = pq.read_table(_part(lake["base"], "silver", table, day)).num_rows
        quarantine = pq.read_table(_part(lake["base"], "quarantine", table, day)).num_rows
        assert bronze == silver + quarantine, (table, day)


def test_silver_keys_unique_across_days(lake):
    for table in FACT_TABLES:
        # every ingest_dt partition (the files carry ingest_dt themselves, so no hive discovery)
        t = pq.read_table(lake["base"] / "silver" / table, partitioning=None)
        pk = {"order_items": ["order_id", "product_id"]}.get(table) or [
            {
                "orders": "order_id",
                "shopping_carts": "cart_id",
                "cart_items": "cart_item_id",
                "returns": "return_id",
                "return_items": "return_item_id",
            }[table]
        ]
        keys = list(zip(*(t.column(k).to_pylist() for k in pk), strict=False))
        assert len(keys) == len(set(keys)), table


def _snapshot_tree(base: Path, days: list[str]) -> dict:
    out = {}
    for table in FACT_TABLES:
        for layer in ("silver", "quarantine"):
            for day in days:
                part = _part(base, layer, table, day)
                for f in sorted(part.iterdir()):
                    out[str(f)] = (f.stat().st_mtime_ns, f.read_bytes() if f.name.startswith("_") else f.stat().st_size)
    return out


def _rows(path: Path, drop: tuple[str, ...]) -> list[tuple]:
    t = pq.read_table(path)
    t = t.drop_columns([c for c in drop if c in t.column_names])
    return sorted(tuple(str(v) for v in r.values()) for r in t.to_pylist())


def test_rerun_is_idempotent_and_leaves_other_dates_untouched(lake):
    base, day = lake["base"], DAYS[1]
    others = _snapshot_tree(base, [DAYS[0]])
    before = {
        (t, layer): _rows(_part(base, layer, t, day), ("_run_id", "_quarantine_timestamp"))
        for t in FACT_TABLES
        for layer in ("silver", "quarantine")
    }
    rerun = run_tables(lake["settings"], day, "facts")
    after = {
        (t, layer): _rows(_part(base, layer, t, day), ("_run_id", "_quarantine_timestamp"))
        for t in FACT_TABLES
        for layer in ("silver", "quarantine")
    }
    assert after == before
    assert _snapshot_tree(base, [DAYS[0]]) == others
    manifest = json.loads((_part(base, "silver", "orders", day) / "_manifest.json").read_text())
    assert manifest["run_id"] == rerun.run_id
    # rows were replaced, not appended: still one data file per partition
    assert [p.name for p in _part(base, "silver", "orders", day).glob("*.parquet")] == ["part-0000.parquet"]


def test_crash_before_swap_leaves_previous_partitions_intact(lake):
    base, day = lake["base"], DAYS[0]  # a rerun of day 1 that dies before the swap
    before = _snapshot_tree(base, DAYS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID"))}
    env.update(lake["env"], ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"), ECOMLAKE_FAULT="before_swap")
    proc = subprocess.run(
        [ECOMLAKE, "local", "silver", "--date", day],
        env=env,
        cwd=str(base),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0
    assert "injected fault at before_swap" in proc.stderr + proc.stdout
    assert _snapshot_tree(base, DAYS) == before  # nothing visible changed
    assert not list((base / "silver").glob("**/*__old__*"))
    # the next run (or recover) clears what the crashed run left in staging
    storage.recover(str(base / "silver"))
    assert not (base / "silver" / storage.STAGING_DIR).exists()
