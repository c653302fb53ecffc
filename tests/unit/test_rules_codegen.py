"""The registry, the dbt seed and the generated dbt models agree (pure, no dbt run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecomlake import rules
from ecomlake.contract import CONTRACT, TABLES, silver_columns
from ecomlake.silver import codegen

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_duckdb"


def test_generated_dbt_files_are_in_sync_with_the_contract():
    stale = codegen.write(PROJECT, check=True)
    assert stale == [], f"run `python -m ecomlake.silver.codegen`: {stale}"


def test_seed_is_generated_from_the_registry():
    assert rules.seed_path(PROJECT).read_text() == rules.seed_csv()
    assert len(rules.RULES) == 198


@pytest.mark.parametrize("table", TABLES)
def test_scored_model_emits_every_rule_once_in_registry_order(table):
    sql = codegen.scored_model(CONTRACT[table])
    # the dedup re-checks the few rows of suspect keys with the same rules: cut that chain out
    start, end = sql.index("suspect_joined as ("), sql.index("winners as (")
    emitted = re.findall(r"then '([a-z_]+)' end", sql[:start] + sql[end:])
    assert emitted == [r.code for r in rules.rules_for(table)]
    case_lines = re.compile(r"^ +case when .* end,?$", flags=re.M)
    main = case_lines.findall(sql[sql.index("checked as (") : sql.index("candidates as (")])
    assert case_lines.findall(sql[start:end]) == main != []


@pytest.mark.parametrize("table", TABLES)
def test_every_rule_has_a_predicate(table):
    for r in rules.rules_for(table):
        pred = codegen._rule_predicate(CONTRACT[table], r)
        if r.family == rules.DUPLICATE_PRIMARY_KEY:
            assert pred is None
        else:
            assert pred and (r.column is None or r.column in pred), r


def test_unknown_rule_shape_is_refused():
    bogus = rules.Rule("strange_orders_rule", "orders", rules.OUT_OF_RANGE, "order_id", "?")
    with pytest.raises(ValueError, match="teach codegen"):
        codegen._rule_predicate(CONTRACT["orders"], bogus)


@pytest.mark.parametrize("table", TABLES)
def test_stg_and_quarantine_models_select_the_contract_columns_in_order(table):
    stg = codegen.stg_model(CONTRACT[table])
    cols = re.findall(r"^        ([a-z_]+),?$", stg, flags=re.M)
    assert [*cols, "_run_id"] == [c for c, _ in silver_columns(table)]
    q = codegen.quarantine_model(CONTRACT[table])
    raw = re.findall(r"^        ([a-z_]+)__raw as ([a-z_]+),$", q, flags=re.M)
    assert [a for a, b in raw] == [b for a, b in raw] == CONTRACT[table].bronze_column_names


def test_registry_macro_lists_every_code():
    macro = codegen.registry_macro()
    for r in rules.RULES:
        assert f"'{r.code}'" in macro


def test_null_key_rows_never_compete_in_dedup():
    sql = codegen.scored_model(CONTRACT["order_items"])
    assert "_row_reasons = '' and order_id is not null and product_id is not null as _is_candidate" in sql
    assert "from suspect_checked where _row_reasons = '' and order_id is not null and product_id is not null" in sql
    assert "case when _is_duplicate then 'duplicate_order_item' end" in sql
