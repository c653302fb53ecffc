"""`bronze validate` in-process: clean data passes, every whole-file fault fails and names the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bronze_fixtures as bf
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake import storage
from ecomlake.bronze.validate import compatible_type, validate_bronze
from ecomlake.errors import InputError
from ecomlake.quality.gate import CheckName


@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory) -> Path:
    return bf.build_lake(tmp_path_factory.mktemp("bronze_clean") / "bronze")


@pytest.fixture
def lake(clean_lake, tmp_path) -> Path:
    """A private copy of the clean lake, free to break."""
    return bf.copy_lake(clean_lake, tmp_path / "bronze")


def run(lake: Path, out: Path, run_id: str = "t1", **kw) -> tuple[int, dict, str]:
    settings = bf.settings_for(lake, out)
    rc = validate_bronze(settings, run_id=run_id, echo=False, **kw)
    metrics = json.loads((out / "metrics" / f"bronze_quality_{run_id}.json").read_text())
    date = kw.get("partition_date")
    report = (
        Path(kw["output_report"])
        if kw.get("output_report")
        else out / "reports" / f"BRONZE_QUALITY_{date or run_id}.md"
    ).read_text()
    return rc, metrics, report


def tm(metrics: dict, table: str) -> dict:
    return next(m for m in metrics["table_metrics"] if m["table_name"] == table)


def failed(metrics: dict) -> set[str]:
    return {c["name"] for c in metrics["checks"] if c["status"] == "FAIL"}


def test_clean_lake_passes(clean_lake, tmp_path):
    rc, metrics, report = run(clean_lake, tmp_path, partition_date="2023-01-02", lookback_days=1)
    assert rc == 0
    assert metrics["overall_status"] == "PASS"
    assert metrics["summary"]["failed"] == 0 and metrics["summary"]["warned"] == 0
    orders = tm(metrics, "orders")
    assert orders == {**orders, "status": "PASS", "partitions": 2, "files": 4, "rows": 16, "manifest_rows": 16}
    assert {m["table_name"] for m in metrics["table_metrics"]} == set(bf.contract.TABLES)
    # What was verified is on record, not only what failed.
    passed = {c["name"] for c in metrics["checks"] if c["status"] == "PASS" and c["table"] == "orders"}
    assert {
        CheckName.CHECKSUM,
        CheckName.PARQUET_MAGIC,
        CheckName.MANIFEST_ROWS,
        CheckName.SUCCESS_MARKER,
        CheckName.COLUMN_PRESENT,
        CheckName.COLUMN_TYPE,
        CheckName.FILE_LISTED,
    } <= passed
    assert "# Bronze Quality Report" in report and "✅ PASS" in report
    assert "All 16 partitions passed every check." in report


def test_all_partitions_mode_validates_every_partition(clean_lake, tmp_path):
    rc, metrics, _ = run(clean_lake, tmp_path)
    assert rc == 0 and metrics["overall_status"] == "PASS"
    assert len(metrics["partitions"]) == 16
    assert metrics["window"] is None


# (fault, failing checks expected, metrics list that must name the file)
FAULTS = [
    (
        bf.fault_truncated_parquet,
        {CheckName.PARQUET_MAGIC, CheckName.CHECKSUM, CheckName.MANIFEST_ROWS},
        "corrupt_files",
    ),
    (bf.fault_missing_manifest, {CheckName.MANIFEST_PRESENT}, "invalid_manifests"),
    (bf.fault_manifest_row_mismatch, {CheckName.MANIFEST_ROWS}, "row_count_mismatch_files"),
    (bf.fault_checksum_mismatch, {CheckName.CHECKSUM}, "checksum_mismatches"),
    (bf.fault_dropped_required_column, {CheckName.COLUMN_PRESENT}, None),
    (bf.fault_missing_success, {CheckName.SUCCESS_MARKER}, None),
    (bf.fault_unlisted_file, {CheckName.FILE_LISTED, CheckName.MANIFEST_ROWS}, "unlisted_files"),
]


@pytest.mark.parametrize("fault, checks, listed_in", FAULTS, ids=[f[0].__name__ for f in FAULTS])
def test_whole_file_fault_fails_and_names_the_file(lake, tmp_path, fault, checks, listed_in):
    named = fault(lake)
    rc, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02", lookback_days=1)
    assert rc == 0, "not enforcing in local: FAIL is reported, exit 0"
    assert metrics["overall_status"] == "FAIL"
    assert failed(metrics) == checks
    orders = tm(metrics, "orders")
    assert orders["status"] == "FAIL"
    assert all(m["status"] == "PASS" for m in metrics["table_metrics"] if m["table_name"] != "orders")
    # The file (or partition) is named in the report and in the metrics.
    assert named in report
    fail_msgs = [c["message"] for c in metrics["checks"] if c["status"] == "FAIL"]
    assert any(named in m for m in fail_msgs), fail_msgs
    if listed_in == "invalid_manifests":
        assert orders["missing_manifests"] == 1
    elif listed_in:
        assert named in orders[listed_in]
    part = next(
        p for p in metrics["partitions"] if p["table_name"] == "orders" and p["partition"] == "ingest_dt=2023-01-02"
    )
    assert part["status"] == "FAIL" and part["findings"]
    assert "re-run the upstream export for orders ingest_dt=2023-01-02" in report


def test_dropped_required_column_is_reported_by_column(lake, tmp_path):
    named = bf.fault_dropped_required_column(lake, column="customer_id")
    _, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02")
    drift = tm(metrics, "orders")["schema_drift"]
    assert drift == [
        {
            "partition": "ingest_dt=2023-01-02",
            "column": "customer_id",
            "issue": "missing",
            "status": "FAIL",
            "files": [named],
        }
    ]
    assert "required column customer_id is missing" in report


def test_castable_type_change_and_extra_column_warn(lake, tmp_path):
    """Money written as text by another exporter: Silver casts it, so the gate warns, naming the
    column, the contract's type and the arrived type; the run is not stopped."""
    bf.fault_type_change(lake, table="orders", column="gross_total")
    bf.fault_extra_column(lake, table="customers", column="promo_code")
    rc, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02", enforce=True)
    orders, customers = tm(metrics, "orders"), tm(metrics, "customers")
    assert orders["status"] == "WARN"
    assert orders["schema_drift"][0] | {"files": None} == {
        "partition": "ingest_dt=2023-01-02",
        "column": "gross_total",
        "issue": "type_change",
        "status": "WARN",
        "actual_type": "string",
        "contract_type": "double",
        "files": None,
    }
    assert (
        "column gross_total is string in orders/ingest_dt=2023-01-02/part-0000.parquet, the contract says double; Silver casts it"
        in report
    )
    assert customers["status"] == "WARN"
    assert (
        customers["schema_drift"][0]["issue"] == "unexpected" and customers["schema_drift"][0]["column"] == "promo_code"
    )
    assert metrics["overall_status"] == "WARN" and rc == 0  # a WARN never blocks, even enforced


def test_type_that_cannot_be_cast_fails(lake, tmp_path):
    f = bf.pdir(lake, "orders", "2023-01-02") / "part-0000.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index("order_date")
    t = t.set_column(i, "order_date", pa.array([[1]] * t.num_rows, pa.list_(pa.int64())))
    pq.write_table(t, f)
    bf.reseal(f.parent, "orders")
    rc, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02", enforce=True)
    drift = tm(metrics, "orders")["schema_drift"][0]
    assert (drift["column"], drift["issue"], drift["status"], drift["contract_type"]) == (
        "order_date",
        "type_change",
        "FAIL",
        "string",
    )
    assert drift["actual_type"].startswith("list<")
    assert "cannot be cast to it (Base Silver refuses this partition)" in report
    assert metrics["overall_status"] == "FAIL" and rc == 1


def test_missing_optional_column_warns(lake, tmp_path):
    bf.fault_dropped_required_column(lake, table="orders", column="agent_id")  # agent_id is optional
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert tm(metrics, "orders")["status"] == "WARN"
    assert metrics["overall_status"] == "WARN"


def test_missing_partition_in_window_fails_but_quiet_returns_day_warns(lake, tmp_path):
    bf.fault_missing_partition(lake, table="orders")
    bf.fault_missing_partition(lake, table="returns")
    _, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02", lookback_days=1)
    assert tm(metrics, "orders")["status"] == "FAIL"
    assert tm(metrics, "orders")["missing_partitions"] == ["ingest_dt=2023-01-02"]
    assert tm(metrics, "returns")["status"] == "WARN"
    assert "orders ingest_dt=2023-01-02: partition is missing" in report


def test_date_outside_the_lake_fails_every_table(clean_lake, tmp_path):
    _, metrics, _ = run(clean_lake, tmp_path, partition_date="2023-01-05")
    statuses = {m["table_name"]: m["status"] for m in metrics["table_metrics"]}
    assert statuses.pop("returns") == "WARN" and statuses.pop("return_items") == "WARN"
    assert set(statuses.values()) == {"FAIL"}


def test_gap_between_partitions_is_found_without_a_window(lake, tmp_path):
    bf.fault_missing_partition(lake, table="order_items", day="2023-01-01")
    _, metrics, _ = run(lake, tmp_path / "out")
    assert tm(metrics, "order_items")["missing_partitions"] == ["ingest_dt=2023-01-01"]
    assert tm(metrics, "order_items")["status"] == "FAIL"


def test_table_without_partitions_fails(lake, tmp_path):
    shutil.rmtree(lake / "orders")
    # The predecessor's layout (business-date keys) must not count as partitions.
    (lake / "orders" / "order_dt=2023-01-01").mkdir(parents=True)
    _, metrics, report = run(lake, tmp_path / "out", tables="orders,customers")
    assert [m["table_name"] for m in metrics["table_metrics"]] == ["customers", "orders"]
    assert tm(metrics, "orders")["status"] == "FAIL"
    assert CheckName.TABLE_PRESENT in failed(metrics)
    assert "orders: no ingest_dt= partitions at all" in report
    assert "order_dt=2023-01-01 is not an ingest_dt= partition" in report


def test_corrupt_footer_with_magic_bytes_fails(lake, tmp_path):
    f = bf.pdir(lake, "orders", "2023-01-02") / "part-0001.parquet"
    f.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert CheckName.PARQUET_READABLE in failed(metrics)
    assert "orders/ingest_dt=2023-01-02/part-0001.parquet" in tm(metrics, "orders")["corrupt_files"]


@pytest.mark.parametrize(
    "content, why",
    [
        ("{not json", "is not a valid JSON object"),
        ('{"files": []}', "total_rows is None"),
        ('{"total_rows": 8}', "files[] is missing"),
    ],
)
def test_invalid_manifest_fails(lake, tmp_path, content, why):
    bf.manifest_path(bf.pdir(lake, "orders", "2023-01-02")).write_text(content)
    _, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert CheckName.MANIFEST_VALID in failed(metrics)
    assert why in report
    assert "orders/ingest_dt=2023-01-02/_manifest.json" in tm(metrics, "orders")["invalid_manifests"]


def test_manifest_of_another_partition_fails(lake, tmp_path):
    src = bf.manifest_path(bf.pdir(lake, "orders", "2023-01-01"))
    shutil.copy(src, bf.manifest_path(bf.pdir(lake, "orders", "2023-01-02")))
    _, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert "it belongs to partition 'ingest_dt=2023-01-01'" in report
    assert tm(metrics, "orders")["status"] == "FAIL"


def test_file_listed_in_manifest_but_missing_fails(lake, tmp_path):
    p = bf.pdir(lake, "orders", "2023-01-02")
    (p / "part-0001.parquet").unlink()
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert tm(metrics, "orders")["missing_files"] == ["orders/ingest_dt=2023-01-02/part-0001.parquet"]
    assert failed(metrics) == {CheckName.MANIFEST_FILE_PRESENT, CheckName.MANIFEST_ROWS}


def test_legacy_manifest_name_and_checksum_key_are_accepted(lake, tmp_path):
    p = bf.pdir(lake, "orders", "2023-01-02")
    m = bf.load_manifest(p)
    for e in m["files"]:
        e["checksum"] = e.pop("sha256")
        e["path"] = f"orders/ingest_dt=2023-01-02/{e['path']}"  # the predecessor's root-relative paths
    bf.manifest_path(p).unlink()
    (p / "_MANIFEST.json").write_text(json.dumps(m))
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert metrics["overall_status"] == "PASS"
    # ...and the legacy checksum is really compared.
    m["files"][0]["checksum"] = "0" * 64
    (p / "_MANIFEST.json").write_text(json.dumps(m))
    _, metrics, _ = run(lake, tmp_path / "out2", partition_date="2023-01-02")
    assert failed(metrics) == {CheckName.CHECKSUM}


def test_manifest_entry_without_checksum_warns(lake, tmp_path):
    p = bf.pdir(lake, "orders", "2023-01-02")
    m = bf.load_manifest(p)
    del m["files"][0]["sha256"]
    bf.save_manifest(p, m)
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert metrics["overall_status"] == "WARN"


def test_empty_orders_partition_fails_min_rows(lake, tmp_path):
    p = bf.pdir(lake, "orders", "2023-01-02")
    for f in p.glob("*.parquet"):
        f.unlink()
    pq.write_table(bf.rows_for("orders", 0, "2023-01-02"), p / "part-0000.parquet")
    bf.reseal(p, "orders")
    _, metrics, _ = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert failed(metrics) == {CheckName.MIN_ROWS}


def test_interrupted_publish_leftover_fails(lake, tmp_path):
    shutil.copytree(bf.pdir(lake, "orders", "2023-01-02"), lake / "orders" / "ingest_dt=2023-01-02.__old__run9")
    _, metrics, report = run(lake, tmp_path / "out")
    assert CheckName.PARTITION_NAME in failed(metrics)
    assert "interrupted publish" in report


def test_output_report_path_and_table_subset(clean_lake, tmp_path):
    target = tmp_path / "custom" / "BRONZE.md"
    rc, metrics, report = run(
        clean_lake, tmp_path / "out", partition_date="2023-01-01", tables="returns,orders", output_report=str(target)
    )
    assert rc == 0 and target.exists()
    assert [m["table_name"] for m in metrics["table_metrics"]] == ["orders", "returns"]
    assert "| orders | ✅ PASS |" in report


def test_enforce_turns_fail_into_exit_1(lake, tmp_path):
    bf.fault_missing_success(lake)
    rc, _, _ = run(lake, tmp_path / "out", partition_date="2023-01-02", enforce=True)
    assert rc == 1


def test_cannot_run_errors(clean_lake, tmp_path):
    settings = bf.settings_for(tmp_path / "nope", tmp_path)
    with pytest.raises(InputError, match="bronze path not found"):
        validate_bronze(settings, echo=False)
    settings = bf.settings_for(clean_lake, tmp_path)
    with pytest.raises(InputError, match="invalid --partition-date '2023-02-30'"):
        validate_bronze(settings, partition_date="2023-02-30", echo=False)
    with pytest.raises(InputError, match="unknown table 'ordrs'"):
        validate_bronze(settings, tables="ordrs", echo=False)
    with pytest.raises(InputError, match="needs --partition-date"):
        validate_bronze(settings, lookback_days=3, echo=False)
    assert not (tmp_path / "metrics").exists()


@pytest.mark.parametrize(
    "actual, expected, ok",
    [
        (pa.string(), pa.string(), True),
        (pa.large_string(), pa.string(), True),
        (pa.dictionary(pa.int32(), pa.string()), pa.string(), True),
        (pa.null(), pa.int64(), True),
        (pa.int32(), pa.int64(), True),
        (pa.uint64(), pa.int64(), False),
        (pa.int64(), pa.float64(), True),
        (pa.float32(), pa.float64(), True),
        (pa.string(), pa.float64(), False),
        (pa.int64(), pa.string(), False),
        (pa.timestamp("us"), pa.string(), False),
        (pa.string(), pa.bool_(), False),
        (pa.bool_(), pa.bool_(), True),
    ],
)
def test_compatible_type(actual, expected, ok):
    assert compatible_type(actual, expected) is ok


def test_storage_publish_output_passes_the_gate(tmp_path):
    """A partition published through storage.publish (manifest by storage) satisfies the gate."""
    root = tmp_path / "bronze"
    for table in bf.contract.TABLES:
        staged = storage.staging_path(str(root), "r1", table, "ingest_dt=2023-01-01")
        Path(staged).mkdir(parents=True)
        pq.write_table(bf.rows_for(table, 3, "2023-01-01"), Path(staged) / "part-0000.parquet")
        storage.publish(
            str(root),
            "r1",
            [
                storage.Publish(
                    staged,
                    storage.partition_path(str(root), table, "2023-01-01"),
                    table,
                    "ingest_dt=2023-01-01",
                    expected_rows=3,
                )
            ],
        )
    storage.release_staging(str(root), "r1")
    rc, metrics, _ = run(root, tmp_path / "out", partition_date="2023-01-01")
    assert rc == 0 and metrics["overall_status"] == "PASS"


def test_manifest_removed_between_listing_and_read_fails(lake, tmp_path, monkeypatch):
    # A concurrent rewrite can remove the manifest after it was found: a FAIL naming it, not a traceback.
    real = storage.read_manifest

    def vanished(pdir: str):
        return None if pdir.rstrip("/").endswith("orders/ingest_dt=2023-01-02") else real(pdir)

    monkeypatch.setattr(storage, "read_manifest", vanished)
    _, metrics, report = run(lake, tmp_path / "out", partition_date="2023-01-02")
    assert CheckName.MANIFEST_VALID in failed(metrics)
    assert "orders ingest_dt=2023-01-02: manifest" in report
    assert "disappeared while it was being read; rerun the validation" in report
