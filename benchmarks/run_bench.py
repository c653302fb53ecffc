"""Run the benchmark harness without the console script: `python benchmarks/run_bench.py [flags]`.

Same flags as `ecomlake bench --help`; this only forwards them (the harness is ecomlake.benchmark).
"""

from __future__ import annotations

import sys

from ecomlake.cli.main import main

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]])
