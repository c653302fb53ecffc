"""Docs that describe code must stay in sync with it."""

from pathlib import Path

from ecomlake import rules
from ecomlake.config import ENV_OVERRIDES

REPO = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented():
    doc = (REPO / "docs" / "configuration.md").read_text()
    missing = [var for var in ENV_OVERRIDES if f"`{var}`" not in doc]
    assert missing == []


def test_dbt_rule_seed_matches_the_registry():
    seed = rules.seed_path(REPO / "dbt_duckdb").read_text()
    assert seed == rules.seed_csv(), "run: python -c 'from ecomlake import rules; rules.write_seed()'"


def test_every_rule_code_has_exactly_one_family():
    seen = {}
    for r in rules.RULES:
        assert r.family in rules.FAMILIES
        assert seen.setdefault((r.table, r.code), r.family) == r.family
    assert len(seen) == len(rules.RULES), "a code is listed twice for one table"


def test_predecessor_example_codes_exist():
    # The codes PRODUCT.md names as examples.
    for table, code in [
        ("orders", "null_order_id"),
        ("orders", "invalid_customer_fk"),
        ("orders", "cast_failed_order_date"),
        ("order_items", "negative_unit_price"),
        ("orders", "future_order_date"),
        ("orders", "duplicate_order_id"),
    ]:
        assert rules.rule(table, code)
