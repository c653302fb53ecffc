"""The quarantine rule registry: every rule code, its table, family and meaning, in one place.

Codes are derived from the table contract, so a new required column or range rule gets its code
without anyone editing a list. The dbt project reads the same registry from its seed
`dbt_duckdb/seeds/quarantine_rules.csv`, which `write_seed()` regenerates and a unit test keeps in
sync. Several failing rules on one row are joined with `|` in registry order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ecomlake.contract import CONTRACT, LINEAGE_COLUMNS, TABLES

# The runbook's five families.
NULL_PRIMARY_KEY = "null_primary_key"
INVALID_FOREIGN_KEY = "invalid_foreign_key"
TYPE_CAST_FAILURE = "type_cast_failure"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_PRIMARY_KEY = "duplicate_primary_key"
FAMILIES = {
    NULL_PRIMARY_KEY: "A primary key, required field or lineage column is null (after null-token cleaning).",
    INVALID_FOREIGN_KEY: "A reference does not resolve: not in the dims snapshot, or the parent row is not valid Silver.",
    TYPE_CAST_FAILURE: "A raw value is present but does not cast to the contract's Silver type.",
    OUT_OF_RANGE: "A value violates a business range: negative money, non-positive quantity, future date, unknown enum, net above gross.",
    DUPLICATE_PRIMARY_KEY: "Another valid row with the same key won (newest ingestion_ts), or the key is already published in Silver.",
}

REASON_SEPARATOR = "|"


@dataclass(frozen=True)
class Rule:
    code: str
    table: str
    family: str
    column: str | None
    description: str


def _fk_code(column: str) -> str:
    return f"invalid_{column.removesuffix('_id')}_fk"


def duplicate_code(table_name: str) -> str:
    t = CONTRACT[table_name]
    if len(t.primary_key) == 1:
        return f"duplicate_{t.primary_key[0]}"
    return f"duplicate_{table_name.removesuffix('s')}"  # order_items -> duplicate_order_item


def published_duplicate_code(table_name: str) -> str:
    return duplicate_code(table_name) + "_published"


def _rules_for(table_name: str) -> list[Rule]:
    t = CONTRACT[table_name]
    rules: list[Rule] = []

    def add(code, family, column, description):
        rules.append(Rule(code, table_name, family, column, description))

    for c in t.columns:
        if c.required or c.name in t.primary_key:
            add(f"null_{c.name}", NULL_PRIMARY_KEY, c.name, f"{c.name} is null or a null token")
    for name in LINEAGE_COLUMNS:
        add(f"null_{name}", NULL_PRIMARY_KEY, name, f"lineage column {name} is null")
    for c in t.columns:
        if c.cast_can_fail:
            add(f"cast_failed_{c.name}", TYPE_CAST_FAILURE, c.name, f"{c.name} does not cast to {c.silver}")
    add("cast_failed_ingestion_ts", TYPE_CAST_FAILURE, "ingestion_ts", "ingestion_ts does not cast to TIMESTAMP")
    for c in t.columns:
        if c.min_value == "positive":
            add(f"nonpositive_{c.name}", OUT_OF_RANGE, c.name, f"{c.name} is zero or negative")
        elif c.min_value == "non_negative":
            add(f"negative_{c.name}", OUT_OF_RANGE, c.name, f"{c.name} is negative")
        if c.no_future:
            add(
                f"future_{c.name}",
                OUT_OF_RANGE,
                c.name,
                f"{c.name} is later than its arrival date plus the allowed skew",
            )
        if c.enum:
            add(f"invalid_{c.name}", OUT_OF_RANGE, c.name, f"{c.name} is not one of: {', '.join(c.enum)}")
        if c.email:
            add(f"invalid_{c.name}", OUT_OF_RANGE, c.name, f"{c.name} is not an e-mail address")
    for code, _predicate, description in t.checks:
        add(code, OUT_OF_RANGE, None, description)
    for column, fk in t.foreign_keys:
        where = (
            "the dims snapshot for the run date"
            if fk.table in ("customers", "product_catalog")
            else f"valid Silver {fk.table}"
        )
        exempt = " (GUEST- ids exempt)" if fk.guest_exempt else ""
        add(_fk_code(column), INVALID_FOREIGN_KEY, column, f"{column} not found in {where}{exempt}")
    pk = ", ".join(t.primary_key)
    add(duplicate_code(table_name), DUPLICATE_PRIMARY_KEY, None, f"another valid row with the same ({pk}) is newer")
    add(
        published_duplicate_code(table_name),
        DUPLICATE_PRIMARY_KEY,
        None,
        f"({pk}) already published in an earlier Silver partition",
    )
    return rules


RULES: list[Rule] = [r for name in TABLES for r in _rules_for(name)]
_BY_KEY = {(r.table, r.code): r for r in RULES}


def rules_for(table_name: str) -> list[Rule]:
    return [r for r in RULES if r.table == table_name]


def rule(table_name: str, code: str) -> Rule:
    try:
        return _BY_KEY[(table_name, code)]
    except KeyError:
        raise KeyError(f"no quarantine rule {code!r} for table {table_name!r}") from None


def family_of(table_name: str, code: str) -> str | None:
    r = _BY_KEY.get((table_name, code))
    return r.family if r else None


def split_reasons(reason: str | None) -> list[str]:
    if not reason:
        return []
    return [p.strip() for p in reason.split(REASON_SEPARATOR) if p.strip()]


def seed_csv() -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table_name", "code", "family", "column_name", "rule_order", "description"])
    for name in TABLES:
        for i, r in enumerate(rules_for(name)):
            w.writerow([r.table, r.code, r.family, r.column or "", i, r.description])
    return buf.getvalue()


def seed_path(project_dir: str | Path = "dbt_duckdb") -> Path:
    return Path(project_dir) / "seeds" / "quarantine_rules.csv"


def write_seed(project_dir: str | Path = "dbt_duckdb") -> Path:
    path = seed_path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed_csv())
    return path
