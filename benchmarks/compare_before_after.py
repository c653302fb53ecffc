"""Before/after proof that a change bought no speed with correctness.

Generates one Bronze week (the generator of the *after* checkout, fixed seed, defects injected), then
runs the same days through dims, Base Silver (with its gate) and Enriched (with its gate) twice, each
stage a real `ecomlake` process: once with the code of the *before* checkout (e.g. a
`git worktree add --detach` of main at the start commit), once with the *after* checkout, each on its
own lake. Then it compares, table by table, the row sets each side published: dims snapshots, Base
Silver, quarantine and Enriched (as multisets, `EXCEPT ALL` both ways, after dropping the columns that
name the run: run ids and timestamps of the run itself), and every stage's exit code.

    .venv/bin/python benchmarks/compare_before_after.py --before /work/wt/perf-base --after . \\
        --days 7 --orders-per-day 2000 --out benchmarks/results/compare.json

Exit 0 when every table matches and every stage exited the same way, 1 when something differs,
2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

# Columns that name the run, not the data: they differ between any two runs of the same code.
VOLATILE = {"_run_id", "_quarantine_timestamp", "run_id", "_enriched_run_id", "_processed_at", "processed_at"}


def checkout(path: str) -> dict:
    root = Path(path).resolve()
    if not (root / "src" / "ecomlake").is_dir() or not (root / "dbt_duckdb" / "dbt_project.yml").is_file():
        sys.exit(f"error: {root} is not an ecomlake checkout (src/ecomlake and dbt_duckdb/ needed)")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return {
        "dir": str(root),
        "commit": commit.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else ""),
    }


def env_for(code: dict, lake: Path, bronze: Path, threads: int, memory: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "DBT_", "DUCKDB_", "SILVER_", "GOLD_"))}
    env.update(
        {
            "PYTHONPATH": str(Path(code["dir"]) / "src"),
            "ECOM_DBT_PROJECT_DIR": str(Path(code["dir"]) / "dbt_duckdb"),
            "ECOM_CONFIG_PATH": str(Path(code["dir"]) / "config" / "config.yml"),
            "BRONZE_BASE_PATH": str(bronze),
            "SILVER_BASE_PATH": str(lake / "silver" / "base"),
            "SILVER_DIMS_PATH": str(lake / "silver" / "dims"),
            "SILVER_ENRICHED_PATH": str(lake / "silver" / "enriched"),
            "GOLD_PATH": str(lake / "gold"),
            "METRICS_BASE_PATH": str(lake / "metrics"),
            "REPORTS_BASE_PATH": str(lake / "reports"),
            "ECOM_WORK_PATH": str(lake / "work"),
            "DUCKDB_MEMORY_LIMIT": memory,
            "DUCKDB_THREADS": str(threads),
            "DUCKDB_TEMP_DIRECTORY": str(lake / "work" / "duckdb_tmp"),
            "PIPELINE_ENV": "local",
            "SILVER_PUBLISH_MODE": "direct",
            "ENRICHED_PUBLISH_MODE": "direct",
            "DIMS_PUBLISH_MODE": "direct",
        }
    )
    return env


def run(argv: list[str], env: dict, cwd: Path, log: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n")
        fh.flush()
        rc = subprocess.run(argv, env=env, cwd=str(cwd), stdout=fh, stderr=subprocess.STDOUT).returncode
    return rc, round(time.perf_counter() - t0, 2)


def run_side(name: str, code: dict, work: Path, bronze: Path, days: list[str], args) -> dict:
    lake = work / name
    lake.mkdir(parents=True, exist_ok=True)
    env = env_for(code, lake, bronze, args.threads, args.memory_limit)
    log = work / f"{name}.log"
    py = [sys.executable, "-m", "ecomlake"]
    stages = []
    for d in days:
        for stage, cli in (
            ("dims", ["dim", "run", "--run-date", d]),
            ("base_silver", ["local", "silver", "--date", d]),
            ("enriched", ["enriched", "run", "--ingest-dt", d, "--enforce"]),
        ):
            rc, secs = run([*py, *cli], env, lake, log)
            stages.append({"date": d, "stage": stage, "exit_code": rc, "seconds": secs})
            print(f"[{name}] {d} {stage:<12} exit {rc} {secs:7.2f} s", flush=True)
    return {"code": code, "lake": str(lake), "log": str(log), "stages": stages}


def tables_under(root: Path) -> dict[str, Path]:
    """{relative table dir: dir} for every directory that holds hive partitions of parquet."""
    out = {}
    if not root.is_dir():
        return out
    for p in sorted(root.rglob("*.parquet")):
        part = p.parent
        if "=" not in part.name or any(x.startswith((".", "_")) for x in part.relative_to(root).parts[:-1]):
            continue
        table = part.parent
        if "staging" in table.parts or "_staging" in str(table):
            continue
        out[str(table.relative_to(root))] = table
    return out


def compare(before_root: Path, after_root: Path, layer: str) -> list[dict]:
    b, a = tables_under(before_root), tables_under(after_root)
    out = []
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in sorted(set(b) | set(a)):
        row = {"layer": layer, "table": name}
        if name not in b or name not in a:
            row.update(status="DIFFERENT", why=f"only in {'after' if name in a else 'before'}")
            out.append(row)
            continue

        def rel(d: Path) -> str:
            # the hive partitions only (not e.g. Enriched's _latest.parquet pointer beside them)
            glob = str(d / "*=*" / "*.parquet").replace("'", "''")
            return f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"

        cols_b = [c[0] for c in con.execute(f"describe select * from {rel(b[name])}").fetchall()]
        cols_a = [c[0] for c in con.execute(f"describe select * from {rel(a[name])}").fetchall()]
        if cols_b != cols_a:
            row.update(status="DIFFERENT", why=f"columns differ: before {cols_b} after {cols_a}")
            out.append(row)
            continue
        keep = [c for c in cols_a if c not in VOLATILE]
        sel = ", ".join(f'"{c}"' for c in keep)
        nb = con.execute(f"select count(*) from {rel(b[name])}").fetchone()[0]
        na = con.execute(f"select count(*) from {rel(a[name])}").fetchone()[0]
        only_b = con.execute(
            f"select count(*) from (select {sel} from {rel(b[name])} except all select {sel} from {rel(a[name])})"
        ).fetchone()[0]
        only_a = con.execute(
            f"select count(*) from (select {sel} from {rel(a[name])} except all select {sel} from {rel(b[name])})"
        ).fetchone()[0]
        row.update(
            rows_before=nb,
            rows_after=na,
            only_before=only_b,
            only_after=only_a,
            ignored_columns=sorted(set(cols_a) - set(keep)),
            status="same" if nb == na and only_a == only_b == 0 else "DIFFERENT",
        )
        out.append(row)
    con.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="checkout of the code before the change")
    ap.add_argument("--after", default=".", help="checkout of the code after the change (default: .)")
    ap.add_argument("--work", default=None, help="work directory (default: benchmarks/results/compare_<time>)")
    ap.add_argument("--start-date", default="2023-01-01")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--orders-per-day", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--defect-rate", type=float, default=0.03)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--out", default=None, help="JSON result (default: <work>/compare.json)")
    ap.add_argument(
        "--compare-only",
        action="store_true",
        help="compare the lakes an earlier run left in --work (its stages.json) without running anything",
    )
    args = ap.parse_args()

    before, after = checkout(args.before), checkout(args.after)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    work = Path(args.work or Path(after["dir"]) / "benchmarks" / "results" / f"compare_{stamp}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    start = date.fromisoformat(args.start_date)
    days = [(start + timedelta(days=i)).isoformat() for i in range(args.days)]
    bronze = work / "bronze"
    print(f"compare: before {before['dir']} ({before['commit']}), after {after['dir']} ({after['commit']})")
    if args.compare_only:
        sides = json.loads((work / "stages.json").read_text())
        return finish(args, work, days, before, after, sides)
    print(f"compare: {args.days} days from {args.start_date}, {args.orders_per_day} orders/day, seed {args.seed}")
    gen_env = env_for(after, work / "gen", bronze, args.threads, args.memory_limit)
    (work / "gen").mkdir(exist_ok=True)
    rc, secs = run(
        [
            *(sys.executable, "-m", "ecomlake", "bronze", "generate", "--start-date", args.start_date),
            *("--days", str(args.days), "--orders-per-day", str(args.orders_per_day), "--seed", str(args.seed)),
            *("--defect-rate", str(args.defect_rate), "--out", str(bronze)),
        ],
        gen_env,
        work / "gen",
        work / "generate.log",
    )
    if rc != 0:
        print(f"error: Bronze generation failed (exit {rc}); see {work / 'generate.log'}", file=sys.stderr)
        return 2
    print(f"compare: Bronze generated in {secs:.1f} s")
    sides = {
        name: run_side(name, code, work, bronze, days, args) for name, code in (("before", before), ("after", after))
    }
    (work / "stages.json").write_text(json.dumps(sides, indent=2))
    return finish(args, work, days, before, after, sides)


def finish(args, work: Path, days: list[str], before: dict, after: dict, sides: dict) -> int:
    """Compare what both sides published; write the JSON result; 0 = the same, 1 = different."""
    stage_diffs = [
        {"date": b["date"], "stage": b["stage"], "before": b["exit_code"], "after": a["exit_code"]}
        for b, a in zip(sides["before"]["stages"], sides["after"]["stages"], strict=True)
        if b["exit_code"] != a["exit_code"]
    ]
    tables = []
    for layer, sub in (
        ("dims", "silver/dims"),
        ("base silver + quarantine", "silver/base"),
        ("enriched", "silver/enriched"),
    ):
        tables += compare(Path(sides["before"]["lake"]) / sub, Path(sides["after"]["lake"]) / sub, layer)
    ok = not stage_diffs and all(t["status"] == "same" for t in tables) and tables
    result = {
        "status": "same" if ok else "DIFFERENT",
        "parameters": vars(args) | {"dates": days},
        "before": before,
        "after": after,
        "stage_exit_codes_differ": stage_diffs,
        "stages": {k: v["stages"] for k, v in sides.items()},
        "tables": tables,
        "volatile_columns": sorted(VOLATILE),
        "load_average_end": os.getloadavg(),
    }
    out = Path(args.out) if args.out else work / "compare.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    for t in tables:
        extra = t.get("why") or (
            f"{t['rows_before']:>8} rows before, {t['rows_after']:>8} after, "
            f"{t['only_before']} only before, {t['only_after']} only after"
        )
        print(f"{t['status']:<9} {t['layer']:<25} {t['table']:<40} {extra}")
    for d in stage_diffs:
        print(f"DIFFERENT exit code: {d}")
    print(f"compare: {result['status']} ({len(tables)} tables); result in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
