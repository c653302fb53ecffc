"""The simulated shop behind the generator: customers, catalogue, carts, orders and returns.

One `World` walks forward one day at a time and returns that day's clean rows per table. State
that crosses days is small and bounded: the customer and product arrays, orders waiting to be
placed (a cart converts up to 47 hours after it was created) and returns waiting for their date
(1..30 days after the order). Everything is vectorised with numpy; strings are built with Arrow
compute. Randomness comes from a generator seeded with (seed, day, stream), so a day's rows do not
depend on how many days the run has, nor on the defect rate.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomlake.bronze import gen_vocab as V
from ecomlake.bronze.gen_arrow import (
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SEC,
    choice,
    date_str,
    epoch_day,
    int_str,
    join,
    money_str,
    take,
    ts_str,
    vocab,
    with_nulls,
)
from ecomlake.contract import CONTRACT

CONVERSION = 0.34  # share of carts that become an order
GUEST_SHARE = 0.30  # share of carts (and so of orders) from guests
EMPTIED_SHARE = 0.15  # non-converted carts whose lines were removed
RETURN_RATE = 0.12  # share of orders with a return
MAX_CONVERSION_US = 47 * US_PER_HOUR
REACTIVATION_DAYS = 120

_FIRST = vocab(V.FIRST_NAMES)
_LAST = vocab(V.LAST_NAMES)
_FIRST_LC = pc.utf8_lower(_FIRST)
_LAST_LC = pc.utf8_lower(_LAST)
_DOMAINS = vocab(V.EMAIL_DOMAINS)
_CITY_TAIL = vocab([f", {c}, {s} {z}" for c, s, z, _w in V.CITIES])
_CITY_WEIGHTS = [w for *_x, w in V.CITIES]
_STREETS = vocab(V.STREETS)
_SUFFIXES = vocab(V.STREET_SUFFIXES)
_GENDERS = vocab(V.GENDERS)
_STATUSES = vocab(V.CUSTOMER_STATUSES)
_SIGNUP_CHANNELS = vocab(V.SIGNUP_CHANNELS)
_TIERS = vocab(V.TIERS)
_CLV = vocab(V.CLV_BUCKETS)
_CATEGORIES = vocab(V.CATEGORIES)
_CHANNELS = vocab(V.CHANNELS)
_PAYMENTS = vocab(V.PAYMENT_METHODS)
_SPEEDS = vocab(V.SHIPPING_SPEEDS)
_REASONS = vocab(V.RETURN_REASONS)
_RETURN_TYPES = vocab(V.RETURN_TYPES)
_PAY_CUM = np.cumsum(np.array(V.PAYMENT_WEIGHTS_BY_CHANNEL), axis=1)


def _yyyymmdd(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def season_factor(day: dt.date) -> float:
    """Weekly x yearly seasonality, about 1.0 on average over a year."""
    # Interpolate the month factors between mid-months so the year has no steps.
    pos = (day.month - 1) + (day.day - 1) / 30.5 - 0.5
    lo = math.floor(pos)
    frac = pos - lo
    month = V.MONTH_FACTOR[lo % 12] * (1 - frac) + V.MONTH_FACTOR[(lo + 1) % 12] * frac
    return V.WEEKDAY_FACTOR[day.weekday()] * month


def tier_from_spend(spend: np.ndarray) -> np.ndarray:
    return (np.searchsorted(np.array(V.TIER_SPEND), spend, side="right") - 1).astype(np.int8)


def clv_from_spend(spend: np.ndarray) -> np.ndarray:
    return (np.searchsorted(np.array(V.CLV_SPEND), spend, side="right") - 1).astype(np.int8)


def _addresses(rng: np.random.Generator, n: int) -> pa.Array:
    number = int_str(rng.integers(1, 9999, n))
    street = take(_STREETS, rng.integers(0, len(V.STREETS), n))
    suffix = take(_SUFFIXES, rng.integers(0, len(V.STREET_SUFFIXES), n))
    city = take(_CITY_TAIL, choice(rng, n, _CITY_WEIGHTS))
    zip_tail = int_str(rng.integers(0, 100, n), 2)
    return join(number, " ", street, " ", suffix, city, zip_tail)


def _phones(rng: np.random.Generator, n: int) -> pa.Array:
    a = int_str(rng.integers(201, 990, n))
    b = int_str(rng.integers(200, 999, n))
    c = int_str(rng.integers(0, 10000, n), 4)
    styles = [join(a, "-", b, "-", c), join("(", a, ") ", b, "-", c), join(a, ".", b, ".", c)]
    return pc.choose(pa.array(choice(rng, n, (0.6, 0.25, 0.15)).astype(np.int8)), *styles)


@dataclass
class Customers:
    """Registered customers, one element per customer (arrays grow with signups)."""

    num: np.ndarray
    first: np.ndarray
    last: np.ndarray
    email: pa.Array
    signup: np.ndarray  # epoch day
    phone: pa.Array
    gender: np.ndarray
    age: np.ndarray
    status: np.ndarray
    channel: np.ndarray
    tier: np.ndarray  # -1: not enrolled in loyalty
    init_tier: np.ndarray
    verified: np.ndarray
    opt_in: np.ndarray
    mailing: pa.Array
    billing: pa.Array
    enroll: np.ndarray  # epoch day, -1: never enrolled
    spend: np.ndarray  # lifetime gross spend
    last_order: np.ndarray  # epoch day of the last order, -1: never
    affinity: np.ndarray  # personal shopping propensity

    def __len__(self) -> int:
        return len(self.num)

    def extend(self, other: Customers) -> None:
        for name in self.__dataclass_fields__:
            a, b = getattr(self, name), getattr(other, name)
            setattr(self, name, pa.concat_arrays([a, b]) if isinstance(a, pa.Array) else np.concatenate([a, b]))

    def ids(self, idx: np.ndarray | None = None) -> pa.Array:
        num = self.num if idx is None else self.num[idx]
        return join("CUST-", int_str(num))

    def weights(self) -> np.ndarray:
        tier_w = np.where(self.tier >= 0, np.array(V.TIER_PROPENSITY)[np.maximum(self.tier, 0)], 0.8)
        return self.affinity * tier_w * np.array(V.STATUS_PROPENSITY)[self.status]


def _new_customers(
    rng: np.random.Generator, n: int, first_num: int, signup: np.ndarray, enroll_on_signup: bool, today: int
) -> Customers:
    first = rng.integers(0, len(V.FIRST_NAMES), n)
    last = rng.integers(0, len(V.LAST_NAMES), n)
    num = np.arange(first_num, first_num + n, dtype=np.int64)
    email = join(
        take(_FIRST_LC, first),
        ".",
        take(_LAST_LC, last),
        ".",
        int_str(num),
        "@",
        take(_DOMAINS, choice(rng, n, V.EMAIL_DOMAIN_WEIGHTS)),
    )
    mailing = _addresses(rng, n)
    same_billing = rng.random(n) < 0.85
    billing = pc.if_else(pa.array(same_billing), mailing, _addresses(rng, n))
    if enroll_on_signup:
        spend = np.zeros(n)
        enrolled = rng.random(n) < 0.6
        enroll = np.where(enrolled, signup, -1)
        last_order = np.full(n, -1, dtype=np.int32)
    else:
        tenure = np.maximum(today - signup, 0)
        has_history = (rng.random(n) < 0.85) & (tenure > 0)
        spend = np.where(has_history, np.round(rng.lognormal(np.log(120 + 2.2 * tenure), 0.9), 2), 0.0)
        enrolled = rng.random(n) < 0.85
        enroll = np.where(enrolled, signup + (rng.random(n) * np.maximum(today - signup, 0)).astype(np.int64), -1)
        last_order = np.where(
            has_history, signup + (rng.random(n) * np.maximum(today - signup, 0)).astype(np.int64), -1
        )
    earned = tier_from_spend(spend)
    tier = np.where(enrolled, earned, -1).astype(np.int8)
    init_tier = np.where(enrolled, np.minimum(earned, rng.integers(0, 2, n)), -1).astype(np.int8)
    return Customers(
        num=num,
        first=first,
        last=last,
        email=email,
        signup=signup.astype(np.int32),
        phone=_phones(rng, n),
        gender=choice(rng, n, V.GENDER_WEIGHTS).astype(np.int8),
        age=rng.integers(18, 81, n).astype(np.float64),
        status=choice(rng, n, V.CUSTOMER_STATUS_WEIGHTS).astype(np.int8),
        channel=choice(rng, n, V.SIGNUP_CHANNEL_WEIGHTS).astype(np.int8),
        tier=tier,
        init_tier=init_tier,
        verified=rng.random(n) < 0.8,
        opt_in=rng.random(n) < 0.5,
        mailing=mailing,
        billing=billing,
        enroll=enroll.astype(np.int32),
        spend=spend,
        last_order=last_order.astype(np.int32),
        affinity=rng.lognormal(0.0, 0.9, n),
    )


@dataclass
class Catalog:
    name: pa.Array
    category: np.ndarray
    price_c: np.ndarray  # unit price in cents
    cost_c: np.ndarray
    stock: np.ndarray
    popularity: np.ndarray

    def __len__(self) -> int:
        return len(self.price_c)


def _new_catalog(rng: np.random.Generator, n: int) -> Catalog:
    cat = choice(rng, n, V.CATEGORY_WEIGHTS).astype(np.int8)
    names = []
    for _c_idx, c_name in enumerate(V.CATEGORIES):
        adjs, nouns = V.PRODUCT_WORDS[c_name]
        names.append(vocab([f"{a} {o}" for a in adjs for o in nouns]))
    base = np.zeros(n, dtype=np.int64)
    combos = len(names[0])
    base = rng.integers(0, combos, n)
    # one vocabulary of all category phrases, indexed by category * combos + phrase
    phrases = pa.concat_arrays(names)
    letters = vocab([chr(65 + i) + chr(65 + j) for i in range(26) for j in range(26)])
    ids = np.arange(1, n + 1)
    name = join(
        take(phrases, cat.astype(np.int64) * combos + base),
        " ",
        take(letters, rng.integers(0, 676, n)),
        "-",
        int_str(ids),
    )
    median = np.array([m for m, _s in V.CATEGORY_PRICE])[cat]
    sigma = np.array([s for _m, s in V.CATEGORY_PRICE])[cat]
    price = np.clip(rng.lognormal(np.log(median), sigma), 1.0, 2499.0)
    price_c = (np.floor(price) * 100 + 99).astype(np.int64)
    cost_c = np.floor(price_c * rng.uniform(0.35, 0.72, n)).astype(np.int64)
    stock = rng.integers(5, 600, n).astype(np.int64)
    return Catalog(
        name=name, category=cat, price_c=price_c, cost_c=cost_c, stock=stock, popularity=rng.lognormal(0.0, 1.0, n)
    )


@dataclass
class _OrderBatch:
    """Orders waiting to be placed: one element per order, lines in `line_*` (sorted by order)."""

    order_us: np.ndarray
    cust: np.ndarray  # customer index, -1 for guests
    guest: pa.Array  # guest id (null for registered customers)
    line_order: np.ndarray
    line_product: np.ndarray  # catalogue index (product_id - 1)
    line_qty: np.ndarray


@dataclass
class _ReturnBatch:
    """Returns waiting for their date: per return, and per returned line."""

    order_id: pa.Array
    customer_id: pa.Array
    email: pa.Array
    channel: np.ndarray
    payment: np.ndarray
    item_return: np.ndarray  # index into the returns above
    item_product: np.ndarray
    item_unit_c: np.ndarray
    item_cost_c: np.ndarray
    item_qty: np.ndarray
    item_refund_c: np.ndarray


Batch = TypeVar("Batch", "_OrderBatch", "_ReturnBatch")


def _concat(items: list[Any], cls: type[Batch]) -> Batch:
    """Concatenate dataclass batches field by field, re-basing the per-batch line index."""
    fields = cls.__dataclass_fields__
    out = {}
    index_field = "line_order" if cls is _OrderBatch else "item_return"
    size_field = "order_us" if cls is _OrderBatch else "channel"
    offset, parts = 0, []
    for b in items:
        parts.append(offset)
        offset += len(getattr(b, size_field))
    for name in fields:
        vals = [getattr(b, name) for b in items]
        if name == index_field:
            vals = [v + o for v, o in zip(vals, parts, strict=False)]
        if isinstance(vals[0], pa.Array):
            out[name] = pa.concat_arrays(vals)
        else:
            out[name] = np.concatenate(vals)
    return cls(**out)


def _table(name: str, columns: dict) -> pa.Table:
    """A table with the contract's business columns in contract order and Bronze types."""
    t = CONTRACT[name]
    arrays = []
    for c in t.columns:
        v = columns[c.name]
        if not isinstance(v, (pa.Array, pa.ChunkedArray)):
            v = pa.array(v, type=c.arrow_type)
        elif v.type != c.arrow_type:
            v = v.cast(c.arrow_type)
        arrays.append(v)
    return pa.Table.from_arrays(arrays, names=t.column_names)


@dataclass
class World:
    seed: int
    start: dt.date
    history_start: dt.date
    orders_per_day: int
    customers: Customers = field(init=False)
    catalog: Catalog = field(init=False)
    pending_orders: dict = field(default_factory=dict)
    pending_returns: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = self._rng(0, 0)
        n = self.orders_per_day
        self.catalog = _new_catalog(rng, int(1000 + 8 * math.sqrt(n)))
        today = epoch_day(self.start)
        hist = epoch_day(self.history_start)
        pop = 4 * n + 500
        if hist < today:
            signup = rng.integers(hist, today, pop)
        else:
            signup = np.full(pop, today)
        signup.sort()
        self.customers = _new_customers(rng, pop, 100001, signup, enroll_on_signup=False, today=today)

    def _rng(self, day: int, stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed % (1 << 63), day, stream, 20231]))

    # ------------------------------------------------------------------------------------- day
    def simulate_day(self, day: dt.date, first_day: bool) -> dict[str, pa.Table]:
        d = epoch_day(day)
        rng = self._rng(d, 1)
        ymd = _yyyymmdd(day)
        cust = self.customers
        updated = np.zeros(len(cust), dtype=bool)
        if first_day:
            updated[:] = True

        price_changed = self._price_changes(rng, first_day)

        # New signups and random profile changes of existing customers.
        n_new = int(rng.poisson(0.02 * self.orders_per_day + 2))
        new = _new_customers(rng, n_new, int(cust.num[-1]) + 1, np.full(n_new, d), enroll_on_signup=True, today=d)
        status_change = rng.random(len(cust)) < 0.002
        cust.status[status_change] = rng.integers(0, 3, int(status_change.sum()))
        opt_flip = rng.random(len(cust)) < 0.001
        cust.opt_in[opt_flip] = ~cust.opt_in[opt_flip]
        updated |= status_change | opt_flip
        first_new = len(cust)
        cust.extend(new)
        updated = np.concatenate([updated, np.ones(n_new, dtype=bool)])

        carts, cart_items, converting = self._carts(rng, day, ymd, first_new)
        # Orders placed today: carts of earlier days converting now, plus today's.
        batches = self.pending_orders.pop(d, [])
        today_mask = (converting.order_us // US_PER_DAY) == d
        later = converting
        for future_day in (d + 1, d + 2):
            sel = np.nonzero((later.order_us // US_PER_DAY) == future_day)[0]
            if len(sel):
                self.pending_orders.setdefault(future_day, []).append(_select_orders(later, sel))
        sel = np.nonzero(today_mask)[0]
        if len(sel):
            batches.append(_select_orders(converting, sel))
        orders, order_items, upgraded = self._orders(rng, day, ymd, batches)
        updated |= upgraded

        returns, return_items = self._returns(rng, day, ymd)

        # Restock what ran low; publish price and stock changes of the day.
        cat = self.catalog
        low = cat.stock < 15
        restock = low & (rng.random(len(cat)) < 0.5)
        cat.stock[restock] += rng.integers(100, 400, int(restock.sum()))
        product_rows = (
            np.ones(len(cat), dtype=bool)
            if first_day
            else (price_changed | restock | (cat.stock == 0) | (rng.random(len(cat)) < 0.005))
        )

        return {
            "customers": self._customer_table(np.nonzero(updated)[0]),
            "product_catalog": self._product_table(np.nonzero(product_rows)[0]),
            "orders": orders,
            "order_items": order_items,
            "shopping_carts": carts,
            "cart_items": cart_items,
            "returns": returns,
            "return_items": return_items,
        }

    # ------------------------------------------------------------------------------- products
    def _price_changes(self, rng: np.random.Generator, first_day: bool) -> np.ndarray:
        cat = self.catalog
        changed = np.zeros(len(cat), dtype=bool)
        if first_day:
            return changed
        changed = rng.random(len(cat)) < 0.02
        k = int(changed.sum())
        new_price = np.floor(cat.price_c[changed] / 100 * rng.uniform(0.85, 1.15, k)) * 100 + 99
        floor_price = np.ceil(cat.cost_c[changed] * 1.05)
        cat.price_c[changed] = np.maximum(new_price, floor_price).astype(np.int64)
        return changed

    def _product_table(self, idx: np.ndarray) -> pa.Table:
        cat = self.catalog
        return _table(
            "product_catalog",
            {
                "product_id": (idx + 1).astype(np.int64),
                "product_name": take(cat.name, idx),
                "category": take(_CATEGORIES, cat.category[idx]),
                "unit_price": cat.price_c[idx] / 100.0,
                "cost_price": cat.cost_c[idx] / 100.0,
                "inventory_quantity": cat.stock[idx],
            },
        )

    # ------------------------------------------------------------------------------ customers
    def _customer_table(self, idx: np.ndarray) -> pa.Table:
        c = self.customers
        tier = c.tier[idx]
        init = c.init_tier[idx]
        enroll = c.enroll[idx]
        return _table(
            "customers",
            {
                "customer_id": c.ids(idx),
                "email": take(c.email, idx),
                "signup_date": date_str(c.signup[idx]),
                "first_name": take(_FIRST, c.first[idx]),
                "last_name": take(_LAST, c.last[idx]),
                "phone_number": take(c.phone, idx),
                "gender": take(_GENDERS, c.gender[idx]),
                "age": c.age[idx],
                "is_guest": np.zeros(len(idx), dtype=bool),
                "customer_status": take(_STATUSES, c.status[idx]),
                "signup_channel": take(_SIGNUP_CHANNELS, c.channel[idx]),
                "loyalty_tier": with_nulls(take(_TIERS, np.maximum(tier, 0)), tier >= 0),
                "initial_loyalty_tier": with_nulls(take(_TIERS, np.maximum(init, 0)), init >= 0),
                "email_verified": c.verified[idx],
                "marketing_opt_in": c.opt_in[idx],
                "mailing_address": take(c.mailing, idx),
                "billing_address": take(c.billing, idx),
                "loyalty_enrollment_date": with_nulls(date_str(np.maximum(enroll, 0)), enroll >= 0),
                "clv_bucket": take(_CLV, clv_from_spend(c.spend[idx])),
            },
        )

    # ---------------------------------------------------------------------------------- carts
    def _carts(
        self, rng: np.random.Generator, day: dt.date, ymd: int, first_new: int
    ) -> tuple[pa.Table, pa.Table, _OrderBatch]:
        d = epoch_day(day)
        cat = self.catalog
        cust = self.customers
        expected_orders = self.orders_per_day * season_factor(day)
        n = int(rng.poisson(expected_orders / CONVERSION))
        if n == 0:  # a quiet day at tiny volumes
            none = np.zeros(0, dtype=np.int64)
            return (
                _empty("shopping_carts"),
                _empty("cart_items"),
                _OrderBatch(
                    order_us=none,
                    cust=none,
                    guest=pa.array([], pa.string()),
                    line_order=none,
                    line_product=none,
                    line_qty=none,
                ),
            )
        guest = rng.random(n) < GUEST_SHARE
        w = cust.weights()
        w[first_new:] *= 6.0  # people who just signed up tend to shop right away
        cust_idx = np.full(n, -1, dtype=np.int64)
        cust_idx[~guest] = rng.choice(len(cust), size=int((~guest).sum()), p=w / w.sum())
        hour = choice(rng, n, V.HOUR_WEIGHTS)
        created = d * US_PER_DAY + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, n)
        order = np.argsort(created, kind="stable")
        created, guest, cust_idx = created[order], guest[order], cust_idx[order]

        cart_ids = join(f"CART-{ymd}-", int_str(np.arange(1, n + 1), 7))
        guest_ids = join("GUEST-", int_str(ymd * 1_000_000 + np.arange(1, n + 1)))
        customer_id = pc.if_else(pa.array(guest), guest_ids, cust.ids(np.maximum(cust_idx, 0)))

        converts = rng.random(n) < CONVERSION
        emptied = ~converts & (rng.random(n) < EMPTIED_SHARE)
        n_lines = 1 + np.minimum(rng.poisson(1.6, n), 11)

        # Lines: products, quantities and add times (each line a few minutes after the previous one).
        total = int(n_lines.sum())
        line_cart = np.repeat(np.arange(n), n_lines)
        product = rng.choice(len(cat), size=total, p=cat.popularity / cat.popularity.sum())
        r = rng.random(total)
        qty = 1 + (r < 0.25).astype(np.int64) + (r < 0.08) + (r < 0.02)
        gaps = rng.integers(5 * US_PER_SEC, 240 * US_PER_SEC, total)
        csum = np.cumsum(gaps)
        starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
        base = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0)
        added_raw = created[line_cart] + csum - base[line_cart]
        last_add_raw = added_raw[np.cumsum(n_lines) - 1]
        day_end = (d + 1) * US_PER_DAY - 1
        added = np.minimum(added_raw, day_end)

        # When converting carts become orders: mostly within the hour, some the next day.
        u = rng.random(n)
        delay = np.where(
            u < 0.7,
            rng.exponential(25 * 60 * US_PER_SEC, n),
            np.where(u < 0.93, rng.uniform(1, 12, n) * US_PER_HOUR, rng.uniform(12, 47, n) * US_PER_HOUR),
        )
        order_us = np.minimum(last_add_raw + delay.astype(np.int64), created + MAX_CONVERSION_US)
        order_us = np.maximum(order_us, last_add_raw)
        converted_today = converts & (order_us <= day_end)

        price_c = cat.price_c[product]
        cart_total_c = np.bincount(line_cart, weights=price_c * qty, minlength=n).astype(np.int64)
        cart_total_c = np.where(emptied, 0, cart_total_c)
        last_add = np.minimum(last_add_raw, day_end)
        emptied_at = np.minimum(created + rng.integers(60, 1800, n) * US_PER_SEC, day_end)
        updated_at = np.where(converted_today, order_us, np.where(emptied, emptied_at, last_add))
        status = np.where(
            converted_today, "converted", np.where(converts, "open", np.where(emptied, "emptied", "abandoned"))
        )

        carts = _table(
            "shopping_carts",
            {
                "cart_id": cart_ids,
                "customer_id": customer_id,
                "created_at": ts_str(created),
                "updated_at": ts_str(updated_at),
                "cart_total": cart_total_c / 100.0,
                "status": pa.array(status, type=pa.string()),
            },
        )
        keep = ~emptied[line_cart]
        k_cart, k_product, k_qty = line_cart[keep], product[keep], qty[keep]
        cart_items = _table(
            "cart_items",
            {
                "cart_item_id": ymd * 1_000_000_000 + np.arange(1, int(keep.sum()) + 1, dtype=np.int64),
                "cart_id": take(cart_ids, k_cart),
                "product_id": (k_product + 1).astype(np.int64),
                "product_name": take(cat.name, k_product),
                "category": take(_CATEGORIES, cat.category[k_product]),
                "added_at": ts_str(added[keep]),
                "quantity": k_qty,
                "unit_price": price_c[keep] / 100.0,
            },
        )

        conv_idx = np.nonzero(converts)[0]
        line_sel = converts[line_cart]
        remap = np.full(n, -1, dtype=np.int64)
        remap[conv_idx] = np.arange(len(conv_idx))
        converting = _OrderBatch(
            order_us=order_us[conv_idx],
            cust=cust_idx[conv_idx],
            guest=with_nulls(take(guest_ids, conv_idx), guest[conv_idx]),
            line_order=remap[line_cart[line_sel]],
            line_product=product[line_sel],
            line_qty=qty[line_sel],
        )
        return carts, cart_items, converting

    # --------------------------------------------------------------------------------- orders
    def _orders(
        self, rng: np.random.Generator, day: dt.date, ymd: int, batches: list[_OrderBatch]
    ) -> tuple[pa.Table, pa.Table, np.ndarray]:
        d = epoch_day(day)
        cat = self.catalog
        cust = self.customers
        upgraded = np.zeros(len(cust), dtype=bool)
        if not batches:
            return _empty("orders"), _empty("order_items"), upgraded
        b = _concat(batches, _OrderBatch)
        n = len(b.order_us)
        order = np.argsort(b.order_us, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        order_us, cust_idx = b.order_us[order], b.cust[order]
        guest_id = take(b.guest, order)
        is_guest = cust_idx < 0
        order_ids = join(f"ORD-{ymd}-", int_str(np.arange(1, n + 1), 7))

        # Merge cart lines into order lines (one line per product), sorted by order then product.
        key = rank[b.line_order] * len(cat) + b.line_product
        uniq, inv = np.unique(key, return_inverse=True)
        l_order = uniq // len(cat)
        l_product = uniq % len(cat)
        l_qty = np.bincount(inv, weights=b.line_qty).astype(np.int64)
        unit_c = cat.price_c[l_product]
        cost_c = cat.cost_c[l_product]
        line_c = unit_c * l_qty
        discounted = rng.random(len(uniq)) < 0.2
        disc_c = np.where(discounted, np.floor(line_c * rng.uniform(0.05, 0.25, len(uniq))), 0).astype(np.int64)
        gross_c = np.bincount(l_order, weights=line_c, minlength=n).astype(np.int64)
        discount_c = np.bincount(l_order, weights=disc_c, minlength=n).astype(np.int64)
        net_c = gross_c - discount_c
        total_items = np.bincount(l_order, weights=l_qty, minlength=n).astype(np.int64)

        channel = choice(rng, n, V.CHANNEL_WEIGHTS)
        payment = (rng.random(n)[:, None] >= _PAY_CUM[channel]).sum(axis=1)
        payment = np.minimum(payment, len(V.PAYMENT_METHODS) - 1)
        speed = choice(rng, n, V.SHIPPING_WEIGHTS)
        ship_c = np.round(np.array(V.SHIPPING_PRICE)[speed] * 100).astype(np.int64)
        ship_c = np.where((speed == 0) & (net_c >= V.FREE_SHIPPING_OVER * 100), 0, ship_c)
        actual_c = np.round(np.array(V.SHIPPING_ACTUAL)[speed] * rng.uniform(0.85, 1.1, n) * 100).astype(np.int64)
        fee_c = np.round(net_c * np.array(V.PROCESSING_FEE_RATE)[payment]).astype(np.int64)
        phone = channel == 1
        agent = with_nulls(join("CSR-", int_str(rng.integers(1, V.AGENTS + 1, n), 4)), phone)

        ci = np.maximum(cust_idx, 0)
        guest_email = join(
            take(_FIRST_LC, rng.integers(0, len(V.FIRST_NAMES), n)),
            ".",
            int_str(rng.integers(100, 99999, n)),
            "@",
            take(_DOMAINS, choice(rng, n, V.EMAIL_DOMAIN_WEIGHTS)),
        )
        guest_addr = _addresses(rng, n)
        g = pa.array(is_guest)
        tier = np.where(is_guest, -1, cust.tier[ci])
        reactivated = ~is_guest & (cust.last_order[ci] >= 0) & (d - cust.last_order[ci] > REACTIVATION_DAYS)
        orders = _table(
            "orders",
            {
                "order_id": order_ids,
                "total_items": total_items,
                "order_date": ts_str(order_us),
                "customer_id": pc.if_else(g, guest_id, cust.ids(ci)),
                "email": pc.if_else(g, guest_email, take(cust.email, ci)),
                "order_channel": take(_CHANNELS, channel),
                "is_expedited": speed > 0,
                "customer_tier": with_nulls(take(_TIERS, np.maximum(tier, 0)), tier >= 0),
                "gross_total": gross_c / 100.0,
                "net_total": net_c / 100.0,
                "total_discount_amount": discount_c / 100.0,
                "payment_method": take(_PAYMENTS, payment),
                "shipping_speed": take(_SPEEDS, speed),
                "shipping_cost": ship_c / 100.0,
                "agent_id": agent,
                "actual_shipping_cost": actual_c / 100.0,
                "payment_processing_fee": money_str(fee_c),
                "shipping_address": pc.if_else(g, guest_addr, take(cust.mailing, ci)),
                "billing_address": pc.if_else(g, guest_addr, take(cust.billing, ci)),
                "clv_bucket": with_nulls(take(_CLV, clv_from_spend(cust.spend[ci])), ~is_guest),
                "is_reactivated": reactivated,
            },
        )
        order_items = _table(
            "order_items",
            {
                "order_id": take(order_ids, l_order),
                "product_id": (l_product + 1).astype(np.int64),
                "product_name": take(cat.name, l_product),
                "category": take(_CATEGORIES, cat.category[l_product]),
                "quantity": l_qty,
                "unit_price": unit_c / 100.0,
                "discount_amount": disc_c / 100.0,
                "cost_price": cost_c / 100.0,
            },
        )

        # Customer state: spend, last order, earned tier (an upgrade is a change record today).
        reg = np.nonzero(~is_guest)[0]
        np.add.at(cust.spend, cust_idx[reg], gross_c[reg] / 100.0)
        cust.last_order[cust_idx[reg]] = d
        touched = np.unique(cust_idx[reg])
        earned = tier_from_spend(cust.spend[touched])
        up = (cust.tier[touched] >= 0) & (earned > cust.tier[touched])
        cust.tier[touched[up]] = earned[up]
        upgraded[touched[up]] = True
        sold = np.bincount(l_product, weights=l_qty, minlength=len(cat)).astype(np.int64)
        cat.stock = np.maximum(cat.stock - sold, 0)

        self._plan_returns(
            rng, d, n, order_ids, orders, is_guest, channel, payment, l_order, l_product, l_qty, unit_c, cost_c, disc_c
        )
        return orders, order_items, upgraded

    # -------------------------------------------------------------------------------- returns
    def _plan_returns(
        self,
        rng: np.random.Generator,
        d: int,
        n: int,
        order_ids: pa.Array,
        orders: pa.Table,
        is_guest: np.ndarray,
        channel: np.ndarray,
        payment: np.ndarray,
        l_order: np.ndarray,
        l_product: np.ndarray,
        l_qty: np.ndarray,
        unit_c: np.ndarray,
        cost_c: np.ndarray,
        disc_c: np.ndarray,
    ) -> None:
        returned = rng.random(n) < np.where(is_guest, RETURN_RATE * 0.8, RETURN_RATE)
        if not returned.any():
            return
        ret_idx = np.nonzero(returned)[0]
        delay = np.minimum(rng.geometric(1 / 5.0, len(ret_idx)), 30)
        line_ret = returned[l_order] & (rng.random(len(l_order)) < 0.6)
        # every returned order returns at least its first line
        first_line = np.flatnonzero(np.r_[True, l_order[1:] != l_order[:-1]])  # l_order is sorted
        has = np.bincount(l_order, weights=line_ret, minlength=n) > 0
        force = first_line[returned[l_order[first_line]] & ~has[l_order[first_line]]]
        line_ret[force] = True
        li = np.nonzero(line_ret)[0]
        qty = l_qty[li]
        partial = (qty > 1) & (rng.random(len(li)) < 0.3)
        q_ret = np.where(partial, 1 + np.floor(rng.random(len(li)) * (qty - 1)).astype(np.int64), qty)
        paid_c = unit_c[li] * qty - disc_c[li]
        refund_c = paid_c * q_ret // qty  # never more than what was paid for those units
        remap = np.full(n, -1, dtype=np.int64)
        remap[ret_idx] = np.arange(len(ret_idx))
        due = d + delay
        item_ret = remap[l_order[li]]
        for due_day in np.unique(due):
            sel = np.nonzero(due == due_day)[0]
            local = np.full(len(ret_idx), -1, dtype=np.int64)
            local[sel] = np.arange(len(sel))
            isel = np.nonzero(local[item_ret] >= 0)[0]
            oi = ret_idx[sel]
            self.pending_returns.setdefault(int(due_day), []).append(
                _ReturnBatch(
                    order_id=take(order_ids, oi),
                    customer_id=orders.column("customer_id").combine_chunks().take(pa.array(oi)),
                    email=orders.column("email").combine_chunks().take(pa.array(oi)),
                    channel=channel[oi],
                    payment=payment[oi],
                    item_return=local[item_ret[isel]],
                    item_product=l_product[li[isel]],
                    item_unit_c=unit_c[li[isel]],
                    item_cost_c=cost_c[li[isel]],
                    item_qty=q_ret[isel],
                    item_refund_c=refund_c[isel],
                )
            )

    def _returns(self, rng: np.random.Generator, day: dt.date, ymd: int) -> tuple[pa.Table, pa.Table]:
        d = epoch_day(day)
        batches = self.pending_returns.pop(d, [])
        if not batches:
            return _empty("returns"), _empty("return_items")
        b = _concat(batches, _ReturnBatch)
        n = len(b.channel)
        cat = self.catalog
        return_ids = join(f"RTN-{ymd}-", int_str(np.arange(1, n + 1), 6))
        refund_c = np.bincount(b.item_return, weights=b.item_refund_c, minlength=n).astype(np.int64)
        phone = b.channel == 1
        returns = _table(
            "returns",
            {
                "return_id": return_ids,
                "order_id": b.order_id,
                "customer_id": b.customer_id,
                "email": b.email,
                "return_date": date_str(np.full(n, d)),
                "reason": take(_REASONS, choice(rng, n, V.RETURN_REASON_WEIGHTS)),
                "return_type": take(_RETURN_TYPES, choice(rng, n, V.RETURN_TYPE_WEIGHTS)),
                "refunded_amount": refund_c / 100.0,
                "return_channel": take(_CHANNELS, b.channel),
                "agent_id": with_nulls(join("CSR-", int_str(rng.integers(1, V.AGENTS + 1, n), 4)), phone),
                "refund_method": take(_PAYMENTS, b.payment),
            },
        )
        order = np.argsort(b.item_return, kind="stable")
        k = len(order)
        p = b.item_product[order]
        return_items = _table(
            "return_items",
            {
                "return_item_id": ymd * 1_000_000_000 + np.arange(1, k + 1, dtype=np.int64),
                "return_id": take(return_ids, b.item_return[order]),
                "order_id": take(b.order_id, b.item_return[order]),
                "product_id": (p + 1).astype(np.int64),
                "product_name": take(cat.name, p),
                "category": take(_CATEGORIES, cat.category[p]),
                "quantity_returned": b.item_qty[order],
                "unit_price": b.item_unit_c[order] / 100.0,
                "cost_price": b.item_cost_c[order] / 100.0,
                "refunded_amount": b.item_refund_c[order] / 100.0,
            },
        )
        return returns, return_items


def _select_orders(b: _OrderBatch, sel: np.ndarray) -> _OrderBatch:
    remap = np.full(len(b.order_us), -1, dtype=np.int64)
    remap[sel] = np.arange(len(sel))
    lines = np.nonzero(remap[b.line_order] >= 0)[0]
    return _OrderBatch(
        order_us=b.order_us[sel],
        cust=b.cust[sel],
        guest=take(b.guest, sel),
        line_order=remap[b.line_order[lines]],
        line_product=b.line_product[lines],
        line_qty=b.line_qty[lines],
    )


def _empty(name: str) -> pa.Table:
    return CONTRACT[name].bronze_schema().empty_table().select(CONTRACT[name].column_names)
