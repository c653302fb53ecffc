"""`ecomlake quarantine recover` against the real pipeline: real dbt re-validation, real publish.

The lake is built once (`silver_fixtures.build_real_lake`): hand-made Bronze whose ids line up,
then `ecomlake local dims` and `ecomlake local silver`. orders on D ends with 17 Silver rows and
4 quarantined, each with a known defect:
  ORD-0  customer_id NULL                        null_customer_id
  ORD-1  customer_id 'null' (a null token)       null_customer_id
  ORD-2  customer_id NULL, gross_total -5        null_customer_id|negative_gross_total|net_total_above_gross_total
  ORD-5  a second copy of a published order, customer_id NULL
`--fill customer_id=UNKNOWN --reason null_customer_id` must move exactly ORD-0 and ORD-1.
Their order lines were quarantined as invalid_order_fk (parents are checked against valid Silver)
and pass once their orders are in Silver.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import silver_fixtures as sf

from ecomlake import storage
from ecomlake.errors import InputError
from ecomlake.quarantine.recover import apply_fills, recover_quarantine
from ecomlake.silver.validate import validate_silver

pytestmark = pytest.mark.slow

D = "2023-01-01"
RECOVER = [
    "quarantine",
    "recover",
    "--table",
    "orders",
    "--ingest-dt",
    D,
    "--fill",
    "customer_id=UNKNOWN",
    "--reason",
    "null_customer_id",
]


@pytest.fixture(scope="module")
def golden(real_lake) -> Path:
    return real_lake  # conftest.py: built once per worker, shared with other modules


@pytest.fixture
def lake(golden, tmp_path) -> Path:
    dst = tmp_path / "lake"
    shutil.copytree(golden, dst)
    return dst


def rows(base: Path, table: str, which: str) -> pa.Table:
    root = base / "silver" / (f"quarantine/{table}" if which == "quarantine" else table) / f"ingest_dt={D}"
    return pa.concat_tables([pq.read_table(f) for f in sorted(root.glob("*.parquet"))], promote_options="permissive")


def state(base: Path) -> dict:
    """Every file of the orders partitions with its bytes: equal states mean nothing changed."""
    out = {}
    for root in (base / "silver" / "orders", base / "silver" / "quarantine" / "orders"):
        for f in sorted(root.rglob("*")):
            if f.is_file():
                out[str(f.relative_to(base))] = f.read_bytes()
    return out


def conservation(base: Path, table: str) -> dict:
    _, result = validate_silver(sf.settings_for(base), partition_date=D, tables=table, echo=False)
    integrity = [
        c.message for c in result.problems if c.name not in ("pass_rate_sla", "max_quarantine_pct", "new_reason_codes")
    ]
    assert integrity == []
    return result.table_metrics[0]["conservation"]


def test_golden_lake_is_what_the_tests_assume(golden):
    q = rows(golden, "orders", "quarantine")
    assert sorted(q.column("order_id").to_pylist()) == ["ORD-0", "ORD-1", "ORD-2", "ORD-5"]
    assert rows(golden, "orders", "silver").num_rows == 17
    assert conservation(golden, "orders") == {"ok": True, "bronze": 21, "silver": 17, "quarantine": 4, "difference": 0}


def test_recover_moves_exactly_the_repaired_rows_and_twice_adds_nothing(lake):
    r = sf.run_cli([*RECOVER, "--run-id", "rec1"], lake)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "selected 4, moved 2 to silver, kept 2 in quarantine" in r.stdout
    assert "silver rows 17 -> 19, quarantine rows 4 -> 2" in r.stdout
    silver = rows(lake, "orders", "silver")
    assert silver.num_rows == 19
    moved = silver.filter(pc.is_in(silver.column("order_id"), pa.array(["ORD-0", "ORD-1"])))
    assert sorted(moved.column("customer_id").to_pylist()) == ["UNKNOWN", "UNKNOWN"]
    assert set(moved.column("_run_id").to_pylist()) == {"rec1"}
    assert silver.column("order_id").to_pylist().count("ORD-5") == 1  # never published twice
    q = {row["order_id"]: row["_quarantine_reason"] for row in rows(lake, "orders", "quarantine").to_pylist()}
    assert set(q) == {"ORD-2", "ORD-5"}
    assert q["ORD-2"] == "negative_gross_total|net_total_above_gross_total"  # its new reasons
    assert "duplicate_order_id_published" in q["ORD-5"]
    ledger = json.loads((lake / "metrics" / "quarantine_recover_rec1.json").read_text())
    assert (ledger["selected"], ledger["moved"], ledger["kept"], ledger["published"]) == (4, 2, 2, True)
    assert ledger["already_published"] == 1
    assert conservation(lake, "orders") == {"ok": True, "bronze": 21, "silver": 19, "quarantine": 2, "difference": 0}

    # Twice in a row: nothing is left to select, nothing changes.
    before = state(lake)
    again = sf.run_cli(RECOVER, lake)
    assert again.returncode == 0 and "moved 0 to silver" in again.stdout
    assert state(lake) == before

    # Children follow: their parent orders are valid Silver now.
    items = recover_quarantine(sf.settings_for(lake), table="order_items", ingest_dt=D, reason="invalid_order_fk")
    assert (items["selected"], items["moved"], items["kept"]) == (3, 2, 1)
    assert sorted(rows(lake, "order_items", "quarantine").column("order_id").to_pylist()) == ["ORD-2"]
    assert conservation(lake, "order_items") == {
        "ok": True,
        "bronze": 20,
        "silver": 19,
        "quarantine": 1,
        "difference": 0,
    }


def test_dry_run_changes_nothing(lake):
    before = state(lake)
    r = sf.run_cli([*RECOVER, "--dry-run", "--run-id", "dry"], lake)
    assert r.returncode == 0, r.stderr
    assert "selected 4, would move 2 to silver, kept 2 in quarantine" in r.stdout
    assert state(lake) == before
    assert not (lake / "metrics" / "quarantine_recover_dry.json").exists()
    assert not (lake / "silver" / "_staging").exists()


@pytest.mark.parametrize("point", ["before_swap", "after_journal"])
def test_crash_mid_publish_leaves_both_partitions_consistent(lake, point):
    before = state(lake)
    crash = sf.run_cli(RECOVER, lake, {"ECOMLAKE_FAULT": point})
    assert crash.returncode != 0 and f"injected fault at {point}" in crash.stderr
    assert state(lake) == before  # readers still see the old partitions, never a mix
    if point == "before_swap":
        storage.recover(str(lake / "silver"))  # not committed: the leftovers are discarded
        assert state(lake) == before
        assert not (lake / "silver" / "_staging").exists()
        assert conservation(lake, "orders") == {
            "ok": True,
            "bronze": 21,
            "silver": 17,
            "quarantine": 4,
            "difference": 0,
        }
    else:
        retry = sf.run_cli(RECOVER, lake)  # committed: the next run finishes it, then finds nothing
        assert retry.returncode == 0 and "moved 0 to silver" in retry.stdout, retry.stdout + retry.stderr
        assert rows(lake, "orders", "silver").num_rows == 19
        assert rows(lake, "orders", "quarantine").num_rows == 2
        assert conservation(lake, "orders") == {
            "ok": True,
            "bronze": 21,
            "silver": 19,
            "quarantine": 2,
            "difference": 0,
        }


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"fills": ["nope=1"]}, "has no raw column 'nope'"),
        ({"fills": ["customer_id"]}, "expected column=value"),
        ({"fills": ["gross_total=abc"]}, "not a valid double value"),
        ({"reason": "bogus"}, "unknown reason code 'bogus'"),
        ({"where": "1=1; DROP TABLE q"}, "--where does not parse"),
        ({"where": "customer_id IN (SELECT customer_id FROM q)"}, "subqueries are not allowed"),
        ({"ingest_dt": "2023-02-30"}, "invalid --ingest-dt"),
        ({"table": "nope"}, "unknown table 'nope'"),
    ],
)
def test_bad_arguments_change_nothing(lake, kw, needle):
    before = state(lake)
    args = {"table": "orders", "ingest_dt": D, **kw}
    with pytest.raises(InputError, match=needle):
        recover_quarantine(sf.settings_for(lake), **args)
    assert state(lake) == before


def test_nothing_to_recover_for_an_empty_or_absent_partition(lake):
    r = recover_quarantine(sf.settings_for(lake), table="shopping_carts", ingest_dt=D, fills=["customer_id=UNKNOWN"])
    assert (r["selected"], r["moved"], r["published"]) == (0, 0, False)
    r = recover_quarantine(sf.settings_for(lake), table="orders", ingest_dt="2023-03-01")
    assert r["moved"] == 0 and "empty or absent" in r["message"]


def test_fills_replace_nulls_and_null_tokens_only():
    t = pa.table({"customer_id": [None, " NULL ", "n/a", "", "CUST-1", "nan"], "total_items": [None, 1, 2, 3, 4, 5]})
    out, changed = apply_fills(t, {"customer_id": "UNKNOWN", "total_items": "0"})
    assert out.column("customer_id").to_pylist() == ["UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN", "CUST-1", "UNKNOWN"]
    assert out.column("total_items").to_pylist() == [0, 1, 2, 3, 4, 5]
    assert changed == 6


@pytest.mark.parametrize("point", ["mid_swap"])  # every point of the same publish: test_crash_matrix.py
def test_sigkill_mid_recover_leaves_old_or_new_and_the_next_run_finishes(lake, point):
    from ecomlake import locks
    from ecomlake.quarantine import ledger

    before = state(lake)
    crash = sf.run_cli(RECOVER, lake, {"ECOMLAKE_FAULT": f"kill:{point}"})
    assert crash.returncode == -9, crash.stderr  # a real SIGKILL: nothing of the recover ran after it
    committed = point != "while_writing"
    if not committed:
        assert state(lake) == before
    storage.settle(str(lake / "silver"))  # what every reader runs first: finish a dead run's commit
    settings = sf.settings_for(lake)
    want = (19, 2) if committed else (17, 4)
    assert conservation(lake, "orders") == {
        "ok": True,
        "bronze": 21,
        "silver": want[0],
        "quarantine": want[1],
        "difference": 0,
    }
    # The ledger moved with them: it records the recovery exactly when Silver holds its rows.
    assert [e["moved"] for e in ledger.entries(settings, "orders", D)] == ([2] if committed else [])
    retry = sf.run_cli(RECOVER, lake)
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert f"moved {0 if committed else 2} to silver" in retry.stdout
    assert (rows(lake, "orders", "silver").num_rows, rows(lake, "orders", "quarantine").num_rows) == (19, 2)
    assert [e["moved"] for e in ledger.entries(settings, "orders", D)] == [2]
    assert not (lake / "silver" / "_staging").exists()
    assert not list((lake / "silver" / locks.LOCK_DIR).glob("*.lease"))
