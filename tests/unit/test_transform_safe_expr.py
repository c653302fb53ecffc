"""Semantic-check expressions from config are parsed, never pasted: only a safe boolean passes."""

from pathlib import Path

import pytest

from ecomlake.config import load_settings
from ecomlake.enriched.safe_expr import compile_check
from ecomlake.enriched.validate import compile_checks, sanity_columns
from ecomlake.errors import ConfigError
from ecomlake.transforms.schemas import SPECS

CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yml"

COLS = {"net_clv", "total_spent", "total_refunded", "orders_count", "returns_count", "return_rate", "cart_status"}
VALUES = {"ratio_epsilon": 1e-4, "currency_tolerance": 0.01}


def test_placeholders_are_substituted():
    sql = compile_check("abs((total_spent - total_refunded) - net_clv) > {currency_tolerance}", COLS, VALUES, "c")
    assert sql == "ABS((total_spent - total_refunded) - net_clv) > 0.01"
    sql = compile_check(
        "orders_count > 0 and abs(return_rate - cast(returns_count as double) / orders_count) > {ratio_epsilon}",
        COLS,
        VALUES,
        "c",
    )
    assert "CAST(returns_count AS DOUBLE)" in sql and sql.endswith("> 0.0001")


@pytest.mark.parametrize(
    "expr,message",
    [
        ("net_clv > 0; drop table x", "2 statements"),
        ("drop table x", "expected a boolean expression"),
        ("delete from t where 1 = 1", "expected a boolean expression"),
        ("net_clv > (select max(x) from t)", "SUBQUERY is not allowed"),
        ("net_clv in (select x from read_parquet('a.parquet'))", "is not allowed"),
        ("read_csv('/etc/passwd') is not null", "is not allowed"),
        ("pg_sleep(10) > 0", "ANONYMOUS is not allowed"),
        ("secret_column > 0", "unknown column 'secret_column'"),
        ("t.net_clv > 0", "qualified column"),
        ("net_clv + 1", "expected a boolean expression"),
        ("net_clv > {unknown_knob}", "unknown placeholder {unknown_knob}"),
        ("cast(net_clv as blob) > 0", "CAST to"),
        ("net_clv >", "not a valid SQL expression"),
    ],
)
def test_unsafe_or_malformed_expressions_are_rejected(expr, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        compile_check(expr, COLS, VALUES, "enriched_validation.semantic_checks.t.c")


def test_shipped_config_checks_all_compile():
    settings = load_settings(CONFIG, env={})
    checks = compile_checks(settings)
    assert "net_clv_matches_components" in [n for n, _ in checks["int_customer_lifetime_value"]]
    assert "return_rate_le_one" in [n for n, _ in checks["int_product_performance"]]


def test_sanity_lists_are_scoped_per_table():
    settings = load_settings(CONFIG, env={})
    daily = sanity_columns(settings, SPECS["int_daily_business_metrics"])
    product = sanity_columns(settings, SPECS["int_product_performance"])
    assert "net_revenue" in daily["non_negative"]  # listed as int_daily_business_metrics.net_revenue
    assert "net_revenue" not in product["non_negative"]  # refunds make a product day's net revenue negative
    # Rates that may exceed 1 are checked by semantic checks, never by rate_0_1.
    for spec in SPECS.values():
        cols = sanity_columns(settings, spec)["rate_0_1"]
        assert not {"return_rate", "cart_conversion_rate", "cart_to_order_rate", "return_ratio_30d"} & set(cols)
