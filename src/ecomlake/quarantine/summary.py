"""`ecomlake quarantine summary`: counts by table, date, reason code and family, trend, top examples.

Writes a JSON (default ``<reports_base_path>/quarantine_summary_<period>.json``) and a Markdown twin
next to it. The period is the ISO week of the data when it fits in one week (``2025W03``, the name
the runbook's weekly review reads), else ``<first>_<last>`` ingest_dt.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pyarrow.compute as pc

from ecomlake import ids, rules, storage
from ecomlake.config import Settings
from ecomlake.contract import CONTRACT, parse_tables
from ecomlake.quality.gate import fmt_int, fmt_pct, md_table
from ecomlake.quarantine import (
    REASON,
    key_string,
    parse_since,
    partition_dir,
    read_files,
    require_quarantine_root,
    today_utc,
)
from ecomlake.runs import resolve_run_id, utc_now_iso

EXAMPLES_PER_CODE = 3


def period_name(dates: list[str]) -> str:
    if not dates:
        return "empty"
    first, last = dt.date.fromisoformat(min(dates)), dt.date.fromisoformat(max(dates))
    w1, w2 = first.isocalendar(), last.isocalendar()
    if (w1.year, w1.week) == (w2.year, w2.week):
        return f"{w1.year}W{w1.week:02d}"
    return f"{first.isoformat()}_{last.isoformat()}"


def _silver_rows(settings: Settings, table: str, d: str) -> int | None:
    part = storage.partition_path(settings.paths.silver_base_path, table, d)
    if not storage.isdir(part):
        return None
    try:
        return sum(storage.parquet_num_rows(f) for f in storage.partition_files(part))
    except Exception:
        return None


def _trend(per_date: list[dict]) -> str:
    """Latest day's rows against the mean of the earlier days in the period."""
    if len(per_date) < 2:
        return "n/a"
    latest = per_date[-1]["rows"]
    earlier = [p["rows"] for p in per_date[:-1]]
    mean = sum(earlier) / len(earlier)
    if mean == 0:
        return "up" if latest else "flat"
    change = (latest - mean) / mean
    return "up" if change > 0.2 else "down" if change < -0.2 else "flat"


def quarantine_summary(
    settings: Settings,
    *,
    table: str | None = None,
    since: str | None = None,
    output: str | None = None,
    run_id: str | None = None,
    today: dt.date | None = None,
) -> dict:
    parse_since(since, today or today_utc())  # a malformed --since stops before anything is read
    tables = parse_tables(table)
    run_id = resolve_run_id(run_id)
    if output is not None:
        ids.user_path(output, "--output")
    qroot = settings.paths.quarantine_path
    require_quarantine_root(settings)
    storage.settle(settings.paths.silver_base_path)  # quarantine is published from the Silver staging area
    newest = max(
        (d for name in tables for d in storage.list_partitions(qroot, name) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)),
        default=None,
    )
    # "7d" counts back from the newest partition, not from today: on a lake whose data is older
    # than a week (a backfill, the demo's 2023 sample) "the last 7 days" would otherwise be empty.
    anchor = today or (dt.date.fromisoformat(newest) if newest else today_utc())
    since_date = parse_since(since, anchor)
    table_out = []
    all_dates: set[str] = set()
    totals_reason: Counter = Counter()
    totals_family: Counter = Counter()
    for name in tables:
        t = CONTRACT[name]
        per_date: list[dict[str, Any]] = []
        codes_t: Counter = Counter()
        families_t: Counter = Counter()
        examples: dict[str, list[str]] = {}
        for d in storage.list_partitions(qroot, name):
            if since_date and d < since_date.isoformat():
                continue
            data = read_files(storage.partition_files(partition_dir(qroot, name, d)), [*t.primary_key, REASON])
            codes_d: Counter = Counter()
            # Work per distinct reason string (few), not per row: quarantine can be large.
            if REASON in data.column_names and data.num_rows:
                reason_col = data.column(REASON)
                for item in pc.value_counts(reason_col).to_pylist():
                    reason, n = item["values"], item["counts"]
                    codes = rules.split_reasons(reason) or ["<empty>"]
                    for code in codes:
                        codes_d[code] += n
                    if any(len(examples.get(c, [])) < EXAMPLES_PER_CODE for c in codes):
                        hit = pc.is_null(reason_col) if reason is None else pc.equal(reason_col, reason)
                        sample = data.filter(hit).slice(0, EXAMPLES_PER_CODE)
                        keys = [
                            sample.column(k).to_pylist() if k in sample.column_names else [None] * sample.num_rows
                            for k in t.primary_key
                        ]
                        for i in range(sample.num_rows):
                            for code in codes:
                                ex = examples.setdefault(code, [])
                                if len(ex) < EXAMPLES_PER_CODE:
                                    ex.append(key_string([k[i] for k in keys]))
            elif data.num_rows:
                codes_d["<empty>"] += data.num_rows
            fams_d: Counter[str] = Counter()
            for code, n in codes_d.items():
                fams_d[rules.family_of(name, code) or "unknown"] += n
            silver = _silver_rows(settings, name, d)
            rows = data.num_rows
            pct = 100.0 * rows / (rows + silver) if silver is not None and rows + silver else None
            prev = per_date[-1] if per_date else None
            per_date.append(
                {
                    "ingest_dt": d,
                    "rows": rows,
                    "silver_rows": silver,
                    "quarantine_pct": round(pct, 4) if pct is not None else None,
                    "change_vs_previous": rows - prev["rows"] if prev else None,
                    "change_pct_vs_previous": round(100.0 * (rows - prev["rows"]) / prev["rows"], 2)
                    if prev and prev["rows"]
                    else None,
                    "reasons": dict(codes_d.most_common()),
                    "families": dict(fams_d.most_common()),
                }
            )
            codes_t.update(codes_d)
            families_t.update(fams_d)
            all_dates.add(d)
        if not per_date:
            continue
        totals_reason.update({f"{name}.{c}": n for c, n in codes_t.items()})
        totals_family.update(families_t)
        rows_t = sum(p["rows"] for p in per_date)
        silver_t = sum(p["silver_rows"] or 0 for p in per_date)
        table_out.append(
            {
                "table_name": name,
                "rows": rows_t,
                "silver_rows": silver_t,
                "quarantine_pct": round(100.0 * rows_t / (rows_t + silver_t), 4) if rows_t + silver_t else 0.0,
                "dates": per_date,
                "trend": _trend(per_date),
                "reasons": dict(codes_t.most_common()),
                "families": dict(families_t.most_common()),
                "top_examples": [
                    {
                        "code": c,
                        "family": rules.family_of(name, c) or "unknown",
                        "rows": n,
                        "examples": examples.get(c, []),
                    }
                    for c, n in codes_t.most_common(5)
                ],
            }
        )
    period = period_name(sorted(all_dates))
    summary = {
        "period": period,
        "generated_at": utc_now_iso(),
        "run_id": run_id,
        "quarantine_path": qroot,
        "config_source": settings.source,
        "since": since_date.isoformat() if since_date else None,
        "since_basis": _since_basis(since, since_date, anchor, today is None and newest is not None),
        "newest_ingest_dt": newest,
        "ingest_dts": sorted(all_dates),
        "total_rows": sum(t["rows"] for t in table_out),
        "by_table": {t["table_name"]: t["rows"] for t in table_out},
        "by_family": dict(totals_family.most_common()),
        "top_reasons": [{"table_code": k, "rows": n} for k, n in totals_reason.most_common(5)],
        "tables": table_out,
    }
    json_path = output or storage.join(settings.paths.reports_base_path, f"quarantine_summary_{period}.json")
    md_path = json_path[:-5] + ".md" if json_path.endswith(".json") else json_path + ".md"
    summary["output"] = {"json": json_path, "markdown": md_path}
    storage.write_json_atomic(json_path, summary)
    storage.write_bytes_atomic(md_path, render_markdown(summary).encode())
    return summary


def _since_basis(since: str | None, since_date: dt.date | None, anchor: dt.date, from_newest: bool) -> str | None:
    if since_date is None:
        return None
    text = str(since).strip()
    if text[:1].isdigit() and text.rstrip("dD ").isdigit() and not text.count("-"):
        what = f"the newest quarantine partition, {anchor}" if from_newest else str(anchor)
        return f"{text} before {what}"
    return f"from {since_date}"


def compact_table(summary: dict) -> str:
    rows = [
        (
            t["table_name"],
            len(t["dates"]),
            fmt_int(t["rows"]),
            fmt_pct(t["quarantine_pct"]),
            (t["top_examples"][0]["code"] if t["top_examples"] else "-"),
            t["trend"],
        )
        for t in summary["tables"]
    ]
    header = ("Table", "Dates", "Rows", "Quarantine %", "Top reason", "Trend")
    widths = (
        [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        if rows
        else [len(h) for h in header]
    )
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header)] + [fmt.format(*map(str, r)) for r in rows]
    lines.append(
        f"total: {fmt_int(summary['total_rows'])} quarantined rows over {len(summary['ingest_dts'])} dates "
        f"(period {summary['period']})"
    )
    if summary.get("since"):
        basis = summary.get("since_basis") or ""
        newest = summary.get("newest_ingest_dt")
        extra = "" if "newest" in basis else f"; newest quarantine partition: {newest or 'none'}"
        lines.append(f"since {summary['since']} ({basis}){extra}")
    elif summary.get("newest_ingest_dt") is None:
        lines.append(f"no quarantine partitions under {summary['quarantine_path']}")
    return "\n".join(lines)


def render_markdown(summary: dict) -> str:
    out = [
        f"# Quarantine Summary {summary['period']}",
        "",
        f"**Generated:** {summary['generated_at']}  ",
        f"**Quarantine path:** `{summary['quarantine_path']}`  ",
        f"**Config:** `{summary.get('config_source') or 'built-in defaults (no config file)'}`  ",
        f"**Since:** {summary['since'] or 'all dates'}  ",
        f"**Total quarantined rows:** {fmt_int(summary['total_rows'])}",
        "",
    ]
    out += [
        "## By table",
        "",
        md_table(
            ["Table", "Dates", "Rows", "Silver rows", "Quarantine %", "Trend"],
            [
                (
                    t["table_name"],
                    len(t["dates"]),
                    fmt_int(t["rows"]),
                    fmt_int(t["silver_rows"]),
                    fmt_pct(t["quarantine_pct"]),
                    t["trend"],
                )
                for t in summary["tables"]
            ],
        )
        if summary["tables"]
        else "No quarantined rows.",
        "",
    ]
    out += [
        "## By family",
        "",
        md_table(["Family", "Rows"], summary["by_family"].items()) if summary["by_family"] else "None.",
        "",
    ]
    for t in summary["tables"]:
        out += [
            f"## {t['table_name']}",
            "",
            md_table(
                ["ingest_dt", "Rows", "Silver rows", "Quarantine %", "Change vs previous day"],
                [
                    (
                        p["ingest_dt"],
                        fmt_int(p["rows"]),
                        fmt_int(p["silver_rows"]),
                        fmt_pct(p["quarantine_pct"]),
                        "-" if p["change_vs_previous"] is None else f"{p['change_vs_previous']:+d}",
                    )
                    for p in t["dates"]
                ],
            ),
            "",
        ]
        out += [
            md_table(
                ["Reason code", "Family", "Rows", "Example keys"],
                [
                    (f"`{e['code']}`", e["family"], fmt_int(e["rows"]), ", ".join(e["examples"]))
                    for e in t["top_examples"]
                ],
            ),
            "",
            "A row with several reasons counts under each of them.",
            "",
        ]
    out += ["<!-- AUTO-GENERATED by `ecomlake quarantine summary` - DO NOT EDIT -->", ""]
    return "\n".join(out)
