"""Dirty data: extra rows with known defects, and harmless dirt on clean rows, plus the ledger.

Every quarantining defect is an EXTRA row: a clone of a clean row that gets a fresh key (so no
clean row, and no clean child of a clean row, is ever damaged) and then one mutation. Duplicates
keep the key on purpose: an exact copy, an older conflicting copy (earlier ingestion_ts, so the
clean copy is the newest and wins), or a clean row of an earlier day re-sent today. "Dirty parent"
rows are clean child lines cloned under a dirty parent's fresh key, so they fail only their
foreign key. Non-quarantining dirt (null tokens in optional columns, enum casing and whitespace)
is applied in place to clean rows and is expected to pass Silver.

For every row touched, the ledger records the expected quarantine code from `ecomlake.rules`
(validated against the registry) and its family; harmless dirt has code and family null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomlake import rules
from ecomlake.bronze.gen_arrow import US_PER_DAY, US_PER_HOUR, date_str, epoch_day, int_str, join, money_str, ts_str
from ecomlake.contract import CONTRACT, FACT_TABLES

NULL_TOKENS = ("None", "null", "N/A", "")
BAD_DATES = ("not-a-date", "31/12/{y}", "{y}-02-30", "{y}-13-01")
BAD_TIMESTAMPS = ("not-a-date", "{y}-02-30 10:00:00", "31/12/{y} 10:00", "{d} 25:61:00")
BAD_MONEY = ("12,50", "$12.50", "twelve", "1.2.3")
INVALID_ENUM = {
    "customer_status": "Banned",
    "payment_method": "Bitcoin",
    "status": "lost",
    "category": "Gadgets",
    "return_type": "Barter",
    "order_channel": "Carrier Pigeon",
    "gender": "Robot",
}
INVALID_EMAILS = ("not-an-email", "jane.doe.example.com")

# Rate multiplier per table: dimension partitions are small after the first day and their SLAs are
# tight (0.98 / 0.99), so they get proportionally less dirt.
RATE_FACTOR = {"customers": 1 / 3, "product_catalog": 1 / 6}

# Quarantining defects per table: (kind, column) or ("multi", ((kind, column), ...)).
DIRTY_SLOTS: dict[str, list] = {
    "customers": [
        ("null_pk", "customer_id"),
        ("null_required", "signup_date"),
        ("null_token", "email"),
        ("cast_failure", "signup_date"),
        ("cast_failure", "loyalty_enrollment_date"),
        ("future_date", "signup_date"),
        ("invalid_enum", "customer_status"),
        ("invalid_email", "email"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
    ],
    "product_catalog": [
        ("null_pk", "product_id"),
        ("null_required", "unit_price"),
        ("null_token", "product_name"),
        ("negative_money", "cost_price"),
        ("cost_above_price", "cost_price"),
        ("invalid_enum", "category"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
    ],
    "orders": [
        ("null_pk", "order_id"),
        ("null_required", "order_date"),
        ("null_required", "gross_total"),
        ("null_token", "customer_id"),
        ("orphan_fk", "customer_id"),
        ("cast_failure", "order_date"),
        ("cast_failure", "payment_processing_fee"),
        ("future_date", "order_date"),
        ("negative_money", "shipping_cost"),
        ("negative_money", "payment_processing_fee"),
        ("net_above_gross", "net_total"),
        ("invalid_enum", "payment_method"),
        ("multi", (("future_date", "order_date"), ("negative_money", "actual_shipping_cost"))),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
    ],
    "order_items": [
        ("null_pk", "order_id"),
        ("null_pk", "product_id"),
        ("null_required", "quantity"),
        ("null_token", "order_id"),
        ("orphan_fk", "order_id"),
        ("orphan_fk", "product_id"),
        ("negative_money", "unit_price"),
        ("negative_money", "discount_amount"),
        ("nonpositive_quantity", "quantity"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
        ("dirty_parent", "order_id"),
    ],
    "shopping_carts": [
        ("null_pk", "cart_id"),
        ("null_required", "created_at"),
        ("null_token", "customer_id"),
        ("orphan_fk", "customer_id"),
        ("cast_failure", "created_at"),
        ("cast_failure", "updated_at"),
        ("future_date", "created_at"),
        ("negative_money", "cart_total"),
        ("updated_before_created", "updated_at"),
        ("invalid_enum", "status"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
    ],
    "cart_items": [
        ("null_pk", "cart_item_id"),
        ("null_required", "added_at"),
        ("null_required", "quantity"),
        ("null_token", "cart_id"),
        ("orphan_fk", "cart_id"),
        ("orphan_fk", "product_id"),
        ("cast_failure", "added_at"),
        ("future_date", "added_at"),
        ("negative_money", "unit_price"),
        ("nonpositive_quantity", "quantity"),
        ("multi", (("future_date", "added_at"), ("nonpositive_quantity", "quantity"))),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
        ("dirty_parent", "cart_id"),
    ],
    "returns": [
        ("null_pk", "return_id"),
        ("null_required", "return_date"),
        ("null_token", "order_id"),
        ("orphan_fk", "order_id"),
        ("orphan_fk", "customer_id"),
        ("cast_failure", "return_date"),
        ("future_date", "return_date"),
        ("negative_money", "refunded_amount"),
        ("invalid_enum", "return_type"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
    ],
    "return_items": [
        ("null_pk", "return_item_id"),
        ("null_required", "quantity_returned"),
        ("null_token", "return_id"),
        ("orphan_fk", "return_id"),
        ("orphan_fk", "order_id"),
        ("orphan_fk", "product_id"),
        ("negative_money", "refunded_amount"),
        ("negative_money", "unit_price"),
        ("nonpositive_quantity", "quantity_returned"),
        ("exact_duplicate", None),
        ("conflicting_duplicate", None),
        ("resent_key", None),
        ("dirty_parent", "return_id"),
    ],
}

# Harmless dirt on clean rows (Silver cleans it; nothing is quarantined).
INPLACE_SLOTS: dict[str, list] = {
    "customers": [
        ("optional_null_token", "loyalty_enrollment_date"),
        ("enum_variant", "gender"),
        ("enum_variant", "signup_channel"),
    ],
    "product_catalog": [("enum_variant", "category")],
    "orders": [
        ("optional_null_token", "agent_id"),
        ("enum_variant", "payment_method"),
        ("enum_variant", "order_channel"),
        ("enum_variant", "shipping_speed"),
    ],
    "order_items": [],
    "shopping_carts": [("optional_null_token", "updated_at"), ("enum_variant", "status")],
    "cart_items": [],
    "returns": [
        ("optional_null_token", "agent_id"),
        ("enum_variant", "refund_method"),
        ("enum_variant", "return_channel"),
    ],
    "return_items": [],
}

QUARANTINING_KINDS = (
    "null_pk",
    "null_required",
    "null_token",
    "orphan_fk",
    "cast_failure",
    "future_date",
    "negative_money",
    "net_above_gross",
    "nonpositive_quantity",
    "cost_above_price",
    "updated_before_created",
    "invalid_enum",
    "invalid_email",
    "exact_duplicate",
    "conflicting_duplicate",
    "resent_key",
    "dirty_parent",
)
HARMLESS_KINDS = ("optional_null_token", "enum_variant")
ALL_KINDS = QUARANTINING_KINDS + HARMLESS_KINDS

# Which parent's dirty clones feed a child table's "dirty_parent" lines.
PARENT_OF = {"order_items": "orders", "cart_items": "shopping_carts", "return_items": "returns"}
_FRESH_KEY_KINDS = {
    "null_pk",
    "null_required",
    "null_token",
    "orphan_fk",
    "cast_failure",
    "future_date",
    "negative_money",
    "net_above_gross",
    "nonpositive_quantity",
    "cost_above_price",
    "updated_before_created",
    "invalid_enum",
    "invalid_email",
    "multi",
}


def expected_code(table: str, kind: str, column: str | None) -> str | None:
    """The rule code Silver should quarantine a row with this defect under (None: not quarantined)."""
    if kind in HARMLESS_KINDS:
        return None
    if kind in ("null_pk", "null_required", "null_token"):
        code = f"null_{column}"
    elif kind in ("orphan_fk", "dirty_parent"):
        code = f"invalid_{_needs_column(kind, column).removesuffix('_id')}_fk"
    elif kind == "cast_failure":
        code = f"cast_failed_{column}"
    elif kind == "future_date":
        code = f"future_{column}"
    elif kind == "negative_money":
        code = f"negative_{column}"
    elif kind == "nonpositive_quantity":
        code = f"nonpositive_{column}"
    elif kind == "net_above_gross":
        code = "net_total_above_gross_total"
    elif kind in ("cost_above_price", "updated_before_created"):
        code = kind
    elif kind in ("invalid_enum", "invalid_email"):
        code = f"invalid_{column}"
    elif kind in ("exact_duplicate", "conflicting_duplicate"):
        code = rules.duplicate_code(table)
    elif kind == "resent_key":
        code = rules.published_duplicate_code(table)
    else:
        raise ValueError(f"unknown defect kind {kind!r}")
    rules.rule(table, code)  # raises when the registry has no such rule: the ledger never lies
    return code


def _needs_column(kind: str, column: str | None) -> str:
    if column is None:
        raise ValueError(f"defect kind {kind!r} needs a column")
    return column


def family_of(table: str, code: str | None) -> str | None:
    return rules.rule(table, code).family if code else None


@dataclass
class TableBatch:
    """One table's rows for a day: business columns, clean keys for event_id, ledger rows."""

    data: pa.Table
    event_key: pa.Table
    ts_offset_s: np.ndarray  # seconds before the partition's ingestion_ts
    ledger_rows: list = field(default_factory=list)  # (row index, kind, column, code)


def _kind_columns(slot: tuple[str, Any]) -> list[tuple[str, str | None]]:
    kind, col = slot
    return list(col) if kind == "multi" else [(kind, col)]


class Injector:
    """Applies one day's defects to each table; remembers what children and later days need."""

    def __init__(
        self, rate: float, rng: np.random.Generator, day: dt.date, resent_pool: dict[Any, Any], product_lookup: Any
    ):
        self.rate = rate
        self.rng = rng
        self.day = day
        self.d = epoch_day(day)
        self.ymd = day.year * 10000 + day.month * 100 + day.day
        self.resent_pool = resent_pool  # table -> clean rows of the previous day; slot cursors
        # table -> pa.Table of clean rows, and (purpose, table) -> slot cursor
        self.next_pool: dict[str | tuple[str, str], Any] = {}
        self.product_lookup = product_lookup  # product_id array -> dict of name/category/unit/cost arrays
        self.parent_clones: dict[str, tuple[pa.Array, pa.Array]] = {}
        self._seq = 0

    # ----------------------------------------------------------------------------- helpers
    def _fresh(self, n: int) -> np.ndarray:
        start = self._seq + 1
        self._seq += n
        return np.arange(start, start + n, dtype=np.int64)

    def _fresh_key(self, table: str, sub: pa.Table) -> pa.Table:
        n = sub.num_rows
        seq = self._fresh(n)
        if table == "customers":
            return _set(sub, "customer_id", join(f"CUST-9{self.ymd}", int_str(seq, 5)))
        if table == "product_catalog":
            return _set(sub, "product_id", pa.array(int(f"5{self.ymd}00000") + seq))
        if table == "orders":
            return _set(sub, "order_id", join(f"ORD-{self.ymd}-D", int_str(seq, 6)))
        if table == "shopping_carts":
            return _set(sub, "cart_id", join(f"CART-{self.ymd}-D", int_str(seq, 7)))
        if table == "returns":
            return _set(sub, "return_id", join(f"RTN-{self.ymd}-D", int_str(seq, 6)))
        if table in ("cart_items", "return_items"):
            pk = CONTRACT[table].primary_key[0]
            return _set(sub, pk, pa.array(self.ymd * 1_000_000_000 + 900_000_000 + seq))
        if table == "order_items":
            # Even an orphan gets a fresh (order, product) first: its clean key, and so its
            # event_id, must not be the source line's.
            return self._fresh_order_item_product(sub)
        raise ValueError(table)

    def _fresh_order_item_product(self, sub: pa.Table) -> pa.Table:
        """Move each cloned line to a catalogue product its order does not have yet."""
        existing = self._order_item_keys
        order_codes = _index_in(sub.column("order_id"), self._order_item_orders)
        n_products = self._n_products
        current = sub.column("product_id").to_numpy()
        new = current.copy()
        pending = np.arange(len(new))
        for _attempt in range(20):
            if not len(pending):
                break
            cand = self.rng.integers(1, n_products + 1, len(pending))
            ok = ~np.isin(order_codes[pending] * (n_products + 1) + cand, existing)
            new[pending[ok]] = cand[ok]
            existing = np.concatenate([existing, order_codes[pending[ok]] * (n_products + 1) + cand[ok]])
            pending = pending[~ok]
        keep = np.setdiff1d(np.arange(len(new)), pending)
        sub = sub.take(pa.array(keep))
        new = new[keep]
        attrs = self.product_lookup(new)
        sub = _set(sub, "product_id", pa.array(new, pa.int64()))
        for col in ("product_name", "category", "unit_price", "cost_price"):
            sub = _set(sub, col, attrs[col])
        return sub

    def _orphan(self, column: str, n: int, type_: pa.DataType) -> pa.Array:
        seq = self._fresh(n)
        if column == "customer_id":
            return join(f"CUST-8{self.ymd}", int_str(seq, 5))
        if column == "product_id":
            return pa.array(int(f"8{self.ymd}00000") + seq, pa.int64())
        if column == "order_id":
            return join(f"ORD-{self.ymd}-X", int_str(seq, 6))
        if column == "cart_id":
            return join(f"CART-{self.ymd}-X", int_str(seq, 7))
        if column == "return_id":
            return join(f"RTN-{self.ymd}-X", int_str(seq, 6))
        raise ValueError(column)

    def _cycle(self, values: Sequence[str], n: int) -> pa.Array:
        y, d = self.day.year, self.day.isoformat()
        vals = [v.format(y=y, d=d) for v in values]
        return pa.array([vals[i % len(vals)] for i in range(n)], pa.string())

    # ----------------------------------------------------------------------------- mutations
    def _mutate(self, table: str, sub: pa.Table, kind: str, column: str | None) -> pa.Table:
        n = sub.num_rows
        if n == 0:
            return sub
        if kind == "net_above_gross":
            gross = sub.column("gross_total").to_numpy(zero_copy_only=False)
            return _set(sub, "net_total", pa.array(np.round(gross + 10.0, 2)))
        if kind == "cost_above_price":
            price = sub.column("unit_price").to_numpy(zero_copy_only=False)
            return _set(sub, "cost_price", pa.array(np.round(price * 1.25 + 1.0, 2)))
        if kind == "updated_before_created":
            created = (
                pc.cast(sub.column("created_at"), pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
            )
            return _set(sub, "updated_at", ts_str(created - self.rng.integers(1, 6, n) * US_PER_HOUR))
        column = _needs_column(kind, column)  # every other mutation rewrites the column it names
        typ = sub.schema.field(column).type
        if kind in ("null_pk", "null_required"):
            return _set(sub, column, pa.nulls(n, typ))
        if kind == "null_token":
            return _set(sub, column, self._cycle(NULL_TOKENS, n))
        if kind == "orphan_fk":
            return _set(sub, column, self._orphan(column, n, typ))
        if kind == "cast_failure":
            if column == "payment_processing_fee":
                bad = BAD_MONEY
            elif column in ("signup_date", "loyalty_enrollment_date", "return_date"):
                bad = BAD_DATES
            else:
                bad = BAD_TIMESTAMPS
            return _set(sub, column, self._cycle(bad, n))
        if kind == "future_date":
            ahead = self.d + self.rng.integers(14, 61, n)
            if column in ("signup_date", "return_date"):
                return _set(sub, column, date_str(ahead))
            us = ahead * US_PER_DAY + self.rng.integers(0, US_PER_DAY, n)
            sub = _set(sub, column, ts_str(us))
            if table == "shopping_carts":  # keep updated_at >= created_at: one defect per row
                sub = _set(sub, "updated_at", ts_str(us))
            return sub
        if kind == "negative_money":
            if column == "payment_processing_fee":
                cents = np.round(pc.cast(sub.column(column), pa.float64()).to_numpy(zero_copy_only=False) * 100)
                return _set(sub, column, money_str(-(np.abs(cents).astype(np.int64) + 100)))
            x = sub.column(column).to_numpy(zero_copy_only=False)
            return _set(sub, column, pa.array(-np.round(np.abs(np.nan_to_num(x)) + 1.0, 2)))
        if kind == "nonpositive_quantity":
            return _set(sub, column, pa.array(-(np.arange(n) % 2), pa.int64()))
        if kind == "invalid_enum":
            return _set(sub, column, pa.array([INVALID_ENUM[column]] * n, pa.string()))
        if kind == "invalid_email":
            return _set(sub, column, self._cycle(INVALID_EMAILS, n))
        raise ValueError(kind)

    def _conflicting(self, table: str, sub: pa.Table) -> pa.Table:
        """An older version of the same key with a different (still valid) payload."""
        n = sub.num_rows
        if table == "customers":
            return _set(sub, "phone_number", join("555-010-", int_str(np.arange(n) % 10000, 4)))
        if table == "product_catalog":
            price = sub.column("unit_price").to_numpy()
            return _set(sub, "unit_price", pa.array(np.round(price * 1.05 + 1.0, 2)))
        if table == "orders":
            pm = sub.column("payment_method")
            return _set(sub, "payment_method", pc.if_else(pc.equal(pm, "PayPal"), "Credit Card", "PayPal"))
        if table in ("order_items", "cart_items"):
            return _set(sub, "quantity", pc.add(sub.column("quantity"), 1))
        if table == "shopping_carts":
            sub = _set(sub, "status", pa.array(["open"] * n, pa.string()))
            return _set(sub, "updated_at", sub.column("created_at"))
        if table in ("returns", "return_items"):
            amount = sub.column("refunded_amount").to_numpy()
            return _set(sub, "refunded_amount", pa.array(np.round(amount * 0.5, 2)))
        raise ValueError(table)

    def _variant(self, values: pa.Array) -> pa.Array:
        """Case and whitespace variants of enum values: ' PAYPAL ', 'web', 'STANDARD', '  Phone '."""
        n = len(values)
        style = pa.array((np.arange(n) % 4).astype(np.int8))
        upper = pc.utf8_upper(values)
        return pc.choose(style, join(" ", upper, " "), pc.utf8_lower(values), upper, join("  ", values, " "))

    # ------------------------------------------------------------------------------- apply
    def apply(self, table: str, clean: pa.Table) -> TableBatch:
        t = CONTRACT[table]
        n = clean.num_rows
        rate = self.rate * RATE_FACTOR.get(table, 1.0)
        if table == "order_items":
            self._n_products = int(self.product_lookup.n_products)
            self._order_item_orders = (
                pc.unique(clean.column("order_id").combine_chunks()) if n else pa.array([], pa.string())
            )
            codes = _index_in(clean.column("order_id"), self._order_item_orders)
            self._order_item_keys = codes * (self._n_products + 1) + clean.column("product_id").to_numpy()
        perm = self.rng.permutation(n) if n else np.zeros(0, dtype=np.int64)
        used = np.zeros(n, dtype=bool)
        ledger: list = []
        data = clean

        # 1. Harmless dirt in place.
        inplace = INPLACE_SLOTS[table]
        m = int(np.floor(rate * n)) if inplace else 0
        if inplace:
            cursor = self.resent_pool.get(("inplace", table), 0)
            self.next_pool[("inplace", table)] = (cursor + m) % len(inplace)
        if m:
            counts = np.bincount((np.arange(m) + cursor) % len(inplace), minlength=len(inplace))
            for (kind, col), c in zip(inplace, counts, strict=False):
                if not c:
                    continue
                col_arr = data.column(col)
                cond = ~used[perm]
                if kind == "optional_null_token" and col != "updated_at":
                    cond &= pc.is_null(col_arr).to_numpy(zero_copy_only=False)[perm]
                rows = perm[cond][:c]
                used[rows] = True
                mask = np.zeros(n, dtype=bool)
                mask[rows] = True
                if kind == "optional_null_token":
                    new_vals = pa.array(["None"] * n, pa.string())
                else:
                    new_vals = self._variant(col_arr.combine_chunks())
                data = _set(data, col, pc.if_else(pa.array(mask), new_vals, col_arr))
                code = expected_code(table, kind, col)
                ledger += [(int(r), kind, col, code) for r in rows]

        sources = perm[~used[perm]]
        if table in FACT_TABLES and n:
            self.next_pool[table] = clean.take(pa.array(sources[:2000]))
        key_cols = list(t.primary_key)
        parts_data = [data]
        parts_key = [clean.select(key_cols)]
        parts_ts = [np.zeros(n, dtype=np.int64)]
        offset = n

        # 2. Extra dirty rows.
        slots = DIRTY_SLOTS[table]
        m = int(np.floor(rate * n))
        # Slots are taken round-robin, continuing where the previous day stopped, so that a run of
        # a few small days still covers every kind.
        cursor = self.resent_pool.get(("cursor", table), 0)
        counts = np.bincount((np.arange(m) + cursor) % len(slots), minlength=len(slots)) if m else np.zeros(0, np.int64)
        self.next_pool[("cursor", table)] = (cursor + m) % len(slots)
        next_source = 0
        clones_src, clones_new = [], []
        for slot, c in zip(slots, counts, strict=False):
            c = int(c)
            if not c:
                continue
            kind, col = slot
            if kind == "resent_key":
                pool = self.resent_pool.get(table)
                if pool is None or pool.num_rows == 0:
                    continue
                sub = pool.slice(0, c)
                ts = np.zeros(sub.num_rows, dtype=np.int64)
                entries: list[tuple[str, str | None]] = [("resent_key", None)]
                key = sub.select(key_cols)
            elif kind == "dirty_parent":
                sub, key = self._dirty_children(table, clean, c)
                if sub is None:
                    continue
                ts = np.zeros(sub.num_rows, dtype=np.int64)
                entries = [("dirty_parent", col)]
            else:
                rows = sources[next_source : next_source + c]
                next_source += len(rows)
                if not len(rows):
                    continue
                sub = clean.take(pa.array(rows))
                ts = np.zeros(len(rows), dtype=np.int64)
                if kind == "exact_duplicate":
                    entries = [(kind, None)]
                elif kind == "conflicting_duplicate":
                    sub = self._conflicting(table, sub)
                    ts = self.rng.integers(1, 4, len(rows)) * 3600
                    entries = [(kind, None)]
                else:
                    src_keys = sub.column(key_cols[0])
                    sub = self._fresh_key(table, sub)
                    if sub.num_rows == 0:
                        continue
                    entries = _kind_columns(slot)
                    key = sub.select(key_cols)  # the clean fresh key, before the defect
                    if table in PARENT_OF.values() and kind != "null_pk":
                        clones_src.append(src_keys)
                        clones_new.append(sub.column(key_cols[0]))
                    for k, c2 in entries:
                        sub = self._mutate(table, sub, k, c2)
                if kind in ("exact_duplicate", "conflicting_duplicate"):
                    key = sub.select(key_cols)
            k_rows = sub.num_rows
            parts_data.append(sub)
            parts_key.append(key.cast(parts_key[0].schema) if key.schema != parts_key[0].schema else key)
            parts_ts.append(ts)
            for k, c2 in entries:
                code = expected_code(table, k, c2)
                ledger += [(offset + i, k, c2, code) for i in range(k_rows)]
            offset += k_rows

        if clones_src:
            self.parent_clones[table] = (
                pa.concat_arrays([a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in clones_src]),
                pa.concat_arrays([a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in clones_new]),
            )
        out = pa.concat_tables(parts_data)
        keys = pa.concat_tables(parts_key)
        return TableBatch(out, keys, np.concatenate(parts_ts), ledger)

    def _dirty_children(self, table: str, clean: pa.Table, want: int) -> tuple[pa.Table | None, pa.Table | None]:
        """Clean lines of a source parent, cloned under the parent's dirty fresh key."""
        parent = PARENT_OF[table]
        if parent not in self.parent_clones:
            return None, None
        src, new = self.parent_clones[parent]
        fk = {"order_items": "order_id", "cart_items": "cart_id", "return_items": "return_id"}[table]
        pos = _index_in(clean.column(fk), src)
        rows_all = np.nonzero(pos >= 0)[0]
        if not len(rows_all):
            return None, None
        # take whole parents, in order, until we have at least `want` lines
        parents_order = pos[rows_all]
        chosen = []
        total = 0
        for p in np.unique(parents_order):
            chosen.append(p)
            total += int((parents_order == p).sum())
            if total >= want:
                break
        rows = rows_all[np.isin(parents_order, chosen)]
        sub = clean.take(pa.array(rows))
        sub = _set(sub, fk, new.take(pa.array(pos[rows])))
        if table in ("cart_items", "return_items"):
            pk = CONTRACT[table].primary_key[0]
            sub = _set(sub, pk, pa.array(self.ymd * 1_000_000_000 + 900_000_000 + self._fresh(len(rows))))
        return sub, sub.select(list(CONTRACT[table].primary_key))


def _set(t: pa.Table, name: str, values: Any) -> pa.Table:
    i = t.schema.get_field_index(name)
    typ = t.schema.field(i).type
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values)
    if values.type != typ:
        values = values.cast(typ)
    return t.set_column(i, name, values)


def _index_in(values: Any, value_set: pa.Array) -> np.ndarray:
    """Position of each value in `value_set`, -1 when absent."""
    pos = pc.fill_null(pc.index_in(values, value_set=value_set), -1)
    if isinstance(pos, pa.ChunkedArray):
        pos = pos.combine_chunks()
    return pos.to_numpy(zero_copy_only=False).astype(np.int64)
