"""The guards added where the type checker found a value that can be None but was used as required."""

from __future__ import annotations

import duckdb
import pytest

from ecomlake import rules
from ecomlake.bronze import gen_defects
from ecomlake.contract import CONTRACT
from ecomlake.duck import one, scalar
from ecomlake.silver import codegen


def test_scalar_and_one_return_the_row():
    con = duckdb.connect()
    assert scalar(con, "select count(*) from range(3)") == 3
    assert one(con, "select 1, 'a'") == (1, "a")


def test_one_raises_when_a_statement_returns_no_row():
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="query returned no row: create table u"):
        scalar(con, "create table u (x int)")  # DDL returns no row (a count or an aggregate always does)


def test_per_column_rule_without_a_column_is_refused():
    rule = rules.Rule(code="null_x", table="orders", family=rules.NULL_PRIMARY_KEY, column=None, description="")
    with pytest.raises(ValueError, match=r"rule null_x \(.*\) names no column"):
        codegen._rule_predicate(CONTRACT["orders"], rule)


def test_foreign_key_rule_on_a_column_without_a_foreign_key_is_refused():
    rule = rules.Rule(
        code="invalid_email_fk", table="orders", family=rules.INVALID_FOREIGN_KEY, column="email", description=""
    )
    with pytest.raises(ValueError, match="orders.email: rule invalid_email_fk checks a foreign key"):
        codegen._rule_predicate(CONTRACT["orders"], rule)


def test_defect_that_needs_a_column_is_refused_without_one():
    with pytest.raises(ValueError, match="defect kind 'orphan_fk' needs a column"):
        gen_defects.expected_code("order_items", "orphan_fk", None)
