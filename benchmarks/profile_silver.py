"""Profile one Base Silver run (the facts of one day) on an existing lake: where the time goes.

Runs `ecomlake.silver.run.run_tables` in this process under pyinstrument (the main thread: start-up,
dbt's parse or cached manifest, waiting on dbt's model threads, export and publish), keeps the run's
warehouse and dbt log, and lists every dbt node's own time from that log (models and audits run in
dbt's threads, which the profiler does not sample). The lake's paths come from the environment, as
for the CLI (BRONZE_BASE_PATH, SILVER_BASE_PATH, SILVER_DIMS_PATH, ECOM_WORK_PATH, ...).

    BRONZE_BASE_PATH=... SILVER_BASE_PATH=... SILVER_DIMS_PATH=... ECOM_WORK_PATH=... \\
        .venv/bin/python benchmarks/profile_silver.py --date 2023-01-02 --out benchmarks/results/profile
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

FINISHED = re.compile(r"(\d+) of \d+ (?:OK created \S+ \S+ model|PASS) (\S+) \.+ \[(?:OK|PASS)[^\]]* in ([\d.]+)s\]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--date", required=True)
    ap.add_argument("--out", default="benchmarks/results/profile")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    t0 = time.perf_counter()
    profiler.start()
    from ecomlake.config import load_settings
    from ecomlake.silver.run import run_tables

    settings = load_settings()
    run = run_tables(settings, args.date, "facts", keep_warehouse=True)
    profiler.stop()
    wall = time.perf_counter() - t0
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (out / "pyinstrument.txt").write_text(text)
    print(f"wall {wall:.2f} s; stage seconds {run.seconds}")
    log = sorted(Path(settings.paths.work_path).resolve().glob(f"dbt/{run.run_id}/logs/dbt.log"))
    nodes: list[tuple[float, str]] = []
    if log:
        for line in log[0].read_text(errors="replace").splitlines():
            m = FINISHED.search(line)
            if m:
                nodes.append((float(m[3]), m[2]))
    nodes.sort(reverse=True)
    total = sum(s for s, _ in nodes)
    lines = [f"{s:8.2f} s  {name}" for s, name in nodes]
    (out / "dbt_nodes.txt").write_text("\n".join(lines) + "\n")
    print(f"dbt nodes: {len(nodes)}, sum of their own times {total:.2f} s (2 dbt threads); slowest:")
    print("\n".join(lines[:15]))
    print(f"profile: {out / 'pyinstrument.txt'}; dbt log: {log[0] if log else 'not found'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
