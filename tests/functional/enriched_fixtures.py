"""Tiny hand-made Base Silver and dims fixtures for the Enriched tests (pyarrow, no generator).

Rows are dicts with only the columns a test cares about; every other Silver column is filled with
a plausible default, business dates are derived from the timestamps as Silver does, and each
partition is written as `<silver>/<table>/ingest_dt=D/part-0000.parquet`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake.config import load_settings
from ecomlake.contract import silver_columns
from ecomlake.transforms.common import silver_schema

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yml"


def D(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def T(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def money(x) -> decimal.Decimal | None:
    return None if x is None else decimal.Decimal(str(x)).quantize(decimal.Decimal("0.01"))


_DEFAULTS = {
    "orders": {
        "total_items": 1,
        "email": "x@example.com",
        "order_channel": "web",
        "is_expedited": False,
        "customer_tier": "bronze",
        "total_discount_amount": 0,
        "payment_method": "paypal",
        "shipping_speed": "standard",
        "shipping_cost": 5,
        "agent_id": None,
        "actual_shipping_cost": 4,
        "payment_processing_fee": 1,
        "shipping_address": "1 Main St, Springfield, CA 90210",
        "billing_address": "1 Main St, Springfield, CA 90210",
        "clv_bucket": "low",
        "is_reactivated": False,
    },
    "order_items": {"product_name": "Widget", "category": "toys", "discount_amount": 0, "cost_price": None},
    "shopping_carts": {"updated_at": None, "cart_total": None, "status": "open"},
    "cart_items": {"product_name": "Widget", "category": "toys"},
    "returns": {
        "email": "x@example.com",
        "reason": "Changed mind",
        "return_type": "refund",
        "return_channel": "web",
        "agent_id": None,
        "refund_method": "paypal",
    },
    "return_items": {
        "product_name": "Widget",
        "category": "toys",
        "unit_price": None,
        "cost_price": None,
        "refunded_amount": None,
    },
}
_BUSINESS = {
    "orders": ("order_dt", "order_date"),
    "shopping_carts": ("created_dt", "created_at"),
    "cart_items": ("added_dt", "added_at"),
    "returns": ("return_dt", "return_date"),
}


class Lake:
    """Paths of one throw-away lake under tmp_path, and writers for its inputs."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.silver = self.root / "silver" / "base"
        self.dims = self.root / "silver" / "dims"
        self.enriched = self.root / "silver" / "enriched"
        self.metrics = self.root / "metrics"
        self.reports = self.root / "reports"
        self.work = self.root / "work"
        self._seq = 0

    def env(self, **extra) -> dict:
        env = {
            "SILVER_BASE_PATH": str(self.silver),
            "SILVER_DIMS_PATH": str(self.dims),
            "SILVER_ENRICHED_PATH": str(self.enriched),
            "METRICS_BASE_PATH": str(self.metrics),
            "REPORTS_BASE_PATH": str(self.reports),
            "ECOM_WORK_PATH": str(self.work),
            "PIPELINE_ENV": "local",
            "DUCKDB_THREADS": "1",
            "DUCKDB_MEMORY_LIMIT": "1GB",
        }
        env.update(extra)
        return env

    def settings(self, overrides: dict | None = None, **env):
        return load_settings(CONFIG, overrides=overrides, env=self.env(**env))

    # ------------------------------------------------------------------ Silver
    def write_silver(self, table: str, ingest_dt: str, rows: list[dict], part: int = 0) -> Path:
        schema = silver_schema(table)
        full = []
        for r in rows:
            self._seq += 1
            row = dict(_DEFAULTS.get(table, {}))
            row.update(r)
            if table in _BUSINESS:
                col, ts = _BUSINESS[table]
                row.setdefault(col, row[ts].date() if row.get(ts) else None)
            row.setdefault("batch_id", "fixture")
            row.setdefault("ingestion_ts", T(ingest_dt + "T12:00:00"))
            row.setdefault("event_id", f"ev{self._seq}")
            row.setdefault("source_file", "fixture.parquet")
            row["ingest_dt"] = D(ingest_dt)
            row.setdefault("_run_id", "fixture")
            for name, typ in silver_columns(table):
                v = row.get(name)
                if typ.startswith("DECIMAL"):
                    row[name] = money(v)
                elif typ == "TIMESTAMP" and isinstance(v, str):
                    row[name] = T(v)
                elif typ == "DATE" and isinstance(v, str):
                    row[name] = D(v)
            full.append({n: row.get(n) for n in schema.names})
        out = self.silver / table / f"ingest_dt={ingest_dt}"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"part-{part:04d}.parquet"
        pq.write_table(pa.Table.from_pylist(full, schema=schema), path)
        return path

    def write_day(self, ingest_dt: str, **tables: list[dict]) -> None:
        """Write every fact table for a day (empty partitions for the ones not given)."""
        for table in ("orders", "order_items", "shopping_carts", "cart_items", "returns", "return_items"):
            self.write_silver(table, ingest_dt, tables.get(table, []))

    # ------------------------------------------------------------------ dims
    def write_dims(
        self, snapshot_dt: str, customers: list[dict], products: list[dict], extra_column: bool = True
    ) -> None:
        cust = [
            {
                "customer_id": "UNKNOWN",
                "signup_date": D("2000-01-01"),
                "loyalty_tier": None,
                "customer_status": None,
                "clv_bucket": None,
            }
        ]
        for c in customers:
            row = {
                "signup_date": D("2022-01-01"),
                "loyalty_tier": "silver",
                "customer_status": "active",
                "clv_bucket": "low",
            }
            row.update(c)
            cust.append(row)
        prod = [
            {
                "product_id": -1,
                "product_name": "UNKNOWN",
                "category": None,
                "unit_price": money(0),
                "cost_price": money(0),
                "inventory_quantity": 0,
            }
        ]
        for p in products:
            row = {
                "product_name": f"P{p['product_id']}",
                "category": "toys",
                "unit_price": 10,
                "cost_price": 4,
                "inventory_quantity": 100,
            }
            row.update(p)
            row["unit_price"], row["cost_price"] = money(row["unit_price"]), money(row["cost_price"])
            prod.append(row)
        for name, rows, schema in (
            (
                "customer_snapshot",
                cust,
                pa.schema(
                    [
                        ("customer_id", pa.string()),
                        ("signup_date", pa.date32()),
                        ("loyalty_tier", pa.string()),
                        ("customer_status", pa.string()),
                        ("clv_bucket", pa.string()),
                    ]
                ),
            ),
            (
                "product_catalog",
                prod,
                pa.schema(
                    [
                        ("product_id", pa.int64()),
                        ("product_name", pa.string()),
                        ("category", pa.string()),
                        ("unit_price", pa.decimal128(18, 2)),
                        ("cost_price", pa.decimal128(18, 2)),
                        ("inventory_quantity", pa.int64()),
                    ]
                ),
            ),
        ):
            t = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
            if extra_column:  # real snapshots carry more columns; the transforms must ignore them
                t = t.append_column("snapshot_dt", pa.array([D(snapshot_dt)] * t.num_rows, pa.date32()))
            out = self.dims / name / f"snapshot_dt={snapshot_dt}"
            out.mkdir(parents=True, exist_ok=True)
            pq.write_table(t, out / "data_0.parquet")

    # ------------------------------------------------------------------ outputs
    def read(self, table: str, partition: str | None = None) -> list[dict]:
        base = self.enriched / table
        dirs = [base / partition] if partition else sorted(p for p in base.iterdir() if p.is_dir())
        rows = []
        for d in dirs:
            for f in sorted(d.glob("part-*.parquet")):
                rows += pq.read_table(f).to_pylist()
        return rows

    def partitions(self, table: str) -> list[str]:
        base = self.enriched / table
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []


def order(order_id, customer_id, order_date, gross=100, net=None, **kw) -> dict:
    return dict(
        order_id=order_id,
        customer_id=customer_id,
        order_date=T(order_date),
        gross_total=gross,
        net_total=gross if net is None else net,
        **kw,
    )


def item(order_id, product_id, order_dt, quantity=1, unit_price=10, **kw) -> dict:
    return dict(
        order_id=order_id, product_id=product_id, order_dt=D(order_dt), quantity=quantity, unit_price=unit_price, **kw
    )


def cart(cart_id, customer_id, created_at, cart_total=None, **kw) -> dict:
    return dict(cart_id=cart_id, customer_id=customer_id, created_at=T(created_at), cart_total=cart_total, **kw)


def cart_item(cart_item_id, cart_id, product_id, added_at, quantity=1, unit_price=10, **kw) -> dict:
    return dict(
        cart_item_id=cart_item_id,
        cart_id=cart_id,
        product_id=product_id,
        added_at=T(added_at),
        quantity=quantity,
        unit_price=unit_price,
        **kw,
    )


def ret(return_id, order_id, customer_id, return_date, refunded=0, **kw) -> dict:
    return dict(
        return_id=return_id,
        order_id=order_id,
        customer_id=customer_id,
        return_date=T(return_date),
        refunded_amount=refunded,
        **kw,
    )


def ret_item(return_item_id, return_id, order_id, product_id, return_dt, quantity=1, **kw) -> dict:
    return dict(
        return_item_id=return_item_id,
        return_id=return_id,
        order_id=order_id,
        product_id=product_id,
        return_dt=D(return_dt),
        quantity_returned=quantity,
        **kw,
    )


DAYS = ["2023-01-01", "2023-01-02", "2023-01-03", "2023-01-04"]


def fill_small_lake(lake: Lake) -> None:
    """Four days: three customers ordering daily, returns, carts converting, a late order and a guest."""
    customers = [{"customer_id": f"C{i}"} for i in range(1, 6)]
    products = [{"product_id": p, "inventory_quantity": 10 * p} for p in range(1, 5)]
    for d in DAYS:
        lake.write_dims(d, customers, products)
    for n, d in enumerate(DAYS, 1):
        orders = [order(f"O{n}{c}", f"C{c}", f"{d}T{8 + c:02d}:30:00", 10 * n + c) for c in range(1, 4)]
        items = [item(f"O{n}{c}", c, d, n, 5) for c in range(1, 4)]
        if n == 3:  # a late order for day 1 and a guest
            orders += [order("LATE", "C4", "2023-01-01T23:00:00", 77), order("G1", "GUEST-1", f"{d}T09:00:00", 5)]
            items += [item("LATE", 4, "2023-01-01", 2, 3)]
        returns = [ret(f"R{n}", f"O{n - 1}1", "C1", f"{d}T20:00:00", 3)] if n > 1 else []
        ritems = [ret_item(n, f"R{n}", f"O{n - 1}1", 1, d, 1)] if n > 1 else []
        carts = [cart(f"K{n}", "C2", f"{d}T07:00:00", 12)]
        lake.write_day(d, orders=orders, order_items=items, returns=returns, return_items=ritems, shopping_carts=carts)
