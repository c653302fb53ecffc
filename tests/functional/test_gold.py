"""`ecomlake gold run` on hand-made Enriched fixtures, with hand-computed mart rows.

Three dbt builds in all (module-scoped): the latest snapshot, `--date 2023-01-01`, and a tampered
Enriched lake whose reconciliation must fail. Fixture rows and their arithmetic: gold_fixtures.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import gold_fixtures as gf
import pyarrow.parquet as pq
import pytest
from gold_fixtures import D1, D2

pytestmark = pytest.mark.slow

MARTS = [
    "fct_finance_revenue",
    "fct_marketing_attribution",
    "fct_sales_operations",
    "fct_cart_abandonment",
    "fct_product_profitability",
    "fct_customer_segments",
    "fct_daily_dashboard",
    "fct_shipping_analysis",
]


def D(v: str) -> Decimal:
    return Decimal(v)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(lake: Path, *args: str, tamper=None):
    gf.write_enriched(lake / "silver" / "enriched", tamper=tamper)
    return gf.run_cli(["gold", "run", *args], lake)


@pytest.fixture(scope="module")
def latest(tmp_path_factory):
    lake = tmp_path_factory.mktemp("gold_latest") / "lake"
    r = _build(lake)
    assert r.returncode == 0, r.stdout + r.stderr
    warehouse = lake / "gold" / "ecomlake.duckdb"
    return {"lake": lake, "proc": r, "warehouse": warehouse, "marts": {m: gf.read_mart(warehouse, m) for m in MARTS}}


@pytest.fixture(scope="module")
def as_of_d1(tmp_path_factory):
    lake = tmp_path_factory.mktemp("gold_d1") / "lake"
    r = _build(lake, "--date", "2023-01-01")
    assert r.returncode == 0, r.stdout + r.stderr
    warehouse = lake / "gold" / "ecomlake.duckdb"
    return {"lake": lake, "proc": r, "marts": {m: gf.read_mart(warehouse, m) for m in MARTS}}


# ------------------------------------------------------------------------------ the command


def test_prints_one_line_per_mart_and_a_summary(latest):
    out = latest["proc"].stdout
    for mart in MARTS:
        rows = len(latest["marts"][mart])
        assert any(line.split()[:3] == [mart, str(rows), "rows"] for line in out.splitlines()), out
    summary = out.strip().splitlines()[-1]
    assert "8/8 marts built as of 2023-01-02" in summary
    passed = int(summary.split(", ")[1].split()[0])
    assert passed >= 90  # grain, not_null, accepted_values, expression and reconciliation tests


def test_warehouse_and_parquet_exports_are_published(latest):
    gold = latest["lake"] / "gold"
    assert latest["warehouse"].is_file()
    assert not (gold / "_staging").exists()  # the build area is gone after a successful publish
    for mart in MARTS:
        part = gold / mart / "part-0000.parquet"
        table = pq.read_table(part)
        assert table.num_rows == len(latest["marts"][mart])
        manifest = json.loads((gold / mart / "_manifest.json").read_text())
        assert manifest["total_rows"] == table.num_rows and manifest["table"] == mart
        assert (gold / mart / "_SUCCESS").exists()
    finance = pq.read_table(gold / "fct_finance_revenue" / "part-0000.parquet").to_pylist()
    assert sum(r["gross_revenue"] for r in finance) == D("440.00")


def test_run_record_is_written(latest):
    records = list((latest["lake"] / "metrics").glob("gold_run_*.json"))
    assert len(records) == 1
    rec = json.loads(records[0].read_text())
    assert rec["status"] == "published" and rec["as_of"] == "2023-01-02"
    assert rec["marts"]["fct_finance_revenue"] == 5 and rec["tests_failed"] == 0


# ---------------------------------------------------------------------- hand-computed marts


def test_finance_revenue_rows(latest):
    rows = latest["marts"]["fct_finance_revenue"]
    key = {(r["order_date"], r["order_channel"], r["region"]): r for r in rows}
    assert set(key) == {
        (D1, "phone", "UNKNOWN"),
        (D1, "web", "US-CA"),
        (D2, "unknown", "US-NY"),
        (D2, "web", "US-NY"),
        (D2, "web", "US-TX"),
    }
    ca = key[(D1, "web", "US-CA")]  # O1 + O2
    assert (ca["orders_count"], ca["gross_revenue"], ca["net_revenue"], ca["discount_amount"]) == (
        2,
        D("150.00"),
        D("135.00"),
        D("15.00"),
    )
    assert (ca["tax_amount"], ca["revenue_ex_tax"]) == (D("11.25"), D("138.75"))
    assert ca["effective_tax_rate"] == pytest.approx(0.075)
    assert (ca["shipping_revenue"], ca["shipping_cost"], ca["shipping_margin"]) == (D("30.00"), D("31.00"), D("-1.00"))
    # O4 has no channel: it is kept under 'unknown', not dropped by a null key
    unknown = key[(D2, "unknown", "US-NY")]
    assert (unknown["orders_count"], unknown["gross_revenue"], unknown["tax_amount"]) == (1, D("10.00"), D("0.88"))
    assert sum(r["gross_revenue"] for r in rows) == D("440.00")  # = sum over int_regional_financials


def test_cart_abandonment_counts_empty_carts_in_the_denominator(latest):
    rows = {r["cart_date"]: r for r in latest["marts"]["fct_cart_abandonment"]}
    day1 = rows[D1]  # C1, C2 converted, C3 abandoned, C4 empty
    assert (
        day1["carts_total"],
        day1["converted_carts"],
        day1["abandoned_carts"],
        day1["empty_carts"],
        day1["open_carts"],
    ) == (4, 2, 1, 1, 0)
    assert day1["conversion_rate"] == pytest.approx(0.5)  # 2/4, not 2/3
    assert day1["abandonment_rate"] == pytest.approx(0.25)
    assert (day1["abandoned_value"], day1["converted_value"], day1["cart_value_total"]) == (
        D("30.00"),
        D("145.00"),
        D("175.00"),
    )
    assert day1["avg_time_to_purchase_hours"] == pytest.approx(1.75)
    day2 = rows[D2]  # C5 still open
    assert (day2["carts_total"], day2["open_carts"], day2["conversion_rate"], day2["abandoned_value"]) == (
        1,
        1,
        0.0,
        D("0.00"),
    )
    assert day2["avg_time_to_purchase_hours"] is None


def test_shipping_margin_pct_is_weighted(latest):
    rows = {
        (r["order_date"], r["order_channel"], r["shipping_speed"]): r for r in latest["marts"]["fct_shipping_analysis"]
    }
    web2 = rows[(D2, "web", "standard")]  # O5 (30.00 charged, +18.00) and O6 (10.00, +1.00)
    assert (web2["orders_count"], web2["shipping_revenue"], web2["shipping_cost"], web2["shipping_margin"]) == (
        2,
        D("40.00"),
        D("21.00"),
        D("19.00"),
    )
    assert web2["shipping_margin_pct"] == pytest.approx(19 / 40)  # 0.475; the mean of 0.6 and 0.1 would be 0.35
    free = rows[(D1, "phone", "standard")]  # nothing charged: no percentage
    assert (free["free_shipping_orders"], free["shipping_margin"], free["shipping_margin_pct"]) == (1, D("-5.00"), None)
    assert rows[(D1, "web", "overnight")]["expedited_orders"] == 1
    flagged = rows[(D2, "unknown", "standard")]  # O4 says expedited but ships standard
    assert (flagged["expedited_orders"], flagged["expedited_mismatch_orders"]) == (1, 1)


def test_sales_operations_ranks_severity_numerically(latest):
    rows = {(r["product_id"], r["order_date"]): r for r in latest["marts"]["fct_sales_operations"]}
    assert set(rows) == {(1, D1), (2, D1), (1, D2), (3, D2), (4, D2)}
    stockout, low = rows[(1, D1)], rows[(2, D1)]
    assert (stockout["inventory_risk_tier"], stockout["inventory_risk_rank"]) == ("HIGH", 4)
    assert (low["inventory_risk_tier"], low["inventory_risk_rank"]) == ("MODERATE", 3)
    # Both electronics: the worst tier of the category is HIGH (max() over the strings would say MODERATE).
    assert stockout["category_worst_risk_tier"] == low["category_worst_risk_tier"] == "HIGH"
    assert rows[(3, D2)]["category_worst_risk_tier"] == "OVERSTOCK"
    # Product 4 has no category: it still gets its own bucket's tier (null-safe join).
    assert (rows[(4, D2)]["category"], rows[(4, D2)]["category_worst_risk_tier"]) == (None, "HEALTHY")
    # One inventory snapshot (the latest), not the union of both days.
    assert {r["inventory_snapshot_date"] for r in rows.values()} == {D2}
    p1d2 = rows[(1, D2)]
    assert (p1d2["daily_quantity"], p1d2["trend_signal"], p1d2["gross_margin"], p1d2["net_margin"]) == (
        2,
        "DOWN",
        D("12.00"),
        D("6.00"),
    )
    assert p1d2["return_rate"] == pytest.approx(0.2)


def test_customer_segments_read_one_snapshot(latest):
    rows = latest["marts"]["fct_customer_segments"]
    assert {r["snapshot_date"] for r in rows} == {D2}
    assert sum(r["customer_count"] for r in rows) == 5  # the D2 snapshot; all snapshots would give 8
    seg = {(r["customer_segment"], r["predicted_clv_bucket"], r["actual_clv_bucket"]): r for r in rows}
    assert set(seg) == {
        ("regular", "low", "low_value"),
        ("no_orders", "medium", "low_value"),
        ("whale", "high", "high_value"),
        ("one_timer", "unknown", "low_value"),
    }
    regular = seg[("regular", "low", "low_value")]  # A (2 orders, 135.00) and E (3 orders, 150.00)
    assert (regular["customer_count"], regular["orders_count"], regular["total_spent"], regular["total_net_clv"]) == (
        2,
        5,
        D("285.00"),
        D("285.00"),
    )
    assert regular["avg_order_value"] == pytest.approx(57.0)  # 285/5; the mean of 67.5 and 50 would be 58.75
    assert regular["avg_net_clv"] == pytest.approx(142.5)
    assert regular["bronze_nudge_customers"] == 1
    no_orders = seg[("no_orders", "medium", "low_value")]
    assert (no_orders["customer_count"], no_orders["customers_with_orders"], no_orders["avg_order_value"]) == (
        1,
        0,
        None,
    )
    one_timer = seg[("one_timer", "unknown", "low_value")]  # D: no predicted bucket, in the danger zone
    assert (one_timer["total_refunded"], one_timer["total_net_clv"], one_timer["at_risk_customers"]) == (
        D("5.00"),
        D("15.00"),
        1,
    )
    assert seg[("whale", "high", "high_value")]["at_risk_customers"] == 0  # C was at risk on D1 only


def test_marketing_attribution_rows(latest):
    rows = {(r["metric_date"], r["channel"]): r for r in latest["marts"]["fct_marketing_attribution"]}
    assert set(rows) == {(D1, "web"), (D1, "phone"), (D2, "web"), (D2, "unknown")}
    web = rows[(D1, "web")]
    assert (web["total_orders"], web["recovered_orders"], web["recovered_revenue"], web["net_revenue"]) == (
        2,
        2,
        D("135.00"),
        D("135.00"),
    )
    assert (web["recovery_rate"], web["recovered_revenue_share"]) == (1.0, 1.0)
    assert web["avg_hours_from_cart"] == pytest.approx(1.75)
    phone = rows[(D1, "phone")]
    assert (
        phone["total_orders"],
        phone["recovered_orders"],
        phone["recovery_rate"],
        phone["recovered_revenue_share"],
    ) == (1, 0, 0.0, 0.0)
    assert rows[(D2, "web")]["net_revenue"] == D("235.00")


def test_daily_dashboard_and_product_profitability_mirror_enriched(latest):
    days = {r["metric_date"]: r for r in latest["marts"]["fct_daily_dashboard"]}
    assert set(days) == {D1, D2}
    assert (days[D1]["gross_revenue"], days[D1]["net_revenue"], days[D1]["orders_count"]) == (
        D("170.00"),
        D("155.00"),
        3,
    )
    assert (days[D2]["gross_revenue"], days[D2]["revenue_anomaly_flag"], days[D2]["return_rate"]) == (
        D("270.00"),
        "NORMAL",
        pytest.approx(1 / 3),
    )
    products = {(r["product_id"], r["product_date"]): r for r in latest["marts"]["fct_product_profitability"]}
    assert set(products) == {(1, D1), (2, D1), (1, D2), (3, D2)}
    phone = products[(2, D1)]
    assert (phone["gross_revenue"], phone["discount_amount"], phone["gross_margin"]) == (
        D("20.00"),
        D("2.00"),
        D("10.00"),
    )
    assert phone["margin_pct"] == pytest.approx(10 / 18)
    assert products[(3, D2)]["cart_to_order_rate"] is None


# ------------------------------------------------------------------------------ --date D


def test_date_reads_that_days_snapshots_and_business_dates_up_to_it(as_of_d1):
    marts = as_of_d1["marts"]
    assert "as of 2023-01-01" in as_of_d1["proc"].stdout
    segments = marts["fct_customer_segments"]
    assert {r["snapshot_date"] for r in segments} == {D1}
    assert sum(r["customer_count"] for r in segments) == 3
    assert {(r["customer_segment"], r["at_risk_customers"]) for r in segments} == {
        ("one_timer", 0),
        ("no_orders", 0),
        ("whale", 1),
    }
    ops = marts["fct_sales_operations"]
    assert {
        (r["product_id"], r["order_date"], r["inventory_risk_tier"], r["category_worst_risk_tier"]) for r in ops
    } == {(1, D1, "HEALTHY", "HEALTHY"), (2, D1, "HEALTHY", "HEALTHY")}
    assert {r["order_date"] for r in marts["fct_finance_revenue"]} == {D1}
    assert [r["metric_date"] for r in marts["fct_daily_dashboard"]] == [D1]


# ------------------------------------------------------------------------- failing gates


def _tamper_daily_revenue(rows):
    rows["int_daily_business_metrics"][1]["gross_revenue"] = D("271.00")  # orders of D2 add up to 270.00


def test_reconciliation_fails_on_tampered_enriched_and_publishes_nothing(latest, tmp_path):
    lake = tmp_path / "lake"
    # Start from the good Gold of `latest`, then rebuild over Enriched whose daily revenue was altered.
    shutil.copytree(latest["lake"] / "gold", lake / "gold")
    before = {p.relative_to(lake): sha(p) for p in (lake / "gold").rglob("*") if p.is_file()}
    r = _build(lake, tamper=_tamper_daily_revenue)
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: gold: ")
    assert "gold_daily_dashboard_reconciles" in err[0] and "left unchanged" in err[0]
    after = {p.relative_to(lake): sha(p) for p in (lake / "gold").rglob("*") if p.is_file()}
    assert after == before  # same warehouse bytes, same exports, no staging left behind
    rec = json.loads(next((lake / "metrics").glob("gold_run_*.json")).read_text())
    assert rec["status"] == "failed" and rec["tests_failed"] >= 1


def test_missing_enriched_exits_2(tmp_path):
    r = gf.run_cli(["gold", "run"], tmp_path / "lake")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "Enriched data missing" in r.stderr and "run `ecomlake local enriched` first" in r.stderr
    assert not (tmp_path / "lake" / "gold" / "ecomlake.duckdb").exists()


def test_one_missing_enriched_table_exits_2_and_names_it(tmp_path):
    lake = tmp_path / "lake"
    gf.write_enriched(lake / "silver" / "enriched", tables=[t for t in gf.TABLES if t != "int_shipping_economics"])
    r = gf.run_cli(["gold", "run"], lake)
    assert r.returncode == 2
    assert "no partitions of int_shipping_economics" in r.stderr and "ecomlake local enriched" in r.stderr


def test_date_without_its_snapshot_exits_2(tmp_path):
    lake = tmp_path / "lake"
    gf.write_enriched(lake / "silver" / "enriched")
    r = gf.run_cli(["gold", "run", "--date", "2023-01-05"], lake)
    assert r.returncode == 2
    assert (
        "no int_customer_retention_signals snapshot for 2023-01-05" in r.stderr or "snapshot for 2023-01-05" in r.stderr
    )
    assert "ecomlake local enriched --date 2023-01-05" in r.stderr
    bad = gf.run_cli(["gold", "run", "--date", "2023-02-30"], lake)
    assert bad.returncode == 2 and "invalid --date" in bad.stderr


def test_latest_as_of_is_the_newest_date_every_snapshot_table_has(tmp_path):
    from ecomlake.config import load_settings
    from ecomlake.gold import resolve_as_of

    root = tmp_path / "enriched"

    def extra_clv_day(rows):  # a CLV snapshot for D2+1 without the other snapshot tables' ones
        extra = [
            dict(r, ingest_dt=D2.replace(day=3)) for r in rows["int_customer_lifetime_value"] if r["ingest_dt"] == D2
        ]
        rows["int_customer_lifetime_value"].extend(extra)

    gf.write_enriched(root, tamper=extra_clv_day)
    env = {"SILVER_ENRICHED_PATH": str(root), "SILVER_BASE_PATH": str(tmp_path / "silver")}  # not ./data
    settings = load_settings(gf.REPO / "config" / "config.yml", env=env)
    assert resolve_as_of(settings, None) == D2
    assert resolve_as_of(settings, D1) == D1


# ------------------------------------------------------------------- the Base Silver runbook


def test_default_dbt_selection_excludes_gold(tmp_path):
    """`dbt run` / `dbt test` from dbt_duckdb/ without vars select no Gold node (and need no Enriched)."""
    script = f"""
import json, os, sys
from dbt.cli.main import dbtRunner
os.chdir({str(gf.REPO / "dbt_duckdb")!r})
common = ["--profiles-dir", ".", "--target", "local", "--target-path", {str(tmp_path / "target")!r},
          "--log-path", {str(tmp_path / "logs")!r}, "--quiet", "--output", "json", "--output-keys", "name resource_type original_file_path"]
out = {{}}
for label, extra in (("default", []), ("gold", ["--vars", '{{"gold": true}}'])):
    res = dbtRunner().invoke(["ls", *common, *extra])
    assert res.success, res.exception
    out[label] = [json.loads(x) for x in res.result]
print(json.dumps(out))
"""
    env = gf.lake_env(tmp_path / "lake", ECOM_DBT_DUCKDB_PATH=str(tmp_path / "x.duckdb"))
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    listed = json.loads(proc.stdout.strip().splitlines()[-1])

    def gold_nodes(nodes):
        return sorted(
            n["name"]
            for n in nodes
            if "/gold/" in n.get("original_file_path", "")
            or (n["resource_type"] == "source" and n["name"].startswith("int_"))
        )

    assert gold_nodes(listed["default"]) == []
    assert any(n["resource_type"] == "model" for n in listed["default"])  # Base Silver is still there
    with_gold = gold_nodes(listed["gold"])
    assert sorted(n["name"] for n in listed["gold"] if n["resource_type"] == "model" and n["name"] in MARTS) == sorted(
        MARTS
    )
    assert any(name.startswith("gold_") for name in with_gold)  # the reconciliation tests come with them


# ------------------------------------------------------------------------------ contracts


def _yaml_columns() -> dict[str, list[str]]:
    import yaml

    cols = {}
    for mart in MARTS:
        doc = yaml.safe_load((gf.REPO / "dbt_duckdb" / "models" / "gold" / f"{mart}.yml").read_text())
        (model,) = doc["models"]
        assert model["name"] == mart
        assert model["config"]["meta"]["grain"], f"{mart}: no grain in meta"
        assert "Grain:" in model["description"]
        cols[mart] = [c["name"] for c in model["columns"]]
    return cols


def test_every_built_column_is_declared_in_yaml_and_docs(latest):
    import duckdb

    declared = _yaml_columns()
    doc = (gf.REPO / "docs" / "gold.md").read_text()
    con = duckdb.connect(str(latest["warehouse"]), read_only=True)
    try:
        for mart in MARTS:
            built = [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
            assert built == declared[mart], mart
            section = doc.split(f"### {mart}\n", 1)[1].split("\n### ", 1)[0]
            missing = [c for c in built if c not in section]
            assert missing == [], f"docs/gold.md {mart}: undocumented {missing}"
    finally:
        con.close()
