"""Pure pieces of the Bronze generator: identity hashes, formats, options, defect codes, vocabularies."""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from ecomlake import rules
from ecomlake.bronze import gen_vocab as V
from ecomlake.bronze.gen_arrow import date_str, money_str, ts_str
from ecomlake.bronze.gen_defects import (
    BAD_DATES,
    BAD_MONEY,
    BAD_TIMESTAMPS,
    DIRTY_SLOTS,
    HARMLESS_KINDS,
    INPLACE_SLOTS,
    INVALID_EMAILS,
    INVALID_ENUM,
    NULL_TOKENS,
    expected_code,
)
from ecomlake.bronze.gen_world import season_factor, tier_from_spend
from ecomlake.bronze.generator import (
    FileFault,
    GeneratorOptions,
    _resolve,
    batch_id_for,
    event_id,
    event_ids,
    ingestion_time,
    parse_file_faults,
)
from ecomlake.contract import CONTRACT, TABLES
from ecomlake.errors import InputError

DAYS = [dt.date(2023, 1, 1), dt.date(2023, 1, 2), dt.date(2023, 1, 3)]


def test_event_id_is_sha256_of_canonical_key_json():
    expected = "evt_" + hashlib.sha256(b'{"_table":"orders","order_id":"ORD-1"}').hexdigest()
    assert event_id("orders", {"order_id": "ORD-1"}) == expected
    composite = '{"_table":"order_items","order_id":"ORD-1","product_id":7}'
    assert (
        event_id("order_items", {"product_id": 7, "order_id": "ORD-1"})
        == "evt_" + hashlib.sha256(composite.encode()).hexdigest()
    )


def test_vectorised_event_ids_match_the_reference_including_escaping():
    keys = pa.table({"order_id": ["ORD-1", 'we"ird\\id', "ORD-3"], "product_id": pa.array([1, 22, 333], pa.int64())})
    got = event_ids("order_items", keys).to_pylist()
    assert got == [event_id("order_items", k) for k in keys.to_pylist()]
    assert len(set(got)) == 3
    assert event_ids("orders", pa.table({"order_id": pa.array([], pa.string())})).to_pylist() == []


def test_big_key_columns_hash_in_native_code_to_the_same_ids_in_the_same_order():
    ids = np.arange(30_000, dtype=np.int64) * 7919 + 20230101000000000
    got = event_ids("cart_items", pa.table({"cart_item_id": ids})).to_pylist()
    for i in (0, 1, 12_345, 29_999):
        assert got[i] == event_id("cart_items", {"cart_item_id": int(ids[i])})
    assert len(set(got)) == len(ids)


def test_batch_id_and_ingestion_time_depend_only_on_seed_and_day():
    day = dt.date(2023, 1, 2)
    assert batch_id_for(7, day) == batch_id_for(7, day) != batch_id_for(8, day)
    ts = ingestion_time(7, day)
    assert ts.date() == day and ts.tzinfo is not None and ts.hour == 23
    assert ts.isoformat().endswith("+00:00")


def test_string_formats_are_the_bronze_contract_formats():
    us = np.array([dt.datetime(2023, 1, 2, 3, 4, 5, 6).replace(tzinfo=dt.UTC).timestamp() * 1e6], dtype=np.int64)
    assert ts_str(us).to_pylist() == ["2023-01-02 03:04:05.000006"]
    assert date_str([19359]).to_pylist() == ["2023-01-02"]
    assert money_str([1234, 5, 0, -250, 100]).to_pylist() == ["12.34", "0.05", "0.00", "-2.50", "1.00"]


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("truncated_parquet", [FileFault("orders", "truncated_parquet", DAYS[-1])]),
        ("returns:missing_manifest@2023-01-02", [FileFault("returns", "missing_manifest", DAYS[1])]),
        (
            " manifest_row_mismatch@2023-01-01 , cart_items:dropped_required_column",
            [
                FileFault("orders", "manifest_row_mismatch", DAYS[0]),
                FileFault("cart_items", "dropped_required_column", DAYS[-1]),
            ],
        ),
        ("", []),
    ],
)
def test_parse_file_faults(spec, expected):
    assert parse_file_faults(spec, DAYS) == expected


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ("bogus", "unknown file fault 'bogus'"),
        ("nope:truncated_parquet", "unknown table 'nope'"),
        ("truncated_parquet@2024-01-01", "outside the generated days"),
        ("truncated_parquet@01/02/2023", "expected YYYY-MM-DD"),
    ],
)
def test_bad_file_faults_are_one_line_input_errors(spec, fragment):
    with pytest.raises(InputError) as err:
        parse_file_faults(spec, DAYS)
    assert fragment in err.value.message and "\n" not in err.value.message
    assert err.value.exit_code == 2


def test_options_are_checked():
    with pytest.raises(InputError, match="--history-start"):
        _resolve(GeneratorOptions(start_date="2023-01-01", history_start="2023-01-05"))
    with pytest.raises(InputError, match="--start-date"):
        _resolve(GeneratorOptions(start_date="yesterday"))
    days, history, _ = _resolve(GeneratorOptions(start_date="2023-01-01", days=2))
    assert days == DAYS[:2] and history == dt.date(2022, 1, 1)


def test_every_emitted_code_exists_in_the_rule_registry():
    for table in TABLES:
        for kind, col in DIRTY_SLOTS[table]:
            for k, c in col if kind == "multi" else [(kind, col)]:
                code = expected_code(table, k, c)
                assert rules.rule(table, code).table == table
        for kind, col in INPLACE_SLOTS[table]:
            assert kind in HARMLESS_KINDS and expected_code(table, kind, col) is None
    assert expected_code("orders", "exact_duplicate", None) == rules.duplicate_code("orders")
    assert expected_code("order_items", "resent_key", None) == rules.published_duplicate_code("order_items")
    with pytest.raises(KeyError):
        expected_code("orders", "negative_money", "email")  # no such rule: refuse to write a lying ledger


def test_dirty_values_really_fail_in_duckdb():
    con = duckdb.connect()
    for v in BAD_DATES:
        assert con.execute("SELECT TRY_CAST(? AS DATE)", [v.format(y=2023, d="2023-01-05")]).fetchone()[0] is None, v
    for v in BAD_TIMESTAMPS:
        assert (
            con.execute("SELECT TRY_CAST(? AS TIMESTAMP)", [v.format(y=2023, d="2023-01-05")]).fetchone()[0] is None
        ), v
    for v in BAD_MONEY:
        assert con.execute("SELECT TRY_CAST(? AS DECIMAL(18,2))", [v]).fetchone()[0] is None, v
    assert {t.strip().lower() for t in NULL_TOKENS} == {"", "none", "null", "n/a"}
    for col, bad in INVALID_ENUM.items():
        enums = {c.enum for t in CONTRACT.values() for c in t.columns if c.name == col}
        assert enums and all(bad.lower() not in e for e in enums), col
    for e in INVALID_EMAILS:
        assert not con.execute("SELECT regexp_matches(?, '^[^@ ]+@[^@ ]+\\.[^@ ]+$')", [e]).fetchone()[0]


def test_vocabularies_stay_inside_the_contract_enums():
    pairs = [
        ("orders", "order_channel", V.CHANNELS),
        ("orders", "payment_method", V.PAYMENT_METHODS),
        ("orders", "shipping_speed", V.SHIPPING_SPEEDS),
        ("orders", "customer_tier", V.TIERS),
        ("orders", "clv_bucket", V.CLV_BUCKETS),
        ("customers", "gender", V.GENDERS),
        ("customers", "customer_status", V.CUSTOMER_STATUSES),
        ("customers", "signup_channel", V.SIGNUP_CHANNELS),
        ("product_catalog", "category", V.CATEGORIES),
        ("returns", "return_type", V.RETURN_TYPES),
        ("shopping_carts", "status", tuple(V.CART_STATUS.values())),
    ]
    for table, col, values in pairs:
        enum = CONTRACT[table].column(col).enum
        assert {v.strip().lower() for v in values} <= set(enum), (table, col)
    # return reasons are trimmed but keep their case in Silver
    assert set(V.RETURN_REASONS) <= set(CONTRACT["returns"].column("reason").enum)


def test_seasonality_averages_one_and_peaks_in_december():
    year = [dt.date(2023, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    factors = [season_factor(d) for d in year]
    assert 0.95 < sum(factors) / len(factors) < 1.05
    dec = np.mean([season_factor(d) for d in year if d.month == 12])
    feb = np.mean([season_factor(d) for d in year if d.month == 2])
    assert dec > 1.2 * feb
    week = [season_factor(dt.date(2023, 6, 5) + dt.timedelta(days=i)) for i in range(7)]
    assert max(week) > min(week)


def test_tiers_follow_lifetime_spend():
    assert tier_from_spend(np.array([0, 499.99, 500, 1500, 10_000])).tolist() == [0, 0, 1, 2, 3]
