"""Benchmark the Enriched layer (not a test): `python benchmarks/bench_enriched.py [options]`.

1. Volume: for each --orders N, a generated day of N orders (Bronze generator, `local dims`,
   `local silver`), then `enriched run` for that day: wall time, rows written per second, peak
   memory, next to a floor: the time DuckDB takes to read the same day of Base Silver and write it
   once as parquet.
2. History: a lake of --history-days days at --history-orders orders a day, enriched day by day;
   the time of the last day against the first (incremental state keeps the ratio near 1; the
   rolling windows read at most 31 days).

Each enriched run executes in a fresh child process so its peak RSS is its own. Results go to
stdout and to <workdir>/bench_enriched.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from ecomlake.config import load_settings
from ecomlake.enriched.runner import run_enriched
t0, c0 = time.perf_counter(), time.process_time()
r = run_enriched(load_settings(), sys.argv[1], run_id=sys.argv[2])
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "rows": sum(t.rows for t in r.tables),
                  "tables": {t.table: [t.rows, t.seconds] for t in r.tables}, "states": r.states,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""

FLOOR = r"""
import glob, json, sys, time, duckdb
from ecomlake.config import load_settings
from ecomlake.duck import connect
s = load_settings(); con = connect(s)
t0 = time.perf_counter(); rows = 0
for t in ("orders", "order_items", "shopping_carts", "cart_items", "returns", "return_items"):
    files = glob.glob(f"{s.paths.silver_base_path}/{t}/ingest_dt={sys.argv[1]}/*.parquet")
    if files:
        rows += con.execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone()[0]
        con.execute(f"COPY (SELECT * FROM read_parquet({files!r})) TO '{sys.argv[2]}/{t}.parquet' (FORMAT parquet)")
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "rows": rows}))
"""


def ecomlake(args: list[str], env: dict) -> None:
    exe = str(Path(sys.executable).with_name("ecomlake"))
    p = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"ecomlake {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")


def child(code: str, args: list[str], env: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"child failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def lake_env(root: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "BRONZE_BASE_PATH": str(root / "bronze"),
            "SILVER_BASE_PATH": str(root / "silver/base"),
            "SILVER_DIMS_PATH": str(root / "silver/dims"),
            "SILVER_ENRICHED_PATH": str(root / "silver/enriched"),
            "METRICS_BASE_PATH": str(root / "metrics"),
            "REPORTS_BASE_PATH": str(root / "reports"),
            "ECOM_WORK_PATH": str(root / "work"),
        }
    )
    env.setdefault("ECOM_CONFIG_PATH", str(Path(__file__).resolve().parents[1] / "config" / "config.yml"))
    return env


def build_lake(root: Path, start: str, days: int, orders: int) -> tuple[dict, list[str]]:
    import datetime as dt

    env = lake_env(root)
    if not (root / "bronze/orders").exists():
        ecomlake(
            [
                "bronze",
                "generate",
                "--start-date",
                start,
                "--days",
                str(days),
                "--orders-per-day",
                str(orders),
                "--out",
                env["BRONZE_BASE_PATH"],
            ],
            env,
        )
    d0 = dt.date.fromisoformat(start)
    for i in range(days):  # resumable: days already in Silver are skipped
        day = (d0 + dt.timedelta(days=i)).isoformat()
        if (root / "silver/base/orders" / f"ingest_dt={day}").exists():
            continue
        ecomlake(["local", "dims", "--date", day], env)
        ecomlake(["local", "silver", "--date", day], env)
    dates = sorted(
        p.name.split("=")[1] for p in (root / "silver/base/orders").iterdir() if p.name.startswith("ingest_dt=")
    )
    return env, dates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--history-days", type=int, default=30)
    ap.add_argument("--history-orders", type=int, default=10_000)
    ap.add_argument("--workdir", default="data/_bench/enriched")
    args = ap.parse_args()
    work = Path(args.workdir).resolve()
    results: dict = {"volume": [], "history": None}

    for n in args.orders:
        root = work / f"volume_{n}"
        t0 = time.perf_counter()
        env, dates = build_lake(root, "2023-03-01", 1, n)
        setup = time.perf_counter() - t0
        run = child(CHILD, [dates[0], f"bench_{n}"], env)
        floor_dir = root / "work" / "floor"
        floor_dir.mkdir(parents=True, exist_ok=True)
        floor = child(FLOOR, [dates[0], str(floor_dir)], env)
        entry = {
            "orders": n,
            "setup_seconds": round(setup, 1),
            "enriched_seconds": run["seconds"],
            "enriched_cpu_seconds": run["cpu_seconds"],
            "rows_written": run["rows"],
            "rows_per_s": round(run["rows"] / run["seconds"]),
            "silver_rows_in": floor["rows"],
            "floor_seconds": floor["seconds"],
            "ratio_to_floor": round(run["seconds"] / max(floor["seconds"], 1e-9), 1),
            "peak_rss_mb": run["peak_rss_mb"],
            "tables": run["tables"],
        }
        results["volume"].append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "tables"}), flush=True)

    if args.history_days > 1:
        root = work / f"history_{args.history_days}x{args.history_orders}"
        env, dates = build_lake(root, "2023-01-01", args.history_days, args.history_orders)
        times = []
        for d in dates:
            run = child(CHILD, [d, f"hist_{d}"], env)
            times.append(
                {
                    "date": d,
                    **{k: run[k] for k in ("seconds", "cpu_seconds", "rows", "peak_rss_mb")},
                    "states": {k: v["mode"] for k, v in run["states"].items()},
                }
            )
            print(json.dumps(times[-1]), flush=True)
        results["history"] = {
            "days": times,
            "last_over_first": round(times[-1]["seconds"] / times[0]["seconds"], 2),
            "cpu_last_over_first": round(times[-1]["cpu_seconds"] / times[0]["cpu_seconds"], 2),
            "cpu_last_over_second": round(times[-1]["cpu_seconds"] / times[1]["cpu_seconds"], 2),
        }
        print(json.dumps({k: v for k, v in results["history"].items() if k != "days"}), flush=True)

    work.mkdir(parents=True, exist_ok=True)
    (work / "bench_enriched.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
