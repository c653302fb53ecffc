"""`bronze profile`: column statistics with DuckDB, schema per partition and drift, flags, outputs."""

from __future__ import annotations

import json

import bronze_fixtures as bf
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake.bronze.profile import profile_bronze
from ecomlake.errors import InputError


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """One lake with known quirks, profiled once."""
    base = tmp_path_factory.mktemp("bronze_profile")
    lake = bf.build_lake(base / "bronze", rows=4, files=1)
    # orders 2023-01-02: null tokens and real nulls in email, a duplicated order_id, and an extra column.
    p = bf.pdir(lake, "orders", "2023-01-02")
    t = pq.read_table(p / "part-0000.parquet")
    t = t.set_column(
        t.schema.get_field_index("email"), "email", pa.array(["None", " null ", None, "a@b.c"], pa.string())
    )
    t = t.set_column(
        t.schema.get_field_index("order_id"), "order_id", pa.array(["O-1", "O-1", "O-2", "O-3"], pa.string())
    )
    t = t.set_column(t.schema.get_field_index("agent_id"), "agent_id", pa.array([None] * 4, pa.string()))
    t = t.append_column("promo_code", pa.array(["A", "A", "B", "A"], pa.string()))
    pq.write_table(t, p / "part-0000.parquet")
    bf.reseal(p, "orders")
    # order_items: quantity changes type between partitions.
    bf.fault_type_change(lake, table="order_items", day="2023-01-02", column="quantity")
    # product_catalog: ids 1 and 2 change again on day 2 (updates), id 7 is sent twice on day 2 (a duplicate).
    p = bf.pdir(lake, "product_catalog", "2023-01-02")
    t = pq.read_table(p / "part-0000.parquet")
    t = t.set_column(t.schema.get_field_index("product_id"), "product_id", pa.array([1, 2, 7, 7], pa.int64()))
    pq.write_table(t, p / "part-0000.parquet")
    bf.reseal(p, "product_catalog")
    # customers: one corrupt file must not stop the profile.
    bf.fault_truncated_parquet(lake, table="customers", day="2023-01-02")
    out = base / "out"
    settings = bf.settings_for(lake, out)
    result = profile_bronze(settings, output=str(out / "PROFILE.md"), schema_json=str(out / "schema.json"), echo=False)
    return {
        "lake": lake,
        "out": out,
        "result": result,
        "md": (out / "PROFILE.md").read_text(),
        "schema": json.loads((out / "schema.json").read_text()),
    }


def table(profiled, name):
    return next(p for p in profiled["result"]["profiles"] if p["table"] == name)


def column(profiled, tbl, col):
    return next(c for c in table(profiled, tbl)["columns"] if c["column"] == col)


def test_schema_map_shape(profiled):
    schema = profiled["schema"]
    assert set(schema) == {"_meta", "schemas"}
    assert schema["_meta"]["bronze_path"] == str(profiled["lake"])
    assert "generated_at" in schema["_meta"]
    assert set(schema["schemas"]) == set(bf.contract.TABLES)
    orders = schema["schemas"]["orders"]
    assert list(orders) == ["ingest_dt=2023-01-01", "ingest_dt=2023-01-02"]
    assert orders["ingest_dt=2023-01-01"]["gross_total"] == "double"
    assert orders["ingest_dt=2023-01-01"]["order_id"] == "string"
    assert "promo_code" not in orders["ingest_dt=2023-01-01"]
    assert orders["ingest_dt=2023-01-02"]["promo_code"] == "string"
    assert schema["schemas"]["order_items"]["ingest_dt=2023-01-02"]["quantity"] == "string"


def test_nulls_and_null_tokens_are_reported_separately(profiled):
    email = column(profiled, "orders", "email")
    # 8 rows in orders; day 2 has one real null and two tokens ('None', ' null ').
    assert email["null_pct"] == pytest.approx(12.5)
    assert email["null_token_pct"] == pytest.approx(25.0)
    assert column(profiled, "orders", "gross_total")["null_token_pct"] is None  # not a string column


def test_distinct_min_max_and_top_values(profiled):
    promo = column(profiled, "orders", "promo_code")
    assert promo["distinct"] == 2
    assert promo["min"] == "A" and promo["max"] == "B"
    assert promo["top_values"] == [{"value": "A", "count": 3}, {"value": "B", "count": 1}]
    total = column(profiled, "product_catalog", "unit_price")
    assert (total["min"], total["max"], total["distinct"]) == ("10.0", "17.0", 8)
    assert total["top_values"] == []  # unique values: nothing worth listing


def test_flags(profiled):
    orders = table(profiled, "orders")
    assert orders["duplicate_primary_keys"] == 1
    assert any(
        "duplicate primary key (order_id) across partitions: 1 keys repeated, 1 extra rows" in f
        for f in orders["flags"]
    )
    assert "duplicate_pk" in column(profiled, "orders", "order_id")["flags"]
    assert any(f == "unexpected column promo_code (not in the contract)" for f in orders["flags"])
    agent = column(profiled, "orders", "agent_id")  # null on one of two days: exactly 50%, not "more than half"
    assert agent["null_pct"] == 50.0 and "mostly_null" not in agent["flags"]
    # promo_code is absent from one of two partitions: 50% null, not flagged; drift is.
    assert any("promo_code is missing in 1 of 2 partitions" in f for f in orders["flags"])
    items = table(profiled, "order_items")
    assert items["schema_drift"] == [
        {
            "column": "quantity",
            "change": "type",
            "types": {"int64": ["ingest_dt=2023-01-01"], "string": ["ingest_dt=2023-01-02"]},
        }
    ]
    assert any("quantity is string but the contract says int64" in f for f in items["flags"])
    customers = table(profiled, "customers")
    assert customers["unreadable_files"] == ["customers/ingest_dt=2023-01-02/part-0000.parquet"]
    assert customers["rows"] == 4 and customers["profiled_rows"] == 4
    assert table(profiled, "cart_items")["flags"] == []


def test_mostly_null_flag(tmp_path):
    lake = bf.build_lake(tmp_path / "bronze", rows=4, files=1, tables=("shopping_carts",), days=("2023-01-01",))
    p = bf.pdir(lake, "shopping_carts", "2023-01-01")
    t = pq.read_table(p / "part-0000.parquet")
    t = t.set_column(t.schema.get_field_index("status"), "status", pa.array(["N/A", None, "", "open"], pa.string()))
    pq.write_table(t, p / "part-0000.parquet")
    r = profile_bronze(
        bf.settings_for(lake, tmp_path), tables="shopping_carts", output=None, schema_json=None, echo=False
    )
    status = next(c for c in r["profiles"][0]["columns"] if c["column"] == "status")
    assert status["null_pct"] == 25.0 and status["null_token_pct"] == 50.0
    assert status["flags"] == ["mostly_null"]


def test_markdown_profile(profiled):
    md = profiled["md"]
    assert md.startswith("# Bronze Profile Report")
    assert "## Schema Drift Across Partitions" in md
    assert "| order_items | quantity | type |" in md
    assert "| orders | promo_code | presence | missing in 1 partition(s): ingest_dt=2023-01-01 |" in md
    assert "## orders" in md and "| email | string | string | 12.50 | 25.00 |" in md
    assert "unreadable file(s) left out: customers/ingest_dt=2023-01-02/part-0000.parquet" in md
    # Atomic writes leave no temp files behind.
    assert sorted(x.name for x in profiled["out"].iterdir()) == ["PROFILE.md", "schema.json", "work"]


def test_max_rows_limits_the_profile(profiled, tmp_path):
    r = profile_bronze(
        bf.settings_for(profiled["lake"], tmp_path),
        tables="orders",
        max_rows=3,
        output=None,
        schema_json=None,
        echo=False,
    )
    assert r["profiles"][0]["profiled_rows"] == 3 and r["profiles"][0]["rows"] == 8


def test_missing_path_and_unknown_table(tmp_path, profiled):
    with pytest.raises(InputError, match="bronze path not found"):
        profile_bronze(bf.settings_for(tmp_path / "nope", tmp_path), echo=False)
    with pytest.raises(InputError, match="unknown table 'foo'"):
        profile_bronze(bf.settings_for(profiled["lake"], tmp_path), tables="foo", echo=False)


def test_cli_profile(profiled, tmp_path):
    md, js = tmp_path / "docs" / "P.md", tmp_path / "docs" / "S.json"
    r = bf.run_cli(
        [
            "bronze",
            "profile",
            "--bronze-path",
            str(profiled["lake"]),
            "--tables",
            "orders,returns",
            "--output",
            str(md),
            "--schema-json",
            str(js),
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "orders: 2 partitions, 2 files, 8 rows" in r.stdout
    assert set(json.loads(js.read_text())["schemas"]) == {"orders", "returns"}
    assert md.read_text().startswith("# Bronze Profile Report")


def test_dimension_updates_are_not_duplicates(profiled):
    products = table(profiled, "product_catalog")
    assert products["duplicate_primary_keys"] == 1  # id 7 twice in one partition
    assert products["keys_updated_across_partitions"] == 2  # ids 1 and 2 changed on a later day
    assert [f for f in products["flags"] if "duplicate" in f] == [
        "duplicate primary key (product_id) within one partition: 1 keys repeated, 1 extra rows"
    ]
    assert "2 keys have change records on more than one day" in profiled["md"]
    assert table(profiled, "orders")["keys_updated_across_partitions"] is None  # facts: not applicable
