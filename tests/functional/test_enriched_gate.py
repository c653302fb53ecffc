"""The Enriched gate: every check fails on a fixture that breaks it, with the exact outcome."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from enriched_fixtures import CONFIG, DAYS, Lake, fill_small_lake

from ecomlake.cli.main import main
from ecomlake.enriched.runner import run_enriched
from ecomlake.enriched.validate import validate_enriched
from ecomlake.errors import ConfigError
from ecomlake.transforms.schemas import SPECS

RUN = "gate_run"
D3 = "2023-01-03"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = Lake(tmp_path_factory.mktemp("gate"))
    fill_small_lake(lake)
    for d in DAYS[:2]:
        run_enriched(lake.settings(), d, run_id=f"pre_{d}")
    run_enriched(lake.settings(), D3, run_id=RUN)
    return lake


def _part_file(lake: Lake, table: str, partition: str) -> Path:
    return lake.enriched / table / partition / "part-00000.parquet"


@contextlib.contextmanager
def mutated(lake: Lake, table: str, partition: str, fn):
    """Rewrite one part file with fn(rows) -> rows, and restore it afterwards."""
    path = _part_file(lake, table, partition)
    original = path.read_bytes()
    t = pq.read_table(path)
    rows = fn([dict(r) for r in t.to_pylist()])
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), path)
    try:
        yield
    finally:
        path.write_bytes(original)


@contextlib.contextmanager
def edited_record(lake: Lake, fn):
    path = lake.metrics / f"enriched_run_{RUN}.json"
    original = path.read_text()
    rec = json.loads(original)
    fn(rec)
    path.write_text(json.dumps(rec))
    try:
        yield
    finally:
        path.write_text(original)


def gate(lake, **kw):
    settings = lake.settings(**kw.pop("env", {}))
    return validate_enriched(settings, ingest_dt=D3, run_id=RUN, **kw)


def metrics(result, table):
    return next(m for m in result.table_metrics if m["table_name"] == table)


def failed(result):
    return {(c.table, c.name) for c in result.checks if c.status.value == "FAIL"}


def first(pred):
    """Apply a change to the first row matching pred."""

    def deco(change):
        def fn(rows):
            for r in rows:
                if pred(r):
                    change(r)
                    return rows
            raise AssertionError("no row matches the fixture's precondition")

        return fn

    return deco


def test_good_run_passes_every_check(lake):
    code, result = gate(lake, enforce=True)
    assert result.overall_status.value == "PASS", [c.message for c in result.problems]
    assert code == 0
    assert {m["table_name"] for m in result.table_metrics} == set(SPECS)
    shipping = metrics(result, "int_shipping_economics")
    assert shipping["partitions"] == ["2023-01-01", "2023-01-03"]  # every partition the run wrote, not only D
    assert shipping["row_count"] == 8 and shipping["status"] == "PASS"
    report = lake.reports / "ENRICHED_QUALITY_2023-01-03.md"
    assert report.exists() and "int_customer_lifetime_value" in report.read_text()
    data = json.loads((lake.metrics / f"enriched_quality_{RUN}.json").read_text())
    assert data["overall_status"] == "PASS"
    assert {
        "table_name",
        "partition_key",
        "partitions",
        "row_count",
        "null_rates",
        "sanity_issues",
        "semantic_issues",
        "status",
    } <= set(data["table_metrics"][0])


def _any(r):
    return True


P = {name: (f"{s.partition_key}={D3}") for name, s in SPECS.items()}

SEMANTIC_CASES = [
    ("int_customer_lifetime_value", "net_clv_matches_components", _any, lambda r: r.update(net_clv=r["net_clv"] + 1)),
    (
        "int_customer_lifetime_value",
        "avg_order_value_matches_ratio",
        lambda r: r["order_count"] > 0,
        lambda r: r.update(avg_order_value=999.0),
    ),
    (
        "int_customer_lifetime_value",
        "no_orders_segment_matches_count",
        lambda r: r["order_count"] > 0,
        lambda r: r.update(customer_segment="no_orders"),
    ),
    (
        "int_customer_retention_signals",
        "danger_zone_requires_one_order",
        lambda r: r["total_orders"] == 0,
        lambda r: r.update(is_in_danger_zone=True),
    ),
    (
        "int_product_performance",
        "return_rate_le_one",
        _any,
        lambda r: r.update(units_sold_30d=2, units_returned_30d=3, return_rate=1.5),
    ),
    (
        "int_product_performance",
        "return_rate_matches_ratio",
        lambda r: r["units_sold_30d"] > 0,
        lambda r: r.update(return_rate=0.9),
    ),
    (
        "int_product_performance",
        "units_returned_le_units_sold",
        _any,
        lambda r: r.update(units_returned_30d=r["units_sold_30d"] + 1, return_rate=None, units_sold_30d=0),
    ),
    (
        "int_product_performance",
        "gross_margin_matches_components",
        _any,
        lambda r: r.update(gross_margin=r["gross_margin"] + 1),
    ),
    (
        "int_product_performance",
        "net_margin_matches_components",
        _any,
        lambda r: r.update(net_margin=r["net_margin"] + 1),
    ),
    (
        "int_cart_attribution",
        "converted_requires_order_id",
        _any,
        lambda r: r.update(cart_status="converted", order_id=None),
    ),
    (
        "int_cart_attribution",
        "abandoned_requires_null_order_id",
        _any,
        lambda r: r.update(cart_status="abandoned", order_id="X", abandoned_value=r["cart_value"]),
    ),
    (
        "int_cart_attribution",
        "abandoned_value_only_when_abandoned",
        lambda r: r["cart_status"] != "abandoned",
        lambda r: r.update(abandoned_value=r["cart_value"]),
    ),
    (
        "int_cart_attribution",
        "time_to_purchase_hours_non_negative",
        _any,
        lambda r: r.update(time_to_purchase_hours=-1.0),
    ),
    (
        "int_cart_attribution",
        "time_to_purchase_within_tolerance",
        _any,
        lambda r: r.update(time_to_purchase_hours=49.0),
    ),
    ("int_cart_attribution", "cart_status_known", _any, lambda r: r.update(cart_status="weird")),
    (
        "int_attributed_purchases",
        "recovered_requires_cart_id",
        lambda r: r["cart_id"] is None,
        lambda r: r.update(is_recovered=True),
    ),
    ("int_attributed_purchases", "hours_from_cart_within_tolerance", _any, lambda r: r.update(hours_from_cart=50.0)),
    (
        "int_shipping_economics",
        "shipping_margin_matches_components",
        _any,
        lambda r: r.update(shipping_margin=r["shipping_margin"] + 1),
    ),
    (
        "int_shipping_economics",
        "shipping_margin_pct_null_when_zero_cost",
        _any,
        lambda r: r.update(shipping_cost=0, actual_shipping_cost=0, shipping_margin=0, shipping_margin_pct=0.5),
    ),
    (
        "int_regional_financials",
        "revenue_ex_tax_matches_components",
        _any,
        lambda r: r.update(revenue_ex_tax=r["revenue_ex_tax"] + 1),
    ),
    (
        "int_regional_financials",
        "tax_amount_matches_rate",
        _any,
        lambda r: r.update(tax_amount=r["tax_amount"] + 1, revenue_ex_tax=r["revenue_ex_tax"] - 1),
    ),
    (
        "int_inventory_risk",
        "stockout_with_demand_is_high",
        _any,
        lambda r: r.update(inventory_quantity=0, units_sold_30d=5, risk_tier="HEALTHY"),
    ),
    ("int_inventory_risk", "risk_tier_known", _any, lambda r: r.update(risk_tier="SEVERE")),
    ("int_sales_velocity", "trend_signal_known", _any, lambda r: r.update(trend_signal="SIDEWAYS")),
    (
        "int_daily_business_metrics",
        "return_rate_matches_ratio",
        _any,
        lambda r: r.update(return_rate=r["return_rate"] + 0.5),
    ),
    (
        "int_daily_business_metrics",
        "cart_conversion_rate_matches_ratio",
        _any,
        lambda r: r.update(cart_conversion_rate=r["cart_conversion_rate"] + 0.5),
    ),
    (
        "int_daily_business_metrics",
        "avg_order_value_matches_ratio",
        _any,
        lambda r: r.update(avg_order_value=r["avg_order_value"] + 5),
    ),
    (
        "int_daily_business_metrics",
        "ratios_null_without_denominator",
        _any,
        lambda r: r.update(carts_created=0, cart_conversion_rate=0.5),
    ),
]


def test_every_configured_semantic_check_has_a_breaking_case(lake):
    configured = {(t, c.name) for t, cs in lake.settings().enriched_validation.semantic_checks.items() for c in cs}
    assert configured == {(t, n) for t, n, _, _ in SEMANTIC_CASES}


@pytest.mark.parametrize("table,check,pred,change", SEMANTIC_CASES, ids=[f"{t}.{n}" for t, n, _, _ in SEMANTIC_CASES])
def test_semantic_check_fails_on_broken_row(lake, table, check, pred, change):
    with mutated(lake, table, P[table], first(pred)(change)):
        code, result = gate(lake, enforce=True)
    m = metrics(result, table)
    assert any(i.startswith(f"{check}: ") for i in m["semantic_issues"]), m["semantic_issues"]
    assert m["status"] == "FAIL" and (table, "semantic") in failed(result)
    assert code == 1


@pytest.mark.parametrize(
    "table,change,issue",
    [
        ("int_product_performance", lambda r: r.update(units_sold=-1), "units_sold: 1 negative"),
        (
            "int_daily_business_metrics",
            lambda r: r.update(refund_total=-r["refund_total"] - 1),
            "refund_total: 1 negative",
        ),
        ("int_regional_financials", lambda r: r.update(tax_rate=1.5), "tax_rate: 1 outside_0_1"),
    ],
)
def test_sanity_check_fails(lake, table, change, issue):
    with mutated(lake, table, P[table], first(_any)(change)):
        code, result = gate(lake, enforce=True)
    assert issue in metrics(result, table)["sanity_issues"]
    assert (table, "sanity") in failed(result) and code == 1


def test_duplicate_key_fails_uniqueness_and_reconciliation(lake):
    with mutated(lake, "int_regional_financials", P["int_regional_financials"], lambda rows: rows + rows[:1]):
        _, result = gate(lake)
    assert {("int_regional_financials", "key_unique"), ("int_regional_financials", "reconcile_order_rows")} <= failed(
        result
    )
    assert metrics(result, "int_regional_financials")["duplicate_keys"] == 1


def test_missing_order_row_fails_reconciliation(lake):
    with mutated(lake, "int_shipping_economics", "order_dt=2023-01-01", lambda rows: rows[1:]):
        code, result = gate(lake)
    assert failed(result) == {("int_shipping_economics", "reconcile_order_rows")}
    assert code == 0  # local and not enforcing: FAIL is reported, the exit code stays 0
    issues = metrics(result, "int_shipping_economics")["reconciliation_issues"]
    assert issues == ["2023-01-01: 3 rows != 4 Silver orders"]


def test_daily_gross_revenue_must_match_silver_to_the_cent(lake):
    with mutated(
        lake,
        "int_daily_business_metrics",
        P["int_daily_business_metrics"],
        first(_any)(lambda r: r.update(gross_revenue=r["gross_revenue"] + r["gross_revenue"].__class__("0.01"))),
    ):
        _, result = gate(lake)
    assert failed(result) == {("int_daily_business_metrics", "reconcile_daily_revenue")}


def test_clv_total_must_match_silver(lake):
    from decimal import Decimal

    # Consistent within the row (so no semantic check fires), but not what Silver says.
    change = first(lambda r: r["order_count"] == 0)(
        lambda r: r.update(total_spent=r["total_spent"] + Decimal(10), net_clv=r["net_clv"] + Decimal(10))
    )
    with mutated(lake, "int_customer_lifetime_value", P["int_customer_lifetime_value"], change):
        _, result = gate(lake)
    assert failed(result) == {("int_customer_lifetime_value", "reconcile_clv")}


def test_attribution_tables_must_agree(lake):
    change = first(lambda r: r["is_recovered"])(lambda r: r.update(cart_id="K999"))
    with mutated(lake, "int_attributed_purchases", P["int_attributed_purchases"], change):
        _, result = gate(lake)
    assert failed(result) == {
        ("int_cart_attribution", "attribution_agreement"),
        ("int_attributed_purchases", "attribution_agreement"),
    }
    said = {c.table: (c.observed, c.message) for c in result.checks if c.name == "attribution_agreement"}
    # The order now names cart K999, which no converted cart answers; its real cart names the order.
    observed, message = said["int_attributed_purchases"]
    assert observed == 1 and re.search(
        r"order \S+ recovered from cart K999, but that cart is converted by None", message
    )
    observed, message = said["int_cart_attribution"]
    assert observed == 1 and re.search(r"cart \S+ converted by order \S+, but that order has cart K999", message)


def test_null_partition_rows_fail(lake):
    spec = SPECS["int_shipping_economics"]
    good = pq.read_table(_part_file(lake, spec.name, P[spec.name])).slice(0, 1).to_pylist()
    good[0].update(order_dt=None, order_id="NULLDATE")
    target = lake.enriched / spec.name / "order_dt=__null__"
    target.mkdir()
    pq.write_table(pa.Table.from_pylist(good, schema=spec.arrow_schema()), target / "part-00000.parquet")
    try:
        with edited_record(lake, lambda rec: rec["tables"][spec.name]["partitions"].append("__null__")):
            code, result = gate(lake, enforce=True)
    finally:
        import shutil

        shutil.rmtree(target)
    assert (spec.name, "null_partition") in failed(result) and code == 1


def test_table_without_rows_fails_min_rows(lake):
    with edited_record(lake, lambda rec: rec["tables"]["int_sales_velocity"].update(partitions=[])):
        code, result = gate(lake, enforce=True)
    assert failed(result) == {("int_sales_velocity", "min_table_rows")} and code == 1


def test_schema_drift_fails(lake):
    path = _part_file(lake, "int_inventory_risk", P["int_inventory_risk"])
    original = path.read_bytes()
    pq.write_table(pq.read_table(path).drop_columns(["risk_tier"]), path)
    try:
        _, result = gate(lake)
    finally:
        path.write_bytes(original)
    assert ("int_inventory_risk", "schema") in failed(result)


def test_prod_fail_exits_1_without_enforce(lake):
    with mutated(
        lake, "int_sales_velocity", P["int_sales_velocity"], first(_any)(lambda r: r.update(trend_signal="?"))
    ):
        code, result = gate(lake, env={"PIPELINE_ENV": "prod"})
    assert result.overall_status.value == "FAIL" and code == 1


def test_unsafe_semantic_expression_is_rejected(lake, tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["enriched_validation"]["semantic_checks"]["int_customer_lifetime_value"].append(
        {"name": "sneaky", "expr": "net_clv > 0 or (select count(*) from read_csv('/etc/passwd')) > 0"}
    )
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    from ecomlake.config import load_settings

    settings = load_settings(path, env=lake.env())
    with pytest.raises(ConfigError, match="sneaky: SUBQUERY is not allowed"):
        validate_enriched(settings, ingest_dt=D3, run_id=RUN)


def _cli(monkeypatch, lake, argv):
    for k, v in lake.env().items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_cli_exit_codes(lake, monkeypatch, tmp_path, capsys):
    base = ["enriched", "validate", "--enriched-path", str(lake.enriched), "--ingest-dt", D3, "--run-id", RUN]
    assert _cli(monkeypatch, lake, [*base, "--env", "local", "--enforce"]) == 0
    with mutated(
        lake, "int_sales_velocity", P["int_sales_velocity"], first(_any)(lambda r: r.update(trend_signal="?"))
    ):
        assert _cli(monkeypatch, lake, [*base, "--env", "local"]) == 0
        assert _cli(monkeypatch, lake, [*base, "--env", "local", "--enforce"]) == 1
        assert _cli(monkeypatch, lake, [*base, "--env", "prod"]) == 1
    assert _cli(monkeypatch, lake, ["enriched", "validate", "--enriched-path", str(tmp_path / "missing")]) == 2
    assert "enriched path not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["enriched_validation"]["semantic_checks"]["int_sales_velocity"] = [{"name": "drop_it", "expr": "drop table x"}]
    bad.write_text(yaml.safe_dump(cfg))
    assert _cli(monkeypatch, lake, ["--config", str(bad), *base]) == 2
    assert "drop_it" in capsys.readouterr().err
    out = tmp_path / "custom.md"
    assert _cli(monkeypatch, lake, [*base, "--output-report", str(out)]) == 0
    assert out.read_text().startswith("# Enriched Silver Quality Report")
