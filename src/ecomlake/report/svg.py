"""Small inline-SVG charts written by hand: no plotting library, no script, nothing to download.

Every chart is `role="img"` with a <title> and a <desc> that states the numbers in words, and
nothing is told by colour alone: bars above a limit are hatched and labelled, families have a
pattern each as well as a hue, and every value that matters is printed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from html import escape

_ids = itertools.count(1)

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2328"
MUTED = "#656d76"
GRID = "#d0d7de"
BAR = "#4c72b0"
OVER = "#c62828"

# Family -> (label, colour, pattern id). Okabe-Ito hues, and a different texture for each family.
FAMILIES = {
    "null_primary_key": ("null primary key / required", "#0072B2", "pat-solid"),
    "invalid_foreign_key": ("invalid foreign key", "#E69F00", "pat-diag"),
    "type_cast_failure": ("type cast failure", "#CC79A7", "pat-dots"),
    "out_of_range": ("out of range", "#D55E00", "pat-cross"),
    "duplicate_primary_key": ("duplicate primary key", "#009E73", "pat-horiz"),
    "unknown": ("code not in the registry", "#8c8c8c", "pat-vert"),
}


def e(value: object) -> str:
    return escape(str(value), quote=True)


def fmt_pct(fraction: float | None, digits: int = 1) -> str:
    return "-" if fraction is None else f"{fraction * 100:.{digits}f}%"


def short_day(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return d.strftime("%b %d").replace(" 0", " ")


def weekday(day: str) -> str:
    return dt.date.fromisoformat(day).strftime("%a")


def defs() -> str:
    """Shared <defs>, in one hidden SVG at the top of the page; every chart refers to them by id."""
    pats = []
    for _, (_, colour, pid) in FAMILIES.items():
        marks = {
            "pat-solid": "",
            "pat-diag": '<path d="M-1,1 l2,-2 M0,8 l8,-8 M7,9 l2,-2" stroke="#000" stroke-opacity=".45" stroke-width="1.4"/>',
            "pat-dots": '<circle cx="2" cy="2" r="1.2" fill="#000" fill-opacity=".45"/><circle cx="6" cy="6" r="1.2" fill="#000" fill-opacity=".45"/>',
            "pat-cross": '<path d="M0,4 h8 M4,0 v8" stroke="#000" stroke-opacity=".4" stroke-width="1.2"/>',
            "pat-horiz": '<path d="M0,2 h8 M0,6 h8" stroke="#fff" stroke-opacity=".7" stroke-width="1.4"/>',
            "pat-vert": '<path d="M2,0 v8 M6,0 v8" stroke="#fff" stroke-opacity=".7" stroke-width="1.4"/>',
        }[pid]
        pats.append(
            f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">'
            f'<rect width="8" height="8" fill="{colour}"/>{marks}</pattern>'
        )
    pats.append(
        '<pattern id="pat-over" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{OVER}"/><path d="M0,0 v6" stroke="#fff" stroke-opacity=".55" stroke-width="2"/></pattern>'
    )
    return (
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true" focusable="false"><defs>'
        + "".join(pats)
        + "</defs></svg>"
    )


def _open(width: int, height: int, title: str, desc: str) -> str:
    n = next(_ids)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="svg{n}-t svg{n}-d" font-family="{FONT}" font-size="11" fill="{INK}">'
        f'<title id="svg{n}-t">{e(title)}</title><desc id="svg{n}-d">{e(desc)}</desc>'
    )


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (fractions: 1%, 2%, 5%, 10%, 20%, 25%, 50%, 100%)."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= step:
            return step
    return value


def _pct_tick(v: float) -> str:
    text = f"{v * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def rate_chart(
    table: str,
    days: list[str],
    rates: dict[str, tuple[float | None, int, int]],
    limit: float,
    width: int = 620,
    height: int = 190,
) -> str:
    """Quarantine rate per day for one table, as bars, against the limit (a dashed line).

    `rates` maps day -> (rate as a fraction or None, quarantine rows, processed rows).
    Bars above the limit are hatched red and carry a ▲ and their value; days without data show "no data".
    """
    left, right, top, bottom = 48, 10, 24, 34
    pw, ph = width - left - right, height - top - bottom
    values = [r[0] for r in rates.values() if r[0] is not None]
    peak = max(values, default=0.0)
    ymax = _nice_max(max(peak * 1.15, limit * 1.4, 0.01))
    over = [d for d in days if d in rates and (r0 := rates[d][0]) is not None and r0 > limit]
    words = ", ".join(
        f"{d}: {fmt_pct(rates[d][0], 2)} ({rates[d][1]:,} of {rates[d][2]:,} rows)" if d in rates else f"{d}: no data"
        for d in days
    )
    title = f"{table}: quarantine rate per day vs MAX_QUARANTINE_RATE {fmt_pct(limit)}"
    desc = f"{words}. " + (
        f"Above the limit on {len(over)} day(s): {', '.join(over)}." if over else "No day above the limit."
    )
    out = [_open(width, height, title, desc)]
    # axis and grid, at round steps: at most five intervals
    step = next(st for st in (0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 1.0) if ymax / st <= 5 + 1e-9)
    for k in range(round(ymax / step) + 1):
        v = step * k
        frac = v / ymax
        y = top + ph - ph * frac
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{y + 3.5:.1f}" text-anchor="end" fill="{MUTED}">{_pct_tick(v)}</text>')
    slot = pw / max(len(days), 1)
    bw = max(min(slot * 0.62, 38), 3)
    label_every = 1 if slot >= 34 else (2 if slot >= 18 else 7)
    for i, d in enumerate(days):
        cx = left + slot * i + slot / 2
        if i % label_every == 0 or i == len(days) - 1:
            out.append(
                f'<text x="{cx:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="{MUTED}">{e(short_day(d))}</text>'
            )
        r = rates.get(d)
        rate = None if r is None else r[0]
        if r is None or rate is None:
            what = "no data" if r is None else "0 rows"  # no counts at all vs. a day with nothing processed
            out.append(
                f'<text x="{cx:.1f}" y="{top + ph - 4}" text-anchor="middle" fill="{MUTED}" font-size="9">{what}</text>'
                if slot >= 34
                else f'<text x="{cx:.1f}" y="{top + ph - 3}" text-anchor="middle" fill="{MUTED}">·</text>'
            )
            continue
        _, q, n = r
        h = max(ph * min(rate / ymax, 1.0), 1.0 if q else 0.0)
        y = top + ph - h
        is_over = rate > limit
        fill = "url(#pat-over)" if is_over else BAR
        tip = f"{table} {d}: {fmt_pct(rate, 2)} quarantined ({q:,} of {n:,} rows)" + (
            " — ABOVE the limit" if is_over else ""
        )
        out.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{fill}" '
            f'stroke="{OVER if is_over else "none"}" data-rate="{e(table)}|{d}|{rate:.6f}|{"over" if is_over else "ok"}">'
            f"<title>{e(tip)}</title></rect>"
        )
        if is_over:
            out.append(
                f'<text x="{cx:.1f}" y="{max(y - 4, 10):.1f}" text-anchor="middle" font-weight="700" fill="{OVER}">▲ {fmt_pct(rate)}</text>'
            )
        elif slot >= 34 and ymax <= 4 * limit:  # with a spike on the axis, small values would sit on the limit line
            out.append(
                f'<text x="{cx:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="{MUTED}" font-size="9.5">{fmt_pct(rate)}</text>'
            )
    # the limit, drawn last so it stays visible over the bars
    ly = top + ph - ph * min(limit / ymax, 1.0)
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<text x="{left + pw}" y="{ly - 4:.1f}" text-anchor="end" font-size="10" fill="{INK}">limit {fmt_pct(limit)}</text>'
    )
    out.append(f'<text x="{left}" y="14" font-weight="600" font-size="12.5">{e(table)}</text>')
    peak_txt = f"peak {fmt_pct(peak, 2)}" if values else "no data in the window"
    out.append(
        f'<text x="{left + pw}" y="14" text-anchor="end" fill="{OVER if over else MUTED}">{e(peak_txt)}'
        + (f" · {len(over)} day(s) above the limit" if over else "")
        + "</text>"
    )
    out.append("</svg>")
    return "".join(out)


def family_chart(
    days: list[str],
    counts: dict[str, dict[str, int]],
    new_codes: dict[str, list[str]],
    width: int = 1240,
    height: int = 260,
) -> str:
    """Quarantined rows per day, stacked by reason family; ★ marks a day on which a new code appeared.

    `counts` maps day -> family -> rows (a row with several codes counts once per code, as in the gate).
    """
    left, right, top, bottom = 54, 12, 26, 34
    pw, ph = width - left - right, height - top - bottom
    totals = {d: sum(counts.get(d, {}).values()) for d in days}
    peak = max(totals.values(), default=0)
    ymax = max(peak * 1.15, 1)
    step = _axis_step(ymax)
    ymax = step * (int(ymax / step) + 1)
    families = [f for f in FAMILIES if any(counts.get(d, {}).get(f) for d in days)]
    words = "; ".join(
        f"{d}: {totals[d]:,} ("
        + ", ".join(f"{FAMILIES[f][0]} {counts[d][f]:,}" for f in families if counts.get(d, {}).get(f))
        + ")"
        + (f", new codes {', '.join(new_codes[d])}" if new_codes.get(d) else "")
        for d in days
        if totals[d]
    )
    out = [
        _open(width, height, "Quarantined rows per day by reason family", words or "No quarantined rows in the window.")
    ]
    y: float = top + ph
    v = 0.0
    while v <= ymax + 1e-9:
        yy = top + ph - ph * v / ymax
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 3.5:.1f}" text-anchor="end" fill="{MUTED}">{int(v):,}</text>')
        v += step
    slot = pw / max(len(days), 1)
    bw = max(min(slot * 0.6, 48), 3)
    label_every = 1 if slot >= 34 else (2 if slot >= 18 else 7)
    for i, d in enumerate(days):
        cx = left + slot * i + slot / 2
        if i % label_every == 0 or i == len(days) - 1:
            out.append(
                f'<text x="{cx:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="{MUTED}">{e(short_day(d))}</text>'
            )
        y = top + ph
        for f in families:
            n = counts.get(d, {}).get(f, 0)
            if not n:
                continue
            h = ph * n / ymax
            y -= h
            out.append(
                f'<rect x="{cx - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="url(#{FAMILIES[f][2]})" '
                f'stroke="#fff" stroke-width="0.6"><title>{e(f"{d} · {FAMILIES[f][0]}: {n:,} rows")}</title></rect>'
            )
            if h >= 13 and bw >= 22:
                out.append(
                    f'<text x="{cx:.1f}" y="{y + h / 2 + 3.5:.1f}" text-anchor="middle" font-size="9.5" fill="#fff" '
                    f'stroke="#000" stroke-opacity=".35" stroke-width="2" paint-order="stroke">{n:,}</text>'
                )
        if totals[d]:
            out.append(
                f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-weight="600">{totals[d]:,}</text>'
            )
        if new_codes.get(d):
            out.append(
                f'<text x="{cx:.1f}" y="{y - 17:.1f}" text-anchor="middle" font-size="13" fill="{OVER}">★'
                f"<title>{e('new reason codes: ' + ', '.join(new_codes[d]))}</title></text>"
            )
    out.append("</svg>")
    return "".join(out)


def _axis_step(ymax: float) -> float:
    raw = ymax / 4
    mag = 10 ** max(len(str(int(raw))) - 1, 0)
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return max(m * mag, 1)
    return raw


def legend_swatch(family: str) -> str:
    label, _, pid = FAMILIES.get(family, FAMILIES["unknown"])
    return (
        f'<svg width="22" height="14" role="img" aria-label="{e(label)} pattern"><rect width="22" height="14" '
        f'fill="url(#{pid})" stroke="{INK}" stroke-width=".5"/></svg>'
    )


def runs_chart(
    rows: list[tuple[str, str, list[tuple[str, float]], float | None, float | None]], width: int = 1240
) -> str:
    """Wall time per run, one horizontal bar each, split into its stages (alternating shades, each with its name).

    `rows` is a list of (label, status, stages, total seconds, rows per second or None).
    """
    left, right, top, row_h = 300, 90, 8, 24
    height = top + row_h * len(rows) + 26
    pw = width - left - right
    peak = max((r[3] or 0.0 for r in rows), default=0.0) or 1.0
    step = _axis_step(peak * 1.05)
    xmax = step * (int(peak * 1.05 / step) + 1)
    words = "; ".join(
        f"{label}: {total:.1f} s" + (f" ({', '.join(f'{n} {s:.1f} s' for n, s in stages)})" if stages else "")
        for label, _, stages, total, _ in rows
        if total is not None
    )
    out = [_open(width, height, "Wall time per run, by stage", words or "No timed runs in the window.")]
    v = 0.0
    while v <= xmax + 1e-9:
        x = left + pw * v / xmax
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - 22}" stroke="{GRID}"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{MUTED}">{v:g} s</text>')
        v += step
    shades = ("#4c72b0", "#9fb7dd", "#2b4a7a", "#c8d6ee")
    for i, (label, status, stages, total, rps) in enumerate(rows):
        y = top + i * row_h
        mark = {"PASS": "✓", "WARN": "!", "FAIL": "✗"}.get(status, "")
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{e(label)} {mark}</text>')
        if total is None:
            out.append(f'<text x="{left + 4}" y="{y + 15}" fill="{MUTED}">not timed</text>')
            continue
        x = float(left)
        parts = stages or [("total", total)]
        for j, (name, secs) in enumerate(parts):
            w = pw * secs / xmax
            fill = OVER if status == "FAIL" and j == 0 else shades[j % len(shades)]
            out.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="{row_h - 8}" fill="{fill}" stroke="#fff" '
                f'stroke-width=".8"><title>{e(f"{label} · {name}: {secs:.2f} s")}</title></rect>'
            )
            if w > 7 * len(name) + 10:
                dark = j % len(shades) in (0, 2)
                out.append(
                    f'<text x="{x + 4:.1f}" y="{y + 16}" font-size="10" fill="{"#fff" if dark else INK}">{e(name)}</text>'
                )
            x += w
        speed = f" · {rps:,.0f} rows/s" if rps else ""
        out.append(f'<text x="{x + 6:.1f}" y="{y + 16}"><tspan font-weight="600">{total:.1f} s</tspan>{speed}</text>')
    out.append("</svg>")
    return "".join(out)
