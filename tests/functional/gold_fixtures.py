"""Tiny hand-made Enriched Silver tables for the Gold tests, in the real partition layout.

Two days (2023-01-01, 2023-01-02), two snapshots of each snapshot table, six orders, five carts,
four products, five customers. Every expected Gold row in test_gold.py is computed by hand from
the rows below (the comments next to them show the arithmetic).

Layout: <root>/<table>/<partition_key>=YYYY-MM-DD/part-00000.parquet, with the partition column
also stored in the file, in exactly the Enriched writer's schema (ecomlake.transforms.schemas):
a column the rows below leave out is null, and a column the schema does not know is an error, so
the fixtures break when the Enriched contract drifts.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake.transforms.schemas import SPECS

D1 = dt.date(2023, 1, 1)
D2 = dt.date(2023, 1, 2)


def m(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def ts(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hour)


TABLES = list(SPECS)  # the ten enriched tables


def _orders() -> list[dict]:
    # order, customer, day, hour, channel, gross, net, region, tax rate, tax, ex-tax
    raw = [
        ("O1", "CUST-A", D1, 12.5, "web", "100.00", "90.00", "US-CA", 0.075, "7.50", "92.50"),
        ("O2", "CUST-E", D1, 15.0, "web", "50.00", "45.00", "US-CA", 0.075, "3.75", "46.25"),
        ("O3", "CUST-D", D1, 18.0, "phone", "20.00", "20.00", None, 0.0, "0.00", "20.00"),  # no region
        ("O4", "CUST-E", D2, 9.0, None, "10.00", "8.00", "US-NY", 0.088, "0.88", "9.12"),  # no channel
        ("O5", "CUST-C", D2, 10.0, "web", "200.00", "180.00", "US-NY", 0.088, "17.60", "182.40"),
        ("O6", "CUST-E", D2, 11.0, "web", "60.00", "55.00", "US-TX", 0.0625, "3.75", "56.25"),
    ]
    return [
        {
            "order_id": o,
            "customer_id": c,
            "order_date": ts(d, h),
            "order_channel": ch,
            "gross_total": m(g),
            "net_total": m(n),
            "total_discount_amount": m(g) - m(n),
            "region": r,
            "tax_rate": tr,
            "tax_amount": m(t),
            "revenue_ex_tax": m(x),
            "order_dt": d,
            "ingest_dt": D2,
        }
        for o, c, d, h, ch, g, n, r, tr, t, x in raw
    ]


def base_rows() -> dict[str, list[dict]]:
    """Every enriched table's rows (a fresh copy, so a test may tamper with it)."""
    orders = _orders()
    by_id = {o["order_id"]: o for o in orders}
    rows: dict[str, list[dict]] = {"int_regional_financials": orders}

    # order -> speed, expedited, charged, paid, margin, pct (null when nothing was charged);
    # O4 says expedited but ships standard: flagged as a mismatch, not overwritten.
    ship = [
        ("O1", "standard", False, "10.00", "6.00", "4.00", 0.4),
        ("O2", "overnight", True, "20.00", "25.00", "-5.00", -0.25),
        ("O3", "standard", False, "0.00", "5.00", "-5.00", None),
        ("O4", "standard", True, "5.00", "4.00", "1.00", 0.2),
        ("O5", "standard", False, "30.00", "12.00", "18.00", 0.6),
        ("O6", "standard", False, "10.00", "9.00", "1.00", 0.1),
    ]
    rows["int_shipping_economics"] = [
        {
            "order_id": o,
            "customer_id": by_id[o]["customer_id"],
            "order_channel": by_id[o]["order_channel"],
            "shipping_speed": s,
            "is_expedited": e,
            "speed_is_expedited": s != "standard",
            "expedited_mismatch": e != (s != "standard"),
            "shipping_cost": m(c),
            "actual_shipping_cost": m(a),
            "shipping_margin": m(mg),
            "shipping_margin_pct": p,
            "order_dt": by_id[o]["order_dt"],
            "ingest_dt": D2,
        }
        for o, s, e, c, a, mg, p in ship
    ]

    # carts: id, customer, day, hour, value, items, status, hours to purchase, order
    carts = [
        ("C1", "CUST-A", D1, 10.0, "100.00", 2, "converted", 2.5, "O1"),
        ("C2", "CUST-E", D1, 14.0, "45.00", 1, "converted", 1.0, "O2"),
        ("C3", "CUST-B", D1, 9.0, "30.00", 1, "abandoned", None, None),
        ("C4", "CUST-D", D1, 8.0, "0.00", 0, "empty", None, None),
        ("C5", "CUST-C", D2, 20.0, "15.00", 1, "open", None, None),
    ]
    rows["int_cart_attribution"] = [
        {
            "cart_id": c,
            "customer_id": cu,
            "created_at": ts(d, h),
            "cart_value": m(v),
            "item_count": n,
            "units": n,
            "category_count": min(n, 1),
            "cart_status": s,
            "time_to_purchase_hours": t,
            "order_id": o,
            "order_date": by_id[o]["order_date"] if o else None,
            "order_channel": by_id[o]["order_channel"] if o else None,
            "abandoned_value": m(v) if s == "abandoned" else None,
            "cart_dt": d,
            "ingest_dt": D2,
        }
        for c, cu, d, h, v, n, s, t, o in carts
    ]
    cart_of = {c[8]: c for c in carts if c[8]}
    rows["int_attributed_purchases"] = [
        {
            "order_id": o["order_id"],
            "customer_id": o["customer_id"],
            "order_date": o["order_date"],
            "order_channel": o["order_channel"],
            "gross_total": o["gross_total"],
            "net_total": o["net_total"],
            "cart_id": cart_of[o["order_id"]][0] if o["order_id"] in cart_of else None,
            "cart_created_at": ts(cart_of[o["order_id"]][2], cart_of[o["order_id"]][3])
            if o["order_id"] in cart_of
            else None,
            "hours_from_cart": cart_of[o["order_id"]][7] if o["order_id"] in cart_of else None,
            "is_recovered": o["order_id"] in cart_of,
            "order_dt": o["order_dt"],
            "ingest_dt": D2,
        }
        for o in orders
    ]

    # product, name, category, day, sold, returned, in carts, gross, discount, cogs, refunded,
    # returned cogs, net revenue, gross margin, net margin, margin pct, return rate, cart->order
    perf = [
        (
            1,
            "Laptop",
            "electronics",
            D1,
            3,
            0,
            4,
            "30.00",
            "0.00",
            "12.00",
            "0.00",
            "0.00",
            "30.00",
            "18.00",
            "18.00",
            0.6,
            0.0,
            0.75,
        ),
        (
            2,
            "Phone",
            "electronics",
            D1,
            1,
            0,
            1,
            "20.00",
            "2.00",
            "8.00",
            "0.00",
            "0.00",
            "18.00",
            "10.00",
            "10.00",
            10 / 18,
            0.0,
            1.0,
        ),
        (
            1,
            "Laptop",
            "electronics",
            D2,
            2,
            1,
            2,
            "20.00",
            "0.00",
            "8.00",
            "10.00",
            "4.00",
            "10.00",
            "12.00",
            "6.00",
            0.6,
            0.2,
            1.0,
        ),
        (
            3,
            "Novel",
            "books",
            D2,
            5,
            0,
            0,
            "50.00",
            "0.00",
            "20.00",
            "0.00",
            "0.00",
            "50.00",
            "30.00",
            "30.00",
            0.6,
            0.0,
            None,
        ),
    ]
    rows["int_product_performance"] = [
        {
            "product_id": p,
            "product_name": n,
            "category": c,
            "units_sold": us,
            "units_returned": ur,
            "units_in_carts": uc,
            "gross_revenue": m(g),
            "discount_amount": m(di),
            "cogs": m(co),
            "refunded_amount": m(rf),
            "returned_cogs": m(rc),
            "net_revenue": m(nr),
            "gross_margin": m(gm),
            "net_margin": m(nm),
            "margin_pct": mp,
            "return_rate": rr,
            "cart_to_order_rate": c2o,
            "product_dt": d,
            "ingest_dt": D2,
        }
        for p, n, c, d, us, ur, uc, g, di, co, rf, rc, nr, gm, nm, mp, rr, c2o in perf
    ]
    rows["int_sales_velocity"] = [
        {"product_id": p, "daily_quantity": q, "velocity_7d": v, "trend_signal": t, "order_dt": d, "ingest_dt": D2}
        for p, d, q, v, t in [
            (1, D1, 3, 3 / 7, "STABLE"),
            (2, D1, 1, 1 / 7, "UP"),
            (1, D2, 2, 5 / 7, "DOWN"),
            (3, D2, 5, 5 / 7, "UP"),
            (4, D2, 1, 1 / 7, "UP"),
        ]
    ]

    # Inventory snapshots: on D1 all is calm; on D2 product 1 is out of stock with demand (HIGH) and
    # product 2 runs low (MODERATE), both electronics; product 4 has no category.
    inv = {
        D1: [
            (1, "Laptop", "electronics", 50, 100.0, "HEALTHY"),
            (2, "Phone", "electronics", 40, 200.0, "HEALTHY"),
            (3, "Novel", "books", 500, None, "OVERSTOCK"),
            (4, "Mystery box", None, 10, None, "OVERSTOCK"),
        ],
        D2: [
            (1, "Laptop", "electronics", 0, 0.0, "HIGH"),
            (2, "Phone", "electronics", 2, 10.0, "MODERATE"),
            (3, "Novel", "books", 495, 700.0, "OVERSTOCK"),
            (4, "Mystery box", None, 9, 63.0, "HEALTHY"),
        ],
    }
    rows["int_inventory_risk"] = [
        {
            "product_id": p,
            "product_name": n,
            "category": c,
            "inventory_quantity": q,
            "days_of_cover": cov,
            "locked_capital": m(f"{q * 4}.00"),
            "risk_tier": t,
            "ingest_dt": d,
        }
        for d, items in inv.items()
        for p, n, c, q, cov, t in items
    ]

    # CLV snapshots: customer, orders, spent, refunded, net, returns, segment, actual, predicted
    clv = {
        D1: [
            ("CUST-A", 1, "90.00", "0.00", "90.00", 0, "one_timer", "low_value", "low"),
            ("CUST-B", 0, "0.00", "0.00", "0.00", 0, "no_orders", "low_value", "medium"),
            ("CUST-C", 1, "600.00", "0.00", "600.00", 0, "whale", "high_value", "high"),
        ],
        D2: [
            ("CUST-A", 2, "135.00", "0.00", "135.00", 0, "regular", "low_value", "low"),
            ("CUST-B", 0, "0.00", "0.00", "0.00", 0, "no_orders", "low_value", "medium"),
            ("CUST-C", 1, "600.00", "0.00", "600.00", 0, "whale", "high_value", "high"),
            ("CUST-D", 1, "20.00", "5.00", "15.00", 1, "one_timer", "low_value", None),
            ("CUST-E", 3, "150.00", "0.00", "150.00", 0, "regular", "low_value", "low"),
        ],
    }
    rows["int_customer_lifetime_value"] = [
        {
            "customer_id": c,
            "order_count": n,
            "total_spent": m(s),
            "total_refunded": m(r),
            "net_clv": m(v),
            "avg_order_value": (float(s) / n if n else None),
            "return_count": rc,
            "customer_segment": seg,
            "actual_clv_bucket": a,
            "predicted_clv_bucket": p,
            "ingest_dt": d,
        }
        for d, items in clv.items()
        for c, n, s, r, v, rc, seg, a, p in items
    ]
    # retention: customer -> (danger zone, bronze nudge), per snapshot
    ret = {
        D1: [("CUST-A", 1, False, False), ("CUST-B", 0, False, None), ("CUST-C", 1, True, False)],
        D2: [
            ("CUST-A", 2, False, False),
            ("CUST-B", 0, False, None),
            ("CUST-C", 1, False, False),
            ("CUST-D", 1, True, False),
            ("CUST-E", 3, False, True),
        ],
    }
    rows["int_customer_retention_signals"] = [
        {"customer_id": c, "total_orders": n, "is_in_danger_zone": z, "needs_bronze_nudge": b, "ingest_dt": d}
        for d, items in ret.items()
        for c, n, z, b in items
    ]

    # Daily metrics agree with the orders above: D1 gross 100+50+20, D2 gross 10+200+60.
    rows["int_daily_business_metrics"] = [
        {
            "metric_dt": D1,
            "orders_count": 3,
            "gross_revenue": m("170.00"),
            "net_revenue": m("155.00"),
            "avg_order_value": 155 / 3,
            "carts_created": 4,
            "cart_conversion_rate": 0.75,
            "returns_count": 0,
            "return_rate": 0.0,
            "refund_total": m("0.00"),
            "orders_7d_avg": 3 / 7,
            "revenue_7d_avg": 155 / 7,
            "revenue_30d_avg": 155 / 30,
            "revenue_30d_std": None,
            "revenue_anomaly_flag": "NORMAL",
            "ingest_dt": D2,
        },
        {
            "metric_dt": D2,
            "orders_count": 3,
            "gross_revenue": m("270.00"),
            "net_revenue": m("243.00"),
            "avg_order_value": 81.0,
            "carts_created": 1,
            "cart_conversion_rate": 3.0,
            "returns_count": 1,
            "return_rate": 1 / 3,
            "refund_total": m("10.00"),
            "orders_7d_avg": 6 / 7,
            "revenue_7d_avg": 398 / 7,
            "revenue_30d_avg": 398 / 30,
            "revenue_30d_std": None,
            "revenue_anomaly_flag": "NORMAL",
            "ingest_dt": D2,
        },
    ]
    return copy.deepcopy(rows)


def write_enriched(
    root: Path, tamper: Callable[[dict[str, list[dict]]], None] | None = None, tables: list[str] | None = None
) -> Path:
    """Write the fixture tables under `root` (optionally tampered with first); returns `root`."""
    rows = base_rows()
    if tamper is not None:
        tamper(rows)
    for table in tables or TABLES:
        spec = SPECS[table]
        schema = spec.arrow_schema()
        unknown = {k for row in rows[table] for k in row} - set(schema.names)
        if unknown:
            raise ValueError(f"{table}: fixture columns not in the Enriched schema: {sorted(unknown)}")
        parts: dict[dt.date, list[dict]] = {}
        for row in rows[table]:
            parts.setdefault(row[spec.partition_key], []).append(row)
        for value, part_rows in sorted(parts.items()):
            out = root / table / f"{spec.partition_key}={value.isoformat()}"
            out.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(part_rows, schema=schema), out / "part-00000.parquet")
    return root


# ------------------------------------------------------------------------------------ running

REPO = Path(__file__).resolve().parents[2]
ECOMLAKE = str(Path(sys.executable).with_name("ecomlake"))


def lake_env(lake: Path, **extra: str) -> dict[str, str]:
    """Environment pointing every ecomlake path under `lake` (never the repo's data/ or docs/)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID", "MAX_QUARANTINE", "DBT_"))
    }
    env.update(
        BRONZE_BASE_PATH=str(lake / "bronze"),
        SILVER_BASE_PATH=str(lake / "silver" / "base"),
        SILVER_DIMS_PATH=str(lake / "silver" / "dims"),
        SILVER_ENRICHED_PATH=str(lake / "silver" / "enriched"),
        GOLD_PATH=str(lake / "gold"),
        METRICS_BASE_PATH=str(lake / "metrics"),
        REPORTS_BASE_PATH=str(lake / "reports"),
        ECOM_WORK_PATH=str(lake / "work"),
        ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_cli(args: list[str], lake: Path, **extra: str) -> subprocess.CompletedProcess:
    """`ecomlake <args>` in a fresh process with the lake's paths, as a user would run it."""
    return subprocess.run(
        [ECOMLAKE, *args],
        env=lake_env(lake, **extra),
        cwd=str(lake.parent),
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_mart(warehouse: Path, mart: str) -> list[dict]:
    """Every row of a mart, ordered by all columns (read-only, so a BI tool could hold it too)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(f"select * from main.{mart} order by all")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
    finally:
        con.close()
