"""`ecomlake bench`: time each stage of the pipeline against its floor (see benchmarks/README.md)."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from ecomlake.cli.common import date_value, output_dir, output_file, passthrough


def _scales(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        out = [int(v.replace("_", "").strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated order counts such as 10000,100000, got {value!r}") from None
    if not out or any(v < 1 for v in out):
        raise click.BadParameter(f"expected positive order counts, got {value!r}")
    return out


def _stages(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _bounded(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in ("", "off", "none", "0") else value.strip()


@click.command(name="bench")
@click.option(
    "--orders-per-day",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Orders per day at the main (largest) scale (the full benchmark: 1000000).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Days of Bronze per scale; the last day is the measured day D.",
)
@click.option(
    "--start-date",
    callback=date_value,
    default="2023-01-01",
    show_default=True,
    help="First day of the generated lakes.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option("--memory-limit", default=None, help="DuckDB memory limit for every stage and floor (default: config).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="DuckDB threads (default: config).")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Runs per stage and floor; the report gives the median and min..max.",
)
@click.option(
    "--scales",
    callback=_scales,
    default=None,
    help="Comma-separated orders/day for the scale curve (default: orders-per-day /100, /10, x1; "
    "orders-per-day is always included).",
)
@click.option(
    "--history-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Enriched on day 1 against this day of a lake at the smallest scale (0: off).",
)
@click.option(
    "--memory-bounded",
    callback=_bounded,
    default="2GB",
    show_default=True,
    help="Run the largest scale's day again with this DuckDB memory limit ('off' to skip).",
)
@click.option(
    "--cache-dir",
    callback=output_dir,
    default="benchmarks/.cache",
    show_default=True,
    help="Bronze cache (by generator parameters and version) and the run's working lakes.",
)
@click.option(
    "--output",
    callback=output_file,
    default=None,
    help="Markdown report to write (default: <results-dir>/PERFORMANCE_<run_id>.md; the committed report is "
    "rewritten only when named, e.g. --output docs/PERFORMANCE.md).",
)
@click.option(
    "--results-dir",
    callback=output_dir,
    default="benchmarks/results",
    show_default=True,
    help="Where bench_<run_id>.json with every raw measurement goes.",
)
@click.option(
    "--plot",
    callback=output_file,
    default=None,
    help="Scale plot PNG (default: performance_scale.png beside --output, else "
    "<results-dir>/performance_scale_<run_id>.png).",
)
@click.option(
    "--stages",
    callback=_stages,
    default=None,
    help="Comma-separated subset of: bronze_validate, dims, base_silver, silver_gate, enriched, "
    "enriched_gate, gold (default: all).",
)
@click.option(
    "--keep-lakes", is_flag=True, default=False, help="Keep the derived lakes and logs after a successful run."
)
@click.option(
    "--fixed-costs",
    is_flag=True,
    default=False,
    help="Also time a warm `ecomlake local demo-fast` and a tiny day (dims, silver, enriched).",
)
@click.option(
    "--code-dir",
    callback=output_dir,
    default=None,
    help="Run every stage from this checkout's src/ and dbt_duckdb/ (same venv): the code before a change, "
    "e.g. a `git worktree add --detach` of main.",
)
@click.option(
    "--before",
    callback=output_file,
    default=None,
    help="bench_<run_id>.json of an earlier run (e.g. with --code-dir) to show beside this one in the report.",
)
@click.option(
    "--from-json",
    "from_json",
    callback=output_file,
    default=None,
    help="Measure nothing: write the report and plot again from a completed run's bench_<run_id>.json.",
)
@click.pass_context
@passthrough
def group(ctx: click.Context, **kw: Any) -> int:
    """Benchmark every stage through the real CLI, each in a fresh process, beside its DuckDB floor.

    \b
    With no flags this is the quick run (10,000 orders/day, 2 days, repeat 2: a few minutes) and
    everything goes to --results-dir: bench_<run_id>.json, PERFORMANCE_<run_id>.md and the plot.
    The committed reports change only when named with --output; the full benchmark (about an hour):
    `ecomlake bench --orders-per-day 1000000 --days 3 --repeat 3 --history-days 30`.
    A stage that fails stops the run (exit 1).
    """
    from ecomlake.benchmark import BenchOptions, run_benchmark
    from ecomlake.benchmark.harness import render_saved

    from_json = kw.pop("from_json")
    if from_json:
        render_saved(
            from_json, kw["output"], kw["plot"], echo=click.echo, before=kw["before"]
        )  # default: beside the JSON
        return 0
    config_path = (ctx.find_root().obj or {}).get("config_path")
    args = sys.argv[1:]
    args = args[args.index("bench") + 1 :] if "bench" in args else args  # also via benchmarks/run_bench.py
    opts = BenchOptions(
        config_path=config_path, command_line=" ".join(["ecomlake bench", *map(shlex.quote, args)]), **kw
    )
    run_benchmark(opts, echo=click.echo)
    return 0
