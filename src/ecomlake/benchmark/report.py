"""Benchmark output: machine and versions, the summary (medians, ratios, targets), the JSON of raw
measurements, the Markdown report and the scale plot. Every figure here is computed from the
measured runs in the data dict; nothing is typed in.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# Targets from the issues "One benchmark harness for the whole pipeline, with the floor beside it"
# and "Base Silver at the speed of its engine, and a 1,000,000-order day in under 3 minutes and 4 GB".
BASE_SILVER_MAX_RATIO = 3.0
RATIO_TARGET_SCALES = (100_000, 1_000_000)  # the stage ratios are targets at these scales
STAGE_MAX_RATIO = {"base_silver": 3.0, "dims": 3.0, "gold": 3.0}
BASE_SILVER_MIN_ROWS_S_CORE = 300_000  # Bronze rows/s/core at 1,000,000 orders/day
E2E_TARGET_ORDERS = 1_000_000
E2E_MAX_SECONDS = 180.0
E2E_MAX_RSS_MB = 4096.0
BOUNDED_MAX_RSS_MB = 3072.0  # the memory-bounded (2 GB) run
HISTORY_MAX_RATIO = 1.3
DEMO_FAST_MAX_SECONDS = 15.0
TINY_DAY_MAX_SECONDS = 10.0

PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "pyarrow", "polars", "ibis-framework", "ecomlake")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict:
    cpu, mem_kb = None, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except (OSError, ValueError):
        pass
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": round(mem_kb / 2**20, 1) if mem_kb else None,
        "platform": platform.platform(),
        "load_average_start": load_average(),
    }


def _git(*args: str, root: Path | None = None) -> str | None:
    root = root or Path(__file__).resolve().parents[3]
    try:
        p = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def versions() -> dict:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["git_commit"] = git_commit()
    return out


def git_commit(root: Path | None = None) -> str:
    """Short commit of a checkout (default: this one), marked when it has uncommitted changes."""
    commit = _git("rev-parse", "--short=12", "HEAD", root=root)
    if commit:
        dirty = _git("status", "--porcelain", "--untracked-files=no", root=root)
        commit += " (uncommitted changes)" if dirty else ""
    return commit or "unknown"


# ---------------------------------------------------------------------------------- summary


def stats(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _cpu(runs: list[dict]) -> dict | None:
    """CPU seconds (user + system) of the runs; None for runs measured before CPU was recorded."""
    values = [r["cpu_s"] for r in runs if r.get("cpu_s") is not None]
    return stats(values) if values and len(values) == len(runs) else None


def summarize_scale(entry: dict, stages: dict, threads: int) -> dict:
    floors = {
        name: {
            "median_s": stats([r["seconds"] for r in f["runs"]])["median"],
            "input_rows": f["input_rows"],
            "input_bytes": f["input_bytes"],
        }
        for name, f in entry["floors"].items()
    }
    rows = {}
    for name, s in entry["stages"].items():
        wall = stats([r["wall_s"] for r in s["runs"]])
        fl = floors[stages[name]["floor"]]
        rows[name] = {
            "input_rows": fl["input_rows"],
            "wall": wall,
            "cpu": _cpu(s["runs"]),
            "rows_per_s_core": round(fl["input_rows"] / wall["median"] / threads) if wall["median"] else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in s["runs"]),
            "peak_spill_mb": max(r["peak_spill_mb"] for r in s["runs"]),
            "floor_s": fl["median_s"],
            "ratio": _ratio(wall["median"], fl["median_s"]),
        }
    e2e_runs = entry["end_to_end"]["runs"]
    wall = stats([r["wall_s"] for r in e2e_runs])
    floor_sum = round(sum(r["floor_s"] for r in rows.values()), 3)
    bronze_rows = floors["bronze_day"]["input_rows"]
    e2e = {
        "input_rows": bronze_rows,
        "wall": wall,
        "cpu": _cpu(e2e_runs),
        "rows_per_s_core": round(bronze_rows / wall["median"] / threads) if wall["median"] else None,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in e2e_runs),
        "peak_spill_mb": max(r["peak_spill_mb"] for r in e2e_runs),
        "floor_s": floor_sum,
        "ratio": _ratio(wall["median"], floor_sum),
    }
    return {
        "orders_per_day": entry["orders_per_day"],
        "date": entry["date"],
        "stages": rows,
        "end_to_end": e2e,
        "floors": floors,
    }


def _growth(points: list[tuple[int, float]]) -> float | None:
    """Exponent k in wall ~ rows^k between the smallest and largest scale (1 = linear)."""
    if len(points) < 2:
        return None
    (r0, w0), (r1, w1) = points[0], points[-1]
    if r0 <= 0 or r1 <= r0 or w0 <= 0 or w1 <= 0:
        return None
    return round(math.log(w1 / w0) / math.log(r1 / r0), 2)


def summarize(data: dict) -> dict:
    threads = data["parameters"]["threads"]
    scales = [summarize_scale(e, data["stages"], threads) for e in data["scales"]]
    growth = {}
    for name in [*data["stages"], "end_to_end"]:
        pts = [(s["end_to_end"] if name == "end_to_end" else s["stages"][name]) for s in scales]
        growth[name] = _growth([(p["input_rows"], p["wall"]["median"]) for p in pts])
    out: dict[str, Any] = {"scales": scales, "growth_exponent": growth, "history": None, "memory_bounded": None}

    h = data.get("history")
    if h and h.get("first") and h.get("last"):
        first = stats([r["wall_s"] for r in h["first"]])
        last = stats([r["wall_s"] for r in h["last"]])
        out["history"] = {
            "first": first,
            "last": last,
            "ratio": _ratio(last["median"], first["median"]),
            "days": h["days"],
            "orders_per_day": h["orders_per_day"],
        }

    fc = data.get("fixed_costs")
    if fc:
        out["fixed_costs"] = {
            "demo_fast": {
                "wall": stats([r["wall_s"] for r in fc["demo_fast"]["runs"]]),
                "cpu": _cpu(fc["demo_fast"]["runs"]),
            },
            "tiny_day": {
                "wall": stats([r["wall_s"] for r in fc["tiny_day"]["runs"]]),
                "cpu": _cpu(fc["tiny_day"]["runs"]),
                "orders_per_day": fc["tiny_day"]["orders_per_day"],
                "bronze_rows": fc["tiny_day"]["bronze_rows"],
                "stages": {
                    st: stats([r["stages"][st]["wall_s"] for r in fc["tiny_day"]["runs"]])
                    for st in fc["tiny_day"]["stages"]
                },
            },
        }
    else:
        out["fixed_costs"] = None

    mb = data.get("memory_bounded")
    if mb:
        done = [r for r in mb["runs"] if r["completed"]]
        largest = scales[-1]
        entry = {
            "memory_limit": mb["memory_limit"],
            "orders_per_day": mb["orders_per_day"],
            "completed": bool(done) and len(done) == len(mb["runs"]),
            "failure": None,
            "unbounded_limit": data["parameters"]["memory_limit"],
        }
        if not entry["completed"]:
            bad = mb["runs"][-1]
            entry["failure"] = {
                "stage": bad.get("failed_stage"),
                "exit_code": bad.get("exit_code"),
                "error": bad.get("error"),
            }
        if done:
            wall = stats([r["wall_s"] for r in done])
            entry["end_to_end"] = {
                "wall": wall,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
                "peak_spill_mb": max(r["peak_spill_mb"] for r in done),
                "slowdown": _ratio(wall["median"], largest["end_to_end"]["wall"]["median"]),
            }
            per = {}
            for name, base in largest["stages"].items():
                w = [r["stages"][name]["wall_s"] for r in done]
                per[name] = {
                    "wall": stats(w),
                    "slowdown": _ratio(statistics.median(w), base["wall"]["median"]),
                    "peak_rss_mb": max(r["stages"][name]["peak_rss_mb"] for r in done),
                    "peak_spill_mb": max(r["stages"][name]["peak_spill_mb"] for r in done),
                }
            entry["stages"] = per
        out["memory_bounded"] = entry
    out["targets"] = targets(data, out)
    return out


def targets(data: dict, summary: dict) -> list[dict]:
    """Every target of the issues, as measured in this run: met, missed, or not measured (never estimated)."""
    all_stages = data["parameters"]["all_stages"]
    by_scale = {s["orders_per_day"]: s for s in summary["scales"]}
    out = []

    def add(target: str, measured: str, ok: bool | None) -> None:
        out.append(
            {
                "target": target,
                "measured": measured,
                "status": "not measured" if ok is None else ("met" if ok else "missed"),
            }
        )

    titles = {"base_silver": "Base Silver", "dims": "Dims", "gold": "Gold"}
    for stage, limit in STAGE_MAX_RATIO.items():
        for orders in RATIO_TARGET_SCALES:
            t = f"{titles[stage]} within {limit:g}x of its floor at {orders:,} orders/day"
            row = by_scale.get(orders, {}).get("stages", {}).get(stage)
            if row and row["ratio"] is not None:
                add(
                    t,
                    f"{row['ratio']:.2f}x ({row['wall']['median']:.2f} s vs a {row['floor_s']:.2f} s floor)",
                    row["ratio"] <= limit,
                )
            else:
                why = "stage not selected" if stage not in data["stages"] else f"no {orders:,}-order scale in this run"
                add(t, why, None)

    t = f"Base Silver at least {BASE_SILVER_MIN_ROWS_S_CORE / 1e6:g} M Bronze rows/s/core at {E2E_TARGET_ORDERS:,} orders/day"
    row = by_scale.get(E2E_TARGET_ORDERS, {}).get("stages", {}).get("base_silver")
    if row and row["rows_per_s_core"]:
        add(
            t,
            f"{row['rows_per_s_core'] / 1e6:.2f} M rows/s/core",
            row["rows_per_s_core"] >= BASE_SILVER_MIN_ROWS_S_CORE,
        )
    else:
        add(t, f"no {E2E_TARGET_ORDERS:,}-order scale with Base Silver in this run", None)

    t = (
        f"End to end for a {E2E_TARGET_ORDERS:,}-order day under {E2E_MAX_SECONDS:g} s with peak RSS "
        f"under {E2E_MAX_RSS_MB / 1024:g} GB (DuckDB limit {data['parameters']['memory_limit']})"
    )
    hit = by_scale.get(E2E_TARGET_ORDERS)
    if hit and all_stages:
        e = hit["end_to_end"]
        ok = e["wall"]["median"] < E2E_MAX_SECONDS and e["peak_rss_mb"] < E2E_MAX_RSS_MB
        add(t, f"{e['wall']['median']:.1f} s, peak {e['peak_rss_mb']:,.0f} MB", ok)
    else:
        why = "not all stages selected" if not all_stages else f"no {E2E_TARGET_ORDERS:,}-order scale in this run"
        add(t, why, None)

    mb = summary["memory_bounded"]
    bounded = data["parameters"]["memory_bounded"] or "2GB"
    t = f"The {bounded} memory-bounded run completes with peak RSS under {BOUNDED_MAX_RSS_MB / 1024:g} GB"
    if mb:
        if mb["completed"]:
            e = mb["end_to_end"]
            measured = (
                f"completed at {mb['orders_per_day']:,} orders/day, {e['slowdown']:.2f}x the {mb['unbounded_limit']} run, "
                f"peak {e['peak_rss_mb']:,.0f} MB"
            )
            add(t, measured, e["peak_rss_mb"] < BOUNDED_MAX_RSS_MB)
        else:
            f = mb["failure"]
            add(t, f"stage {f['stage']} failed with exit code {f['exit_code']}: {f['error']}", False)
    else:
        add(t, "memory-bounded run off", None)

    h = summary["history"]
    days = data["parameters"]["history_days"]
    t = f"Enriched on day {days or 30} within {HISTORY_MAX_RATIO:g}x of day 1"
    if h:
        add(
            t,
            f"{h['ratio']:.2f}x ({h['last']['median']:.2f} s vs {h['first']['median']:.2f} s)",
            h["ratio"] <= HISTORY_MAX_RATIO,
        )
    else:
        add(t, "history curve off", None)

    fc = summary.get("fixed_costs")
    t1 = f"Warm `ecomlake local demo-fast` under {DEMO_FAST_MAX_SECONDS:g} s"
    t2 = f"A tiny day through dims, Base Silver and Enriched under {TINY_DAY_MAX_SECONDS:g} s"
    if fc:
        d, tiny = fc["demo_fast"], fc["tiny_day"]
        add(t1, f"{d['wall']['median']:.1f} s" + _cpu_note(d["cpu"]), d["wall"]["median"] < DEMO_FAST_MAX_SECONDS)
        add(
            t2,
            f"{tiny['wall']['median']:.1f} s ({tiny['orders_per_day']} orders/day, {tiny['bronze_rows']:,} Bronze rows)"
            + _cpu_note(tiny["cpu"]),
            tiny["wall"]["median"] < TINY_DAY_MAX_SECONDS,
        )
    else:
        add(t1, "fixed costs off (--fixed-costs)", None)
        add(t2, "fixed costs off (--fixed-costs)", None)
    return out


def _cpu_note(cpu: dict | None) -> str:
    return f", CPU {cpu['median']:.1f} s" if cpu else ""


# ---------------------------------------------------------------------------------- files


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def write_plot(path: Path, data: dict) -> Path | None:
    """Throughput and wall time against scale; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    scales = data["summary"]["scales"]
    xs = [s["orders_per_day"] for s in scales]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name in [*data["stages"], "end_to_end"]:
        pts = [s["end_to_end"] if name == "end_to_end" else s["stages"][name] for s in scales]
        style = {"linewidth": 2.5, "color": "black"} if name == "end_to_end" else {}
        ax1.plot(xs, [p["rows_per_s_core"] for p in pts], marker="o", label=name, **style)
        ax2.plot(xs, [p["wall"]["median"] for p in pts], marker="o", label=name, **style)
    ax2.plot(xs, [s["end_to_end"]["floor_s"] for s in scales], linestyle="--", color="grey", label="sum of floors")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("orders per day")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_yscale("log")
    ax1.set_ylabel("input rows / s / core (median run)")
    ax1.set_title("Throughput against scale (flat or rising = linear or better)")
    ax2.set_yscale("log")
    ax2.set_ylabel("wall seconds (median run)")
    ax2.set_title("Wall time against scale")
    ax2.legend(fontsize=8)
    p = data["parameters"]
    fig.suptitle(
        f"ecomlake bench {data['run_id']}: {p['threads']} threads, memory limit {p['memory_limit']}", fontsize=10
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _n(x: float | int | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def _secs(w: dict) -> tuple[str, str]:
    return f"{w['median']:.2f} s", f"{w['min']:.2f}..{w['max']:.2f} s"


def _before_scale(data: dict, orders: int) -> dict | None:
    b = data.get("before")
    if not b:
        return None
    return next((x for x in b["summary"]["scales"] if x["orders_per_day"] == orders), None)


def _cpu_cell(r: dict) -> str:
    return f"{r['cpu']['median']:.2f} s" if r.get("cpu") else "-"


def _stage_table(s: dict, data: dict) -> list[str]:
    before = _before_scale(data, s["orders_per_day"])
    head = "| stage | input rows | wall median | spread (min..max) | CPU (user+sys) | rows/s/core | peak RSS | floor | ratio to floor |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if before:
        head += " before: wall | before: CPU | before: ratio | before: peak RSS | speed-up (wall) | CPU saved |"
        rule += "---:|---:|---:|---:|---:|---:|"
    lines = [head, rule]

    def tail(b: dict | None, r: dict) -> str:
        if not before:
            return ""
        if not b:
            return " - | - | - | - | - | - |"
        saved = "-"
        if b.get("cpu") and r.get("cpu") and b["cpu"]["median"]:
            saved = f"{100 * (1 - r['cpu']['median'] / b['cpu']['median']):.0f}%"
        return (
            f" {b['wall']['median']:.2f} s | {_cpu_cell(b)} | {_n(b['ratio'], '.1f')}x | {_n(b['peak_rss_mb'])} MB | "
            f"{_n(_ratio(b['wall']['median'], r['wall']['median']), '.2f')}x | {saved} |"
        )

    for name, r in s["stages"].items():
        med, spread = _secs(r["wall"])
        lines.append(
            f"| {data['stages'][name]['title']} | {_n(r['input_rows'])} | {med} | {spread} | {_cpu_cell(r)} | "
            f"{_n(r['rows_per_s_core'])} | {_n(r['peak_rss_mb'])} MB | {r['floor_s']:.2f} s | "
            f"{_n(r['ratio'], '.1f')}x |" + tail(before["stages"].get(name) if before else None, r)
        )
    e = s["end_to_end"]
    med, spread = _secs(e["wall"])
    title = "**End to end**" if data["parameters"]["all_stages"] else "**Selected stages in sequence**"
    lines.append(
        f"| {title} | {_n(e['input_rows'])} | {med} | {spread} | {_cpu_cell(e)} | {_n(e['rows_per_s_core'])} | "
        f"{_n(e['peak_rss_mb'])} MB | {e['floor_s']:.2f} s (sum) | {_n(e['ratio'], '.1f')}x |"
        + tail(before["end_to_end"] if before else None, e)
    )
    return lines


def write_markdown(path: Path, data: dict, plot_path: Path | None, json_path: Path) -> None:
    sm, p, m, v = data["summary"], data["parameters"], data["machine"], data["versions"]
    L: list[str] = []
    L += [
        "# Performance",
        "",
        (
            f"Generated by `{data['command'] or 'ecomlake bench'}` (run `{data['run_id']}`, {data['started_at']} to "
            f"{data['finished_at']}). Do not edit by hand: rerun the command. Raw measurements: `{json_path}`."
        ),
        "",
        (
            "How to read it: every figure is a measured run of the real CLI, each stage in a fresh process. "
            "*Wall* is the child process's wall time (Python and dbt start-up included); *peak RSS* is the "
            "child's `ru_maxrss` from the operating system; *rows/s/core* is the stage's input rows / median wall / "
            "threads. The *floor* is DuckDB (same memory limit and threads, fresh process) reading the same input "
            "bytes and writing them once as zstd parquet, timed around the copies only; the *ratio* is median wall / "
            "floor. *CPU* is the child's user + system time (all its threads), which moves far less than wall time "
            "when other work competes for the cores. This machine is shared and noisy (about +-15%, much more "
            "when the load average is above the core count): quote ratios, not seconds."
        ),
        "",
    ]
    b = data.get("before")
    if b:
        code = (b.get("code") or {}).get("commit") or b.get("git_commit")
        L += [
            (
                f"*Before* columns: run `{b['run_id']}` (`{b['command']}`, stages from commit {code}; load average at "
                f"start {b.get('load_average_start')}, at end {b.get('load_average_end')}), measured on the same "
                "Bronze with the same harness; *speed-up* = before wall / this wall."
            ),
            "",
        ]
    L += [
        "## Machine",
        "",
        f"- CPU: {m['cpu']}; {m['cores']} cores ({m['usable_cores']} usable); RAM {m['ram_gib']} GiB",
        f"- {m['platform']}",
        (
            f"- load average at start {m.get('load_average_start')}, at end {m.get('load_average_end')} "
            "(1, 5, 15 min; above the core count means other work competed for the CPU)"
        ),
        "",
    ]
    L += ["## Versions", "", " | ".join(f"{k} {val}" for k, val in v.items()), ""]
    L += [
        "## Parameters",
        "",
        (
            f"- scales: {', '.join(f'{s:,}' for s in p['scales'])} orders/day, {p['days']} days from {p['start_date']} "
            f"(seed {p['seed']}); measured day D = the last day"
        ),
        f"- DuckDB: threads {p['threads']}, memory limit {p['memory_limit']}; repeat {p['repeat']}",
        (
            f"- history curve: {p['history_days']} days at {_n(p['history_orders_per_day'])} orders/day; "
            if p["history_days"]
            else "- history curve: off; "
        )
        + f"memory-bounded run: {p['memory_bounded'] or 'off'}",
        f"- config: `{p['config']}`; Bronze cached under `{p['cache_dir']}`",
        *(
            [f"- stages ran the code of `{p['code']['dir']}` (commit {p['code']['commit']}) with this environment"]
            if p.get("code")
            else []
        ),
        "",
    ]
    L += ["## Targets", "", "| target | measured | status |", "|---|---|---|"]
    L += [f"| {t['target']} | {t['measured']} | **{t['status']}** |" for t in sm["targets"]]
    L += [""]
    for s in reversed(sm["scales"]):
        L += [f"## Stages at {s['orders_per_day']:,} orders/day (D = {s['date']})", ""]
        L += [*_stage_table(s, data), ""]
    L += [
        "## Scale curve",
        "",
        (
            "Median wall (and rows/s/core) per stage at each scale. *Growth* is k in wall ~ rows^k between the "
            "smallest and largest scale: 1 is linear; well below 1 means fixed start-up cost still dominates."
        ),
        "",
    ]
    head = " | ".join(f"{s['orders_per_day']:,}/day" for s in sm["scales"])
    L += [f"| stage | {head} | growth |", "|---|" + "---:|" * (len(sm["scales"]) + 1)]
    for name in [*data["stages"], "end_to_end"]:
        cells = []
        for s in sm["scales"]:
            r = s["end_to_end"] if name == "end_to_end" else s["stages"][name]
            cells.append(f"{r['wall']['median']:.2f} s ({_n(r['rows_per_s_core'])}/s/core)")
        title = "End to end" if name == "end_to_end" else data["stages"][name]["title"]
        L.append(f"| {title} | {' | '.join(cells)} | {_n(sm['growth_exponent'][name], '.2f')} |")
    L += [""]
    if plot_path:
        rel = os.path.relpath(plot_path, path.parent)
        L += [f"![Throughput and wall time against scale]({rel})", ""]
    else:
        L += ["(No plot: matplotlib is not installed.)", ""]
    L += ["## History curve", ""]
    h = sm["history"]
    if h:
        L += [
            (
                f"Enriched on day 1 against day {h['days']} of one lake at {h['orders_per_day']:,} orders/day "
                "(incremental state should keep it flat):"
            ),
            "",
            "| day | wall median | spread |",
            "|---|---:|---:|",
            f"| 1 | {_secs(h['first'])[0]} | {_secs(h['first'])[1]} |",
            f"| {h['days']} | {_secs(h['last'])[0]} | {_secs(h['last'])[1]} |",
            f"| ratio | {h['ratio']:.2f}x | |",
            "",
        ]
    else:
        L += ["Off in this run.", ""]
    L += ["## Fixed costs", ""]
    fc = sm.get("fixed_costs")
    if not fc:
        L += ["Off in this run (`--fixed-costs`).", ""]
    else:
        d, tiny = fc["demo_fast"], fc["tiny_day"]
        L += [
            (
                "What a user waits for on tiny data, each in a fresh process after one untimed run of the same "
                "command (warm: samples unzipped, dbt's parsed project cached):"
            ),
            "",
            "| what | wall median | spread | CPU (user+sys) |",
            "|---|---:|---:|---:|",
            f"| `ecomlake local demo-fast` (sample day 2023-01-01) | {_secs(d['wall'])[0]} | {_secs(d['wall'])[1]} | "
            + (f"{d['cpu']['median']:.2f} s |" if d["cpu"] else "- |"),
            (
                f"| a tiny day ({tiny['orders_per_day']} orders/day, {tiny['bronze_rows']:,} Bronze rows): "
                + ", ".join(f"{st} {w['median']:.2f} s" for st, w in tiny["stages"].items())
                + f" | {_secs(tiny['wall'])[0]} | {_secs(tiny['wall'])[1]} | "
                + (f"{tiny['cpu']['median']:.2f} s |" if tiny["cpu"] else "- |")
            ),
        ]
        bfc = (data.get("before") or {}).get("summary", {}).get("fixed_costs")
        if bfc:
            bd, bt = bfc["demo_fast"], bfc["tiny_day"]
            L += [
                f"| *before*: `ecomlake local demo-fast` | {_secs(bd['wall'])[0]} | {_secs(bd['wall'])[1]} | "
                + (f"{bd['cpu']['median']:.2f} s |" if bd["cpu"] else "- |"),
                (
                    "| *before*: the tiny day: "
                    + ", ".join(f"{st} {w['median']:.2f} s" for st, w in bt["stages"].items())
                    + f" | {_secs(bt['wall'])[0]} | {_secs(bt['wall'])[1]} | "
                    + (f"{bt['cpu']['median']:.2f} s |" if bt["cpu"] else "- |")
                ),
            ]
        L += [""]
    L += ["## Memory-bounded run", ""]
    mb = sm["memory_bounded"]
    if not mb:
        L += ["Off in this run.", ""]
    else:
        L += [
            (
                f"The largest scale ({mb['orders_per_day']:,} orders/day) again with DUCKDB_MEMORY_LIMIT="
                f"{mb['memory_limit']} (spilling to the DuckDB temp directory), against the {mb['unbounded_limit']} run."
            ),
            "",
        ]
        if not mb["completed"]:
            f = mb["failure"]
            L += [
                f"**Did not complete**: stage {f['stage']} failed with exit code {f['exit_code']}: `{f['error']}`",
                "",
            ]
        if mb.get("stages"):
            e = mb["end_to_end"]
            if e["peak_spill_mb"] < 1:
                L += [
                    (
                        "Nothing spilled at this scale (it fits within the bounded limit), so the slowdown below is "
                        "run-to-run noise, not the cost of spilling."
                    ),
                    "",
                ]
            L += [
                "| stage | wall median | spread | slowdown | peak RSS | peak spill |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for name, r in mb["stages"].items():
                med, spread = _secs(r["wall"])
                L.append(
                    f"| {data['stages'][name]['title']} | {med} | {spread} | {r['slowdown']:.2f}x | "
                    f"{_n(r['peak_rss_mb'])} MB | {_n(r['peak_spill_mb'])} MB |"
                )
            med, spread = _secs(e["wall"])
            L.append(
                f"| **End to end** | {med} | {spread} | {e['slowdown']:.2f}x | {_n(e['peak_rss_mb'])} MB | "
                f"{_n(e['peak_spill_mb'])} MB |"
            )
            L += [""]
    L += ["## What each stage runs", "", "| stage | command | floor reads | note |", "|---|---|---|---|"]
    for s in data["stages"].values():
        L.append(f"| {s['title']} | `{s['command']}` | {data['floors'][s['floor']]} | {s['note']} |")
    L += [
        "",
        (
            "End to end is the same stages for D in sequence (each in its own process); the stage rows above "
            "come from those same runs. Its floor is the sum of the stages' floors. Prerequisites (dims, Base Silver "
            "and Enriched for the days before D) are prepared untimed. Peak spill is the largest size of the DuckDB "
            "temp directory sampled every 0.25 s."
        ),
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L))
