"""The defects ledger tells the truth: an independent re-derivation of every quarantine code from
the files (a small reference implementation of the Silver rules, in DuckDB) must equal the ledger,
row by row, for every partition. Also: every defect kind is injected, counts add up, and dirt
never damages clean rows."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import duckdb
import pytest

from ecomlake import rules
from ecomlake.bronze.gen_defects import ALL_KINDS, DIRTY_SLOTS, HARMLESS_KINDS, INPLACE_SLOTS
from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, FACT_TABLES, TABLES

TOKENS = "('', 'none', 'null', 'n/a')"


def oracle_codes(root: Path) -> dict[str, collections.Counter]:
    """(ingest_dt, event_id, ingestion_ts, code) for every rule a row breaks, per table."""
    con = duckdb.connect()
    out: dict[str, collections.Counter] = {}
    for name in TABLES:
        t = CONTRACT[name]
        con.execute(
            f"CREATE TABLE raw_{name} AS SELECT row_number() OVER () AS _rid, * FROM read_parquet("
            f"'{root}/{name}/*/*.parquet', hive_partitioning=true, union_by_name=true)"
        )
        cols = []
        for c in t.columns:
            v = f'"{c.name}"'
            if c.bronze == "string":
                v = f"CASE WHEN lower(trim({v})) IN {TOKENS} THEN NULL ELSE trim({v}) END"
            if c.normalize == "lower":
                v = f"lower({v})"
            cols.append(f"{v} AS {c.name}")
        con.execute(
            f"CREATE TABLE c_{name} AS SELECT _rid, ingest_dt, event_id, ingestion_ts, {', '.join(cols)} FROM raw_{name}"
        )
        typed = ", ".join(f"TRY_CAST({c.name} AS {c.silver}) AS t_{c.name}" for c in t.columns)
        con.execute(f"CREATE TABLE r_{name} AS SELECT *, {typed} FROM c_{name}")

        preds: list[tuple[str, str]] = []
        for c in t.columns:
            if c.required or c.name in t.primary_key:
                preds.append((f"null_{c.name}", f"{c.name} IS NULL"))
        for c in t.columns:
            if c.castable:
                preds.append((f"cast_failed_{c.name}", f"{c.name} IS NOT NULL AND t_{c.name} IS NULL"))
            if c.min_value == "positive":
                preds.append((f"nonpositive_{c.name}", f"t_{c.name} <= 0"))
            elif c.min_value == "non_negative":
                preds.append((f"negative_{c.name}", f"t_{c.name} < 0"))
            if c.no_future:
                preds.append(
                    (
                        f"future_{c.name}",
                        f"CAST(t_{c.name} AS TIMESTAMP) > CAST(ingest_dt AS TIMESTAMP) + INTERVAL 2 DAY",
                    )
                )
            if c.enum:
                values = ", ".join("'" + v.replace("'", "''") + "'" for v in c.enum)
                preds.append((f"invalid_{c.name}", f"{c.name} IS NOT NULL AND {c.name} NOT IN ({values})"))
            if c.email:
                preds.append(
                    (
                        f"invalid_{c.name}",
                        f"{c.name} IS NOT NULL AND NOT regexp_matches({c.name}, '^[^@ ]+@[^@ ]+\\.[^@ ]+$')",
                    )
                )
        for code, predicate, _d in t.checks:
            typed_pred = re.sub(r"\b(" + "|".join(t.column_names) + r")\b", r"t_\1", predicate)
            preds.append((code, typed_pred))
        for col, fk in t.foreign_keys:
            guest = f"AND t_{col} NOT LIKE 'GUEST-%'" if fk.guest_exempt else ""
            preds.append(
                (
                    f"invalid_{col.removesuffix('_id')}_fk",
                    (
                        f"t_{col} IS NOT NULL {guest} AND NOT EXISTS (SELECT 1 FROM valid_{fk.table} p "
                        f"WHERE p.t_{fk.column} = r.t_{col} AND p.ingest_dt <= r.ingest_dt)"
                    ),
                )
            )
        union = " UNION ALL ".join(f"SELECT _rid, '{code}' AS code FROM r_{name} r WHERE {p}" for code, p in preds)
        con.execute(f"CREATE TABLE codes_{name} AS {union}")
        keys = ", ".join(f"t_{k}" for k in t.primary_key)
        con.execute(f"""
            CREATE TABLE ranked_{name} AS
            SELECT r.*, row_number() OVER (PARTITION BY ingest_dt, {keys} ORDER BY ingestion_ts DESC, _rid) AS rn
            FROM r_{name} r WHERE _rid NOT IN (SELECT _rid FROM codes_{name})""")
        con.execute(
            f"INSERT INTO codes_{name} SELECT _rid, '{rules.duplicate_code(name)}' FROM ranked_{name} WHERE rn > 1"
        )
        if name in FACT_TABLES:
            on = " AND ".join(f"e.t_{k} = w.t_{k}" for k in t.primary_key)
            con.execute(f"""
                INSERT INTO codes_{name}
                SELECT w._rid, '{rules.published_duplicate_code(name)}' FROM ranked_{name} w
                WHERE w.rn = 1 AND EXISTS (SELECT 1 FROM ranked_{name} e WHERE e.rn = 1 AND {on} AND e.ingest_dt < w.ingest_dt)""")
        con.execute(
            f"CREATE TABLE valid_{name} AS SELECT * FROM r_{name} WHERE _rid NOT IN (SELECT _rid FROM codes_{name})"
        )
        rows = con.execute(f"""
            SELECT CAST(r.ingest_dt AS VARCHAR), r.event_id, r.ingestion_ts, c.code
            FROM codes_{name} c JOIN r_{name} r USING (_rid)""").fetchall()
        out[name] = collections.Counter(rows)
    con.close()
    return out


def ledger_codes(root: Path) -> dict[str, collections.Counter]:
    out = {}
    for name in TABLES:
        counter = collections.Counter()
        for ledger_path in sorted((root / name).glob("ingest_dt=*/_defects.json")):
            ledger = json.loads(ledger_path.read_text())
            day = ledger["partition"].split("=", 1)[1]
            for d in ledger["row_defects"]:
                if d["code"]:
                    counter[(day, d["event_id"], d["ingestion_ts"], d["code"])] += 1
        out[name] = counter
    return out


@pytest.fixture(scope="module")
def dirty_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dirty") / "bronze"
    settings = load_settings(env={})
    # A high rate on small volumes so that every defect kind lands in every table.
    generate(
        settings,
        GeneratorOptions(start_date="2023-01-01", days=4, orders_per_day=400, seed=11, defect_rate=0.25),
        out=str(root),
    )
    return root


def test_ledger_equals_an_independent_rederivation_of_every_rule(dirty_lake):
    expected = ledger_codes(dirty_lake)
    actual = oracle_codes(dirty_lake)
    for name in TABLES:
        missing = expected[name] - actual[name]
        extra = actual[name] - expected[name]
        assert not missing and not extra, (
            f"{name}: ledger codes not found in the data: {list(missing.items())[:5]}; "
            f"codes in the data the ledger does not list: {list(extra.items())[:5]}"
        )
        assert sum(actual[name].values()) > 0, name


def test_every_defect_kind_is_injected_into_every_table_that_has_it(dirty_lake):
    for name in TABLES:
        seen = collections.Counter()
        for ledger_path in (dirty_lake / name).glob("ingest_dt=*/_defects.json"):
            for kind, n in json.loads(ledger_path.read_text())["counts"].items():
                seen[kind] += n
        wanted = set()
        for kind, col in DIRTY_SLOTS[name] + INPLACE_SLOTS[name]:
            wanted |= {k for k, _c in col} if kind == "multi" else {kind}
        assert wanted <= set(seen), f"{name}: kinds never injected: {sorted(wanted - set(seen))}"
        assert set(seen) <= set(ALL_KINDS)


def test_ledger_counts_match_its_entries_and_codes_exist_in_the_registry(dirty_lake):
    for path in dirty_lake.glob("*/ingest_dt=*/_defects.json"):
        ledger = json.loads(path.read_text())
        counts = collections.Counter(d["kind"] for d in ledger["row_defects"])
        assert dict(counts) == ledger["counts"]
        for d in ledger["row_defects"]:
            if d["kind"] in HARMLESS_KINDS:
                assert d["code"] is None and d["family"] is None
            else:
                assert rules.rule(ledger["table"], d["code"]).family == d["family"]
            assert set(d["key"]) == set(CONTRACT[ledger["table"]].primary_key)


def test_harmless_dirt_really_is_in_the_files(dirty_lake):
    con = duckdb.connect()
    for path in dirty_lake.glob("*/ingest_dt=*/_defects.json"):
        ledger = json.loads(path.read_text())
        for d in ledger["row_defects"]:
            if d["kind"] not in HARMLESS_KINDS:
                continue
            value = con.execute(
                f"SELECT \"{d['column']}\" FROM read_parquet('{path.parent}/*.parquet') WHERE event_id = ? AND ingestion_ts = ?",
                [d["event_id"], d["ingestion_ts"]],
            ).fetchall()
            assert len(value) == 1, d
            v = value[0][0]
            if d["kind"] == "optional_null_token":
                assert v == "None"
            else:
                assert v != v.strip() or v in (v.upper(), v.lower()), v


def test_clean_copy_of_every_duplicate_and_defect_survives(dirty_lake):
    """Dirt never replaces a clean row: every clean order still has its lines, intact."""
    con = duckdb.connect()
    missing = con.execute(f"""
        WITH o AS (SELECT * FROM read_parquet('{dirty_lake}/orders/*/*.parquet')
                   WHERE order_id LIKE 'ORD-%' AND order_id NOT LIKE '%-D%' AND order_id NOT LIKE '%-X%'),
             l AS (SELECT order_id, sum(quantity) q FROM (SELECT DISTINCT order_id, product_id, quantity, unit_price,
                   ingestion_ts FROM read_parquet('{dirty_lake}/order_items/*/*.parquet') WHERE quantity > 0)
                   GROUP BY order_id)
        SELECT count(*) FROM (SELECT DISTINCT order_id, total_items FROM o) o LEFT JOIN l USING (order_id)
        WHERE l.q IS NULL""").fetchone()[0]
    assert missing == 0


def test_each_ledger_entry_identifies_its_rows(dirty_lake):
    """(event_id, ingestion_ts) finds exactly the injected row: one row, or two for an exact duplicate."""
    con = duckdb.connect()
    for path in dirty_lake.glob("*/ingest_dt=*/_defects.json"):
        ledger = json.loads(path.read_text())
        if not ledger["row_defects"]:
            continue
        con.execute(
            f"CREATE OR REPLACE TABLE part AS SELECT event_id, ingestion_ts, count(*) n "
            f"FROM read_parquet('{path.parent}/*.parquet') GROUP BY ALL"
        )
        found = {(e, t): n for e, t, n in con.execute("SELECT * FROM part").fetchall()}
        for d in ledger["row_defects"]:
            n = found.get((d["event_id"], d["ingestion_ts"]))
            assert n == (2 if d["kind"] == "exact_duplicate" else 1), (path, d)


def _ledger_kind_counts(root: Path, name: str, code_prefix: str) -> int:
    n = 0
    for path in (root / name).glob("ingest_dt=*/_defects.json"):
        n += sum(1 for d in json.loads(path.read_text())["row_defects"] if (d["code"] or "").startswith(code_prefix))
    return n


def test_simple_counts_in_the_files_match_the_ledger(dirty_lake):
    """Plain counts straight from the files, per defect kind, without the rule engine above."""
    con = duckdb.connect()
    for name in TABLES:
        t = CONTRACT[name]
        src = f"read_parquet('{dirty_lake}/{name}/*/*.parquet', hive_partitioning=true)"

        def count(where: str, src: str = src) -> int:
            return con.execute(f"SELECT count(*) FROM {src} WHERE {where}").fetchone()[0]

        # null primary keys (real nulls and null tokens)
        for k in t.primary_key:
            is_null = (
                f"{k} IS NULL" if t.column(k).bronze != "string" else f"{k} IS NULL OR lower(trim({k})) IN {TOKENS}"
            )
            assert count(is_null) == _ledger_kind_counts(dirty_lake, name, f"null_{k}"), (name, k)
        # future business dates
        for c in t.columns:
            if c.no_future:
                later = f"TRY_CAST({c.name} AS TIMESTAMP) > CAST(ingest_dt AS TIMESTAMP) + INTERVAL 2 DAY"
                assert count(later) == _ledger_kind_counts(dirty_lake, name, f"future_{c.name}"), (name, c.name)
        # negative money and non-positive quantities
        for c in t.columns:
            if c.min_value == "non_negative":
                assert count(f"TRY_CAST({c.name} AS DOUBLE) < 0") == _ledger_kind_counts(
                    dirty_lake, name, f"negative_{c.name}"
                )
            if c.min_value == "positive" and c.name not in t.primary_key and not c.fk:
                assert count(f"{c.name} <= 0") == _ledger_kind_counts(dirty_lake, name, f"nonpositive_{c.name}")
        # exact duplicates: identical rows, lineage included
        exact = con.execute(
            f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM {src})) FROM {src}"
        ).fetchone()[0]
        n_exact = sum(
            1
            for p in (dirty_lake / name).glob("ingest_dt=*/_defects.json")
            for d in json.loads(p.read_text())["row_defects"]
            if d["kind"] == "exact_duplicate"
        )
        assert exact == n_exact > 0, name
