"""Hand-made Bronze for the dims / Base Silver / dbt tests (helpers only; no tests here).

`clean_day()` returns, per table, a list of valid rows (dicts) for one ingest_dt; tests then break
single rows on purpose and know by hand which code each broken row must get. `write_bronze()`
writes a partition the way the generator does (part file + manifest + _SUCCESS), with the
contract's Bronze schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake.contract import CONTRACT, TABLES


def _lineage(table: str, key: str, day: str, n: int, hour: int = 8) -> dict:
    return {
        "batch_id": f"batch-{day}",
        "ingestion_ts": f"{day}T{hour:02d}:00:{n % 60:02d}+00:00",
        "event_id": f"{table}:{key}",
        "source_file": f"{table}_{day}.csv",
    }


def customer(cid: str, day: str, tier: str = "bronze", n: int = 0, hour: int = 8) -> dict:
    return {
        "customer_id": cid,
        "email": f"{cid.lower()}@example.com",
        "signup_date": day,
        "first_name": "Ann",
        "last_name": "Lee",
        "phone_number": "555-0100",
        "gender": "female",
        "age": 31.0,
        "is_guest": False,
        "customer_status": "active",
        "signup_channel": "website",
        "loyalty_tier": tier,
        "initial_loyalty_tier": "bronze",
        "email_verified": True,
        "marketing_opt_in": False,
        "mailing_address": "1 Main St",
        "billing_address": "1 Main St",
        "loyalty_enrollment_date": "None",
        "clv_bucket": "low",
        **_lineage("customers", cid, day, n, hour),
    }


def product(pid: int, day: str, price: float = 20.0, n: int = 0) -> dict:
    return {
        "product_id": pid,
        "product_name": f"Product {pid}",
        "category": "books",
        "unit_price": price,
        "cost_price": round(price / 2, 2),
        "inventory_quantity": 100,
        **_lineage("product_catalog", str(pid), day, n),
    }


def order(oid: str, cid: str, day: str, n: int = 0, **over) -> dict:
    row = {
        "order_id": oid,
        "total_items": 1,
        "order_date": f"{day} 10:00:00.000000",
        "customer_id": cid,
        "email": "a@example.com",
        "order_channel": "web",
        "is_expedited": False,
        "customer_tier": "bronze",
        "gross_total": 20.0,
        "net_total": 18.0,
        "total_discount_amount": 2.0,
        "payment_method": "paypal",
        "shipping_speed": "standard",
        "shipping_cost": 5.0,
        "agent_id": "None",
        "actual_shipping_cost": 4.0,
        "payment_processing_fee": "0.6",
        "shipping_address": "1 Main St",
        "billing_address": "1 Main St",
        "clv_bucket": "low",
        "is_reactivated": False,
        **_lineage("orders", oid, day, n),
    }
    row.update(over)
    return row


def order_item(oid: str, pid: int, day: str, n: int = 0, **over) -> dict:
    row = {
        "order_id": oid,
        "product_id": pid,
        "product_name": f"Product {pid}",
        "category": "books",
        "quantity": 1,
        "unit_price": 20.0,
        "discount_amount": 2.0,
        "cost_price": 10.0,
        **_lineage("order_items", f"{oid}|{pid}", day, n),
    }
    row.update(over)
    return row


def cart(cart_id: str, cid: str, day: str, n: int = 0, **over) -> dict:
    row = {
        "cart_id": cart_id,
        "customer_id": cid,
        "created_at": f"{day}T09:00:00",
        "updated_at": f"{day}T09:30:00",
        "cart_total": 20.0,
        "status": "converted",
        **_lineage("shopping_carts", cart_id, day, n),
    }
    row.update(over)
    return row


def cart_item(item_id: int, cart_id: str, pid: int, day: str, n: int = 0, **over) -> dict:
    row = {
        "cart_item_id": item_id,
        "cart_id": cart_id,
        "product_id": pid,
        "product_name": f"Product {pid}",
        "category": "books",
        "added_at": f"{day}T09:05:00",
        "quantity": 1,
        "unit_price": 20.0,
        **_lineage("cart_items", str(item_id), day, n),
    }
    row.update(over)
    return row


def return_(rid: str, oid: str, cid: str, day: str, n: int = 0, **over) -> dict:
    row = {
        "return_id": rid,
        "order_id": oid,
        "customer_id": cid,
        "email": "a@example.com",
        "return_date": day,
        "reason": "Defective",
        "return_type": "refund",
        "refunded_amount": 18.0,
        "return_channel": "web",
        "agent_id": "AG-1",
        "refund_method": "paypal",
        **_lineage("returns", rid, day, n),
    }
    row.update(over)
    return row


def return_item(item_id: int, rid: str, oid: str, pid: int, day: str, n: int = 0, **over) -> dict:
    row = {
        "return_item_id": item_id,
        "return_id": rid,
        "order_id": oid,
        "product_id": pid,
        "product_name": f"Product {pid}",
        "category": "books",
        "quantity_returned": 1,
        "unit_price": 20.0,
        "cost_price": 10.0,
        "refunded_amount": 18.0,
        **_lineage("return_items", str(item_id), day, n),
    }
    row.update(over)
    return row


def clean_day(
    day: str, customers: int = 3, products: int = 3, orders: int = 4, prefix: str = ""
) -> dict[str, list[dict]]:
    """A small, fully valid day: every FK resolves, no duplicates."""
    p = prefix or day.replace("-", "")
    cids = [f"CUST-{p}-{i}" for i in range(customers)]
    pids = [int(p) * 10 + i if p.isdigit() else 1000 + i for i in range(1, products + 1)]
    data = {t: [] for t in TABLES}
    data["customers"] = [customer(c, day, n=i) for i, c in enumerate(cids)]
    data["product_catalog"] = [product(pid, day, n=i) for i, pid in enumerate(pids)]
    for i in range(orders):
        oid, cart_id = f"ORD-{p}-{i}", f"CART-{p}-{i}"
        cid = cids[i % len(cids)]
        pid = pids[i % len(pids)]
        data["orders"].append(order(oid, cid, day, n=i))
        data["order_items"].append(order_item(oid, pid, day, n=i))
        data["shopping_carts"].append(cart(cart_id, cid, day, n=i))
        data["cart_items"].append(cart_item(int(p) * 100 + i + 1 if p.isdigit() else 5000 + i, cart_id, pid, day, n=i))
    data["returns"].append(return_(f"RET-{p}-0", f"ORD-{p}-0", cids[0], day))
    data["return_items"].append(
        return_item(int(p) * 100 + 1 if p.isdigit() else 7001, f"RET-{p}-0", f"ORD-{p}-0", pids[0], day)
    )
    return data


def write_bronze(root: Path, table: str, day: str, rows: list[dict], files: int = 1) -> Path:
    """Write one Bronze partition (part files, _manifest.json, _SUCCESS) with the contract schema."""
    schema = CONTRACT[table].bronze_schema()
    part = Path(root) / table / f"ingest_dt={day}"
    part.mkdir(parents=True, exist_ok=True)
    for old in part.glob("*.parquet"):
        old.unlink()
    chunks = [rows[i::files] for i in range(files)] if files > 1 else [rows]
    entries = []
    for i, chunk in enumerate(chunks):
        tbl = pa.Table.from_pylist(chunk, schema=schema) if chunk else schema.empty_table()
        path = part / f"part-{i:04d}.parquet"
        pq.write_table(tbl, path)
        entries.append({"path": path.name, "rows": len(chunk)})
    (part / "_manifest.json").write_text(
        json.dumps({"table": table, "partition": f"ingest_dt={day}", "files": entries, "total_rows": len(rows)})
    )
    (part / "_SUCCESS").write_text("")
    return part


def write_day(root: Path, day: str, data: dict[str, list[dict]], skip: tuple[str, ...] = ()) -> None:
    for table, rows in data.items():
        if table not in skip:
            write_bronze(root, table, day, rows)
