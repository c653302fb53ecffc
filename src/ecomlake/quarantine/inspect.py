"""`ecomlake quarantine inspect`: the quarantined rows of one partition, with the values that failed."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from ecomlake import rules
from ecomlake.config import Settings
from ecomlake.contract import CONTRACT
from ecomlake.contract import table as contract_table
from ecomlake.errors import InputError
from ecomlake.quarantine import REASON, key_string, read_partition
from ecomlake.runs import parse_date


def offending_columns(table: str, code: str) -> list[str]:
    """The raw columns that explain a reason code (the rule's column, or those of a table check)."""
    t = CONTRACT[table]
    try:
        r = rules.rule(table, code)
    except KeyError:
        return []
    if r.family == rules.DUPLICATE_PRIMARY_KEY:
        return [*t.primary_key, "ingestion_ts"]
    if r.column:
        return [r.column]
    for check_code, predicate, _ in t.checks:
        if check_code == code:
            words = re.findall(r"[a-z_][a-z0-9_]*", predicate)
            return [w for w in dict.fromkeys(words) if w in t.column_names]
    return []


def check_reason(table: str, reason: str | None) -> None:
    if reason and rules.family_of(table, reason) is None:
        known = ", ".join(r.code for r in rules.rules_for(table))
        raise InputError(f"unknown reason code {reason!r} for {table} (known: {known})")


def inspect_quarantine(
    settings: Settings, *, table: str, ingest_dt: str, reason: str | None = None, limit: int = 20
) -> dict:
    """Up to `limit` rows of quarantine partition D: key, reasons, and the raw values that failed."""
    d = parse_date(ingest_dt, "--ingest-dt").isoformat()
    t = contract_table(table)
    check_reason(table, reason)
    if limit < 0:
        raise InputError(f"--limit must be >= 0, got {limit}")
    data = read_partition(settings.paths.quarantine_path, table, d)
    if data is None:
        raise InputError(
            f"no quarantine partition for {table} on {d} under {settings.paths.quarantine_path} "
            f"(see `ecomlake quarantine summary --table {table}`)"
        )
    total = data.num_rows
    if REASON not in data.column_names:
        raise InputError(f"quarantine files of {table}/ingest_dt={d} have no {REASON} column; re-run silver for {d}")
    if reason:
        # Match on the distinct reason strings (few) rather than row by row.
        distinct = [v for v in pc.unique(data.column(REASON)).to_pylist() if reason in rules.split_reasons(v)]
        data = data.filter(pc.is_in(data.column(REASON), pa.array(distinct, pa.string())))
    matching = data.num_rows
    out = []
    for r in data.slice(0, limit).to_pylist():
        codes = rules.split_reasons(r.get(REASON))
        offending: dict[str, object] = {}
        for code in codes:
            for col in offending_columns(table, code):
                if col in r:
                    offending[col] = r[col]
        out.append(
            {
                "key": {k: r.get(k) for k in t.primary_key},
                "reasons": codes,
                "families": [rules.family_of(table, c) or "unknown" for c in codes],
                "values": offending,
                "_quarantine_timestamp": r.get("_quarantine_timestamp"),
                "_run_id": r.get("_run_id"),
            }
        )
    return {
        "table": table,
        "ingest_dt": d,
        "reason": reason,
        "total_rows": total,
        "matching_rows": matching,
        "shown": len(out),
        "rows": out,
    }


def format_inspect(result: dict) -> str:
    """Plain text for the terminal: one block per row."""
    t = CONTRACT[result["table"]]
    head = (
        f"{result['table']} ingest_dt={result['ingest_dt']}: {result['matching_rows']} of {result['total_rows']} "
        f"quarantined rows" + (f" with {result['reason']}" if result["reason"] else "") + f", showing {result['shown']}"
    )
    lines = [head]
    for i, r in enumerate(result["rows"], 1):
        key = key_string([r["key"][k] for k in t.primary_key])
        values = ", ".join(f"{k}={v!r}" for k, v in r["values"].items())
        lines.append(f"{i:>3}. {'/'.join(t.primary_key)}={key}  reasons={'|'.join(r['reasons'])}")
        if values:
            lines.append(f"     values: {values}")
    return "\n".join(lines)
