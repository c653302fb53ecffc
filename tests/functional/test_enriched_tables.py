"""Each Enriched table on a tiny hand-made lake, with the expected rows computed by hand.

Lake A runs three days in order (2023-01-01..03) like production; lake B delivers a month of
orders in one arrival so the rolling windows have history.
"""

from __future__ import annotations

import statistics
from decimal import Decimal

import pytest
from enriched_fixtures import D, Lake, cart, cart_item, item, order, ret, ret_item

from ecomlake.enriched.runner import run_enriched

CUSTOMERS = [
    {"customer_id": "C1", "loyalty_tier": "bronze"},
    {"customer_id": "C2"},
    {"customer_id": "C3", "clv_bucket": "high"},
    {"customer_id": "C4"},
    {"customer_id": "C5"},
    {"customer_id": "C6"},
    {"customer_id": "C7", "loyalty_tier": "bronze"},
    {"customer_id": "C8"},
]
PRODUCTS = [
    {"product_id": 1, "inventory_quantity": 100, "cost_price": 4},
    {"product_id": 2, "inventory_quantity": 0},
    {"product_id": 3, "inventory_quantity": 1000},
    {"product_id": 4, "inventory_quantity": 5},
    {"product_id": 5, "inventory_quantity": 10},
    {"product_id": 6, "inventory_quantity": 1},
]
CA = "1 Main St, Springfield, CA 90210"
DE = "Hauptstr. 1, 10115 Berlin, Germany"
OR = "5 Elm St, Portland, OR 97201"


def by(rows, key):
    return {r[key]: r for r in rows}


@pytest.fixture(scope="module")
def lake_a(tmp_path_factory):
    lake = Lake(tmp_path_factory.mktemp("lake_a"))
    for d in ("2023-01-01", "2023-01-02", "2023-01-03"):
        lake.write_dims(d, CUSTOMERS, PRODUCTS)
    lake.write_day(
        "2023-01-01",
        orders=[
            order("O1", "C1", "2023-01-01T10:00:00", 100, shipping_address=CA, shipping_cost=5, actual_shipping_cost=4),
            order("O5", "C3", "2023-01-01T09:00:00", 600, shipping_address=DE, billing_address=None),
            order(
                "O6",
                "GUEST-9",
                "2023-01-01T12:00:00",
                40,
                shipping_address=None,
                billing_address=OR,
                shipping_cost=0,
                actual_shipping_cost=3,
                is_expedited=True,
                shipping_speed="standard",
            ),
            order(
                "O7", "C6", "2022-09-01T08:00:00", 20, shipping_address="nowhere", billing_address=None
            ),  # a late arrival
            order("O8", "C7", "2022-12-01T08:00:00", 20),
        ],
        order_items=[
            item("O1", 1, "2023-01-01", 2, 50, discount_amount=10),  # cost from the snapshot (4)
            item("O5", 2, "2023-01-01", 3, 200, cost_price=150),
            item("O6", 1, "2023-01-01", 1, 40),
        ],
        shopping_carts=[
            cart("K1", "C2", "2023-01-01T01:00:00", 30),
            cart("K2", "C4", "2023-01-01T02:00:00", 25),
            cart("K3", "C5", "2023-01-01T05:00:00"),
        ],
        cart_items=[cart_item(1, "K1", 1, "2023-01-01T01:05:00", 1, 30)],
    )
    lake.write_day(
        "2023-01-02",
        orders=[
            order("O2", "C1", "2023-01-02T10:00:00", 200),
            order("O9", "C8", "2023-01-02T21:00:00", 15),
        ],  # its cart arrives a day late
        order_items=[item("O2", 5, "2023-01-02", 2, 10), item("O2", 6, "2023-01-02", 5, 10)],
        returns=[ret("R1", "O1", "C1", "2023-01-02T12:00:00", 50)],
        return_items=[ret_item(1, "R1", "O1", 1, "2023-01-02", 1, refunded_amount=50)],
    )
    lake.write_day(
        "2023-01-03",
        orders=[
            order("O3", "C2", "2023-01-03T00:00:00", 30),  # 47 h after K1, across two midnights
            order("O4", "C4", "2023-01-03T03:00:00", 25),
        ],  # 49 h after K2: too late
        order_items=[item("O3", 1, "2023-01-03", 1, 30), item("O4", 3, "2023-01-03", 1, 25)],
        shopping_carts=[cart("K4", "C8", "2023-01-02T20:00:00", 15)],  # late: converts O9 of yesterday
    )
    settings = lake.settings(overrides={"enriched.default_tax_rate": 0.05})
    for d in ("2023-01-01", "2023-01-02", "2023-01-03"):
        run_enriched(settings, d, run_id=f"run_{d}")
        if d == "2023-01-01":
            lake.first_cart_rows = by(lake.read("int_cart_attribution", "cart_dt=2023-01-01"), "cart_id")
        if d == "2023-01-02":
            lake.o9_before = by(lake.read("int_attributed_purchases", "order_dt=2023-01-02"), "order_id")["O9"]
    lake.settings_used = settings
    return lake


def test_clv_lifetime_and_segments(lake_a):
    rows = by(lake_a.read("int_customer_lifetime_value", "ingest_dt=2023-01-03"), "customer_id")
    assert set(rows) == {"C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "UNKNOWN"}  # guests have no row
    c1 = rows["C1"]  # orders of 100 and 200 and a refund of 50
    assert (c1["total_spent"], c1["total_refunded"], c1["net_clv"]) == (
        Decimal("300.00"),
        Decimal("50.00"),
        Decimal("250.00"),
    )
    assert (c1["order_count"], c1["return_count"], c1["avg_order_value"]) == (2, 1, 150.0)
    assert (c1["first_order_date"], c1["last_order_date"], c1["days_since_last_order"]) == (
        D("2023-01-01"),
        D("2023-01-02"),
        1,
    )
    assert (c1["customer_segment"], c1["actual_clv_bucket"], c1["predicted_clv_bucket"]) == (
        "regular",
        "medium_value",
        "low",
    )
    assert rows["C3"]["customer_segment"] == "whale"  # one order of 600: whale wins over one_timer
    assert rows["C3"]["actual_clv_bucket"] == "high_value"
    assert rows["C2"]["customer_segment"] == "one_timer"
    assert rows["C5"]["customer_segment"] == "no_orders"
    assert rows["C5"]["avg_order_value"] is None and rows["C5"]["days_since_last_order"] is None
    assert rows["C6"]["customer_segment"] == "churned" and rows["C6"]["days_since_last_order"] == 124
    assert all(r["ingest_dt"] == D("2023-01-03") for r in rows.values())


def test_retention_signals(lake_a):
    rows = by(lake_a.read("int_customer_retention_signals", "ingest_dt=2023-01-03"), "customer_id")
    c7 = rows["C7"]  # one order 33 days ago, bronze
    assert (c7["total_orders"], c7["days_since_first_buy"], c7["days_since_last_buy"]) == (1, 33, 33)
    assert c7["is_in_danger_zone"] is True and c7["needs_bronze_nudge"] is True
    assert rows["C6"]["is_in_danger_zone"] is False  # first buy 124 days ago
    assert rows["C1"]["is_in_danger_zone"] is False and rows["C1"]["needs_bronze_nudge"] is False
    assert rows["C5"]["total_orders"] == 0 and rows["C5"]["first_purchase_date"] is None


def test_cart_converted_47h_across_midnight_and_not_49h(lake_a):
    before = lake_a.first_cart_rows
    assert {k: r["cart_status"] for k, r in before.items()} == {"K1": "open", "K2": "open", "K3": "open"}
    rows = by(lake_a.read("int_cart_attribution", "cart_dt=2023-01-01"), "cart_id")
    k1, k2, k3 = rows["K1"], rows["K2"], rows["K3"]
    assert (k1["cart_status"], k1["order_id"], k1["time_to_purchase_hours"]) == ("converted", "O3", 47.0)
    assert k1["abandoned_value"] is None and (k1["item_count"], k1["units"], k1["category_count"]) == (1, 1, 1)
    assert (k2["cart_status"], k2["order_id"], k2["abandoned_value"]) == ("abandoned", None, Decimal("25.00"))
    assert (k3["cart_status"], k3["item_count"], k3["units"], k3["cart_value"]) == ("empty", 0, 0, None)
    assert all(r["ingest_dt"] == D("2023-01-03") for r in rows.values())  # re-evaluated by run 2023-01-03


def test_attributed_purchases_agree_with_carts(lake_a):
    rows = by(lake_a.read("int_attributed_purchases", "order_dt=2023-01-03"), "order_id")
    assert (rows["O3"]["cart_id"], rows["O3"]["hours_from_cart"], rows["O3"]["is_recovered"]) == ("K1", 47.0, True)
    assert rows["O3"]["cart_created_at"].isoformat() == "2023-01-01T01:00:00"
    assert (rows["O4"]["cart_id"], rows["O4"]["is_recovered"]) == (None, False)
    assert rows["O3"]["gross_total"] == Decimal("30.00") and rows["O3"]["order_dt"] == D("2023-01-03")


def test_late_cart_converts_an_order_of_an_earlier_day(lake_a):
    # O9 (2023-01-02 21:00) had no cart when day 2 ran; cart K4 (20:00 that day) arrived on day 3.
    assert (lake_a.o9_before["is_recovered"], lake_a.o9_before["cart_id"]) == (False, None)
    o9 = by(lake_a.read("int_attributed_purchases", "order_dt=2023-01-02"), "order_id")["O9"]
    assert (o9["is_recovered"], o9["cart_id"], o9["hours_from_cart"]) == (True, "K4", 1.0)
    assert o9["ingest_dt"] == D("2023-01-03")  # order partition 2023-01-02 was rewritten by run 2023-01-03
    k4 = by(lake_a.read("int_cart_attribution", "cart_dt=2023-01-02"), "cart_id")["K4"]
    assert (k4["cart_status"], k4["order_id"]) == ("converted", "O9")


def test_regional_tax_from_reference_table_and_default(lake_a):
    rows = by(lake_a.read("int_regional_financials"), "order_id")
    o1, o5, o6, o7 = rows["O1"], rows["O5"], rows["O6"], rows["O7"]
    assert (o1["region"], o1["tax_rate"], o1["tax_amount"], o1["revenue_ex_tax"]) == (
        "US-CA",
        0.075,
        Decimal("7.50"),
        Decimal("92.50"),
    )
    assert (o5["region"], o5["tax_rate"], o5["tax_amount"]) == ("EU-DE", 0.19, Decimal("114.00"))
    # US-OR is not in the table: the configured default applies; the billing address was used.
    assert (o6["region"], o6["region_source"], o6["tax_rate"], o6["tax_amount"]) == (
        "US-OR",
        "billing_address",
        0.05,
        Decimal("2.00"),
    )
    assert (o7["region"], o7["tax_rate"]) == ("UNKNOWN", 0.05)
    assert o7["order_dt"] == D("2022-09-01")  # a late arrival lands in its own business date


def test_shipping_economics(lake_a):
    rows = by(lake_a.read("int_shipping_economics", "order_dt=2023-01-01"), "order_id")
    o1, o6 = rows["O1"], rows["O6"]
    assert (o1["shipping_margin"], o1["shipping_margin_pct"], o1["expedited_mismatch"]) == (Decimal("1.00"), 0.2, False)
    assert (o6["shipping_margin"], o6["shipping_margin_pct"]) == (Decimal("-3.00"), None)
    assert (o6["is_expedited"], o6["speed_is_expedited"], o6["expedited_mismatch"]) == (True, False, True)


def test_product_performance(lake_a):
    p1 = by(lake_a.read("int_product_performance", "product_dt=2023-01-01"), "product_id")[1]
    # O1: 2 x 50 with 10 discount, O6: 1 x 40; unit cost from the snapshot (4); one unit in a cart.
    assert (p1["units_sold"], p1["order_line_count"], p1["units_in_carts"]) == (3, 2, 1)
    assert (p1["gross_revenue"], p1["discount_amount"], p1["cogs"]) == (
        Decimal("140.00"),
        Decimal("10.00"),
        Decimal("12.00"),
    )
    assert (p1["gross_margin"], p1["net_revenue"], p1["net_margin"]) == (
        Decimal("118.00"),
        Decimal("130.00"),
        Decimal("118.00"),
    )
    assert p1["margin_pct"] == pytest.approx(118 / 130)
    assert p1["cart_to_order_rate"] == 3.0  # not capped
    assert p1["return_rate"] == 0.0
    assert (p1["product_name"], p1["catalog_cost_price"], p1["inventory_quantity"]) == ("P1", Decimal("4.00"), 100)
    r1 = by(lake_a.read("int_product_performance", "product_dt=2023-01-02"), "product_id")[1]
    # One unit returned (refund 50, cost 4) against 3 sold in the 30 days ending 2023-01-02.
    assert (r1["units_sold"], r1["units_returned"], r1["refunded_amount"], r1["returned_cogs"]) == (
        0,
        1,
        Decimal("50.00"),
        Decimal("4.00"),
    )
    assert (r1["net_revenue"], r1["net_margin"], r1["margin_pct"]) == (Decimal("-50.00"), Decimal("-46.00"), None)
    assert (r1["units_sold_30d"], r1["units_returned_30d"], r1["return_rate"]) == (3, 1, pytest.approx(1 / 3))
    p2 = by(lake_a.read("int_product_performance", "product_dt=2023-01-01"), "product_id")[2]
    assert (p2["gross_revenue"], p2["cogs"]) == (Decimal("600.00"), Decimal("450.00"))  # the line's own cost wins


def test_inventory_risk_tiers(lake_a):
    rows = by(lake_a.read("int_inventory_risk", "ingest_dt=2023-01-03"), "product_id")
    assert set(rows) == {-1, 1, 2, 3, 4, 5, 6}
    assert (rows[2]["inventory_quantity"], rows[2]["units_sold_30d"], rows[2]["risk_tier"]) == (
        0,
        3,
        "HIGH",
    )  # stock-out with demand
    assert rows[6]["days_of_cover"] == pytest.approx(6.0) and rows[6]["risk_tier"] == "HIGH"  # 1 / (5/30)
    assert rows[1]["return_ratio_30d"] == 0.25 and rows[1]["risk_tier"] == "MODERATE"  # 1 returned / 4 sold
    assert rows[5]["days_of_cover"] == pytest.approx(150.0) and rows[5]["risk_tier"] == "HEALTHY"
    assert rows[3]["risk_tier"] == "OVERSTOCK"  # 1000 / (1/30)
    assert (rows[4]["units_sold_30d"], rows[4]["days_of_cover"], rows[4]["risk_tier"]) == (0, None, "OVERSTOCK")
    assert rows[1]["locked_capital"] == Decimal("400.00") and rows[1]["avg_daily_units_30d"] == pytest.approx(4 / 30)


def test_daily_metrics_day(lake_a):
    m = lake_a.read("int_daily_business_metrics", "metric_dt=2023-01-01")[0]
    assert (m["orders_count"], m["gross_revenue"], m["net_revenue"], m["carts_created"]) == (
        3,
        Decimal("740.00"),
        Decimal("740.00"),
        3,
    )
    assert (
        m["cart_conversion_rate"] == 1.0 and m["return_rate"] == 0.0 and m["avg_order_value"] == pytest.approx(740 / 3)
    )
    m2 = lake_a.read("int_daily_business_metrics", "metric_dt=2023-01-02")[0]
    # Rewritten by run 2023-01-03 when the late cart K4 (created on the 2nd) arrived.
    assert (m2["orders_count"], m2["returns_count"], m2["refund_total"], m2["carts_created"]) == (
        2,
        1,
        Decimal("50.00"),
        1,
    )
    assert m2["cart_conversion_rate"] == 2.0 and m2["return_rate"] == 0.5  # ratios are not capped


# ------------------------------------------------------------------------------ lake B: rolling windows

REV = {i: (0 if i in (20, 21) else (150 if i % 2 else 50)) for i in range(1, 31)}
REV[31] = 210


@pytest.fixture(scope="module")
def lake_b(tmp_path_factory):
    lake = Lake(tmp_path_factory.mktemp("lake_b"))
    lake.write_dims("2023-01-31", [{"customer_id": "C1"}], [{"product_id": p} for p in (7, 8, 9)])
    orders, items = [], []
    for i in range(1, 32):
        day = f"2023-01-{i:02d}"
        if REV[i]:
            orders.append(order(f"O{i}", "C1", f"{day}T12:00:00", REV[i]))
        qty = {
            7: 1 if i <= 15 else (2 if i in (16, 17, 18, 19, 22) else 0),
            8: 3 if i <= 14 else (1 if i == 22 else 0),
            9: 1,
        }
        for p, q in qty.items():
            if q and REV[i]:
                items.append(item(f"O{i}", p, day, q, 1))
    lake.write_day("2023-01-31", orders=orders, order_items=items)
    run_enriched(lake.settings(), "2023-01-31", run_id="run_b")
    return lake


def test_daily_rolling_week_with_two_empty_days(lake_b):
    rows = by(lake_b.read("int_daily_business_metrics"), "metric_dt")
    assert len(rows) == 31 and rows[D("2023-01-20")]["orders_count"] == 0  # empty days still get a row
    m = rows[D("2023-01-22")]  # window 16..22: 50,150,50,150,0,0,50 (20 and 21 are empty)
    assert m["revenue_7d_avg"] == pytest.approx((50 + 150 + 50 + 150 + 0 + 0 + 50) / 7)
    assert m["orders_7d_avg"] == pytest.approx(5 / 7)
    assert m["revenue_30d_avg"] == pytest.approx(sum(REV[i] for i in range(1, 23)) / 30)  # days before the 1st are zero
    assert rows[D("2023-01-05")]["revenue_anomaly_flag"] == "NORMAL"  # fewer than 14 previous days of history


def test_anomaly_flag_excludes_current_day(lake_b):
    m = by(lake_b.read("int_daily_business_metrics"), "metric_dt")[D("2023-01-31")]
    prev = [REV[i] for i in range(1, 31)]
    assert statistics.mean(prev) + 2 * statistics.stdev(prev) < 210  # HIGH against the previous 30 days
    with_today = [REV[i] for i in range(2, 31)] + [210]
    assert statistics.mean(with_today) + 2 * statistics.stdev(with_today) > 210  # would be NORMAL if included
    assert m["revenue_anomaly_flag"] == "HIGH"
    assert m["revenue_30d_std"] == pytest.approx(statistics.stdev(with_today))


def test_sales_velocity_calendar_windows(lake_b):
    rows = {(r["product_id"], r["order_dt"]): r for r in lake_b.read("int_sales_velocity")}
    up = rows[(7, D("2023-01-22"))]  # 16..22 sold 2,2,2,2,0,0,2 = 10; 9..15 sold 7
    assert (up["daily_quantity"], up["velocity_7d"], up["prev_velocity_7d"], up["trend_signal"]) == (
        2,
        10 / 7,
        1.0,
        "UP",
    )
    down = rows[(8, D("2023-01-22"))]  # 16..22: 1; 9..15: 3 x 6 days = 18
    assert (down["velocity_7d"], down["prev_velocity_7d"], down["trend_signal"]) == (1 / 7, 18 / 7, "DOWN")
    stable = rows[(9, D("2023-01-22"))]  # 16..22 and 9..15: one a day except the two empty days 20, 21
    assert (stable["velocity_7d"], stable["prev_velocity_7d"], stable["trend_signal"]) == (5 / 7, 1.0, "DOWN")
    stable = rows[(9, D("2023-01-15"))]
    assert (stable["velocity_7d"], stable["prev_velocity_7d"], stable["trend_signal"]) == (1.0, 1.0, "STABLE")
    assert (7, D("2023-01-20")) not in rows  # rows only for days with sales
