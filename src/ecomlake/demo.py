"""The runbook's demos, end to end on local DuckDB.

Both land the sample Bronze lake (unzipped from ``samples/bronze_samples.zip`` into
``samples/bronze`` when missing) at the lake's Bronze root (``data/bronze`` by default), so that
after the demo every layer command, a hand dbt run and the runbook's ``ls data/bronze/...`` see the
same Bronze the demo processed (`land_sample_bronze`).

Both are configurations of the daily pipeline (`ecomlake.pipeline`), with strict gates:

`demo_fast` (``ecomlake local demo-fast``): the sample Bronze, the pre-cooked history (``samples/dims_samples.zip``:
the dims snapshots up to the demo date and the Base Silver of the days before it), Enriched for the
history's days, then every step of ``ecom_silver_to_gold`` for ONE day (sensors, Bronze gate, Base
Silver with its dbt tests, Silver and quarantine-rate gates, promote, Enriched, its gate and promote,
Gold). It ends with a summary built from the gates' own results and writes it as JSON too.

`demo_full` (``ecomlake local demo``): every step of both DAGs for every sample day, day by day
(so incremental state and rolling windows are exercised), then Gold for the last day.

Both stop at the first failing gate with a one-line message and exit 1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecomlake import ids, storage
from ecomlake.config import Settings
from ecomlake.contract import FACT_TABLES
from ecomlake.errors import InputError
from ecomlake.pipeline import DAY_DAG, DIMS_DAG, TASK, Day, Outcome, Step, run_day, step, steps
from ecomlake.runs import new_run_id, parse_date, utc_now_iso

if TYPE_CHECKING:
    pass

DEMO_DATE = "2023-01-01"
BRONZE_ZIP = "bronze_samples.zip"
HISTORY_ZIP = "dims_samples.zip"
ZIP_TIMESTAMP = (2020, 1, 1, 0, 0, 0)

Echo = Callable[[str], None]


@dataclass
class StageLine:
    stage: str
    seconds: float
    detail: str


@dataclass
class DemoSummary:
    run_id: str
    demo_date: str
    silver_fact_tables_passing: int = 0
    silver_fact_tables: int = len(FACT_TABLES)
    silver_status: str = ""
    silver_quarantine_pct: float | None = None
    enriched_tables_with_data: int = 0
    enriched_tables: int = 10
    enriched_status: str = ""
    dbt_tests_passed: int = 0
    dbt_tests_failed: int = 0
    dbt_silver_tests_passed: int = 0
    dbt_gold_tests_passed: int = 0
    returns_silver_rows: int = 0
    return_items_silver_rows: int = 0
    clv_total_refunded: float = 0.0
    gold_marts_built: int = 0
    gold_warehouse: str = ""
    reports: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    stages: list[StageLine] = field(default_factory=list)
    seconds: float = 0.0
    summary_path: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [asdict(s) for s in self.stages]
        return d


# ------------------------------------------------------------------------------------ samples


def _unzip(zip_path: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(dest)
    except zipfile.BadZipFile:
        raise InputError(f"not a valid zip archive: {zip_path}; restore it with `git checkout -- {zip_path}`") from None


def ensure_bronze_samples(settings: Settings, echo: Echo | None = None) -> str:
    """`<samples>/bronze`, unzipping `<samples>/bronze_samples.zip` first when it is missing."""
    samples = Path(settings.paths.samples_path)
    bronze = samples / "bronze"
    if not (bronze / "orders").is_dir():
        archive = samples / BRONZE_ZIP
        if not archive.is_file():
            raise InputError(
                f"sample archive not found: {archive}; run from the repository root, "
                "or rebuild it with `ecomlake sample package`"
            )
        _unzip(archive, samples)
        if echo:
            echo(f"unzipped {archive} -> {bronze}")
    return str(bronze)


SAMPLE_SOURCE = {
    "source": f"samples/{BRONZE_ZIP}",
    "description": f"the demo sample from samples/{BRONZE_ZIP}",
    "command": "ecomlake local demo-fast",
}


def _files_digest(partition_dir: str) -> dict[str, str]:
    """sha256 of every file of a partition (data, manifest, markers, ledger)."""
    return {
        name: storage.sha256_file(storage.join(partition_dir, name))
        for name in storage.listdir(partition_dir)
        if not name.startswith(".") and not storage.isdir(storage.join(partition_dir, name))
    }


def _content_digest(partition_dir: str) -> tuple[list[str], dict[str, str]]:
    """What a partition holds whatever its files are named (on gs:// they carry a version): the
    sha256 of each data file a reader reads, and of each side file (Bronze's _defects.json)."""
    data = sorted(storage.sha256_file(f) for f in storage.partition_files(partition_dir))
    side = {
        name: storage.sha256_file(storage.join(partition_dir, name))
        for name in storage.listdir(partition_dir)
        if not name.endswith(".parquet")
        and name not in (*storage.MANIFEST_NAMES, storage.SUCCESS_NAME)
        and not name.startswith(".")
        and not storage.isdir(storage.join(partition_dir, name))
    }
    return data, side


def _batch_id(partition_dir: str) -> str | None:
    """The partition's batch: from its manifest, else from the first data file's batch_id column."""
    try:
        manifest = storage.read_manifest(partition_dir)
    except InputError:
        manifest = None
    if manifest and manifest.get("batch_id"):
        return str(manifest["batch_id"])
    for f in storage.partition_files(partition_dir):
        try:
            col = storage.read_table(f, columns=["batch_id"]).column(0)
        except Exception:  # an unreadable file says nothing about its batch
            continue
        if len(col):
            return col[0].as_py()
    return None


def land_sample_bronze(settings: Settings, sample_root: str, run_id: str) -> dict[str, int]:
    """Put the sample's Bronze where every layer command reads Bronze (`paths.bronze_base_path`).

    The demo's lake must be a lake like any other: after `make demo`, `ecomlake local dims|silver`,
    a hand `dbt run` and the runbook's `ls data/bronze/...` all read data/bronze. Partitions
    already there and identical are kept; a sample partition damaged by hand (same batch, other
    bytes) is landed again. Bronze that is not the sample (another batch, or days the sample does
    not have) stops the demo before anything is written: mixing it with the sample's pre-built dims
    would quarantine or publish rows of two unrelated worlds side by side.
    """
    from ecomlake.contract import TABLES
    from ecomlake.lake import SOURCE_NAME

    target = settings.paths.bronze_base_path
    sample_parts = {(t, d) for t in TABLES for d in storage.list_partitions(sample_root, t)}
    days = sorted({d for t, d in sample_parts})
    counts = {"landed": 0, "kept": 0, "repaired": 0}
    if not storage.is_remote(target) and Path(target).resolve() == Path(sample_root).resolve():
        counts["kept"] = len(sample_parts)  # the lake reads the sample in place
        return counts
    lake_parts = {(t, d) for t in TABLES for d in storage.list_partitions(target, t)}
    foreign = sorted(lake_parts - sample_parts)
    todo: list[tuple[str, str]] = []
    for t, d in sorted(sample_parts):
        src = storage.partition_path(sample_root, t, d)
        if (t, d) in lake_parts:
            dst = storage.partition_path(target, t, d)
            same = (
                _content_digest(src) == _content_digest(dst)
                if storage.is_remote(dst)
                else _files_digest(src) == _files_digest(dst)
            )
            if same:
                counts["kept"] += 1
                continue
            if _batch_id(dst) != _batch_id(src):
                foreign.append((t, d))
                continue
            counts["repaired"] += 1
        else:
            counts["landed"] += 1
        todo.append((t, d))
    if foreign:
        t, d = foreign[0]
        more = f" and {len(foreign) - 1} more partitions" if len(foreign) > 1 else ""
        raise InputError(
            f"{target} already holds Bronze that is not the demo sample ({t}/ingest_dt={d}{more}); the demo will "
            f"not mix the sample into it: move {target} and the lake built from it aside, or point the demo at "
            "another lake (BRONZE_BASE_PATH, SILVER_BASE_PATH, SILVER_DIMS_PATH, ... or --config)"
        )
    if todo:
        storage.makedirs(target)
        storage.claim_staging(target, run_id)
        try:
            publishes = []
            for t, d in todo:
                part = storage.partition_name(d)
                staged = storage.staging_path(target, run_id, t, part)
                _copy_tree(storage.partition_path(sample_root, t, d), staged)
                publishes.append(storage.Publish(staged, storage.partition_path(target, t, d), t, part))
            storage.publish(target, run_id, publishes, sealed=True)
        finally:
            storage.release_staging(target, run_id)
    storage.write_json_atomic(
        storage.join(target, SOURCE_NAME), {**SAMPLE_SOURCE, "days": days, "landed_at": utc_now_iso(), "run_id": run_id}
    )
    return counts


def _copy_tree(src: str, dst: str) -> None:
    """A local partition directory into staging (local or gs://)."""
    if storage.is_remote(dst):
        storage.put_tree(src, dst)
    else:
        shutil.copytree(src, dst)


def _landed_line(counts: dict[str, int], target: str) -> str:
    parts = [f"{counts['landed']} partitions landed"]
    if counts["repaired"]:
        parts.append(f"{counts['repaired']} repaired")
    parts.append(f"{counts['kept']} already there")
    return ", ".join(parts) + f" in {target}"


def _with_paths(settings: Settings, **paths: str | None) -> Settings:
    s = settings.model_copy(deep=True)
    for key, value in paths.items():
        setattr(s.paths, key, value)
    return s


def _zip_dir(src: Path, prefix: str, zf: zipfile.ZipFile) -> int:
    n = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if any(part.startswith(storage.STAGING_DIR) for part in rel.parts):
            continue
        info = zipfile.ZipInfo(f"{prefix}/{rel.as_posix()}", date_time=ZIP_TIMESTAMP)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, path.read_bytes())
        n += 1
    return n


def build_history_sample(
    settings: Settings, *, bronze_zip: str, output: str, demo_date: str = DEMO_DATE, echo: Echo | None = None
) -> tuple[str, int]:
    """Build the pre-cooked history archive from the Bronze sample with the real pipeline.

    Runs `dim run` for every sample day up to the demo date and Base Silver for the days before
    it, in a scratch lake, and zips `dims/` (the snapshots) and `silver/` (Base Silver and its
    quarantine) so `demo-fast` only has to process the demo date itself.
    """
    from ecomlake.dims.snapshot import run_dims
    from ecomlake.silver.run import run_tables

    day = parse_date(demo_date, "--date").isoformat()
    ids.user_path(output, "--output")
    ids.user_path(bronze_zip, "--bronze-zip")
    with tempfile.TemporaryDirectory(prefix="ecomlake_history_") as tmp:
        root = Path(tmp)
        _unzip(Path(bronze_zip), root / "samples")
        s = _with_paths(
            settings,
            bronze_base_path=str(root / "samples" / "bronze"),
            silver_base_path=str(root / "silver" / "base"),
            silver_quarantine_path=None,
            silver_dims_path=str(root / "silver" / "dims"),
            metrics_base_path=str(root / "metrics"),
            reports_base_path=str(root / "reports"),
            work_path=str(root / "work"),
        )
        s.publish.silver_publish_mode = s.publish.dims_publish_mode = "direct"
        days = [d for d in storage.list_partitions(s.paths.bronze_base_path, "customers") if d <= day]
        if day not in days:
            raise InputError(f"the Bronze sample {bronze_zip} has no customers partition for {day}")
        for d in days:
            if echo:
                echo(f"dims {d}")
            run_dims(s, d)
        for d in days:
            if d < day:
                if echo:
                    echo(f"silver {d}")
                run_tables(s, d, "facts")
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        tmp_zip = Path(output).with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp_zip, "w") as zf:
            n = _zip_dir(root / "silver" / "dims", "dims", zf)
            n += _zip_dir(root / "silver" / "base", "silver/base", zf)
        os.replace(tmp_zip, output)
    return output, n


def load_history(settings: Settings, run_id: str) -> dict[str, int]:
    """Publish the pre-cooked dims snapshots and earlier Silver days into the live lake."""
    archive = Path(settings.paths.samples_path) / HISTORY_ZIP
    if not archive.is_file():
        raise InputError(f"pre-cooked dims not found: {archive}; rebuild it with `ecomlake sample dims`")
    counts = {"dims_snapshots": 0, "silver_partitions": 0}
    work = Path(settings.paths.work_path)
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="history_", dir=work) as tmp:
        _unzip(archive, Path(tmp))
        layers = [
            (Path(tmp) / "dims", settings.paths.silver_dims_path, "snapshot_dt", "dims_snapshots"),
            (
                Path(tmp) / "silver" / "base" / "quarantine",
                settings.paths.quarantine_path,
                "ingest_dt",
                "silver_partitions",
            ),
            (Path(tmp) / "silver" / "base", settings.paths.silver_base_path, "ingest_dt", "silver_partitions"),
        ]
        for src_root, live_root, key, counter in layers:
            if not src_root.is_dir():
                continue
            publishes = []
            storage.claim_staging(live_root, run_id)
            for table_dir in sorted(p for p in src_root.iterdir() if p.is_dir() and not p.name.startswith("_")):
                if table_dir.name == "quarantine":
                    continue
                for part in sorted(table_dir.glob(f"{key}=*")):
                    staged = storage.staging_path(live_root, run_id, table_dir.name, part.name)
                    _copy_tree(str(part), staged)
                    publishes.append(
                        storage.Publish(
                            staged, storage.join(live_root, table_dir.name, part.name), table_dir.name, part.name
                        )
                    )
            storage.publish(live_root, run_id, publishes, sealed=True)
            storage.release_staging(live_root, run_id)
            counts[counter] += len(publishes)
        latest = Path(tmp) / "dims" / "_latest.json"
        if latest.is_file():
            storage.write_bytes_atomic(
                storage.join(settings.paths.silver_dims_path, "_latest.json"), latest.read_bytes()
            )
    return counts


# --------------------------------------------------------------------------------------- demo


class _Stages:
    """A progress bar over the stages and one line per finished stage."""

    def __init__(self, names: list[str], echo: Echo):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.echo = echo
        self.lines: list[StageLine] = []
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self.task = self.progress.add_task("demo", total=len(names))

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def run(self, name: str, fn: Callable[[], tuple[Any, str]]) -> Any:
        self.progress.update(self.task, description=name)
        t0 = time.perf_counter()
        value, detail = fn()
        line = StageLine(name, round(time.perf_counter() - t0, 2), detail)
        self.lines.append(line)
        outcomes = value if isinstance(value, list) else [value]
        warned = any(isinstance(o, Outcome) and o.status == "warn" for o in outcomes)
        mark = "[yellow]warn[/yellow]" if warned else "[green]ok[/green]"
        self.progress.console.print(
            f"{mark} {name:<20} {line.seconds:6.1f} s  {detail}", highlight=False, soft_wrap=True, markup=True
        )
        self.progress.advance(self.task)
        return value


def _pipeline_stage(st: _Stages, label: str, day: Day, plan: list[Step]) -> list[Outcome]:
    """Run `plan` (pipeline steps) as one demo stage; the line shows what the layer run did and
    each gate's verdict."""

    def run() -> tuple[list[Outcome], str]:
        outcomes = run_day(day, plan)
        done = [o.message for o in outcomes if step(o.step).kind == TASK]
        gates = [f"{o.step} {o.gate['status']}" for o in outcomes if o.gate]
        return outcomes, "; ".join(done + ([", ".join(gates)] if gates else []))

    return st.run(label, run)


def demo_fast(settings: Settings, demo_date: str = DEMO_DATE, echo: Echo = print) -> DemoSummary:
    """Pre-cooked dims + one day end to end, all gates. Raises GateFailed (exit 1) on a failing gate.

    A configuration of the daily pipeline (`ecomlake.pipeline`): the sample Bronze and the pre-cooked
    history are loaded, Enriched catches up on the history's days (each with its gate and promote),
    then every step of ``ecom_silver_to_gold`` runs for the demo date with strict gates.
    """
    day = parse_date(demo_date, "--date").isoformat()
    t_start = time.perf_counter()
    sample = ensure_bronze_samples(settings, echo)
    if day not in storage.list_partitions(sample, "orders"):
        raise InputError(
            f"no sample Bronze for {day} under {sample} (sample days: {', '.join(storage.list_partitions(sample, 'orders'))})"
        )
    run_id = new_run_id("demo_")
    s = DemoSummary(run_id=run_id, demo_date=day)
    target = settings.paths.bronze_base_path
    plan = steps(DAY_DAG)
    catch_up = steps(DAY_DAG, only=("enriched", "enriched_gate", "promote_enriched"))
    with _Stages(["bronze (sample)", "dims (pre-cooked)", "enriched history", *[p.name for p in plan]], echo) as st:
        st.run(
            "bronze (sample)",
            lambda: (lambda c: (c, _landed_line(c, target)))(land_sample_bronze(settings, sample, run_id)),
        )
        st.run(
            "dims (pre-cooked)",
            lambda: (
                lambda c: (
                    c,
                    f"{c['dims_snapshots']} snapshots, {c['silver_partitions']} earlier Silver partitions loaded",
                )
            )(load_history(settings, run_id)),
        )

        def history() -> tuple[list[str], str]:
            # The earlier sample days first (each builds on the previous day's state, and business-date
            # partitions before D exist for Gold), then D itself.
            days = [d for d in storage.list_partitions(settings.paths.silver_base_path, "orders") if d < day]
            for d in days:
                run_day(Day(settings, d, f"{run_id}_{d}", strict=True), catch_up)
            return days, f"Enriched, its gate and promote for {len(days)} earlier days ({', '.join(days) or 'none'})"

        st.run("enriched history", history)
        the_day = Day(settings, day, run_id, strict=True)
        for p in plan:
            st.run(p.name, lambda p=p: (lambda o: (o, o.message))(run_day(the_day, [p])[0]))
    s.stages = st.lines
    _fill_summary(s, settings, the_day)
    s.seconds = round(time.perf_counter() - t_start, 1)
    s.summary_path = storage.join(settings.paths.metrics_base_path, f"demo_summary_{run_id}.json")
    storage.write_json_atomic(
        s.summary_path, {"written_at": utc_now_iso(), "config_source": settings.source, **s.to_dict()}
    )
    return s


def demo_full(settings: Settings, end_date: str | None = None, echo: Echo = print) -> DemoSummary:
    """Every sample day from Bronze up to `end_date` (default: the last), day by day, then Gold.

    A configuration of the daily pipeline: every step of both DAGs for each day with strict gates,
    Gold only on the last day.
    """
    if end_date is not None:
        parse_date(end_date, "--end-date")  # a bad date stops the demo before it unzips anything
    t_start = time.perf_counter()
    sample = ensure_bronze_samples(settings, echo)
    days = storage.list_partitions(sample, "orders")
    end = parse_date(end_date, "--end-date").isoformat() if end_date is not None else days[-1]
    days = [d for d in days if d <= end]
    if not days or days[-1] != end:
        raise InputError(
            f"no sample Bronze for {end} under {sample} (sample days: {', '.join(storage.list_partitions(sample, 'orders'))})"
        )
    run_id = new_run_id("demo_")
    s = DemoSummary(run_id=run_id, demo_date=end)
    target = settings.paths.bronze_base_path
    groups = {
        "dims": steps(DIMS_DAG),
        "silver": steps(DAY_DAG, only=[p.name for p in steps(DAY_DAG) if p.layer in ("bronze", "dims", "silver")]),
        "enriched": steps(DAY_DAG, only=("enriched", "enriched_gate", "promote_enriched")),
    }
    names = ["bronze (sample)"] + [f"{g} {d}" for d in days for g in groups] + ["gold"]
    with _Stages(names, echo) as st:
        st.run(
            "bronze (sample)",
            lambda: (lambda c: (c, _landed_line(c, target)))(land_sample_bronze(settings, sample, run_id)),
        )
        for d in days:
            the_day = Day(settings, d, f"{run_id}_{d}", strict=True)
            for group, plan in groups.items():
                _pipeline_stage(st, f"{group} {d}", the_day, plan)
        _pipeline_stage(st, "gold", the_day, steps(DAY_DAG, only=("gold",)))
    s.stages = st.lines
    s.reports = {
        "silver": _report_path(settings, "SILVER_QUALITY", end),
        "enriched": _report_path(settings, "ENRICHED_QUALITY", end),
    }
    _fill_summary(s, settings, the_day)
    s.seconds = round(time.perf_counter() - t_start, 1)
    s.summary_path = storage.join(settings.paths.metrics_base_path, f"demo_summary_{run_id}.json")
    storage.write_json_atomic(
        s.summary_path, {"written_at": utc_now_iso(), "config_source": settings.source, **s.to_dict()}
    )
    return s


def _report_path(settings: Settings, prefix: str, day: str) -> str:
    return storage.join(settings.paths.reports_base_path, f"{prefix}_{day}.md")


def _fill_summary(s: DemoSummary, settings: Settings, day: Day) -> None:
    """The summary from the results the pipeline's steps returned for the demo date."""
    srun, sgate, egate, grun = (day.results[k] for k in ("base_silver", "silver_gate", "enriched_gate", "gold"))
    s.reports.setdefault("silver", _report_path(settings, "SILVER_QUALITY", day.date))
    s.reports.setdefault("enriched", _report_path(settings, "ENRICHED_QUALITY", day.date))
    s.metrics = {
        "silver": storage.join(settings.paths.metrics_base_path, f"silver_quality_{sgate.run_id}.json"),
        "enriched": storage.join(settings.paths.metrics_base_path, f"enriched_quality_{egate.run_id}.json"),
    }
    fact_metrics = [m for m in sgate.table_metrics if m.get("table_name") in FACT_TABLES]
    s.silver_fact_tables_passing = sum(m.get("status") == "PASS" for m in fact_metrics)
    s.silver_fact_tables = len(fact_metrics)
    s.silver_status = sgate.overall_status.value
    s.silver_quarantine_pct = sgate.extra.get("quarantine_pct")
    s.enriched_tables_with_data = sum((m.get("row_count") or 0) > 0 for m in egate.table_metrics)
    s.enriched_tables = len(egate.table_metrics)
    s.enriched_status = egate.overall_status.value
    s.dbt_silver_tests_passed = int(srun.dbt.get("tests_passed", 0))
    s.dbt_gold_tests_passed = int(grun.tests_passed)
    s.dbt_tests_passed = s.dbt_silver_tests_passed + s.dbt_gold_tests_passed
    s.dbt_tests_failed = int(srun.dbt.get("tests_failed", 0)) + int(grun.tests_failed)
    s.returns_silver_rows = srun.table("returns").silver_rows
    s.return_items_silver_rows = srun.table("return_items").silver_rows
    s.clv_total_refunded = _clv_refunds(settings, s.demo_date)
    s.gold_marts_built = len(grun.marts)
    s.gold_warehouse = grun.warehouse


def _clv_refunds(settings: Settings, day: str) -> float:
    """Refunds that reached the CLV snapshot of the demo day: returns really flow downstream."""
    from ecomlake.duck import connect, scalar, sql_literal

    part = storage.partition_path(settings.paths.silver_enriched_path, "int_customer_lifetime_value", day)
    files = storage.partition_files(part)
    if not files:
        return 0.0
    con = connect(settings)
    try:
        value = scalar(
            con,
            f"select coalesce(sum(total_refunded), 0) from read_parquet([{', '.join(sql_literal(f) for f in files)}])",
        )
    finally:
        con.close()
    return float(value)


def render_summary(s: DemoSummary) -> list[str]:
    def mark(good: bool) -> str:
        return "✅" if good else "⚠️ "

    return [
        "",
        f"Demo {s.demo_date} finished in {s.seconds:.1f} s (run {s.run_id})",
        (
            f"{mark(s.silver_fact_tables_passing == s.silver_fact_tables)} Silver: {s.silver_fact_tables_passing}/"
            f"{s.silver_fact_tables} fact tables passing validation ({s.silver_status})"
        ),
        (
            f"{mark(s.enriched_tables_with_data == s.enriched_tables)} Enriched: {s.enriched_tables_with_data}/"
            f"{s.enriched_tables} business tables with data ({s.enriched_status})"
        ),
        (
            f"{mark(s.dbt_tests_failed == 0)} dbt: {s.dbt_tests_passed} data quality tests pass (Base Silver "
            f"{s.dbt_silver_tests_passed}, Gold {s.dbt_gold_tests_passed}; {s.dbt_tests_failed} failed)"
        ),
        (
            f"{mark(s.returns_silver_rows > 0)} Returns: {s.returns_silver_rows:,} returns and {s.return_items_silver_rows:,} "
            f"return lines in Silver; {s.clv_total_refunded:,.2f} refunded in int_customer_lifetime_value"
        ),
        f"{mark(s.gold_marts_built == 8)} Gold: {s.gold_marts_built} marts built in {s.gold_warehouse}",
        "Reports:",
        f"  Silver:   {s.reports.get('silver')}",
        f"  Enriched: {s.reports.get('enriched')}",
        f"  Summary:  {s.summary_path}",
    ]
