"""Benchmark Base Silver (not a test): one day of N orders, against the floor.

    .venv/bin/python benchmarks/bench_base_silver.py                 # 100,000 orders
    .venv/bin/python benchmarks/bench_base_silver.py --orders 1000000
    .venv/bin/python benchmarks/bench_base_silver.py --million

Steps: generate one day of Bronze (all eight tables in proportion), build the dims snapshot for
it, then run Base Silver for the six fact tables in a FRESH process (dbt start-up, build, the
dbt tests, export and atomic publish: what `ecomlake local silver --date D` does, without the
Silver gate) and measure wall time and peak RSS. The floor is DuckDB reading the same Bronze
files and writing them once as parquet (zstd), also in a fresh process with the same settings.
Ratios are what to quote: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAY = "2023-01-01"

_SILVER = r"""
import json, sys, time
from ecomlake.config import load_settings
from ecomlake.silver.run import run_tables
s = load_settings()
t = time.perf_counter()
run = run_tables(s, sys.argv[1], "facts")
print(json.dumps({"seconds": time.perf_counter() - t, "stages": run.seconds, "dbt": run.dbt,
                  "tables": {x.table: [x.bronze_rows, x.silver_rows, x.quarantine_rows] for x in run.tables}}))
"""

_FLOOR = r"""
import json, sys, time, os
from ecomlake.config import load_settings
from ecomlake.contract import FACT_TABLES
from ecomlake.duck import connect
s = load_settings()
out = sys.argv[2]
con = connect(s)
t = time.perf_counter()
rows = 0
for table in FACT_TABLES:
    src = f"{s.paths.bronze_base_path}/{table}/ingest_dt={sys.argv[1]}/*.parquet"
    os.makedirs(f"{out}/{table}", exist_ok=True)
    con.execute(f"COPY (select * from read_parquet('{src}')) TO '{out}/{table}/part-0000.parquet' (FORMAT parquet, COMPRESSION zstd)")
    rows += con.execute(f"select count(*) from read_parquet('{src}')").fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows}))
"""


def _child(code: str, args: list[str], env: dict) -> tuple[dict, float, float]:
    """Run `code` in a fresh interpreter; (its JSON, wall seconds, peak RSS MB of that child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=str(REPO), capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all waited children: only meaningful when it grew
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, max(after, before) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="1,000,000 orders")
    ap.add_argument("--work", default=str(REPO / "benchmarks" / ".cache" / "base_silver"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="reuse generated Bronze and dims from a previous run")
    args = ap.parse_args()
    n = 1_000_000 if args.million else args.orders
    base = Path(args.work) / f"orders_{n}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID"))}
    env.update(
        BRONZE_BASE_PATH=str(base / "bronze"),
        SILVER_BASE_PATH=str(base / "silver"),
        SILVER_DIMS_PATH=str(base / "dims"),
        METRICS_BASE_PATH=str(base / "metrics"),
        REPORTS_BASE_PATH=str(base / "reports"),
        ECOM_WORK_PATH=str(base / "work"),
        ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"),
    )
    os.environ.update({k: env[k] for k in env if k.startswith(("BRONZE", "SILVER", "METRICS", "REPORTS", "ECOM"))})

    from ecomlake.config import load_settings

    settings = load_settings()
    threads = settings.duckdb.threads
    from ecomlake.bronze.generator import GeneratorOptions, generate
    from ecomlake.dims.snapshot import run_dims

    if not (args.reuse and (base / "bronze" / "orders").exists()):
        shutil.rmtree(base, ignore_errors=True)
        t = time.perf_counter()
        gen = generate(
            settings,
            GeneratorOptions(start_date=DAY, days=1, orders_per_day=n, seed=args.seed),
            out=str(base / "bronze"),
        )
        print(f"generated {gen.total_rows:,} Bronze rows in {time.perf_counter() - t:.1f} s", flush=True)
    if not (args.reuse and (base / "dims" / "_latest.json").exists()):
        t = time.perf_counter()
        run_dims(settings, DAY)
        print(f"dims snapshot in {time.perf_counter() - t:.1f} s", flush=True)
    shutil.rmtree(base / "silver", ignore_errors=True)
    shutil.rmtree(base / "floor", ignore_errors=True)

    silver, silver_wall, silver_rss = _child(_SILVER, [DAY], env)
    floor, floor_wall, _floor_rss = _child(_FLOOR, [DAY, str(base / "floor")], env)
    bronze_rows = sum(v[0] for v in silver["tables"].values())
    assert bronze_rows == floor["rows"], (bronze_rows, floor["rows"])
    report = {
        "orders": n,
        "bronze_fact_rows": bronze_rows,
        "duckdb_threads": threads,
        "cpu_count": os.cpu_count(),
        "silver_wall_s": round(silver_wall, 2),
        "silver_in_process_s": round(silver["seconds"], 2),
        "silver_stages_s": silver["stages"],
        "silver_rows_per_s_per_core": round(bronze_rows / silver_wall / threads),
        "silver_peak_rss_mb": round(silver_rss),
        "floor_wall_s": round(floor_wall, 2),
        "floor_in_process_s": round(floor["seconds"], 2),
        "floor_rows_per_s_per_core": round(bronze_rows / floor_wall / threads),
        "ratio_wall": round(silver_wall / floor_wall, 2),
        "ratio_in_process": round(silver["seconds"] / floor["seconds"], 2),
        "dbt_tests_passed": silver["dbt"]["tests_passed"],
        "dbt_models": silver["dbt"]["models_built"],
    }
    print(json.dumps(report, indent=2))
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"base_silver_{n}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
