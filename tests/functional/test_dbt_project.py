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


def test_every_model_has_its_audit(hand):
    """The day's data tests are one audit per model (tests/base_silver, generated), plus dbt unit tests."""
    import json

    from ecomlake.contract import TABLES

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
    names = {n["name"] for n in nodes if n["resource_type"] == "test"}
    for t in TABLES:
        assert f"audit_stg_{t}" in names and f"audit_stg_{t}_quarantine" in names, t
    for parent in ("orders", "returns", "shopping_carts"):
        assert f"audit_int_{parent}__keys" in names, parent
    assert {"audit_int_dims__customers", "audit_int_dims__product_catalog"} <= names
    assert len([n for n in nodes if n["resource_type"] == "unit_test"]) >= 3


# The stg models are views over int_<t>__scored (the day's one table), so damage is done there, to the
# valid rows (_quarantine_reason null) or the rejected ones. Each line: (sql, audit test, check that
# must name the damage: the rule code, or the conservation / registry check).
TAMPERING = [
    (
        (
            "insert into int_orders__scored select * from int_orders__scored "
            "where _quarantine_reason is null order by order_id limit 1"
        ),
        "audit_stg_orders",
        ("duplicate_order_id", "row_conservation", "scored_rows_equal_bronze"),
    ),
    (
        "update int_orders__scored set order_channel = 'carrier pigeon' where _quarantine_reason is null",
        "audit_stg_orders",
        ("invalid_order_channel",),
    ),
    (
        "update int_order_items__scored set unit_price = -1 where _quarantine_reason is null",
        "audit_stg_order_items",
        ("negative_unit_price",),
    ),
    (
        "update int_orders__scored set order_date = timestamp '2030-01-01' where _quarantine_reason is null",
        "audit_stg_orders",
        ("future_order_date",),
    ),
    (
        "update int_order_items__scored set order_id = 'ORD-NOBODY' where _quarantine_reason is null",
        "audit_stg_order_items",
        ("invalid_order_fk",),
    ),
    (
        "update int_shopping_carts__scored set customer_id = 'CUST-NOBODY' where _quarantine_reason is null",
        "audit_stg_shopping_carts",
        ("invalid_customer_fk",),
    ),
    (
        "update int_orders__scored set batch_id = null where _quarantine_reason is null",
        "audit_stg_orders",
        ("null_batch_id",),
    ),
    (
        (
            "update int_orders__scored set _quarantine_reason = 'made_up_code' "
            "where order_id = (select max(order_id) from int_orders__scored)"  # not the duplicated one
        ),
        "audit_stg_orders_quarantine",
        ("reasons_in_registry",),
    ),
]


def test_each_kind_of_damage_fails_an_audit_naming_it(hand, tmp_path):
    # tamper with a copy of the warehouse, then run the audits of the touched models against it
    import shutil

    tampered = tmp_path / "tampered.duckdb"
    shutil.copy(hand["warehouse"], tampered)
    con = duckdb.connect(str(tampered))
    try:
        for sql, _, _ in TAMPERING:
            con.execute(sql)
    finally:
        con.close()
    proc = subprocess.run(
        [
            DBT,
            "test",
            "--store-failures",
            "--select",
            "stg_orders",
            "stg_orders_quarantine",
            "stg_order_items",
            "stg_shopping_carts",
        ],
        cwd=str(PROJECT),
        env={**hand_env(hand), "ECOM_DBT_DUCKDB_PATH": str(tampered)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 1
    out = proc.stdout
    con = duckdb.connect(str(tampered), read_only=True)
    try:
        for _, audit, checks in TAMPERING:
            assert f"Failure in test {audit}" in out, audit
            failing = dict(con.execute(f"select check_name, failing_rows from main_dbt_test__audit.{audit}").fetchall())
            for check in checks:
                assert failing.get(check, 0) != 0, (audit, check, failing)
    finally:
        con.close()


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
