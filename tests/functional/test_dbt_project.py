"""The dbt project as the runbook types it, from dbt_duckdb/, and its tests' ability to fail.

`dbt deps && dbt run --target local --full-refresh && dbt test` and
`dbt run --select stg_orders --target local` run in a subprocess from dbt_duckdb/, with the
environment pointing Bronze, Silver, dims, the warehouse file, target and logs at a temp dir (so
nothing is written into the repository). Then rows are tampered with in the warehouse and
`dbt test` must catch each kind of damage.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from test_base_silver_support import clean_day, write_day

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_duckdb"
DBT = str(Path(sys.executable).with_name("dbt"))
D1 = "2023-01-01"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    base = tmp_path_factory.mktemp("dbt_hand")
    lake_env = {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }
    data = clean_day(D1)
    data["returns"], data["return_items"] = [], []
    write_day(base / "bronze", D1, data, skip=("returns", "return_items"))  # a quiet day: no returns partition
    cli_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID", "MAX_QUARANTINE"))
    }
    cli_env.update(lake_env, ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"))
    ecomlake = str(Path(sys.executable).with_name("ecomlake"))
    cli = {
        cmd: subprocess.run(
            [ecomlake, "local", cmd], env=cli_env, cwd=str(base), capture_output=True, text=True, timeout=900
        )
        for cmd in ("dims", "silver")
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "DBT_", "RUN_ID"))}
    env.update(
        lake_env,
        ECOM_RUN_DATE=D1,
        ECOM_DBT_DUCKDB_PATH=str(base / "manual.duckdb"),
        DBT_TARGET_PATH=str(base / "target"),
        DBT_LOG_PATH=str(base / "logs"),
        DBT_PACKAGES_INSTALL_PATH=str(base / "dbt_packages"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )

    def dbt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DBT, *args], cwd=str(PROJECT), env=env, capture_output=True, text=True, timeout=900)

    steps = {
        "deps": dbt("deps"),
        "run": dbt("run", "--target", "local", "--full-refresh"),
        "test": dbt("test"),
        "select": dbt("run", "--select", "stg_orders", "--target", "local"),
    }
    return {"base": base, "dbt": dbt, "steps": steps, "warehouse": base / "manual.duckdb", "data": data, "cli": cli}


def test_local_dims_and_silver_cli(hand):
    """`ecomlake local dims` then `ecomlake local silver` (no --date: the Bronze date), as the runbook orders them."""
    dims, silver = hand["cli"]["dims"], hand["cli"]["silver"]
    assert dims.returncode == 0, dims.stderr
    assert f"snapshot {D1} published" in dims.stdout and "customer_snapshot: PASS" in dims.stdout
    assert silver.returncode == 0, silver.stderr
    out = silver.stdout
    for stage in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert stage in out
    n = len(hand["data"]["orders"])
    assert re.search(rf"orders\s+{n} bronze ->\s+{n} silver \+\s+0 quarantine", out), out
    assert re.search(r"returns\s+0 bronze ->\s+0 silver \+\s+0 quarantine .*no Bronze partition", out), out
    assert "Silver gate:" in out  # the Silver gate ran on what was published
    assert (hand["base"] / "silver" / "orders" / f"ingest_dt={D1}" / "_SUCCESS").exists()
    assert (hand["base"] / "silver" / "quarantine" / "returns" / f"ingest_dt={D1}" / "part-0000.parquet").exists()


def test_runbook_commands_run_as_typed(hand):
    for name, proc in hand["steps"].items():
        assert proc.returncode == 0, f"dbt {name} failed:\n{proc.stdout[-3000:]}"
    assert "Completed successfully" in hand["steps"]["test"].stdout
    con = duckdb.connect(str(hand["warehouse"]), read_only=True)
    try:
        assert con.execute("select count(*) from stg_orders").fetchone()[0] == len(hand["data"]["orders"])
        assert con.execute("select count(*) from stg_returns").fetchone()[0] == 0  # absent partition = zero rows
    finally:
        con.close()


def test_hand_runs_write_where_the_environment_says(hand):
    # warehouse, target and logs follow ECOM_DBT_DUCKDB_PATH / DBT_TARGET_PATH / DBT_LOG_PATH
    base = hand["base"]
    assert hand["warehouse"].exists()
    assert (base / "target" / "manifest.json").exists() and (base / "logs" / "dbt.log").exists()


def test_at_least_147_data_tests(hand):
    import json

    proc = hand["dbt"](
        "ls",
        "--resource-type",
        "test",
        "--resource-type",
        "unit_test",
        "--output",
        "json",
        "--output-keys",
        "name",
        "resource_type",
        "--quiet",
    )
    nodes = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    names = [n["name"] for n in nodes if n["resource_type"] == "test"]
    assert len(names) >= 147, len(names)
    kinds = " ".join(names)
    for kind in (
        "unique_",
        "not_null_",
        "relationships_",
        "accepted_values_",
        "expression_is_true_",
        "row_conservation_",
        "reasons_in_registry_",
        "unique_combination_of_columns_",
    ):
        assert kind in kinds, kind
    assert len([n for n in nodes if n["resource_type"] == "unit_test"]) >= 3


TAMPERING = [
    # (sql against the warehouse, test name fragment that must fail)
    ("insert into stg_orders select * from stg_orders limit 1", "unique_stg_orders_order_id"),
    ("insert into stg_orders select * from stg_orders limit 1", "row_conservation_stg_orders"),
    ("update stg_orders set order_channel = 'carrier pigeon'", "accepted_values_stg_orders_order_channel"),
    ("update stg_order_items set unit_price = -1", "expression_is_true_stg_order_items_unit_price"),
    ("update stg_orders set order_date = timestamp '2030-01-01'", "expression_is_true_stg_orders_order_date"),
    ("update stg_order_items set order_id = 'ORD-NOBODY'", "relationships_stg_order_items_order_id"),
    ("update stg_shopping_carts set customer_id = 'CUST-NOBODY'", "relationships_stg_shopping_carts_customer_id"),
    ("update stg_orders set batch_id = null", "not_null_stg_orders_batch_id"),
    (
        (
            "insert into stg_orders_quarantine (order_id, ingest_dt, _quarantine_reason, _quarantine_timestamp, _run_id) "
            "values ('X', date '2023-01-01', 'made_up_code', now(), 'r')"
        ),
        "reasons_in_registry_stg_orders_quarantine",
    ),
]


def test_each_kind_of_damage_fails_a_dbt_test(hand, tmp_path):
    # tamper with a copy of the warehouse, then run the tests of the touched models against it
    import shutil

    tampered = tmp_path / "tampered.duckdb"
    shutil.copy(hand["warehouse"], tampered)
    con = duckdb.connect(str(tampered))
    try:
        for sql, _ in TAMPERING:
            con.execute(sql)
    finally:
        con.close()
    proc = subprocess.run(
        [DBT, "test", "--select", "stg_orders", "stg_orders_quarantine", "stg_order_items", "stg_shopping_carts"],
        cwd=str(PROJECT),
        env={**hand_env(hand), "ECOM_DBT_DUCKDB_PATH": str(tampered)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1
    out = proc.stdout
    for _, fragment in TAMPERING:
        assert f"Failure in test {fragment}" in out, fragment


def hand_env(hand) -> dict:
    base = hand["base"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "DBT_", "RUN_ID"))}
    env.update(
        BRONZE_BASE_PATH=str(base / "bronze"),
        SILVER_BASE_PATH=str(base / "silver"),
        SILVER_DIMS_PATH=str(base / "dims"),
        ECOM_RUN_DATE=D1,
        DBT_TARGET_PATH=str(base / "target2"),
        DBT_LOG_PATH=str(base / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env
