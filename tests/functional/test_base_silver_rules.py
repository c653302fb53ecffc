"""Base Silver on hand-made Bronze: every broken row gets exactly the code computed by hand.

Day 1 is clean (dims + facts published). Day 2 carries one defect per row of interest, plus a
customer tier change and rows that reference day-1 parents. One dims run and one facts run per day
(module-scoped: dbt start-up dominates).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_base_silver_support import (
    cart,
    cart_item,
    clean_day,
    customer,
    order,
    order_item,
    product,
    return_,
    return_item,
    write_day,
)

from ecomlake import rules
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, FACT_TABLES, silver_columns
from ecomlake.dims.snapshot import run_dims
from ecomlake.silver.run import run_tables

REPO = Path(__file__).resolve().parents[2]
D1, D2 = "2023-01-01", "2023-01-02"
pytestmark = pytest.mark.slow


def lake_settings(base: Path):
    env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    return load_settings(str(REPO / "config" / "config.yml"), env=env), env


def day2_data() -> tuple[dict, dict]:
    """Day 2 Bronze and, per table, {event_id: expected _quarantine_reason} for the broken rows."""
    data = clean_day(D2)
    exp: dict[str, dict[str, str]] = {t: {} for t in data}
    c0 = data["customers"][0]["customer_id"]
    pid = data["product_catalog"][0]["product_id"]

    def bad(table, row, code):
        data[table].append(row)
        exp[table][row["event_id"]] = code
        return row

    # customers: a tier change of a day-1 customer is a valid change; a bad e-mail; an exact re-send of day 1
    data["customers"].append(customer("CUST-20230101-0", D2, tier="gold", n=30))
    bad(
        "customers",
        {**customer("CUST-BAD-MAIL", D2, n=31), "email": "not-an-email", "event_id": "customers:badmail"},
        "invalid_email",
    )
    bad(
        "customers",
        {**customer("CUST-20230101-1", D1, n=1), "event_id": "customers:resent"},
        "duplicate_customer_id_published",
    )
    bad(
        "customers",
        {**customer("CUST-FUT", D2, n=32), "signup_date": "2023-01-09", "event_id": "customers:future"},
        "future_signup_date",
    )
    # product_catalog
    bad(
        "product_catalog",
        {**product(555, D2, n=9), "cost_price": 99.0, "event_id": "product_catalog:cost"},
        "cost_above_price",
    )
    # several codes on one row, in registry order
    bad(
        "product_catalog",
        {
            **product(556, D2, n=10),
            "category": "weapons",
            "unit_price": -1.0,
            "cost_price": 0.5,
            "event_id": "product_catalog:two",
        },
        "invalid_category|negative_unit_price|cost_above_price",
    )

    # orders
    bad("orders", order("None", c0, D2, event_id="orders:nullid"), "null_order_id")
    broken = bad(
        "orders", order("ORD-CAST", c0, D2, order_date="not-a-date", event_id="orders:cast"), "cast_failed_order_date"
    )
    bad(
        "orders",
        order("ORD-FUT", c0, D2, order_date="2023-01-09 10:00:00", event_id="orders:future"),
        "future_order_date",
    )
    bad("orders", order("ORD-NEG", c0, D2, net_total=-1.0, event_id="orders:neg"), "negative_net_total")
    bad(
        "orders",
        order("ORD-CHAN", c0, D2, order_channel="carrier pigeon", event_id="orders:chan"),
        "invalid_order_channel",
    )
    bad("orders", order("ORD-FK", "CUST-NOBODY", D2, event_id="orders:fk"), "invalid_customer_fk")
    bad(
        "orders",
        order("ORD-FEE", c0, D2, payment_processing_fee="abc", event_id="orders:fee"),
        "cast_failed_payment_processing_fee",
    )
    bad("orders", order("ORD-TS", c0, D2, ingestion_ts="yesterday", event_id="orders:ts"), "cast_failed_ingestion_ts")
    bad("orders", order("ORD-BATCH", c0, D2, batch_id=" null ", event_id="orders:batch"), "null_batch_id")
    bad("orders", order("ORD-NET", c0, D2, net_total=25.0, event_id="orders:net"), "net_total_above_gross_total")
    bad(
        "orders",
        order("ORD-20230101-1", "CUST-20230101-1", D2, event_id="orders:resent"),
        "duplicate_order_id_published",
    )
    # an older copy of a day-2 order: loses the dedup; and valid variants that must pass
    first = data["orders"][0]
    bad(
        "orders",
        {**first, "ingestion_ts": f"{D2}T01:00:00+00:00", "event_id": first["event_id"] + ":old"},
        "duplicate_order_id",
    )
    data["orders"].append(
        order("ORD-GUEST", "GUEST-77", D2, order_channel=" WEB ", customer_tier="GOLD", event_id="orders:guest")
    )
    data["orders"].append(order("ORD-UNKNOWN", "UNKNOWN", D2, event_id="orders:unknown"))

    # order_items: parent quarantined today; parent published yesterday (valid); unknown product; zero quantity
    bad("order_items", order_item(broken["order_id"], pid, D2, event_id="order_items:parentbad"), "invalid_order_fk")
    data["order_items"].append(order_item("ORD-20230101-2", pid, D2, event_id="order_items:parentd1"))
    bad("order_items", order_item(first["order_id"], 999999, D2, event_id="order_items:prod"), "invalid_product_fk")
    bad("order_items", order_item("ORD-GUEST", pid, D2, quantity=0, event_id="order_items:qty"), "nonpositive_quantity")

    # carts and cart lines
    bad(
        "shopping_carts",
        cart("CART-UPD", c0, D2, updated_at=f"{D2}T08:00:00", event_id="carts:upd"),
        "updated_before_created",
    )
    bad("shopping_carts", cart("CART-STATUS", c0, D2, status="lost", event_id="carts:status"), "invalid_status")
    data["shopping_carts"].append(cart("CART-OPEN", c0, D2, status=" OPEN ", updated_at="None", event_id="carts:open"))
    bad("cart_items", cart_item(990001, "CART-NOWHERE", pid, D2, event_id="cart_items:fk"), "invalid_cart_fk")
    bad("cart_items", cart_item(990002, "CART-UPD", pid, D2, event_id="cart_items:parentbad"), "invalid_cart_fk")

    # returns: of a quarantined order (FK), of a day-1 order (valid); lines of a quarantined return
    bad("returns", return_("RET-BAD", broken["order_id"], c0, D2, event_id="returns:fk"), "invalid_order_fk")
    data["returns"].append(return_("RET-D1", "ORD-20230101-3", c0, D2, event_id="returns:d1"))
    bad(
        "returns",
        return_("RET-REASON", "ORD-20230101-3", c0, D2, reason="defective", event_id="returns:reason"),
        "invalid_reason",
    )
    bad(
        "return_items",
        return_item(880001, "RET-BAD", "ORD-20230101-3", pid, D2, event_id="return_items:fk"),
        "invalid_return_fk",
    )
    data["return_items"].append(return_item(880002, "RET-D1", "ORD-20230101-3", pid, D2, event_id="return_items:ok"))
    return data, exp


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("rules")
    settings, env = lake_settings(base)
    write_day(base / "bronze", D1, clean_day(D1))
    data, exp = day2_data()
    write_day(base / "bronze", D2, data)
    runs = {}
    for day in (D1, D2):
        runs[("dims", day)] = run_dims(settings, day)
        runs[("facts", day)] = run_tables(settings, day, "facts")
    return {"base": base, "settings": settings, "env": env, "data": data, "exp": exp, "runs": runs}


def read(base: Path, layer: str, table: str, day: str):
    root = base / "silver" / ("quarantine/" if layer == "quarantine" else "") / table / f"ingest_dt={day}"
    return pq.read_table(root)


@pytest.mark.parametrize("table", list(CONTRACT))
def test_every_broken_row_gets_its_code_and_no_clean_row_is_quarantined(lake, table):
    q = read(lake["base"], "quarantine", table, D2).to_pylist()
    got = {r["event_id"]: r["_quarantine_reason"] for r in q}
    assert got == lake["exp"][table]


@pytest.mark.parametrize("table", list(CONTRACT))
def test_conservation_and_exact_columns(lake, table):
    bronze = len(lake["data"][table])
    s, q = read(lake["base"], "silver", table, D2), read(lake["base"], "quarantine", table, D2)
    assert s.num_rows + q.num_rows == bronze
    assert s.column_names == [c for c, _ in silver_columns(table)]
    t = CONTRACT[table]
    assert q.column_names == [
        *t.bronze_column_names,
        "ingest_dt",
        "_quarantine_reason",
        "_quarantine_timestamp",
        "_run_id",
        "_raw_text",
    ]
    assert set(q.column("_raw_text").to_pylist()) <= {None}  # Bronze in the contract's types: nothing retyped
    # quarantine keeps the raw Bronze types
    assert str(q.schema.field("ingest_dt").type) == "date32[day]"
    for f in t.bronze_schema():
        assert q.schema.field(f.name).type == f.type
    kind = "dims" if t.kind == "dim" else "facts"
    ledger = lake["runs"][(kind, D2)] if kind == "facts" else lake["runs"][(kind, D2)].silver
    row = ledger.table(table)
    assert (row.bronze_rows, row.silver_rows, row.quarantine_rows) == (bronze, s.num_rows, q.num_rows)


def test_quarantine_keeps_raw_values_and_codes_are_registered(lake):
    q = {r["event_id"]: r for r in read(lake["base"], "quarantine", "orders", D2).to_pylist()}
    assert q["orders:nullid"]["order_id"] == "None"  # raw, not cleaned
    assert q["orders:cast"]["order_date"] == "not-a-date"
    assert q["orders:batch"]["batch_id"] == " null "
    for table in CONTRACT:
        for r in read(lake["base"], "quarantine", table, D2).to_pylist():
            for code in rules.split_reasons(r["_quarantine_reason"]):
                assert rules.family_of(table, code) is not None, (table, code)
            assert r["_run_id"] == lake["runs"][("facts" if table in FACT_TABLES else "dims", D2)].run_id


def test_silver_values_are_cleaned_and_typed(lake):
    s = {r["event_id"]: r for r in read(lake["base"], "silver", "orders", D2).to_pylist()}
    guest = s["orders:guest"]
    assert (guest["order_channel"], guest["customer_tier"], guest["agent_id"]) == ("web", "gold", None)
    assert str(guest["gross_total"]) == "20.00" and str(guest["payment_processing_fee"]) == "0.60"
    assert str(guest["order_dt"]) == D2 and str(guest["ingest_dt"]) == D2
    assert "orders:unknown" in s  # the sentinel customer resolves
    carts = {r["event_id"]: r for r in read(lake["base"], "silver", "shopping_carts", D2).to_pylist()}
    assert carts["carts:open"]["status"] == "open" and carts["carts:open"]["updated_at"] is None


def test_children_take_business_date_from_validated_parent(lake):
    items = {r["event_id"]: r for r in read(lake["base"], "silver", "order_items", D2).to_pylist()}
    assert str(items["order_items:parentd1"]["order_dt"]) == D1  # parent published on day 1
    ret_items = {r["event_id"]: r for r in read(lake["base"], "silver", "return_items", D2).to_pylist()}
    assert str(ret_items["return_items:ok"]["return_dt"]) == D2


def test_run_ledger_has_real_numbers(lake):
    import json

    run = lake["runs"][("facts", D2)]
    ledger = json.loads(Path(run.ledger_path).read_text())
    orders = ledger["tables"]["orders"]
    assert orders["ingest_dt"] == D2
    assert orders["quarantine_rows"] == len(lake["exp"]["orders"])
    assert orders["reasons"]["duplicate_order_id_published"] == 1
    # one audit per model of the facts (tests/base_silver): 6 stg + 6 quarantine + 3 parent keys + 2 dims keys
    assert ledger["dbt"]["tests_failed"] == 0 and ledger["dbt"]["tests_passed"] == 17
    assert ledger["dbt"]["models_built"] >= 30
    # dbt unit tests test our SQL, not the day's data: never in the production build (make test runs them)
    assert ledger["dbt"]["unit_tests_passed"] == ledger["dbt"]["unit_tests_failed"] == 0


def test_revalidate_uses_the_same_models(lake):
    """Quarantine recovery: repaired rows pass, unrepaired rows keep their codes, keys already in
    Silver (even in partition D itself) are duplicates, so recovering twice never duplicates."""
    from ecomlake.silver.run import revalidate

    q = read(lake["base"], "quarantine", "orders", D2)
    rows = {r["event_id"]: r for r in q.to_pylist()}
    repaired = dict(rows["orders:cast"], order_date=f"{D2} 11:00:00")  # fixed
    still_bad = dict(rows["orders:fk"])  # unchanged
    fixed_fk = dict(rows["orders:fk"], customer_id="UNKNOWN", event_id="orders:fk2")  # runbook's fill
    already = dict(rows["orders:nullid"], order_id=lake["data"]["orders"][1]["order_id"])  # a key valid in Silver D
    import pyarrow as pa

    raw = pa.Table.from_pylist([repaired, still_bad, fixed_fk, already], schema=q.schema)
    valid, failing = revalidate(lake["settings"], "orders", D2, raw, run_id="recover-1")
    assert valid.column_names == [c for c, _ in silver_columns("orders")]
    assert sorted(valid.column("event_id").to_pylist()) == ["orders:cast", "orders:fk2"]
    assert set(valid.column("_run_id").to_pylist()) == {"recover-1"}
    reasons = dict(
        zip(failing.column("event_id").to_pylist(), failing.column("_quarantine_reason").to_pylist(), strict=False)
    )
    assert reasons == {"orders:fk": "invalid_customer_fk", "orders:nullid": "duplicate_order_id_published"}
    assert failing.column_names[: len(CONTRACT["orders"].bronze_column_names)] == CONTRACT["orders"].bronze_column_names
    assert failing.schema.field("order_id").type == pa.string()
