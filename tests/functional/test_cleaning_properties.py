"""Property-based tests (Hypothesis) of the Bronze coercion and the Silver cleaning and scoring.

Each Hypothesis example is a Bronze day of `orders` and `customers` written the way any exporter
might: per file and per column a physical type drawn from what the contract accepts (text as
numbers, numbers as text, real TIMESTAMPs and DATEs, decimals, int32, int8 booleans, dictionary
and large strings), two files that may disagree on types, and values drawn from arbitrary text,
padding, casing, the null tokens ('None', 'null', 'N/A', 'NaN', '', blanks), numbers (negative,
huge, NaN, infinite) and dates (valid, invalid, out of range, in the future).

How: dbt costs seconds per invocation, so each example batches many rows (up to 160 per table)
into one small Bronze partition and runs the REAL models once through `silver.run.score_bronze`
(the entry point of quarantine recovery): the Bronze models pick their casts from the files'
physical types when they run, which testing pre-compiled SQL directly in DuckDB would skip.
Few examples (max_examples below), no deadline, no shrinking (a failing example is printed whole;
shrinking would re-run dbt hundreds of times), so the module stays around a minute.

Invariants, per example:
- every Bronze row lands in exactly one of Silver or quarantine;
- every Silver row satisfies every contract rule: Silver types, required values, enums, ranges,
  no future dates, e-mail shape, net <= gross, the customer FK, one row per key, clean text;
- every quarantined row keeps its raw values byte for byte: the value as it arrived where the
  file used the contract's type, as text where the contract says text, and in `_raw_text` where a
  non-text value arrived as another type; its reasons are registry codes in registry order;
- null tokens in required columns give `null_<column>`; text that does not parse as the Silver
  type gives `cast_failed_<column>`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ecomlake import rules
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, GUEST_PREFIX, LINEAGE_COLUMNS, silver_columns
from ecomlake.silver.run import score_bronze

REPO = Path(__file__).resolve().parents[2]
D = "2023-01-01"
FUTURE_LIMIT = dt.datetime(2023, 1, 3, 0, 0, 0)  # end of D + max_future_skew_hours (24) in config.yml
TOKENS = ("", "none", "null", "n/a", "nan")
SNAPSHOT_CUSTOMERS = ("CUST-1", "CUST-2", "CUST-3", "UNKNOWN")
TABLES = ("customers", "orders")
pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------------- strategies

blank_pad = st.sampled_from(["", " ", "   "])  # the cleaning trims spaces only


def case(s: str) -> st.SearchStrategy[str]:
    return st.sampled_from([s, s.upper(), s.lower(), s.title()])


@st.composite
def padded(draw, inner: st.SearchStrategy[str]) -> str:
    return draw(blank_pad) + draw(inner) + draw(blank_pad)


null_token = padded(st.sampled_from(["None", "none", "NULL", "null", "N/A", "n/a", "NaN", "nan", ""]))
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=12
)


def text_of(*good: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), null_token, free_text, *[padded(g) for g in good])


def enum_text(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return text_of(st.sampled_from(values).flatmap(case))


ts_good = st.datetimes(min_value=dt.datetime(2022, 11, 1), max_value=dt.datetime(2023, 1, 4, 23, 59)).map(
    lambda v: v.strftime((v.microsecond and "%Y-%m-%d %H:%M:%S.%f") or "%Y-%m-%dT%H:%M:%S")
)
ts_odd = st.sampled_from(
    ["2023-02-30 10:00:00", "2023-13-01 00:00:00", "yesterday", "2023-01-01 25:61:00", "12/31/2022", "99999-01-01"]
)
date_good = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2023, 1, 6)).map(dt.date.isoformat)
date_odd = st.sampled_from(["2023-02-30", "2023-00-10", "31-12-2022", "not a date", "20230101"])
money_text = st.one_of(
    st.decimals(min_value=-1000, max_value=10**6, places=2, allow_nan=False).map(str),
    st.sampled_from(["1e3", "12.345", "abc", "1,5", "-0.00", "99999999999999999999"]),
)
int_text = st.one_of(
    st.integers(min_value=-5, max_value=10**6).map(str), st.sampled_from(["2.0", "2.5", "1e3", "abc", "9" * 25])
)
bool_text = st.sampled_from(["true", "false", "TRUE", "t", "f", "yes", "no", "1", "0", "maybe"])
float_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr), st.sampled_from(["inf", "-inf", "x1"])
)
ingest_text = st.one_of(
    st.datetimes(min_value=dt.datetime(2022, 12, 30), max_value=dt.datetime(2023, 1, 1, 23)).map(
        lambda v: v.isoformat() + "+00:00"
    ),
    st.sampled_from(["2023-01-01T08:00:00+02:00", "2023-01-01 07:00:00", "soon"]),
)
email_good = st.sampled_from(["a@b.co", "Ann.Lee@Example.COM", "x@y.z", "no-at-sign", "a@b", "two@@x.io"])


def _value_strategy(table: str, name: str, physical: pa.DataType) -> st.SearchStrategy:
    """Values of one column, for the physical type the file uses."""
    c = CONTRACT[table].column(name) if name in CONTRACT[table].column_names else None
    if pa.types.is_timestamp(physical):
        if physical.tz:
            return st.one_of(
                st.none(),
                st.datetimes(
                    min_value=dt.datetime(2022, 12, 30), max_value=dt.datetime(2023, 1, 2), timezones=st.just(dt.UTC)
                ),
            )
        return st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)))
    if pa.types.is_date(physical):
        return st.one_of(st.none(), st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)))
    if pa.types.is_boolean(physical):
        return st.one_of(st.none(), st.booleans())
    if pa.types.is_integer(physical):
        bits = physical.bit_width - 1
        small = st.integers(min_value=-3, max_value=20)
        return st.one_of(st.none(), small, st.integers(min_value=-(2**bits), max_value=2**bits - 1))
    if pa.types.is_floating(physical):
        return st.one_of(
            st.none(),
            st.floats(min_value=-50, max_value=5000, width=physical.bit_width).map(lambda v: round(v, 2)),
            st.floats(width=physical.bit_width),  # anything: NaN, infinities, 1e300
        )
    if pa.types.is_decimal(physical):
        return st.one_of(st.none(), st.decimals(min_value=-1000, max_value=10**12, places=2, allow_nan=False))
    # text of any string flavour
    if name == "ingestion_ts":
        return text_of(ingest_text)
    if name in ("batch_id", "source_file"):
        return text_of(st.just("batch-1"), st.just("orders.csv"))
    if c is None:
        raise AssertionError(name)
    if c.bronze == "int64":
        return text_of(int_text)
    if c.bronze == "float64":
        return text_of(float_text, money_text)
    if c.bronze == "bool":
        return text_of(bool_text)
    if c.silver == "TIMESTAMP":
        return text_of(ts_good, ts_odd)
    if c.silver == "DATE":
        return text_of(date_good, date_odd)
    if c.silver.startswith("DECIMAL"):
        return text_of(money_text)
    if c.enum:
        return enum_text(c.enum)
    if c.email or name == "email":
        return text_of(email_good)
    if name == "customer_id":
        return text_of(st.sampled_from([*SNAPSHOT_CUSTOMERS, "CUST-9", f"{GUEST_PREFIX}7", "cust-1"]))
    if name == "order_id":
        return text_of(st.sampled_from([f"ORD-{i}" for i in range(8)]))
    return text_of(free_text)


def _physical_choices(table: str, name: str) -> list[pa.DataType]:
    """Physical types an exporter may use for a column (the contract's first)."""
    strings = [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())]
    if name == "ingestion_ts":
        return [*strings, pa.timestamp("us", tz="UTC")]
    if name in LINEAGE_COLUMNS:
        return strings
    c = CONTRACT[table].column(name)
    if c.bronze == "int64":
        return [pa.int64(), pa.string(), pa.int32(), pa.float64()]
    if c.bronze == "float64":
        return [pa.float64(), pa.string(), pa.decimal128(18, 2), pa.float32()]
    if c.bronze == "bool":
        return [pa.bool_(), pa.string(), pa.int8()]
    if c.silver == "TIMESTAMP":
        return [*strings, pa.timestamp("us")]
    if c.silver == "DATE":
        return [*strings, pa.date32()]
    if c.silver.startswith("DECIMAL"):
        return [*strings, pa.float64(), pa.decimal128(18, 2)]
    return strings


@st.composite
def bronze_file(draw, table: str, first_event: int) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """One Bronze file: a physical type per column, then many rows whose cells come from a small
    pool of values Hypothesis draws per column (drawing every cell would cost seconds per example;
    rows still combine values freely, column by column, through a drawn random seed)."""
    names = CONTRACT[table].bronze_column_names
    plan = {n: draw(st.sampled_from(_physical_choices(table, n))) for n in names if n != "event_id"}
    plan["event_id"] = pa.string()
    n = draw(st.integers(min_value=40, max_value=80))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    arrays = []
    for name in names:
        if name == "event_id":
            values = [f"ev-{table}-{first_event + i}" for i in range(n)]
        else:
            pool = draw(st.lists(_value_strategy(table, name, plan[name]), min_size=1, max_size=8))
            values = [rng.choice(pool) for _ in range(n)]
        typ = plan[name]
        if pa.types.is_dictionary(typ):
            arrays.append(pa.array(values, pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(values, typ))
    return pa.Table.from_arrays(arrays, names=names), plan


# ------------------------------------------------------------------------------------- oracle


def _same_kind(physical: pa.DataType, bronze: str) -> bool:
    if pa.types.is_dictionary(physical):
        physical = physical.value_type
    if bronze == "string":
        return pa.types.is_string(physical) or pa.types.is_large_string(physical)
    return {
        "int64": pa.types.is_integer,
        "float64": pa.types.is_floating,
        "bool": pa.types.is_boolean,
    }[bronze](physical)


def _clean(v: str | None) -> str | None:
    """The Silver text cleaning: spaces trimmed, null tokens (any case) are NULL."""
    if v is None:
        return None
    t = v.strip(" ")
    return None if t.lower() in TOKENS else t


def _eq(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


_ARROW_OF = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "DECIMAL(10,2)": pa.decimal128(10, 2),
}


def _as_text(con, files: list[tuple[pa.Table, dict]], table: str) -> dict[tuple[str, str], str | None]:
    """DuckDB's text of every value of every file: what Silver keeps for a text column that arrived
    as another type, and what `_raw_text` holds for a non-text one."""
    out = {}
    for tbl, _plan in files:
        con.register("f", tbl)
        cols = [n for n in CONTRACT[table].bronze_column_names if n != "event_id"]
        select = ", ".join(f'cast("{c}" as varchar)' for c in cols)
        for row in con.execute(f"select event_id, {select} from f").fetchall():
            for c, v in zip(cols, row[1:], strict=True):
                out[(row[0], c)] = v
        con.unregister("f")
    return out


def check_table(table: str, files, valid: pa.Table, failing: pa.Table) -> None:
    t = CONTRACT[table]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    text = _as_text(con, files, table)
    source: dict[str, tuple[dict, dict]] = {}  # event_id -> (row, plan of its file)
    for tbl, plan in files:
        for row in tbl.to_pylist():
            source[row["event_id"]] = (row, plan)

    # 1. every Bronze row in exactly one of Silver or quarantine
    silver_ids = valid.column("event_id").to_pylist()
    q_ids = failing.column("event_id").to_pylist()
    assert sorted(silver_ids + q_ids) == sorted(source), "rows lost or duplicated"
    assert not set(silver_ids) & set(q_ids)

    # 2. Silver rows satisfy every contract rule
    want = silver_columns(table)
    assert valid.column_names == [n for n, _ in want]
    for name, typ in want:
        if typ in _ARROW_OF:
            assert valid.schema.field(name).type == _ARROW_OF[typ], (name, valid.schema.field(name).type)
    keys = set()
    for row in valid.to_pylist():
        raw, plan = source[row["event_id"]]
        key = tuple(row[k] for k in t.primary_key)
        assert key not in keys, f"duplicate key {key}"
        keys.add(key)
        for n in [*t.required_columns, *LINEAGE_COLUMNS]:
            assert row[n] is not None, (n, raw)
        for c in t.columns:
            v = row[c.name]
            if v is None:
                continue
            if c.silver == "VARCHAR":
                expected = _clean(text[(row["event_id"], c.name)])
                if c.normalize == "lower":  # DuckDB's lower (simple case mapping), not Python's
                    expected = con.execute("select lower(?)", [expected]).fetchone()[0]
                assert v == expected, (c.name, v, raw[c.name])
                assert v == v.strip(" ") and v.lower() not in TOKENS
            if c.enum:
                assert v in c.enum, (c.name, v)
            if c.min_value == "positive":
                assert v > 0, (c.name, v)
            if c.min_value == "non_negative":
                assert v >= 0, (c.name, v)
            if c.no_future:
                assert (v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())) <= FUTURE_LIMIT
            if c.email:
                assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v), v
            if c.bronze == "float64" and c.silver.startswith("DECIMAL") and _same_kind(plan[c.name], "float64"):
                assert abs(float(v) - float(raw[c.name])) <= 0.005 + 1e-9 * abs(float(v)), (c.name, v, raw[c.name])
        if table == "orders":
            if row["net_total"] is not None and row["gross_total"] is not None:
                assert row["net_total"] <= row["gross_total"]
            assert row["customer_id"] in SNAPSHOT_CUSTOMERS or row["customer_id"].startswith(GUEST_PREFIX)

    # 3. quarantined rows keep their raw values byte for byte; reasons from the registry, in order
    order = [r.code for r in rules.rules_for(table)]
    for row in failing.to_pylist():
        raw, plan = source[row["event_id"]]
        codes = rules.split_reasons(row["_quarantine_reason"])
        assert codes and all(code in order for code in codes), codes
        assert codes == sorted(codes, key=order.index)
        raw_text = json.loads(row["_raw_text"]) if row["_raw_text"] else {}
        for name in t.bronze_column_names:
            bronze = t.column(name).bronze if name in t.column_names else "string"
            physical = plan[name]
            if _same_kind(physical, bronze):
                assert _eq(row[name], raw[name]), (name, row[name], raw[name])
                assert name not in raw_text
            elif bronze == "string":
                assert row[name] == text[(row["event_id"], name)], (name, row[name], raw[name])
            elif raw[name] is not None:
                arrived = raw[name] if isinstance(raw[name], str) else text[(row["event_id"], name)]
                assert raw_text[name] == arrived, (name, raw_text, raw[name])  # byte for byte

        # 4. null tokens in required text columns, and text that does not parse
        for c in t.columns:
            physical = plan[c.name]
            if not (
                pa.types.is_string(physical) or pa.types.is_dictionary(physical) or pa.types.is_large_string(physical)
            ):
                continue
            cleaned = _clean(raw[c.name])
            if (c.required or c.name in t.primary_key) and cleaned is None:
                assert f"null_{c.name}" in codes, (c.name, raw[c.name], codes)
            if cleaned is not None and c.castable:  # text that Silver casts to another type
                parsed = con.execute(f"select try_cast(? as {c.silver})", [cleaned]).fetchone()[0]
                assert (parsed is None) == (f"cast_failed_{c.name}" in codes), (c.name, raw[c.name], codes)
    con.close()


# -------------------------------------------------------------------------------------- test


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    base = tmp_path_factory.mktemp("properties")
    env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    for name, key, typ, values in (
        ("customer_snapshot", "customer_id", pa.string(), list(SNAPSHOT_CUSTOMERS)),
        ("product_catalog", "product_id", pa.int64(), [-1]),
    ):
        part = base / "dims" / name / f"snapshot_dt={D}"
        part.mkdir(parents=True)
        pq.write_table(pa.table({key: pa.array(values, typ)}), part / "part-0000.parquet")
    return _Lake(load_settings(str(REPO / "config" / "config.yml"), env=env))


class _Lake:
    """The settings of the scratch lake, with a short repr for Hypothesis' failure report."""

    def __init__(self, settings):
        self.settings = settings

    def __repr__(self) -> str:
        return f"<lake {self.settings.paths.bronze_base_path}>"


_RUNS = iter(range(10**6))


@settings(
    max_examples=4,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    database=None,
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example),
    print_blob=True,
)
@given(data=st.data())
def test_every_row_lands_once_silver_obeys_the_contract_quarantine_keeps_raw_values(lake, data):
    bronze = {}
    for table in TABLES:
        first = data.draw(bronze_file(table, 0), label=f"{table} file 1")
        second = data.draw(bronze_file(table, 1000), label=f"{table} file 2")
        bronze[table] = [first, second]
    out = score_bronze(
        lake.settings, D, {t: [f[0] for f in files] for t, files in bronze.items()}, f"prop{next(_RUNS)}"
    )
    for table in TABLES:
        valid, failing = out[table]
        check_table(table, bronze[table], valid, failing)
