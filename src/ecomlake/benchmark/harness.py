"""The benchmark harness: a thin layer over the real CLI.

For each scale: a cached Bronze lake; prerequisites prepared untimed (dims, Base Silver and
Enriched for the days before D, the last day); then `repeat` times every selected stage for D in
sequence, each stage in a fresh `ecomlake` process (its own wall time, peak RSS and spill), the
whole sequence timed as end to end; then the floor of each stage (DuckDB copying the stage's input
bytes once, fresh process, same limits). At the largest scale the same sequence again under the
bounded memory limit; on a small lake of `history_days` days, the Enriched stage on day 1 against
the last day; with `fixed_costs`, the fixed costs a user meets on tiny data (a warm
`ecomlake local demo-fast`, and a tiny day through dims, Base Silver and Enriched). Nothing is
estimated: every figure is a measured run, and a stage that exits non-zero stops the harness
(except in the memory-bounded run, whose completion is itself the figure).

`code_dir` runs every child from another checkout (its `src/` and `dbt_duckdb/`, same venv), so the
code before a change is measured by the same harness, on the same Bronze, beside the same floors
(`--before` then puts that run beside this one in the report).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecomlake import ids, storage
from ecomlake.benchmark import report
from ecomlake.benchmark.floor import FLOORS, floor_inputs
from ecomlake.benchmark.lake import (
    BronzeSpec,
    bronze_target,
    cached_bronze,
    ecomlake_argv,
    lake_env,
    seal_bronze,
)
from ecomlake.benchmark.measure import Measured, last_error_line, run_measured
from ecomlake.config import MEMORY_LIMIT_PATTERN
from ecomlake.contract import TABLES
from ecomlake.errors import EcomlakeError, InputError


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    cli: tuple[str, ...]  # arguments after `ecomlake`; {D} is the measured day
    floor: str  # key of benchmark.floor.FLOORS
    produces: bool  # later stages read what it publishes
    note: str = ""

    def args(self, day: str) -> list[str]:
        return [a.replace("{D}", day) for a in self.cli]


STAGES: tuple[Stage, ...] = (
    Stage(
        "bronze_validate",
        "Bronze validate",
        ("bronze", "validate", "--partition-date", "{D}", "--enforce"),
        "bronze_day",
        False,
    ),
    Stage(
        "dims",
        "Dims",
        ("dim", "run", "--run-date", "{D}"),
        "dims_inputs",
        True,
        "runs the dims' Base Silver models (dbt) for D, then merges them into snapshot(D-1)",
    ),
    Stage(
        "base_silver",
        "Base Silver",
        ("local", "silver", "--date", "{D}"),
        "bronze_day",
        True,
        "dbt build + tests, publish, then the Silver gate: `local silver` has no flag to skip the gate, "
        "so its time includes one Silver gate",
    ),
    Stage(
        "silver_gate",
        "Silver gate",
        ("silver", "validate", "--partition-date", "{D}", "--enforce"),
        "silver_day",
        False,
    ),
    Stage(
        "enriched",
        "Enriched",
        ("enriched", "run", "--ingest-dt", "{D}", "--enforce"),
        "silver_as_of",
        True,
        "`enriched run` ends with the Enriched gate (no flag to skip it), so its time includes one gate",
    ),
    Stage(
        "enriched_gate",
        "Enriched gate",
        ("enriched", "validate", "--ingest-dt", "{D}", "--enforce"),
        "silver_as_of",
        False,
    ),
    Stage("gold", "Gold", ("gold", "run", "--date", "{D}"), "enriched_all", False),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
_BY_NAME = {s.name: s for s in STAGES}
PRODUCERS = tuple(s.name for s in STAGES if s.produces)
MIN_DEFAULT_SCALE = 200  # the smallest day on which every gate has rows in every table


class StageFailed(EcomlakeError):
    exit_code = 1


QUICK_ORDERS_PER_DAY = 10_000
TINY_ORDERS_PER_DAY = 70  # "a tiny day": fixed costs only (about 70 orders, as the issue measured it)


def report_paths(output: str | None, plot: str | None, results_dir: str | Path, run_id: str) -> tuple[Path, Path]:
    """(Markdown report, plot): `--output` when given (e.g. docs/PERFORMANCE.md), else the results dir,
    so a plain `ecomlake bench` never overwrites the committed report."""
    if output:
        report_path = Path(output)
        return report_path, Path(plot) if plot else report_path.with_name("performance_scale.png")
    results = Path(results_dir)
    return results / f"PERFORMANCE_{run_id}.md", Path(plot) if plot else results / f"performance_scale_{run_id}.png"


@dataclass
class BenchOptions:
    # Defaults are the quick run (`make bench`); the full benchmark is asked for explicitly.
    orders_per_day: int = QUICK_ORDERS_PER_DAY
    days: int = 2
    start_date: str = "2023-01-01"
    seed: int = 7
    memory_limit: str | None = None  # default: config duckdb.memory_limit
    threads: int | None = None  # default: config duckdb.threads
    repeat: int = 2
    scales: list[int] | None = None  # default: orders_per_day / 100, / 10, x 1
    history_days: int = 7  # 0 or 1: no history curve
    memory_bounded: str | None = "2GB"  # None: no memory-bounded run
    cache_dir: str = "benchmarks/.cache"
    output: str | None = None  # default: <results_dir>/PERFORMANCE_<run_id>.md (the committed report only when asked)
    results_dir: str = "benchmarks/results"
    plot: str | None = None  # default: performance_scale.png beside --output, else performance_scale_<run_id>.png
    stages: list[str] | None = None  # default: all
    keep_lakes: bool = False
    config_path: str | None = None
    command_line: str = ""
    fixed_costs: bool = False  # warm `local demo-fast` and a tiny day (dims, silver, enriched)
    code_dir: str | None = None  # run the stages from this checkout instead (before/after comparisons)
    before: str | None = None  # bench_<run_id>.json of a run to show beside this one


@dataclass
class BenchResult:
    run_id: str
    json_path: Path
    report_path: Path
    plot_path: Path | None
    data: dict = field(repr=False, default_factory=dict)


def resolve_scales(opts: BenchOptions) -> list[int]:
    if opts.scales:
        scales = set(opts.scales) | {opts.orders_per_day}
    else:
        n = opts.orders_per_day
        scales = {max(min(n, MIN_DEFAULT_SCALE), s) for s in (n // 100, n // 10, n)}
    return sorted(scales)


def _check(opts: BenchOptions) -> None:
    if opts.repeat < 1:
        raise InputError(f"--repeat must be at least 1, got {opts.repeat}")
    if opts.days < 1:
        raise InputError(f"--days must be at least 1, got {opts.days}")
    if opts.orders_per_day < 1 or any(s < 1 for s in opts.scales or []):
        raise InputError("--orders-per-day and --scales must be positive order counts")
    if opts.history_days < 0:
        raise InputError(f"--history-days must be 0 (off) or at least 2, got {opts.history_days}")
    ids.date(opts.start_date, "--start-date")
    ids.user_path(opts.cache_dir, "--cache-dir", kind="directory")
    ids.user_path(opts.results_dir, "--results-dir", kind="directory")
    if opts.output is not None:
        ids.user_path(opts.output, "--output")
    if opts.plot is not None:
        ids.user_path(opts.plot, "--plot")
    for flag, size in (("--memory-limit", opts.memory_limit), ("--memory-bounded", opts.memory_bounded)):
        if size is not None and not MEMORY_LIMIT_PATTERN.fullmatch(size):
            raise InputError(f"invalid {flag} {size!r}: expected a size such as '2GB'")
    unknown = [s for s in opts.stages or [] if s not in STAGE_NAMES]
    if unknown:
        raise InputError(f"unknown stage(s) {', '.join(unknown)} in --stages (known: {', '.join(STAGE_NAMES)})")
    if opts.code_dir is not None:
        code_checkout(opts.code_dir)
    if opts.before is not None:
        load_before(opts.before)


def code_checkout(path: str) -> dict:
    """{dir, src, dbt_project, commit} of a checkout to run the stages from (--code-dir)."""
    root = Path(ids.user_path(path, "--code-dir", kind="directory")).resolve()
    if (
        not (root / "src" / "ecomlake" / "__init__.py").is_file()
        or not (root / "dbt_duckdb" / "dbt_project.yml").is_file()
    ):
        raise InputError(
            f"--code-dir {root} is not an ecomlake checkout (it needs src/ecomlake/ and dbt_duckdb/dbt_project.yml); "
            "make one with `git worktree add --detach <dir> <commit>`"
        )
    return {
        "dir": str(root),
        "src": str(root / "src"),
        "dbt_project": str(root / "dbt_duckdb"),
        "commit": report.git_commit(root),
    }


def load_before(path: str) -> dict:
    """A completed run's JSON to put beside this one (--before)."""
    ids.user_path(path, "--before")
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read --before {path}: {exc}") from None
    if data.get("status") != "completed":
        raise InputError(f"--before {path} is from a run that did not complete (status {data.get('status')!r})")
    return data


class Harness:
    def __init__(self, opts: BenchOptions, echo: Callable[[str], None] = print):
        from ecomlake.config import load_settings
        from ecomlake.runs import new_run_id

        _check(opts)
        self.opts, self.echo = opts, echo
        settings = load_settings(opts.config_path)
        self.memory_limit = opts.memory_limit or settings.duckdb.memory_limit
        self.threads = int(opts.threads or settings.duckdb.threads)
        self.config_path = (
            str(Path(settings.source).resolve()) if settings.source and settings.source != "defaults" else None
        )
        self.cwd = os.getcwd()
        self.run_id = new_run_id()
        self.cache = Path(opts.cache_dir).resolve()
        self.work = self.cache / "lakes" / self.run_id
        self.selected = [s for s in STAGES if s.name in (opts.stages or STAGE_NAMES)]
        self.last = max(STAGE_NAMES.index(s.name) for s in self.selected)
        self.scales = resolve_scales(opts)
        self.history_days = opts.history_days if opts.history_days >= 2 and self._selected("enriched") else 0
        self.history_orders = self.scales[0]
        self.code = code_checkout(opts.code_dir) if opts.code_dir else None
        self._seq = 0
        self.data: dict = {
            "run_id": self.run_id,
            "status": "running",
            "command": opts.command_line,
            "started_at": report.now_iso(),
            "machine": report.machine_info(),
            "versions": report.versions(),
            "parameters": {
                "orders_per_day": opts.orders_per_day,
                "days": opts.days,
                "start_date": opts.start_date,
                "seed": opts.seed,
                "memory_limit": self.memory_limit,
                "threads": self.threads,
                "repeat": opts.repeat,
                "scales": self.scales,
                "history_days": self.history_days,
                "history_orders_per_day": self.history_orders if self.history_days else None,
                "memory_bounded": opts.memory_bounded,
                "stages": [s.name for s in self.selected],
                "all_stages": len(self.selected) == len(STAGES),
                "config": self.config_path or "defaults",
                "cache_dir": str(self.cache),
                "fixed_costs": opts.fixed_costs,
                "code": self.code,
            },
            "stages": {
                s.name: {"title": s.title, "command": "ecomlake " + " ".join(s.cli), "floor": s.floor, "note": s.note}
                for s in self.selected
            },
            "floors": dict(FLOORS),
            "scales": [],
            "memory_bounded": None,
            "history": None,
            "fixed_costs": None,
        }
        if opts.before:
            self.data["before"] = before_digest(load_before(opts.before), opts.before)

    # ------------------------------------------------------------------ plumbing

    def _selected(self, name: str) -> bool:
        return any(s.name == name for s in self.selected)

    def _env(self, lake: Path, bronze: Path, memory_limit: str | None = None) -> dict[str, str]:
        env = lake_env(
            lake,
            bronze,
            memory_limit=memory_limit or self.memory_limit,
            threads=self.threads,
            config_path=self.config_path,
        )
        if self.code:  # the other checkout's package and dbt project, this venv's dependencies
            env["PYTHONPATH"] = os.pathsep.join([self.code["src"], *filter(None, [env.get("PYTHONPATH")])])
            env["ECOM_DBT_PROJECT_DIR"] = self.code["dbt_project"]
        return env

    def _log(self, what: str) -> Path:
        self._seq += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in what)
        return self.work / "logs" / f"{self._seq:04d}_{safe}.log"

    def _run(self, argv: list[str], env: dict, what: str, stage: str, failing: bool = True) -> Measured:
        m = run_measured(argv, env, self.cwd, self._log(what), spill_dir=env.get("DUCKDB_TEMP_DIRECTORY"))
        if m.exit_code != 0 and failing:
            shown = " ".join(["ecomlake", *argv[3:]]) if argv[1:3] == ["-m", "ecomlake"] else " ".join(argv)
            raise StageFailed(
                f"stage {stage} failed with exit code {m.exit_code} ({shown}): "
                f"{last_error_line(m.log) or 'no output'}; log {m.log}"
            )
        return m

    def _line(self, label: str, what: str, m: Measured, extra: str = "") -> None:
        spill = f", spilled {m.peak_spill_mb:,.0f} MB" if m.peak_spill_mb >= 1 else ""
        self.echo(
            f"[{label}] {what:<34} {m.wall_s:8.2f} s  cpu {m.cpu_s:7.2f} s  peak {m.peak_rss_mb:,.0f} MB{spill}{extra}"
        )

    def _label(self, orders: int, days: int | None = None) -> str:
        return f"{orders:,}/day" + (f" x{days}" if days else "")

    # ------------------------------------------------------------------ bronze

    def ensure_bronze(self, spec: BronzeSpec, label: str) -> tuple[Path, dict]:
        hit = cached_bronze(self.cache, spec)
        if hit is not None:
            meta = json.loads(hit.with_suffix(".json").read_text())
            self.echo(f"[{label}] bronze: cached {hit}")
            return hit, {
                "path": str(hit),
                "key": spec.key(),
                "cached": True,
                "generate_seconds": meta.get("generate_seconds"),
            }
        root, tmp = bronze_target(self.cache, spec)
        if tmp.exists():
            storage.remove_tree(str(tmp), str(self.cache))
        tmp.parent.mkdir(parents=True, exist_ok=True)
        env = self._env(self.work / "generate", tmp)
        argv = ecomlake_argv(
            "bronze",
            "generate",
            "--start-date",
            spec.start_date,
            "--days",
            str(spec.days),
            "--orders-per-day",
            str(spec.orders_per_day),
            "--seed",
            str(spec.seed),
            "--out",
            str(tmp),
        )
        m = self._run(argv, env, f"generate_{spec.orders_per_day}x{spec.days}", "bronze generate")
        seal_bronze(tmp, root, spec, m.wall_s)
        self._line(label, f"bronze generate ({spec.days} days)", m, f" -> {root}")
        return root, {"path": str(root), "key": spec.key(), "cached": False, "generate_seconds": m.wall_s}

    # ------------------------------------------------------------------ stages

    def prepare(self, stage: str, day: str, env: dict, label: str, log: list) -> None:
        s = _BY_NAME[stage]
        m = self._run(ecomlake_argv(*s.args(day)), env, f"prepare_{stage}_{day}", f"{stage} (prepare {day})")
        self._line(label, f"prepare {day} {stage}", m, " (untimed)")
        log.append({"stage": stage, "date": day, **m.as_dict()})

    def timed_runs(self, stage: str, day: str, env: dict, label: str, note: str = "") -> list[dict]:
        s, runs = _BY_NAME[stage], []
        for r in range(1, self.opts.repeat + 1):
            m = self._run(ecomlake_argv(*s.args(day)), env, f"{stage}_{day}_{r}", stage)
            self._line(label, f"{note}{stage} {day} run {r}/{self.opts.repeat}", m)
            runs.append(m.as_dict())
        return runs

    def sequence(self, day: str, env: dict, label: str, r: int, failing: bool = True, tag: str = "") -> dict:
        """All selected stages for D in order, each a fresh process; the whole is end to end."""
        stages: dict[str, dict] = {}
        t0 = time.perf_counter()
        for s in self.selected:
            m = self._run(ecomlake_argv(*s.args(day)), env, f"{tag}{s.name}_{day}_{r}", s.name, failing=failing)
            self._line(label, f"{tag}run {r}/{self.opts.repeat} {s.name}", m)
            stages[s.name] = m.as_dict()
            if m.exit_code != 0:
                err = last_error_line(m.log)
                self.echo(f"[{label}] {tag}stage {s.name} failed with exit code {m.exit_code}: {err}; log {m.log}")
                return {
                    "completed": False,
                    "failed_stage": s.name,
                    "exit_code": m.exit_code,
                    "error": err,
                    "stages": stages,
                }
        wall = round(time.perf_counter() - t0, 3)
        e2e = {
            "completed": True,
            "wall_s": wall,
            "cpu_s": round(sum(v["cpu_s"] for v in stages.values()), 3),
            "peak_rss_mb": max(v["peak_rss_mb"] for v in stages.values()),
            "peak_spill_mb": max(v["peak_spill_mb"] for v in stages.values()),
            "stages": stages,
        }
        what = f"{tag}run {r}/{self.opts.repeat} end to end"
        self.echo(f"[{label}] {what:<34} {wall:8.2f} s  peak {e2e['peak_rss_mb']:,.0f} MB")
        return e2e

    def floor(self, name: str, day: str, env: dict, lake: Path, label: str) -> dict:
        groups = floor_inputs(name, env, day)
        if not groups:
            raise StageFailed(f"stage floor {name} failed: no input files for {day} under the benchmark lake {lake}")
        in_bytes = sum(os.path.getsize(f) for files in groups.values() for f in files)
        runs = []
        for r in range(1, self.opts.repeat + 1):
            out = lake / "work" / "floor_out" / f"{name}_{r}"
            out.mkdir(parents=True, exist_ok=True)
            spec_path, result = out.with_suffix(".spec.json"), out.with_suffix(".result.json")
            spec_path.write_text(json.dumps({"groups": groups, "out_dir": str(out), "result": str(result)}))
            m = self._run(
                [sys.executable, "-m", "ecomlake.benchmark.floor", str(spec_path)],
                env,
                f"floor_{name}_{day}_{r}",
                f"floor {name}",
            )
            got = json.loads(result.read_text())
            out_bytes = sum(f.stat().st_size for f in out.glob("*.parquet"))
            storage.remove_tree(
                str(out), str(self.cache)
            )  # the copies are only for timing; keep the disk free at large scales
            runs.append(
                {
                    "seconds": got["seconds"],
                    "rows": got["rows"],
                    "process_wall_s": m.wall_s,
                    "peak_rss_mb": m.peak_rss_mb,
                    "out_bytes": out_bytes,
                    "tables": got["tables"],
                }
            )
            self.echo(
                f"[{label}] {'floor ' + name + f' run {r}/{self.opts.repeat}':<34} {got['seconds']:8.2f} s  "
                f"({got['rows']:,} rows, {in_bytes / 2**20:,.1f} MB in)"
            )
        return {
            "input_files": sum(len(v) for v in groups.values()),
            "input_bytes": in_bytes,
            "input_rows": runs[0]["rows"],
            "runs": runs,
        }

    # ------------------------------------------------------------------ one scale

    def measure_scale(self, orders: int) -> dict:
        opts = self.opts
        spec = BronzeSpec(orders, opts.days, opts.start_date, opts.seed)
        label = self._label(orders)
        bronze, bronze_meta = self.ensure_bronze(spec, label)
        lake = self.work / f"scale_{orders}"
        env = self._env(lake, bronze)
        dates, day = spec.dates, spec.dates[-1]
        entry: dict = {
            "orders_per_day": orders,
            "days": opts.days,
            "date": day,
            "bronze": bronze_meta,
            "prepare": [],
            "stages": {s.name: {"runs": []} for s in self.selected},
            "end_to_end": {"runs": []},
            "floors": {},
        }
        self.data["scales"].append(entry)
        reuse_history = self.history_days and orders == self.history_orders and opts.days == self.history_days

        needed = [p for p in PRODUCERS if STAGE_NAMES.index(p) <= self.last]
        for d in dates[:-1]:
            for p in needed:
                if p == "enriched" and reuse_history and d == dates[0]:
                    self.data["history"] = {
                        "orders_per_day": orders,
                        "days": opts.days,
                        "first_date": d,
                        "last_date": day,
                        "shared_with_scale": True,
                        "first": self.timed_runs("enriched", d, env, label, "history "),
                        "last": None,
                    }
                else:
                    self.prepare(p, d, env, label, entry["prepare"])
        # Producers before the last selected stage that the timed sequence does not run (or that an
        # unselected producer after them needs first) are prepared for D too.
        sel = {s.name for s in self.selected}
        for i, p in enumerate(needed):
            if p not in sel or any(q not in sel for q in needed[i + 1 :]):
                self.prepare(p, day, env, label, entry["prepare"])

        for r in range(1, opts.repeat + 1):
            seq = self.sequence(day, env, label, r)
            for name, m in seq.pop("stages").items():
                entry["stages"][name]["runs"].append(m)
            entry["end_to_end"]["runs"].append(seq)

        for name in dict.fromkeys(["bronze_day", *(s.floor for s in self.selected)]):
            entry["floors"][name] = self.floor(name, day, env, lake, label)

        if reuse_history:
            self.data["history"]["last"] = entry["stages"]["enriched"]["runs"]
        if opts.memory_bounded and orders == self.scales[-1]:
            self.data["memory_bounded"] = self.memory_bounded(lake, bronze, day, label)
        if not opts.keep_lakes:
            storage.remove_tree(str(lake), str(self.cache))
        return entry

    def memory_bounded(self, lake: Path, bronze: Path, day: str, label: str) -> dict:
        limit = self.opts.memory_bounded
        env = self._env(lake, bronze, memory_limit=limit)
        self.echo(f"[{label}] memory-bounded: the same day with DUCKDB_MEMORY_LIMIT={limit}")
        runs = []
        for r in range(1, self.opts.repeat + 1):
            seq = self.sequence(day, env, label, r, failing=False, tag=f"{limit} ")
            runs.append(seq)
            if not seq["completed"]:
                break
        return {"orders_per_day": self.scales[-1], "date": day, "memory_limit": limit, "runs": runs}

    # ------------------------------------------------------------------ history curve

    def history(self) -> None:
        if not self.history_days or self.data["history"] is not None:
            return
        spec = BronzeSpec(self.history_orders, self.history_days, self.opts.start_date, self.opts.seed)
        label = self._label(spec.orders_per_day, spec.days)
        bronze, _meta = self.ensure_bronze(spec, label)
        lake = self.work / f"history_{spec.orders_per_day}x{spec.days}"
        env = self._env(lake, bronze)
        dates, prep = spec.dates, []
        # Dims and Base Silver for every day in one process each (the day-by-day loop is in the CLI).
        for what, args in (("dims", ("local", "dims")), ("base_silver", ("local", "silver"))):
            m = self._run(ecomlake_argv(*args), env, f"history_prepare_{what}", f"{what} (prepare all days)")
            self._line(label, f"prepare {what}, all {spec.days} days", m, " (untimed)")
            prep.append({"stage": what, "date": "all", **m.as_dict()})
        # Day 1 gets one untimed run first, as the last day does (inside `local enriched`), so both
        # timed series are reruns of a day that already has its state.
        self.prepare("enriched", dates[0], env, label, prep)
        first = self.timed_runs("enriched", dates[0], env, label, "history ")
        m = self._run(
            ecomlake_argv("local", "enriched"), env, "history_prepare_enriched", "enriched (prepare days 2..N)"
        )
        self._line(label, f"prepare enriched, days 2..{spec.days}", m, " (untimed)")
        prep.append({"stage": "enriched", "date": "2..N", **m.as_dict()})
        last = self.timed_runs("enriched", dates[-1], env, label, "history ")
        self.data["history"] = {
            "orders_per_day": spec.orders_per_day,
            "days": spec.days,
            "first_date": dates[0],
            "last_date": dates[-1],
            "shared_with_scale": False,
            "bronze": _meta,
            "prepare": prep,
            "first": first,
            "last": last,
        }
        if not self.opts.keep_lakes:
            storage.remove_tree(str(lake), str(self.cache))

    # ------------------------------------------------------------------ fixed costs

    def fixed_costs(self) -> None:
        """What a user waits for on tiny data: `ecomlake local demo-fast` run again on its own lake
        (warm: the samples unzipped, dbt's parsed project cached), and a tiny day through dims, Base
        Silver and Enriched (each in a fresh process, after the same stages ran once on it)."""
        if not self.opts.fixed_costs:
            return
        label = "fixed costs"
        lake = self.work / "fixed_costs"
        samples = lake / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        repo_samples = Path(self.code["dir"] if self.code else Path(__file__).resolve().parents[3]) / "samples"
        for name in ("bronze_samples.zip", "dims_samples.zip"):
            if not (repo_samples / name).is_file():
                raise StageFailed(f"stage fixed costs failed: {repo_samples / name} not found (run from a checkout)")
            (samples / name).write_bytes((repo_samples / name).read_bytes())
        env = self._env(lake / "demo", lake / "demo" / "bronze")
        env["ECOM_SAMPLES_PATH"] = str(samples)
        demo = ecomlake_argv("local", "demo-fast")
        m = self._run(demo, env, "fixed_demo_fast_warmup", "local demo-fast (warm-up)")
        self._line(label, "demo-fast (warm-up)", m, " (untimed)")
        demo_runs = []
        for r in range(1, self.opts.repeat + 1):
            m = self._run(demo, env, f"fixed_demo_fast_{r}", "local demo-fast")
            self._line(label, f"demo-fast warm run {r}/{self.opts.repeat}", m)
            demo_runs.append(m.as_dict())

        spec = BronzeSpec(TINY_ORDERS_PER_DAY, 2, self.opts.start_date, self.opts.seed)
        bronze, meta = self.ensure_bronze(spec, label)
        env = self._env(lake / "tiny", bronze)
        first, day = spec.dates
        stages = ("dims", "base_silver", "enriched")
        for d in (first, day):  # D runs once untimed too: the timed runs are warm reruns, like demo-fast's
            for st in stages:
                self.prepare(st, d, env, label, [])
        tiny_runs = []
        for r in range(1, self.opts.repeat + 1):
            per, t0 = {}, time.perf_counter()
            for st in stages:
                m = self._run(ecomlake_argv(*_BY_NAME[st].args(day)), env, f"fixed_tiny_{st}_{r}", st)
                per[st] = m.as_dict()
            wall = round(time.perf_counter() - t0, 3)
            cpu = round(sum(v["cpu_s"] for v in per.values()), 3)
            self.echo(f"[{label}] {f'tiny day run {r}/{self.opts.repeat}':<34} {wall:8.2f} s  cpu {cpu:7.2f} s")
            tiny_runs.append({"wall_s": wall, "cpu_s": cpu, "stages": per})
        bronze_rows = sum(
            storage.parquet_num_rows(f)
            for t in TABLES
            for f in storage.list_data_files(storage.partition_path(str(bronze), t, day))
        )
        self.data["fixed_costs"] = {
            "demo_fast": {"command": "ecomlake local demo-fast", "runs": demo_runs},
            "tiny_day": {
                "orders_per_day": TINY_ORDERS_PER_DAY,
                "date": day,
                "bronze_rows": bronze_rows,
                "stages": list(stages),
                "bronze": meta,
                "runs": tiny_runs,
            },
        }
        if not self.opts.keep_lakes:
            storage.remove_tree(str(lake), str(self.cache))

    # ------------------------------------------------------------------ the run

    def run(self) -> BenchResult:
        o = self.opts
        self.echo(
            f"bench {self.run_id}: scales {', '.join(f'{s:,}' for s in self.scales)} orders/day x {o.days} days; "
            f"repeat {o.repeat}; threads {self.threads}; memory {self.memory_limit}; "
            f"history {self.history_days or 'off'}; memory-bounded {o.memory_bounded or 'off'}; "
            f"fixed costs {'on' if o.fixed_costs else 'off'}"
            + (f"; code from {self.code['dir']} ({self.code['commit']})" if self.code else "")
        )
        self.echo(f"bench: logs and lakes under {self.work}")
        results_dir = Path(o.results_dir)
        json_path = results_dir / f"bench_{self.run_id}.json"
        try:
            for orders in self.scales:
                self.measure_scale(orders)
            self.history()
            self.fixed_costs()
        except BaseException as exc:
            self.data["status"] = "failed"
            self.data["error"] = exc.message if isinstance(exc, EcomlakeError) else f"{type(exc).__name__}: {exc}"
            self.data["finished_at"] = report.now_iso()
            report.write_json(json_path, self.data)
            raise
        self.data["status"] = "completed"
        self.data["finished_at"] = report.now_iso()
        self.data["machine"]["load_average_end"] = report.load_average()
        summary = report.summarize(self.data)
        self.data["summary"] = summary
        report_path, plot_path = report_paths(o.output, o.plot, results_dir, self.run_id)
        plotted = report.write_plot(plot_path, self.data)
        if plotted is None:
            self.echo(f"bench: matplotlib is not installed; no plot written ({plot_path})")
        report.write_json(json_path, self.data)
        report.write_markdown(report_path, self.data, plot_path=plotted, json_path=json_path)
        for t in summary["targets"]:
            self.echo(f"target {t['status']:<12} {t['target']}: {t['measured']}")
        self.echo(
            f"bench: report {report_path}; raw measurements {json_path}" + (f"; plot {plotted}" if plotted else "")
        )
        if not o.keep_lakes:
            storage.remove_tree(str(self.work), str(self.cache))
        return BenchResult(self.run_id, json_path, report_path, plotted, self.data)


def run_benchmark(opts: BenchOptions, echo: Callable[[str], None] = print) -> BenchResult:
    return Harness(opts, echo).run()


def before_digest(before: dict, path: str) -> dict:
    """What the report needs of the run shown beside this one: its identity and its summary."""
    summary = before.get("summary") or report.summarize(before)
    return {
        "path": str(path),
        "run_id": before.get("run_id"),
        "command": before.get("command"),
        "started_at": before.get("started_at"),
        "code": before.get("parameters", {}).get("code"),
        "git_commit": before.get("versions", {}).get("git_commit"),
        "load_average_start": before.get("machine", {}).get("load_average_start"),
        "load_average_end": before.get("machine", {}).get("load_average_end"),
        "summary": summary,
    }


def render_saved(
    json_path: str | Path,
    output: str | Path | None = None,
    plot: str | Path | None = None,
    echo: Callable[[str], None] = print,
    before: str | Path | None = None,
) -> BenchResult:
    """Write the report and plot again from a completed run's JSON (no measuring): e.g. once
    matplotlib is installed, or after a change to the report's layout."""
    ids.user_path(str(json_path), "--from-json")
    ids.user_path(str(output), "--output")
    if plot is not None:
        ids.user_path(str(plot), "--plot")
    json_path = Path(json_path)
    try:
        data = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read benchmark results {json_path}: {exc}") from None
    if data.get("status") != "completed":
        raise InputError(
            f"{json_path} is from a run that did not complete (status {data.get('status')!r}); rerun the benchmark"
        )
    if before is not None:
        data["before"] = before_digest(load_before(str(before)), str(before))
    data["summary"] = report.summarize(data)
    report_path, plot_path = report_paths(
        str(output) if output else None, str(plot) if plot else None, json_path.parent, data.get("run_id", "saved")
    )
    plotted = report.write_plot(plot_path, data)
    if plotted is None:
        echo(f"bench: matplotlib is not installed; no plot written ({plot_path})")
    report.write_markdown(report_path, data, plot_path=plotted, json_path=json_path)
    echo(f"bench: report {report_path} rendered from {json_path}" + (f"; plot {plotted}" if plotted else ""))
    return BenchResult(data["run_id"], json_path, report_path, plotted, data)
