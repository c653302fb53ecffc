"""The Bronze gate on the generator's output: clean data passes, every injected whole-file fault is caught."""

from __future__ import annotations

import json

import bronze_fixtures as bf

from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.bronze.validate import validate_bronze
from ecomlake.quality.gate import CheckName

# What the generator injects -> the check that must catch it.
FAULT_CHECK = {
    "truncated_parquet": CheckName.PARQUET_MAGIC,
    "missing_manifest": CheckName.MANIFEST_PRESENT,
    "manifest_row_mismatch": CheckName.MANIFEST_ROWS,
    "dropped_required_column": CheckName.COLUMN_PRESENT,
}


def test_generate_then_validate_passes(tmp_path):
    bronze = tmp_path / "bronze"
    r = bf.run_cli(
        [
            "bronze",
            "generate",
            "--start-date",
            "2023-01-01",
            "--days",
            "2",
            "--orders-per-day",
            "20",
            "--out",
            str(bronze),
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    r = bf.run_cli(
        [
            "bronze",
            "validate",
            "--bronze-path",
            str(bronze),
            "--partition-date",
            "2023-01-02",
            "--lookback-days",
            "1",
            "--enforce",
            "--env",
            "prod",
            "--run-id",
            "gen",
        ],
        tmp_path,
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "Bronze gate PASS" in r.stdout
    metrics = json.loads((tmp_path / "metrics" / "bronze_quality_gen.json").read_text())
    for m in metrics["table_metrics"]:
        assert (m["status"], m["partitions"], m["rows"]) == ("PASS", 2, m["manifest_rows"]), m
    assert sum(m["rows"] for m in metrics["table_metrics"] if m["table_name"] == "orders") > 0


def test_every_injected_file_fault_is_caught(tmp_path):
    bronze = tmp_path / "bronze"
    settings = bf.settings_for(bronze, tmp_path)
    faults = (
        "orders:truncated_parquet@2023-01-02,customers:missing_manifest@2023-01-01,"
        "order_items:manifest_row_mismatch@2023-01-02,cart_items:dropped_required_column@2023-01-01"
    )
    generate(
        settings,
        GeneratorOptions(start_date="2023-01-01", days=2, orders_per_day=20, file_faults=faults),
        out=str(bronze),
    )
    rc = validate_bronze(settings, enforce=True, run_id="faults", echo=False)
    assert rc == 1
    metrics = json.loads((tmp_path / "metrics" / "bronze_quality_faults.json").read_text())
    # Ground truth: the generator's per-partition ledger of whole-file faults.
    injected = []
    for ledger in sorted(bronze.glob("*/ingest_dt=*/_defects.json")):
        for fault in json.loads(ledger.read_text())["file_faults"]:
            injected.append((ledger.parent.parent.name, ledger.parent.name, fault))
    assert sorted(k for _, _, f in injected for k in [f["kind"]]) == sorted(FAULT_CHECK)
    for table, partition, fault in injected:
        hits = [
            c
            for c in metrics["checks"]
            if c["status"] == "FAIL"
            and c.get("table") == table
            and c.get("partition") == partition
            and c["name"] == FAULT_CHECK[fault["kind"]]
        ]
        assert hits, (table, partition, fault)
        assert any(f"{table}/{partition}/{fault['file']}" in c["message"] for c in hits), hits
        if "column" in fault:
            assert any(f"column {fault['column']} is missing" in c["message"] for c in hits)
    failing = {(m["table_name"]) for m in metrics["table_metrics"] if m["status"] == "FAIL"}
    assert failing == {t for t, _, _ in injected}
