"""Benchmark harness: every pipeline stage timed through the real CLI, beside its DuckDB floor.

`ecomlake bench` and `benchmarks/run_bench.py` call `run_benchmark`; see benchmarks/README.md.
"""

from ecomlake.benchmark.harness import STAGE_NAMES, STAGES, BenchOptions, BenchResult, StageFailed, run_benchmark

__all__ = ["STAGES", "STAGE_NAMES", "BenchOptions", "BenchResult", "StageFailed", "run_benchmark"]
