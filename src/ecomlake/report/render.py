"""The HTML page: one file, inline CSS and SVG, no script, and a CSP that forbids every fetch."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import quote

from ecomlake import __version__
from ecomlake.config import Settings
from ecomlake.contract import DIM_TABLES, FACT_TABLES
from ecomlake.report import svg
from ecomlake.report.collect import LAYERS, OVERALL, Cell, Lake, family_of, table_order, worst
from ecomlake.report.dashboard import Window
from ecomlake.rules import FAMILIES as FAMILY_TEXT

e = svg.e
SYMBOL = {"PASS": "✓", "WARN": "!", "FAIL": "✗"}
MAX_RUNS_CHARTED = 24
MAX_FINDINGS = 40

CSS = """
:root { --ink:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --pass:#1a7f37; --pass-bg:#dafbe1;
  --warn:#7d4e00; --warn-bg:#fff1c2; --fail:#b42318; --fail-bg:#ffe3e0; --none:#8c959f; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: #fff; }
header { background: #24292f; color: #fff; padding: 18px 28px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 650; letter-spacing: .2px; }
header p { margin: 2px 0; color: #d0d7de; font-size: 13px; }
header code { background: #3d444d; color: #fff; }
nav { background: #32383f; padding: 6px 28px; position: sticky; top: 0; z-index: 2; }
nav a { color: #fff; margin-right: 18px; text-decoration: none; font-size: 13px; }
nav a:hover, nav a:focus { text-decoration: underline; }
main { padding: 8px 28px 40px; max-width: 1500px; }
section { margin-top: 26px; }
h2 { font-size: 18px; margin: 0 0 4px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p.lead { margin: 4px 0 10px; color: var(--muted); max-width: 1100px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; margin-top: 18px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--bg); }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.card .v { font-size: 22px; font-weight: 650; margin: 2px 0; white-space: nowrap; }
.card .v.day { font-size: 19px; }
.card .s { font-size: 12.5px; color: var(--muted); }
.card.bad { border-color: var(--fail); background: var(--fail-bg); }
.card.bad .v { color: var(--fail); }
.card.warn { border-color: #d4a72c; background: var(--warn-bg); }
.layers { list-style: none; padding: 0; margin: 4px 0 0; font-size: 13px; }
.layers li { display: flex; justify-content: space-between; gap: 8px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; }
thead th { background: var(--bg); font-weight: 600; position: sticky; top: 0; }
th.row { text-align: left; font-weight: 500; white-space: nowrap; background: #fff; }
th.layer { text-align: left; background: #eaeef2; font-size: 13px; }
th.day { min-width: 58px; font-size: 11.5px; line-height: 1.2; }
th.day small { display: block; color: var(--muted); font-weight: 400; }
td.st { text-align: center; font-weight: 650; white-space: nowrap; font-size: 11.5px; }
td.st a { color: inherit; text-decoration: none; }
td.st a:hover, td.st a:focus { text-decoration: underline; }
.PASS { color: var(--pass); background: var(--pass-bg); }
.WARN { color: var(--warn); background: var(--warn-bg); }
.FAIL { color: var(--fail); background: var(--fail-bg); outline: 2px solid var(--fail); outline-offset: -2px; }
.NONE { color: var(--none); background: #fff; font-weight: 400; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-weight: 650; font-size: 12px; }
.new { display: inline-block; padding: 0 5px; border-radius: 3px; background: var(--fail); color: #fff; font-size: 11px; font-weight: 700; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 10px 22px; }
svg.chart { max-width: 100%; height: auto; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 8px 0; font-size: 12.5px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cons { text-align: right; font-variant-numeric: tabular-nums; line-height: 1.2; font-size: 11.5px; white-space: nowrap; }
td.cons b { display: block; }
td.cons.ok { color: var(--ink); background: #f3fbf5; }
td.cons.ledger { background: #fff; border-style: dashed; }
td.cons.bad { color: var(--fail); background: var(--fail-bg); outline: 2px solid var(--fail); outline-offset: -2px; }
td.heat { text-align: right; font-variant-numeric: tabular-nums; }
table.runs td, table.findings td:nth-child(-n+5) { white-space: nowrap; }
table.runs td:nth-child(8) { white-space: normal; font-size: 11.5px; min-width: 360px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: #0969da; }
.muted { color: var(--muted); }
.problems { border: 2px solid var(--fail); background: var(--fail-bg); border-radius: 8px; padding: 8px 14px; margin-top: 16px; }
.problems h2 { border: 0; color: var(--fail); }
footer { color: var(--muted); font-size: 12px; padding: 16px 28px 30px; border-top: 1px solid var(--line); }
code { font-size: 12px; background: var(--bg); padding: 0 3px; border-radius: 3px; }
@media print { nav { display: none; } .FAIL { outline: 2px solid #000; } }
"""


def badge(status: str | None, text: str | None = None) -> str:
    s = status or "NONE"
    label = text or (f"{SYMBOL.get(s, '')} {s}" if status else "— no data")
    return f'<span class="badge {s}">{e(label)}</span>'


def _weekday(day: str) -> str:
    return dt.date.fromisoformat(day).strftime("%a")


def render(
    lake: Lake,
    window: Window,
    settings: Settings,
    *,
    link: Callable[[str], str | None],
    generated_at: dt.datetime,
) -> str:
    days = window.shown
    limit = settings.silver.max_quarantine_pct / 100.0
    new_codes = _new_codes(lake, days)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may be fetched: no script, font, image or stylesheet from anywhere, not even this folder.
        (
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; base-uri 'none'; form-action 'none'\">"
        ),
        '<meta name="generator" content="ecomlake report">',
        f"<title>ecomlake quality dashboard · {e(window.first_data)} to {e(window.end)}</title>",
        f"<style>{CSS}</style></head><body>",
        svg.defs(),
        _header(lake, window, settings, generated_at),
        '<nav aria-label="Sections"><a href="#verdicts">Verdicts</a><a href="#quarantine">Quarantine rate</a>'
        '<a href="#reasons">Reason codes</a><a href="#conservation">Conservation</a><a href="#runs">Runs</a>'
        '<a href="#findings">Findings</a><a href="#reports">Reports</a>'
        + ('<a href="#unreadable">Unreadable files</a>' if lake.bad_files else "")
        + "</nav>",
        "<main>",
        _unreadable(lake),
        _cards(lake, window, limit, new_codes),
        _verdicts(lake, days, link),
        _quarantine(lake, days, limit, settings),
        _reasons(lake, days, new_codes),
        _conservation(lake, days),
        _runs(lake, days),
        _findings(lake, days),
        _reports(lake, days, link),
        "</main>",
        _footer(lake, window, settings, generated_at),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------------- header


def _header(lake: Lake, window: Window, settings: Settings, generated_at: dt.datetime) -> str:
    return (
        "<header><h1>ecomlake · lake quality dashboard</h1>"
        f"<p><strong>Window:</strong> {e(window.description)}.</p>"
        f"<p>Built {e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from {len(lake.files)} metrics files in "
        f"<code>{e(lake.metrics_dir)}</code> (environment <code>{e(settings.environment)}</code>). "
        "Every verdict is the gate's own, read from its metrics JSON; the newest file wins when a day was re-run.</p>"
        "</header>"
    )


def _unreadable(lake: Lake) -> str:
    if not lake.bad_files:
        return ""
    rows = "".join(
        f'<li data-unreadable="{e(name)}"><code>{e(name)}</code>: {e(err)}</li>' for name, err in lake.bad_files
    )
    return (
        '<section class="problems" id="unreadable" role="alert"><h2>✗ Unreadable metrics files</h2>'
        f"<p>{len(lake.bad_files)} of {len(lake.files)} files in the metrics directory could not be used; the page "
        f"shows everything else. Fix or remove them:</p><ul>{rows}</ul></section>"
    )


# ------------------------------------------------------------------------------------ cards


def _layer_status(lake: Lake, layer: str, day: str) -> str | None:
    cell = lake.cells.get((layer, OVERALL, day))
    if cell:
        return cell.status
    return worst(c.status for k, c in lake.cells.items() if k[0] == layer and k[2] == day)


def _cards(lake: Lake, window: Window, limit: float, new_codes: dict[str, list[str]]) -> str:
    day = window.end
    layer_items = []
    for layer in LAYERS:
        st = _layer_status(lake, layer, day)
        tables = [c for k, c in lake.cells.items() if k[0] == layer and k[2] == day and k[1] != OVERALL]
        passing = sum(c.status != "FAIL" for c in tables)
        count = f" {passing}/{len(tables)}" if tables and layer != "Gold" else ""
        layer_items.append(f"<li><span>{layer}{e(count)}</span>{badge(st)}</li>")
    worst_day = worst(_layer_status(lake, layer, day) for layer in LAYERS)
    cards = [
        (
            f'<div class="card {"bad" if worst_day == "FAIL" else ("warn" if worst_day == "WARN" else "")}">'
            f'<div class="k">Newest day</div><div class="v day">{e(_weekday(day))} {e(day)}</div>'
            f'<ul class="layers">{"".join(layer_items)}</ul></div>'
        )
    ]
    failing = [d for d in window.shown if any(c.status == "FAIL" for k, c in lake.cells.items() if k[2] == d)]
    cards.append(
        f'<div class="card {"bad" if failing else ""}"><div class="k">Days with a FAIL</div>'
        f'<div class="v">{SYMBOL["FAIL"] if failing else SYMBOL["PASS"]} {len(failing)} of {len(window.shown)}</div>'
        f'<div class="s">{e(", ".join(failing[-4:])) if failing else "no gate failed in the window"}</div></div>'
    )
    facts = [lake.counts[(t, day)] for t in FACT_TABLES if (t, day) in lake.counts]
    q = sum(c.quarantine for c in facts)
    n = sum(c.processed for c in facts)
    rate = q / n if n else None
    top = max(facts, key=lambda c: c.rate or 0.0, default=None)
    over = rate is not None and rate > limit
    cards.append(
        f'<div class="card {"bad" if over else ""}"><div class="k">Quarantine rate, newest day</div>'
        f'<div class="v">{"▲ " if over else ""}{svg.fmt_pct(rate, 2)}</div>'
        f'<div class="s">{q:,} of {n:,} fact rows; limit {svg.fmt_pct(limit)}'
        + (f"; highest {e(top.table)} {svg.fmt_pct(top.rate, 1)}" if top and top.rate else "")
        + "</div></div>"
    )
    in_window = [c for (t, d), c in lake.counts.items() if d in window.shown]
    bad = [c for c in in_window if c.ok is False]
    cards.append(
        f'<div class="card {"bad" if bad else ""}"><div class="k">Row conservation</div>'
        f'<div class="v">{SYMBOL["FAIL"] if bad else SYMBOL["PASS"]} {len(in_window) - len(bad)} / {len(in_window)}</div>'
        f'<div class="s">table-days where Bronze = Silver + Quarantine'
        + (f"; {len(bad)} do not add up" if bad else "")
        + "</div></div>"
    )
    n_new = sum(len(v) for v in new_codes.values())
    cards.append(
        f'<div class="card {"warn" if n_new else ""}"><div class="k">New reason codes</div>'
        f'<div class="v">{"★ " if n_new else ""}{n_new}</div><div class="s">'
        + (
            f"first seen on {len(new_codes)} day(s), newest {e(max(new_codes))}; listed under Reason codes"
            if n_new
            else "none appeared in the window"
        )
        + "</div></div>"
    )
    cards.append(
        f'<div class="card {"bad" if lake.bad_files else ""}"><div class="k">Metrics files</div>'
        f'<div class="v">{len(lake.files) - len(lake.bad_files)} read</div>'
        f'<div class="s">{len(lake.bad_files)} unreadable'
        + (f", {len(lake.undated)} without a date" if lake.undated else "")
        + "</div></div>"
    )
    return f'<section aria-label="Summary" class="cards">{"".join(cards)}</section>'


# --------------------------------------------------------------------------------- verdicts


def _day_header(days: list[str]) -> str:
    return "".join(
        f'<th scope="col" class="day">{e(svg.short_day(d))}<small>{e(_weekday(d))}</small></th>' for d in days
    )


def _cell_title(layer: str, table: str, day: str, c: Cell) -> str:
    lines = [f"{layer} · {table if table != OVERALL else 'whole gate'} · {day}: {c.status}"]
    if c.note:
        lines.append(c.note)
    lines += c.problems
    lines.append(f"source: {c.file}" + (f" (newest of {c.files} files for this day)" if c.files > 1 else ""))
    return "\n".join(lines)


def _verdicts(lake: Lake, days: list[str], link: Callable[[str], str | None]) -> str:
    rows = []
    for layer in LAYERS:
        tables = {k[1] for k in lake.cells if k[0] == layer and k[2] in days}
        if not tables:
            continue
        rows.append(f'<tr><th colspan="{len(days) + 1}" scope="rowgroup" class="layer">{layer}</th></tr>')
        for table in table_order(layer, tables):
            label = "whole gate" if table == OVERALL else table
            cells = []
            for d in days:
                c = lake.cells.get((layer, table, d))
                if c is None:
                    cells.append(
                        f'<td class="st NONE" data-cell="{e(layer)}|{e(table)}|{d}" title="no verdict for this day">—</td>'
                    )
                    continue
                text = f"{SYMBOL[c.status]} {c.status}"
                report = lake.reports.get(d, {}).get(layer)
                href = link(report) if report else None
                inner = f'<a href="{e(quote(href, safe="/:.#_-"))}">{text}</a>' if href else text
                cells.append(
                    f'<td class="st {c.status}" data-cell="{e(layer)}|{e(table)}|{d}" data-status="{c.status}" '
                    f'title="{e(_cell_title(layer, table, d, c))}">{inner}</td>'
                )
            weight = ' style="font-weight:650"' if table == OVERALL else ""
            rows.append(f'<tr><th scope="row" class="row"{weight}>{e(label)}</th>{"".join(cells)}</tr>')
    body = "".join(rows) or f'<tr><td colspan="{len(days) + 1}">No gate verdicts in the window.</td></tr>'
    return (
        '<section id="verdicts"><h2>Verdicts per layer, table and day</h2>'
        '<p class="lead">Each cell is the gate verdict for that table on that day (✓ PASS, ! WARN, ✗ FAIL; — means no '
        "gate ran). Hover a cell for the gate's findings and the metrics file; click it for that day's Markdown "
        'report. "whole gate" is the overall verdict, which also counts checks over all tables (such as the overall '
        "quarantine rate). Gold is the dbt build and tests of the marts.</p>"
        f'<div class="scroll"><table><caption class="muted" style="text-align:left">Gate verdicts, {e(days[0])} to '
        f'{e(days[-1])}</caption><thead><tr><th scope="col">Layer / table</th>{_day_header(days)}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


# ------------------------------------------------------------------------------- quarantine


def _silver_tables(lake: Lake, days: list[str]) -> list[str]:
    present = {t for (t, d) in lake.counts if d in days}
    return [t for t in (*FACT_TABLES, *DIM_TABLES) if t in present] + sorted(
        present - set(FACT_TABLES) - set(DIM_TABLES)
    )


def _quarantine(lake: Lake, days: list[str], limit: float, settings: Settings) -> str:
    tables = _silver_tables(lake, days)
    charts = []
    for t in tables:
        rates = {}
        for d in days:
            c = lake.counts.get((t, d))
            if c is not None:
                rates[d] = (c.rate, c.quarantine, c.processed)
        charts.append(f'<figure style="margin:0">{svg.rate_chart(t, days, rates, limit)}</figure>')
    if not charts:
        body = '<p class="muted">No Base Silver counts in the window (no Silver gate or run ledger).</p>'
    else:
        body = f'<div class="charts">{"".join(charts)}</div>'
    slas = ", ".join(f"{t} {settings.silver.sla(t):.0%}" for t in tables)
    return (
        '<section id="quarantine"><h2>Quarantine rate per table and day</h2>'
        '<p class="lead">Quarantined rows / (Silver + Quarantine rows) of each ingest_dt partition. The dashed line is '
        f"<code>MAX_QUARANTINE_RATE</code> = {limit:g} ({svg.fmt_pct(limit)}; config <code>silver.max_quarantine_pct</code>). "
        "Bars above it are hatched red and marked ▲ with their value. Each table is also held to its pass-rate SLA "
        f"(min. Silver share): {e(slas) or '-'}.</p>"
        f"{body}</section>"
    )


# ---------------------------------------------------------------------------------- reasons


def _new_codes(lake: Lake, days: list[str]) -> dict[str, list[str]]:
    """Day -> 'table: code' that first appeared on that day, after the table's first day with reasons.

    A table's first day is its baseline (everything is new then), as in the Silver gate; the gate's own
    `new_codes` flags count too.
    """
    first_seen: dict[tuple[str, str], str] = {}
    baseline: dict[str, str] = {}
    for (t, d), r in sorted(lake.reasons.items(), key=lambda kv: kv[0][1]):
        baseline.setdefault(t, d)
        for code in r.codes:
            first_seen.setdefault((t, code), d)
    out: dict[str, set[str]] = defaultdict(set)
    for (t, code), d in first_seen.items():
        if d in days and d > baseline[t]:
            out[d].add(f"{t}: {code}")
    for (t, d), codes in lake.gate_new_codes.items():
        if d in days:
            out[d].update(f"{t}: {c}" for c in codes)
    return {d: sorted(v) for d, v in out.items() if v}


def _reasons(lake: Lake, days: list[str], new_codes: dict[str, list[str]]) -> str:
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_code: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for (t, d), r in lake.reasons.items():
        if d not in days:
            continue
        for code, n in r.codes.items():
            by_day[d][family_of(t, code)] += n
            by_code[(t, code)][d] = n
    chart = svg.family_chart(days, {d: dict(v) for d, v in by_day.items()}, new_codes)
    families = [f for f in svg.FAMILIES if any(by_day[d].get(f) for d in by_day)]
    legend = "".join(
        f'<span title="{e(FAMILY_TEXT.get(f, "a code the rule registry does not know"))}">{svg.legend_swatch(f)}'
        f"{e(svg.FAMILIES[f][0])}</span>"
        for f in families
    )
    legend += '<span><b style="color:#c62828">★</b> a new reason code appeared that day</span>'
    new_set = {x for v in new_codes.values() for x in v}
    first_new = {x: d for d in sorted(new_codes) for x in new_codes[d]}
    if new_codes:
        items = "".join(
            f'<li data-new-day="{e(d)}"><strong>{e(d)}</strong>: '
            + ", ".join(
                f'<span class="new">NEW</span> <code data-new-code="{e(x)}">{e(x)}</code> '
                f"({e(family_of(*x.split(': ', 1)).replace('_', ' '))})"
                for x in new_codes[d]
            )
            + "</li>"
            for d in sorted(new_codes, reverse=True)
        )
        new_list = f"<h3>★ New reason codes in the window</h3><ul>{items}</ul>"
    else:
        new_list = '<p class="muted">No reason code appeared for the first time in the window.</p>'
    rows = []
    order = {t: i for i, t in enumerate((*FACT_TABLES, *DIM_TABLES))}
    peak = max((n for v in by_code.values() for n in v.values()), default=1)
    for (t, code), per_day in sorted(
        by_code.items(),
        key=lambda kv: (f"{kv[0][0]}: {kv[0][1]}" not in new_set, order.get(kv[0][0], 99), -sum(kv[1].values())),
    ):
        key = f"{t}: {code}"
        mark = f' <span class="new" title="first seen {e(first_new[key])}">NEW</span>' if key in new_set else ""
        cells = "".join(
            f'<td class="heat" style="background:rgba(213,94,0,{0.08 + 0.5 * per_day[d] / peak:.2f})">{per_day[d]:,}</td>'
            if per_day.get(d)
            else "<td></td>"
            for d in days
        )
        rows.append(
            f'<tr><th scope="row" class="row">{e(t)}</th><td><code>{e(code)}</code>{mark}</td>'
            f'<td>{e(family_of(t, code).replace("_", " "))}</td>{cells}<td class="num"><b>{sum(per_day.values()):,}</b></td></tr>'
        )
    table = (
        f"<details><summary>Every reason code per table and day ({len(rows)} codes)</summary>"
        '<div class="scroll"><table><thead><tr><th scope="col">Table</th><th scope="col">Code</th><th scope="col">Family</th>'
        f'{_day_header(days)}<th scope="col">Total</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></details>'
        if rows
        else ""
    )
    return (
        '<section id="reasons"><h2>Reason codes by family over time</h2>'
        '<p class="lead">Quarantined rows per ingest_dt, all tables, stacked by the runbook\'s five families (a row '
        "with several codes counts once per code). A code is new when it first appears after the table's first day "
        "in the metrics, or when the Silver gate flagged it as never seen before.</p>"
        f'<div class="legend">{legend}</div>{chart}{new_list}{table}</section>'
    )


# ----------------------------------------------------------------------------- conservation


def _conservation(lake: Lake, days: list[str]) -> str:
    tables = _silver_tables(lake, days)
    rows = []
    for t in tables:
        cells = []
        for d in days:
            c = lake.counts.get((t, d))
            if c is None:
                cells.append('<td class="cons NONE" title="no counts for this day">—</td>')
                continue
            if c.bronze is None:
                mark, cls, line = "?", "bad", "Bronze unknown"
            elif c.ok is False or c.difference:
                diff = c.difference or 0
                mark, cls = SYMBOL["FAIL"], "bad"
                line = f"{'lost' if diff > 0 else 'extra'} {abs(diff):,}" if diff else "unproven"
            else:
                mark, cls, line = SYMBOL["PASS"], "ok", ""
            if c.source == "ledger" and cls == "ok":
                cls = "ok ledger"
            title = (
                f"{t} {d}: Bronze {c.bronze if c.bronze is not None else '?'} = Silver {c.silver:,} + Quarantine "
                f"{c.quarantine:,}"
                + (f" ({line})" if line else "")
                + "\n"
                + (
                    "counted on disk by the Silver gate"
                    if c.source == "gate"
                    else "from the run ledger (no Silver gate ran for this table and day)"
                )
                + f"\nsource: {c.file}"
            )
            bronze = f"{c.bronze:,}" if c.bronze is not None else "?"
            dagger = "†" if c.source == "ledger" else ""
            cells.append(
                f'<td class="cons {cls}" data-cons="{e(t)}|{d}" data-bronze="{"" if c.bronze is None else c.bronze}" '
                f'data-silver="{c.silver}" data-quarantine="{c.quarantine}" data-source="{c.source}" data-ok="{"no" if "bad" in cls else "yes"}" title="{e(title)}">'
                f"<b>{mark} {bronze}{dagger}</b>"
                f"{c.silver:,} + {c.quarantine:,}" + (f"<br><b>{e(line)}</b>" if line else "") + "</td>"
            )
        rows.append(f'<tr><th scope="row" class="row">{e(t)}</th>{"".join(cells)}</tr>')
    counts = [c for (t, d), c in lake.counts.items() if d in days]
    bad = [c for c in counts if c.ok is False or c.bronze is None or c.difference]
    ledger = sum(c.source == "ledger" for c in counts)
    verdict = (
        f"{SYMBOL['FAIL']} {len(bad)} of {len(counts)} table-days do not add up: "
        + ", ".join(f"{c.table} {c.day}" for c in bad[:6])
        if bad
        else f"{SYMBOL['PASS']} all {len(counts)} table-days add up"
    )
    body = (
        f'<div class="scroll"><table><thead><tr><th scope="col">Table</th>{_day_header(days)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else '<p class="muted">No Base Silver counts in the window.</p>'
    )
    return (
        '<section id="conservation"><h2>Row conservation: Bronze = Silver + Quarantine</h2>'
        f'<p class="lead"><strong>{e(verdict)}.</strong> Each cell shows the Bronze rows (first line, ✓ when they add up) '
        "and Silver + Quarantine below. Counts come from the Silver gate, which counts the files on disk"
        + (
            f"; {ledger} table-day(s) marked † (dashed) come only from the Base Silver run ledger, because no Silver "
            "gate ran for them (the dims tables are not gated by <code>ecomlake local silver</code>)."
            if ledger
            else "."
        )
        + "</p>"
        f"{body}</section>"
    )


# ------------------------------------------------------------------------------------- runs


def _runs(lake: Lake, days: list[str]) -> str:
    runs = sorted((r for r in lake.runs if r.day in days), key=lambda r: (r.day, r.written_at, r.file))
    if not runs:
        return '<section id="runs"><h2>Stage durations and throughput</h2><p class="muted">No run records in the window.</p></section>'
    charted = runs[-MAX_RUNS_CHARTED:]
    chart = svg.runs_chart([(f"{r.day} · {r.kind}", r.status, r.stages, r.seconds, r.rows_per_second) for r in charted])
    note = (
        f"The chart shows the {len(charted)} most recent of {len(runs)} runs; the table lists them all."
        if len(charted) < len(runs)
        else ""
    )
    rows = []
    for r in reversed(runs):
        stages = ", ".join(f"{n.removeprefix('int_')} {s:.2f} s" for n, s in r.stages) or "-"
        rps = r.rows_per_second
        rows.append(
            f'<tr><td>{e(r.day)}</td><td>{e(r.kind)}</td><td class="st {r.status}">{SYMBOL[r.status]} {r.status}</td>'
            f'<td class="num">{"-" if r.seconds is None else f"{r.seconds:.2f} s"}</td>'
            f'<td class="num">{"-" if r.rows is None else f"{r.rows:,}"}</td>'
            f'<td class="num">{"-" if rps is None else f"{rps:,.0f}"}</td>'
            f'<td class="muted">{e(r.rows_what) or "-"}</td><td style="max-width:520px">{e(stages)}</td>'
            f'<td><code title="{e(r.file)}">{e(r.run_id)}</code></td></tr>'
        )
    return (
        '<section id="runs"><h2>Stage durations and throughput</h2>'
        '<p class="lead">Wall time of every run record in the window (Base Silver runs, Enriched runs, Gold builds and '
        "demos), split into the stages each one records; rows per second are the rows the run read or wrote divided by "
        f"its wall time. The machine is shared, so compare ratios rather than seconds. {e(note)}</p>"
        f"{chart}"
        f"<details><summary>Every run: wall time, rows, rows/s and stages ({len(runs)} runs)</summary>"
        '<div class="scroll"><table class="runs"><thead><tr><th scope="col">Day</th><th scope="col">Run</th><th scope="col">Status</th>'
        '<th scope="col">Wall time</th><th scope="col">Rows</th><th scope="col">Rows/s</th><th scope="col">Rows counted</th>'
        f'<th scope="col">Stages</th><th scope="col">Run id</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
        "</details></section>"
    )


# --------------------------------------------------------------------------------- findings


def _findings(lake: Lake, days: list[str]) -> str:
    found = [f for (layer, d), fs in lake.findings.items() if d in days for f in fs]
    found.sort(key=lambda f: (f.day, f.status == "FAIL", LAYERS.index(f.layer) * -1), reverse=True)
    if not found:
        body = f"<p>{badge('PASS')} No WARN or FAIL finding in the newest gate run of any day in the window.</p>"
    else:
        rows = "".join(
            f'<tr><td>{e(f.day)}</td><td class="st {f.status}">{SYMBOL[f.status]} {f.status}</td><td>{e(f.layer)}</td>'
            f"<td>{e(f.table)}</td><td><code>{e(f.check)}</code></td><td>{e(f.message)}</td>"
            f'<td class="muted">{e(f.action) or "-"}</td></tr>'
            for f in found[:MAX_FINDINGS]
        )
        more = (
            f'<p class="muted">{len(found) - MAX_FINDINGS} more in the Markdown reports.</p>'
            if len(found) > MAX_FINDINGS
            else ""
        )
        body = (
            '<div class="scroll"><table class="findings"><thead><tr><th scope="col">Day</th><th scope="col">Status</th><th scope="col">Layer</th>'
            '<th scope="col">Table</th><th scope="col">Check</th><th scope="col">Finding</th><th scope="col">What to do</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div>{more}"
        )
    return (
        '<section id="findings"><h2>Findings to act on</h2><p class="lead">Every WARN and FAIL check of the newest gate '
        f"run of each day, newest day first, with the gate's recommended action.</p>{body}</section>"
    )


# ---------------------------------------------------------------------------------- reports


def _reports(lake: Lake, days: list[str], link: Callable[[str], str | None]) -> str:
    labels = ["Bronze", "Dims", "Silver", "Enriched"]
    rows = []
    for d in reversed(days):
        reports = lake.reports.get(d, {})
        if not reports:
            continue
        cells = []
        for label in labels:
            path = reports.get(label)
            href = link(path) if path else None
            if href and path:
                cells.append(f'<td><a href="{e(quote(href, safe="/:.#_-"))}">{e(path.rsplit("/", 1)[-1])}</a></td>')
            elif path:
                cells.append(f'<td class="muted" title="{e(path)}">not found</td>')
            else:
                cells.append('<td class="muted">-</td>')
        rows.append(f"<tr><td>{e(d)}</td>{''.join(cells)}</tr>")
    body = (
        '<table><thead><tr><th scope="col">Day</th>'
        + "".join(f'<th scope="col">{x}</th>' for x in labels)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="muted">No Markdown reports found for the days in the window.</p>'
    )
    return (
        '<section id="reports"><h2>Markdown reports per day</h2><p class="lead">The gates\' full reports, linked '
        f"relative to this page, so the folder can be copied or zipped as a whole.</p>{body}</section>"
    )


def _footer(lake: Lake, window: Window, settings: Settings, generated_at: dt.datetime) -> str:
    undated = f" {len(lake.undated)} file(s) had no data date and are not shown." if lake.undated else ""
    return (
        f"<footer>Generated by <code>ecomlake report --since {e(window.since)}</code> (ecomlake {e(__version__)}) at "
        f"{e(generated_at.strftime('%Y-%m-%d %H:%M:%S UTC'))}. Static page: no script, no server, nothing loaded "
        f"from the network. Statuses are spelled out and marked ✓ ! ✗, so colour is never the only cue.{e(undated)}"
        "</footer>"
    )
