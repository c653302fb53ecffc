"""Semantic-check expressions from config, parsed safely.

A check is a SQL boolean expression that describes a VIOLATION (rows where it is true fail). It
comes from a config file, so it is never pasted into SQL as text: it is parsed with sqlglot into
an expression tree, every node is checked against an allow-list (comparisons, boolean logic,
arithmetic, literals, CAST to plain types, a few scalar functions such as abs/coalesce/round),
every column must be a column of the table, and only then is SQL regenerated from the tree.
Statements, subqueries, table references, unknown functions and stray placeholders are refused
with a ConfigError naming the check, so a check cannot read other data or modify anything.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from ecomlake.errors import ConfigError

_ALLOWED = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Abs,
    exp.Coalesce,
    exp.Round,
    exp.Greatest,
    exp.Least,
    exp.Nullif,
    exp.Lower,
    exp.Upper,
    exp.Cast,
    exp.TryCast,
    exp.DataType,
    exp.Case,
    exp.If,
)
_BOOLEAN_ROOTS = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Boolean,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)
_CAST_TYPES = {
    "DOUBLE",
    "FLOAT",
    "DECIMAL",
    "BIGINT",
    "INT",
    "INTEGER",
    "VARCHAR",
    "TEXT",
    "DATE",
    "BOOLEAN",
    "TIMESTAMP",
}
_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


def substitute(text: str, values: dict[str, float], where: str) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name not in values:
            raise ConfigError(f"{where}: unknown placeholder {{{name}}} (known: {', '.join(sorted(values))})")
        return repr(float(values[name]))

    out = _PLACEHOLDER.sub(repl, text)
    if "{" in out or "}" in out:
        raise ConfigError(f"{where}: stray brace in expression {text!r}")
    return out


def compile_check(text: str, columns: set[str], values: dict[str, float], where: str) -> str:
    """Validate a violation predicate and return DuckDB SQL regenerated from its parse tree."""
    source = substitute(text, values, where)
    try:
        statements = sqlglot.parse(source, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"{where}: not a valid SQL expression ({str(exc).splitlines()[0]})") from None
    parsed = [s for s in statements if s is not None]
    if len(parsed) != 1:
        raise ConfigError(f"{where}: expected one boolean expression, got {len(parsed)} statements")
    tree = parsed[0]
    if not isinstance(tree, _BOOLEAN_ROOTS):
        raise ConfigError(
            f"{where}: expected a boolean expression (a comparison or and/or/not), got {tree.key.upper()}"
        )
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise ConfigError(f"{where}: {node.key.upper()} is not allowed in a semantic check ({node.sql()[:60]!r})")
        if isinstance(node, exp.Column):
            if node.table or node.args.get("db") or node.args.get("catalog"):
                raise ConfigError(f"{where}: qualified column {node.sql()!r} is not allowed")
            if node.name not in columns:
                raise ConfigError(f"{where}: unknown column {node.name!r}")
        if (
            isinstance(node, exp.DataType)
            and node.this.name.upper() not in _CAST_TYPES
            and str(node.this).split(".")[-1].upper() not in _CAST_TYPES
        ):
            raise ConfigError(f"{where}: CAST to {node.sql()} is not allowed")
    return tree.sql(dialect="duckdb")
