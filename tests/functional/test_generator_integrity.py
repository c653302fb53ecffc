"""Clean generated data (defect rate 0) is relationally consistent across days and realistic."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ecomlake.bronze.generator import GeneratorOptions, event_id, generate
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, TABLES

DAYS = 4


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "bronze"
    generate(
        load_settings(env={}),
        GeneratorOptions(start_date="2023-01-01", days=DAYS, orders_per_day=400, seed=3, defect_rate=0.0),
        out=str(root),
    )
    return root


@pytest.fixture(scope="module")
def con(lake):
    c = duckdb.connect()
    for name in TABLES:
        c.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{lake}/{name}/*/*.parquet', hive_partitioning=true)"
        )
    yield c
    c.close()


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def test_clean_lake_breaks_no_silver_rule(lake):
    from test_generator_ledger import oracle_codes

    codes = oracle_codes(lake)
    assert {t: sum(c.values()) for t, c in codes.items()} == dict.fromkeys(TABLES, 0)


def test_clean_lake_has_an_empty_ledger_in_every_partition(lake):
    ledgers = list(lake.glob("*/ingest_dt=*/_defects.json"))
    assert len(ledgers) == len(TABLES) * DAYS
    for path in ledgers:
        ledger = json.loads(path.read_text())
        assert ledger["row_defects"] == [] and ledger["counts"] == {} and ledger["defect_rate"] == 0.0


def test_foreign_keys_resolve_as_of_each_day(con):
    # Every reference points to a parent that arrived on the same ingest_dt or earlier.
    checks = {
        "orders->customers": "SELECT count(*) FROM orders o WHERE o.customer_id NOT LIKE 'GUEST-%' AND NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id AND c.ingest_dt <= o.ingest_dt)",
        "carts->customers": "SELECT count(*) FROM shopping_carts o WHERE o.customer_id NOT LIKE 'GUEST-%' AND NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id AND c.ingest_dt <= o.ingest_dt)",
        "returns->customers": "SELECT count(*) FROM returns o WHERE o.customer_id NOT LIKE 'GUEST-%' AND NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id AND c.ingest_dt <= o.ingest_dt)",
        "order_items->orders": "SELECT count(*) FROM order_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.order_id = i.order_id AND o.ingest_dt = i.ingest_dt)",
        "cart_items->carts": "SELECT count(*) FROM cart_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM shopping_carts o WHERE o.cart_id = i.cart_id AND o.ingest_dt = i.ingest_dt)",
        "return_items->returns": "SELECT count(*) FROM return_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM returns r WHERE r.return_id = i.return_id AND r.order_id = i.order_id "
        "AND r.ingest_dt = i.ingest_dt)",
        "returns->orders": "SELECT count(*) FROM returns r WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.order_id = r.order_id AND o.ingest_dt < r.ingest_dt)",
        "return_items->order lines": "SELECT count(*) FROM return_items i WHERE NOT EXISTS (SELECT 1 FROM order_items l "
        "WHERE l.order_id = i.order_id AND l.product_id = i.product_id AND l.quantity >= i.quantity_returned)",
    }
    for table in ("order_items", "cart_items", "return_items"):
        checks[f"{table}->products"] = (
            f"SELECT count(*) FROM {table} i WHERE NOT EXISTS "
            "(SELECT 1 FROM product_catalog p WHERE p.product_id = i.product_id AND p.ingest_dt <= i.ingest_dt)"
        )
    bad = {name: one(con, sql) for name, sql in checks.items()}
    assert bad == dict.fromkeys(checks, 0)
    assert one(con, "SELECT count(*) FROM returns") > 20 and one(con, "SELECT count(*) FROM return_items") > 20


def test_customers_sign_up_before_they_order_and_guests_are_not_customers(con):
    assert (
        one(
            con,
            """
        SELECT count(*) FROM orders o JOIN (SELECT customer_id, min(signup_date) s FROM customers GROUP BY 1) c
        USING (customer_id) WHERE CAST(c.s AS DATE) > CAST(o.order_date AS DATE)""",
        )
        == 0
    )
    assert one(con, "SELECT count(*) FROM customers WHERE customer_id LIKE 'GUEST-%' OR is_guest") == 0
    guest_share = one(con, "SELECT avg(CASE WHEN customer_id LIKE 'GUEST-%' THEN 1.0 ELSE 0 END) FROM orders")
    assert 0.2 < guest_share < 0.4


def test_customers_arrive_as_change_records(con, lake):
    first_day = one(con, "SELECT count(*) FROM customers WHERE ingest_dt = DATE '2023-01-01'")
    later = one(con, "SELECT count(*) FROM customers WHERE ingest_dt > DATE '2023-01-01'")
    assert first_day > 1000 and 0 < later < first_day
    # An update is a full row of an existing customer, later, with something changed.
    updates = one(
        con,
        """
        SELECT count(*) FROM customers a JOIN customers b USING (customer_id)
        WHERE b.ingest_dt > a.ingest_dt AND b.ingestion_ts > a.ingestion_ts AND a.signup_date = b.signup_date
          AND (a.loyalty_tier IS DISTINCT FROM b.loyalty_tier OR a.customer_status <> b.customer_status
               OR a.marketing_opt_in <> b.marketing_opt_in)""",
    )
    assert updates > 0
    new_signups = one(
        con,
        "SELECT count(*) FROM customers WHERE CAST(signup_date AS DATE) = ingest_dt AND ingest_dt > DATE '2023-01-01'",
    )
    assert new_signups > 0
    # one row per customer per partition
    assert (
        one(
            con, "SELECT count(*) FROM (SELECT customer_id, ingest_dt FROM customers GROUP BY 1, 2 HAVING count(*) > 1)"
        )
        == 0
    )


def test_catalogue_arrives_first_then_changes_and_prices_are_the_days_prices(con):
    n = one(con, "SELECT count(*) FROM product_catalog WHERE ingest_dt = DATE '2023-01-01'")
    assert one(con, "SELECT min(product_id) FROM product_catalog") == 1
    assert one(con, "SELECT max(product_id) FROM product_catalog") == n
    assert one(con, "SELECT count(*) FROM product_catalog WHERE cost_price > unit_price OR cost_price < 0") == 0
    changes = one(con, "SELECT count(*) FROM product_catalog WHERE ingest_dt > DATE '2023-01-01'")
    assert 0 < changes < n
    # Each order line carries the catalogue price in force on its ingest day.
    mismatched = one(
        con,
        """
        WITH cur AS (
            SELECT i.order_id, i.product_id, i.unit_price, i.cost_price,
                   arg_max(p.unit_price, p.ingest_dt) AS cat_price, arg_max(p.cost_price, p.ingest_dt) AS cat_cost
            FROM order_items i JOIN product_catalog p ON p.product_id = i.product_id AND p.ingest_dt <= i.ingest_dt
            GROUP BY ALL)
        SELECT count(*) FROM cur WHERE unit_price <> cat_price OR cost_price <> cat_cost OR cost_price > unit_price""",
    )
    assert mismatched == 0


def test_order_totals_add_up(con):
    bad = one(
        con,
        """
        WITH l AS (SELECT order_id, sum(unit_price * quantity) g, sum(discount_amount) d, sum(quantity) q
                   FROM order_items GROUP BY 1)
        SELECT count(*) FROM orders o JOIN l USING (order_id)
        WHERE abs(o.gross_total - l.g) > 0.005 OR abs(o.total_discount_amount - l.d) > 0.005
           OR abs(o.net_total - (o.gross_total - o.total_discount_amount)) > 0.005 OR o.total_items <> l.q
           OR o.net_total > o.gross_total""",
    )
    assert bad == 0
    assert one(con, "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)") == 0


def test_refunds_never_exceed_what_was_paid(con):
    over_line = one(
        con,
        """
        SELECT count(*) FROM return_items r JOIN order_items l USING (order_id, product_id)
        WHERE r.quantity_returned > l.quantity OR r.quantity_returned <= 0
           OR r.refunded_amount > (l.unit_price * l.quantity - l.discount_amount) * r.quantity_returned / l.quantity + 0.005""",
    )
    assert over_line == 0
    over_return = one(
        con,
        """
        WITH s AS (SELECT return_id, sum(refunded_amount) amt FROM return_items GROUP BY 1)
        SELECT count(*) FROM returns r JOIN s USING (return_id) JOIN orders o USING (order_id)
        WHERE abs(r.refunded_amount - s.amt) > 0.005 OR r.refunded_amount > o.net_total + 0.005
           OR r.customer_id <> o.customer_id""",
    )
    assert over_return == 0
    window = one(
        con,
        """
        SELECT count(*) FROM returns r JOIN orders o USING (order_id)
        WHERE CAST(r.return_date AS DATE) - CAST(o.order_date AS DATE) NOT BETWEEN 1 AND 30
           OR CAST(r.return_date AS DATE) <> r.ingest_dt""",
    )
    assert window == 0
    # an order line is returned at most once
    assert (
        one(
            con,
            "SELECT count(*) FROM (SELECT order_id, product_id FROM return_items GROUP BY 1, 2 HAVING count(*) > 1)",
        )
        == 0
    )


def test_carts_convert_within_the_window_and_some_across_midnight(con):
    con.execute("""
        CREATE OR REPLACE TEMP TABLE matched AS
        SELECT o.order_id, o.ingest_dt AS order_ingest, CAST(o.order_date AS TIMESTAMP) AS ordered,
               max(CAST(c.created_at AS TIMESTAMP)) AS created
        FROM orders o JOIN shopping_carts c ON c.customer_id = o.customer_id AND c.status IN ('converted', 'open')
             AND CAST(c.created_at AS TIMESTAMP) <= CAST(o.order_date AS TIMESTAMP)
             AND CAST(o.order_date AS TIMESTAMP) <= CAST(c.created_at AS TIMESTAMP) + INTERVAL 47 HOUR
             AND c.ingest_dt <= o.ingest_dt
        GROUP BY ALL""")
    assert one(con, "SELECT count(*) FROM orders") == one(con, "SELECT count(*) FROM matched")
    crossed = one(con, "SELECT count(*) FROM matched WHERE CAST(created AS DATE) < CAST(ordered AS DATE)")
    assert crossed > 0
    # Guests have one cart each, so their conversion is exact: the cart's timestamps bracket the order.
    assert (
        one(
            con,
            """
        SELECT count(*) FROM orders o JOIN shopping_carts c USING (customer_id)
        WHERE o.customer_id LIKE 'GUEST-%' AND (c.status NOT IN ('converted', 'open')
              OR (c.status = 'converted' AND c.updated_at <> o.order_date))""",
        )
        == 0
    )
    assert (
        one(
            con,
            "SELECT count(*) FROM shopping_carts WHERE CAST(updated_at AS TIMESTAMP) < CAST(created_at AS TIMESTAMP)",
        )
        == 0
    )
    statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM shopping_carts").fetchall()}
    assert statuses == {"open", "converted", "abandoned", "emptied"}
    assert (
        one(
            con,
            "SELECT count(*) FROM shopping_carts c WHERE status = 'emptied' AND (cart_total <> 0 OR "
            "EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_id = c.cart_id))",
        )
        == 0
    )


def test_business_dates_belong_to_their_ingest_day(con):
    for table, col in (("orders", "order_date"), ("shopping_carts", "created_at"), ("cart_items", "added_at")):
        assert one(con, f"SELECT count(*) FROM {table} WHERE CAST({col} AS DATE) <> ingest_dt") == 0, table


def test_realistic_distributions(con):
    def values(sql):
        return {r[0] for r in con.execute(sql).fetchall()}

    assert values("SELECT DISTINCT order_channel FROM orders") == {"Web", "Phone", "Social Media", "eBay", "NewEgg"}
    assert values("SELECT DISTINCT payment_method FROM orders") == {
        "Credit Card",
        "PayPal",
        "Apple Pay",
        "Google Pay",
        "ACH",
    }
    assert values("SELECT DISTINCT shipping_speed FROM orders") == {"Standard", "Two-Day", "Overnight"}
    assert values("SELECT DISTINCT is_expedited = (shipping_speed <> 'Standard') FROM orders") == {True}
    assert one(con, "SELECT count(*) FROM orders WHERE (agent_id IS NOT NULL) <> (order_channel = 'Phone')") == 0
    assert (
        one(
            con,
            "SELECT count(*) FROM orders WHERE NOT regexp_matches(shipping_address, ', [A-Za-z .]+, [A-Z]{2} [0-9]{5}$')",
        )
        == 0
    )
    assert (
        one(con, "SELECT count(*) FROM customers WHERE NOT regexp_matches(email, '^[a-z]+\\.[a-z]+\\.[0-9]+@[a-z.]+$')")
        == 0
    )
    assert (
        one(con, "SELECT count(*) FROM orders WHERE NOT regexp_matches(payment_processing_fee, '^[0-9]+\\.[0-9]{2}$')")
        == 0
    )
    assert (
        one(
            con,
            "SELECT count(*) FROM orders WHERE NOT regexp_matches(order_date, "
            "'^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$')",
        )
        == 0
    )
    tiers = values("SELECT DISTINCT loyalty_tier FROM customers WHERE loyalty_tier IS NOT NULL")
    assert tiers == {"Bronze", "Silver", "Gold", "Platinum"}
    hours = one(con, "SELECT count(DISTINCT hour(CAST(created_at AS TIMESTAMP))) FROM shopping_carts")
    assert hours == 24
    evening = one(
        con,
        "SELECT avg(CASE WHEN hour(CAST(created_at AS TIMESTAMP)) BETWEEN 18 AND 21 THEN 1.0 ELSE 0 END) FROM shopping_carts",
    )
    night = one(
        con,
        "SELECT avg(CASE WHEN hour(CAST(created_at AS TIMESTAMP)) BETWEEN 2 AND 5 THEN 1.0 ELSE 0 END) FROM shopping_carts",
    )
    assert evening > 3 * night


def test_lineage_columns(con, lake):
    for name in TABLES:
        t = CONTRACT[name]
        rows = con.execute(
            f"SELECT {', '.join(t.primary_key)}, event_id, ingestion_ts, batch_id, source_file, ingest_dt "
            f"FROM {name} USING SAMPLE 50 ROWS"
        ).fetchall()
        assert rows, name
        for row in rows:
            key = dict(zip(t.primary_key, row[: len(t.primary_key)], strict=False))
            eid, ts, batch, source, day = row[len(t.primary_key) :]
            assert eid == event_id(name, key)
            assert ts.startswith(str(day) + "T") and ts.endswith("+00:00")
            assert batch.startswith(f"batch_{day:%Y%m%d}_")
            assert source == f"{name}/ingest_dt={day}/part-0000.parquet"
            assert (lake / source).exists()
