"""Bronze we did not make: other physical types for every column give the same Silver.

Lake A holds a generated day as our generator wrote it; lake B holds the same day rewritten by
`bronze_retype` with another physical type for EVERY column (text as numbers, numbers as text,
real TIMESTAMPs and DATEs, decimals, int32, int8 booleans, dictionary-encoded and large strings,
and a second file per partition that keeps the contract's types for rows the new types cannot
hold). Both lakes go through dims and Base Silver; Silver, the dims snapshots and the quarantine
codes must be identical. Day 2 of lake B carries values that do not cast in retyped columns: they
are quarantined with `cast_failed_<column>`, their text kept in `_raw_text` as it arrived, and
optional columns are missing from one or both of its orders files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bronze_retype import default_plan, retype_day
from silver_fixtures import run_cli
from test_base_silver_support import clean_day, customer, write_day

from ecomlake import storage
from ecomlake.bronze import coerce
from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.bronze.validate import validate_bronze
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, DIM_SNAPSHOTS, FACT_TABLES, TABLES
from ecomlake.dims.snapshot import run_dims
from ecomlake.errors import InputError
from ecomlake.silver.run import check_bronze_types, run_tables

REPO = Path(__file__).resolve().parents[2]
D1, D2, D3 = "2023-01-01", "2023-01-02", "2023-01-03"
pytestmark = pytest.mark.slow


def _settings(base: Path):
    env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    return load_settings(str(REPO / "config" / "config.yml"), env=env)


def _rows(path: Path, drop=("_run_id",)) -> list[tuple]:
    tbl = pq.read_table(path)
    tbl = tbl.drop_columns([c for c in drop if c in tbl.column_names])
    return sorted((tuple(r.values()) for r in tbl.to_pylist()), key=repr)


def _codes(path: Path) -> list[tuple]:
    if not path.exists():
        return []
    tbl = pq.read_table(path, columns=["event_id", "_quarantine_reason"])
    return sorted((r["event_id"] or "", r["_quarantine_reason"]) for r in tbl.to_pylist())


# Day 2 of lake B: valid hand-made rows, then values that do not cast in retyped columns.
BAD = {
    # table: {event_id: ({column: arrived text}, expected code)}
    "orders": {
        "orders:ORD-20230102-0": ({"total_items": "abc"}, "cast_failed_total_items"),
        "orders:ORD-20230102-1": ({"total_items": "2.5"}, "cast_failed_total_items"),
        "orders:ORD-20230102-2": ({"gross_total": "twelve"}, "cast_failed_gross_total"),
        "orders:ORD-20230102-3": ({"is_expedited": "maybe"}, "cast_failed_is_expedited"),
    },
    "order_items": {
        "order_items:ORD-20230102-4|202301022": ({"quantity": "1e400"}, "cast_failed_quantity"),
    },
    "customers": {
        "customers:CUST-20230102-X": ({"age": "thirty"}, "cast_failed_age"),  # a customer no order uses
    },
}
# Retyped columns of day 2 that hold valid values: they must pass.
GOOD = {"orders": {"total_items": " 7 ", "is_expedited": "TRUE"}, "order_items": {"quantity": "3.0"}}


def _write_day2(bronze: Path) -> None:
    data = clean_day(D2, orders=6)
    data["customers"].append(customer("CUST-20230102-X", D2, n=9))
    write_day(bronze, D2, data)
    for table, bad in BAD.items():
        rows = data[table]
        text_cols = sorted({c for cols, _ in bad.values() for c in cols} | set(GOOD.get(table, {})))
        for r in rows:
            for c in text_cols:
                r[c] = (
                    None if r[c] is None else (("true" if r[c] else "false") if isinstance(r[c], bool) else str(r[c]))
                )
            for c, v in GOOD.get(table, {}).items():
                r[c] = v
            if r["event_id"] in bad:
                r.update(bad[r["event_id"]][0])
        schema = CONTRACT[table].bronze_schema()
        fields = [pa.field(f.name, pa.string()) if f.name in text_cols else f for f in schema]
        part = bronze / table / f"ingest_dt={D2}"
        pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(fields)), part / "part-0000.parquet")
    # orders: payment_processing_fee (text in the contract) arrives as DOUBLE in a second file
    part = bronze / "orders" / f"ingest_dt={D2}"
    tbl = pq.read_table(part / "part-0000.parquet")
    moved = tbl.slice(4)
    fee = pa.array([float(v) for v in moved.column("payment_processing_fee").to_pylist()], pa.float64())
    moved = moved.set_column(moved.schema.get_field_index("payment_processing_fee"), "payment_processing_fee", fee)
    # optional columns an exporter left out: shipping_address from both files, billing_address from one
    pq.write_table(tbl.slice(0, 4).drop_columns(["shipping_address"]), part / "part-0000.parquet")
    pq.write_table(moved.drop_columns(["shipping_address", "billing_address"]), part / "part-0001.parquet")
    # An exporter ships its files with a manifest that lists them (readers read what it lists).
    files = [{"path": f.name, "rows": pq.read_metadata(f).num_rows} for f in sorted(part.glob("*.parquet"))]
    manifest = json.loads((part / "_manifest.json").read_text())
    manifest.update(files=files, total_rows=sum(f["rows"] for f in files))
    (part / "_manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    base = tmp_path_factory.mktemp("retyped")
    a, b = base / "a", base / "b"
    sa, sb = _settings(a), _settings(b)
    generate(sa, GeneratorOptions(start_date=D1, days=1, orders_per_day=80, seed=5, defect_rate=0.08))
    shutil.copytree(a / "bronze", b / "bronze")
    changes = retype_day(b / "bronze", D1)
    _write_day2(b / "bronze")
    for settings in (sa, sb):
        run_dims(settings, D1)
        run_tables(settings, D1, "facts")
    run_dims(sb, D2)
    run_tables(sb, D2, "facts")
    return {"a": a, "b": b, "sa": sa, "sb": sb, "changes": changes}


def test_retyped_day_gives_the_same_silver_quarantine_codes_and_dims(lakes):
    sa, sb = lakes["sa"], lakes["sb"]
    # the helper really changed every column (else the comparison proves nothing) ...
    for table in TABLES:
        files = sorted((lakes["b"] / "bronze" / table / f"ingest_dt={D1}").glob("part-????.parquet"))
        if files:
            schema = pq.read_schema(files[0])
            for f in CONTRACT[table].bronze_schema():
                assert not schema.field(f.name).type.equals(f.type), f"{table}.{f.name} kept {f.type}"
    # ... and some partitions hold files that disagree on types (rows the new types cannot hold)
    mixed = [t for t, c in lakes["changes"].items() if c["leftover_rows"]]
    assert mixed, "no partition with files that disagree on types"
    assert (lakes["b"] / "bronze" / mixed[0] / f"ingest_dt={D1}" / "part-0000-leftover.parquet").exists()

    compared = 0
    for table in TABLES:
        silver_a = Path(storage.partition_path(sa.paths.silver_base_path, table, D1))
        silver_b = Path(storage.partition_path(sb.paths.silver_base_path, table, D1))
        assert silver_a.exists() == silver_b.exists(), table
        if not silver_a.exists():
            continue
        rows_a = _rows(silver_a)
        assert rows_a == _rows(silver_b), table
        q_a = _codes(Path(storage.partition_path(sa.paths.quarantine_path, table, D1)))
        q_b = _codes(Path(storage.partition_path(sb.paths.quarantine_path, table, D1)))
        assert q_a == q_b, table
        compared += len(rows_a) + len(q_a)
    assert compared > 1000
    for name in DIM_SNAPSHOTS.values():
        snap_a = lakes["a"] / "dims" / name / f"snapshot_dt={D1}"
        snap_b = lakes["b"] / "dims" / name / f"snapshot_dt={D1}"
        assert _rows(snap_a) == _rows(snap_b), name


def test_bronze_gate_warns_about_castable_drift_and_does_not_fail(lakes, tmp_path):
    rc = validate_bronze(lakes["sb"], partition_date=D1, output_report=str(tmp_path / "r.md"), echo=False)
    assert rc == 0
    metrics = json.loads(sorted((lakes["b"] / "metrics").glob("bronze_quality_*.json"))[-1].read_text())
    assert metrics["overall_status"] == "WARN"
    orders = next(m for m in metrics["table_metrics"] if m["table_name"] == "orders")
    drift = {d["column"]: d for d in orders["schema_drift"] if d["issue"] == "type_change"}
    assert drift["payment_processing_fee"] | {"files": None} == {
        "partition": f"ingest_dt={D1}",
        "column": "payment_processing_fee",
        "issue": "type_change",
        "status": "WARN",
        "actual_type": "double",
        "contract_type": "string",
        "files": None,
    }
    # every column retyped to another kind of value is reported (same-kind flavours are not drift)
    t = CONTRACT["orders"]
    expected = {
        c
        for c, typ in default_plan("orders").items()
        if coerce.verdict(typ, t.column(c).bronze if c in t.column_names else "string") == coerce.CASTABLE
    }
    assert "order_date" in expected and "total_items" in expected and "gross_total" in expected
    assert set(drift) == expected
    assert {d["status"] for d in drift.values()} == {"WARN"}
    assert "Silver casts it" in (tmp_path / "r.md").read_text()


def test_values_that_do_not_cast_are_quarantined_with_their_code_and_text(lakes):
    sb = lakes["sb"]
    for table, bad in BAD.items():
        q = pq.read_table(storage.partition_path(sb.paths.quarantine_path, table, D2)).to_pylist()
        by_event = {r["event_id"]: r for r in q}
        for event, (arrived, code) in bad.items():
            row = by_event.pop(event)
            assert row["_quarantine_reason"] == code, row
            raw = json.loads(row["_raw_text"])
            for column, text in arrived.items():
                assert raw[column] == text  # byte for byte, as it arrived
                assert row[column] is None  # the contract's type cannot hold it
        # the rest: only children of the orders quarantined above
        assert {r["_quarantine_reason"] for r in by_event.values()} <= {"invalid_order_fk"}, table
        if table != "order_items":
            assert not by_event, table


def test_castable_text_values_in_retyped_columns_reach_silver(lakes):
    sb = lakes["sb"]
    orders = pq.read_table(storage.partition_path(sb.paths.silver_base_path, "orders", D2)).to_pylist()
    assert sorted(r["order_id"] for r in orders) == ["ORD-20230102-4", "ORD-20230102-5"]
    assert {r["total_items"] for r in orders} == {7}
    assert {r["is_expedited"] for r in orders} == {True}
    assert {str(r["payment_processing_fee"]) for r in orders} == {"0.60"}  # arrived as DOUBLE 0.6
    assert {r["shipping_address"] for r in orders} == {None}  # missing from every file
    assert {r["billing_address"] for r in orders} == {None}  # ORD-4 and ORD-5 came in the file without it
    q = pq.read_table(storage.partition_path(sb.paths.quarantine_path, "orders", D2)).to_pylist()
    assert {r["billing_address"] for r in q} == {"1 Main St"}  # ORD-0..3: the file that has it
    items = pq.read_table(storage.partition_path(sb.paths.silver_base_path, "order_items", D2)).to_pylist()
    assert [(r["order_id"], r["quantity"]) for r in items] == [("ORD-20230102-5", 3)]


def test_a_type_that_cannot_be_cast_stops_silver_before_dbt(tmp_path):
    """A list where an integer belongs: `ecomlake local silver` exits 2 with one line naming the
    table, column, type and file, before dbt starts; nothing is published."""
    write_day(tmp_path / "bronze", D3, clean_day(D3))
    for name, key, typ in (
        ("customer_snapshot", "customer_id", pa.string()),
        ("product_catalog", "product_id", pa.int64()),
    ):
        part = tmp_path / "dims" / name / f"snapshot_dt={D3}"
        part.mkdir(parents=True)
        pq.write_table(pa.table({key: pa.array([], typ)}), part / "part-0000.parquet")
    f = tmp_path / "bronze" / "orders" / f"ingest_dt={D3}" / "part-0000.parquet"
    tbl = pq.read_table(f)
    i = tbl.schema.get_field_index("total_items")
    pq.write_table(tbl.set_column(i, "total_items", pa.array([[1, 2]] * tbl.num_rows, pa.list_(pa.int64()))), f)

    with pytest.raises(InputError) as err:
        check_bronze_types(_settings(tmp_path), FACT_TABLES, D3)
    assert err.value.message.startswith(f"Bronze orders.total_items is list<element: int64> in {f}, which cannot")

    r = run_cli(["local", "silver", "--date", D3], tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    expected = (
        f"error: Bronze orders.total_items is list<element: int64> in {f}, which cannot be cast to the contract's "
        f"int64; nothing was published; fix the exporter and land orders {D3} again "
        f"(`ecomlake bronze validate --partition-date {D3}` lists every such column)"
    )
    assert r.stderr.strip().splitlines() == [expected]
    assert "dbt build" not in r.stdout
    assert not (tmp_path / "silver" / "orders").exists()


def test_recovery_revalidation_keeps_the_text_of_values_that_did_not_cast(lakes):
    """`quarantine recover` re-runs the same models on quarantined rows: a value that did not cast
    and was not repaired fails again with its code and its text; a filled one passes."""
    from ecomlake.quarantine import META_COLUMNS
    from ecomlake.quarantine.recover import apply_fills
    from ecomlake.silver.run import revalidate

    sb = lakes["sb"]
    q = pq.read_table(storage.partition_path(sb.paths.quarantine_path, "orders", D2))
    raw, filled = apply_fills(q.drop_columns(list(META_COLUMNS)), {"total_items": "4"})
    assert filled == 2  # ORD-0 ('abc') and ORD-1 ('2.5') hold no total_items
    valid, failing = revalidate(sb, "orders", D2, raw, "reval_retyped")
    assert sorted((r["order_id"], r["total_items"]) for r in valid.to_pylist()) == [
        ("ORD-20230102-0", 4),
        ("ORD-20230102-1", 4),
    ]
    still = {r["order_id"]: r for r in failing.to_pylist()}
    assert {k: v["_quarantine_reason"] for k, v in still.items()} == {
        "ORD-20230102-2": "cast_failed_gross_total",
        "ORD-20230102-3": "cast_failed_is_expedited",
    }
    assert json.loads(still["ORD-20230102-2"]["_raw_text"])["gross_total"] == "twelve"
    assert json.loads(still["ORD-20230102-3"]["_raw_text"])["is_expedited"] == "maybe"
