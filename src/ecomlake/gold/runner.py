"""Build the eight Gold marts (dbt models over Enriched) into the DuckDB warehouse, then export them.

One run, for an as-of date D (``--date``, else the current Enriched day: the last one whose gate
passed, see ecomlake.enriched.current):

1. check that Enriched exists: every one of the ten tables has partitions, the three snapshot
   tables have the snapshot for D, and every Base Silver day up to D was built by Enriched (exit 2
   otherwise, naming the missing days, before dbt starts);
2. ``dbt build --select path:models/gold`` (models and their tests, one in-process invocation) into a
   fresh warehouse file inside the run's staging area ``<gold_path>/_staging/<run_id>/``;
3. only when every model and test passed: export each mart to
   ``<gold_path>/<mart>/part-0000.parquet`` (all eight published in one atomic swap through
   ``ecomlake.storage.publish``) and move the new warehouse over ``<gold_path>/ecomlake.duckdb``
   (an atomic rename).

A failed model or test therefore leaves the previous warehouse and exports exactly as they were.
Business-date marts cover the partitions up to D; snapshot marts read the snapshot for D only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecomlake import lineage, locks, storage
from ecomlake.config import Settings
from ecomlake.errors import EcomlakeError, GateFailed, InputError
from ecomlake.runs import parse_date, resolve_run_id, utc_now_iso

MARTS: tuple[str, ...] = (
    "fct_finance_revenue",
    "fct_marketing_attribution",
    "fct_sales_operations",
    "fct_cart_abandonment",
    "fct_product_profitability",
    "fct_customer_segments",
    "fct_daily_dashboard",
    "fct_shipping_analysis",
)
WAREHOUSE_NAME = "ecomlake.duckdb"
EXPORT_FILE = "part-0000.parquet"
RUN_RECORD_PREFIX = "gold_run_"
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # what the dbt sources glob (<key>=????-??-??) reads


@dataclass
class MartResult:
    name: str
    rows: int
    export_path: str


@dataclass
class GoldRunResult:
    run_id: str
    as_of: str
    warehouse: str
    marts: list[MartResult] = field(default_factory=list)
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    seconds: float = 0.0
    record_path: str = ""

    def rows(self) -> dict[str, int]:
        return {m.name: m.rows for m in self.marts}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["marts"] = [asdict(m) for m in self.marts]
        return d


def warehouse_path(settings: Settings) -> str:
    """Where BI tools find the marts: ``<gold_path>/ecomlake.duckdb`` (a local file)."""
    return storage.join(settings.paths.gold_path, WAREHOUSE_NAME)


def _snapshot_tables() -> list[str]:
    from ecomlake.transforms.schemas import SPECS

    return [name for name, spec in SPECS.items() if spec.snapshot]


def _partitions(root: str, table: str, key: str) -> list[str]:
    return [v for v in storage.list_partitions(root, table, key) if _DATE_DIR.match(v)]


def resolve_as_of(settings: Settings, run_date: dt.date | None) -> dt.date:
    """Check that Enriched exists and return the as-of date D of the Gold build.

    D is `run_date` when given (its snapshots must exist), else the current day of Enriched (the
    last day whose gate passed, ``<enriched>/_latest.json``), else, for a lake written without the
    gate, the latest date that every snapshot table has. Every Base Silver day up to D must have
    been built by Enriched, or the business-date marts would silently miss it. Raises InputError
    (exit 2) naming the missing table or days and what to run.
    """
    from ecomlake.enriched.current import current_date
    from ecomlake.lake import missing_enriched_days
    from ecomlake.transforms.schemas import SPECS

    root = settings.paths.silver_enriched_path
    hint = f"run `ecomlake local enriched{' --date ' + run_date.isoformat() if run_date else ''}` first"
    if not storage.isdir(root):
        raise InputError(f"Enriched data missing: {root} does not exist; {hint}")
    empty = [name for name, spec in SPECS.items() if not _partitions(root, name, spec.partition_key)]
    if empty:
        more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        raise InputError(f"Enriched data missing: no partitions of {empty[0]}{more} under {root}; {hint}")
    snapshots = {name: set(_partitions(root, name, "ingest_dt")) for name in _snapshot_tables()}
    if run_date is not None:
        for name, dates in snapshots.items():
            if run_date.isoformat() not in dates:
                latest = max(dates)
                raise InputError(
                    f"Enriched data missing: no {name} snapshot for {run_date} under {root} "
                    f"(latest is {latest}); {hint}"
                )
        as_of = run_date
    else:
        common = set.intersection(*snapshots.values())
        current = current_date(settings)
        if current is not None and current.isoformat() in common:
            as_of = current
        elif common:
            as_of = dt.date.fromisoformat(max(common))
        else:
            raise InputError(
                f"Enriched data incomplete: the snapshot tables {', '.join(snapshots)} share no ingest_dt under "
                f"{root}; run `ecomlake local enriched --date D` for one date"
            )
    missing = missing_enriched_days(settings, as_of.isoformat())
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"Enriched is missing {len(missing)} day(s) that Base Silver has up to {as_of}: {shown}; the marts "
            f"would leave them out; build them with `ecomlake local enriched` (every missing day, oldest first)"
        )
    return as_of


def _export_marts(
    settings: Settings, warehouse: Path, export_dir: Callable[[str], str], within: str
) -> list[MartResult]:
    """Row count of each mart, and its parquet export written into `export_dir(mart)` (inside `within`)."""
    from ecomlake.duck import connect, scalar, sql_literal

    out: list[MartResult] = []
    con = connect(settings, str(warehouse), read_only=True)
    try:
        for mart in MARTS:
            rows = scalar(con, f"select count(*) from main.{mart}")
            target = export_dir(mart)
            storage.remove_tree(target, within)
            storage.makedirs(target)
            con.execute(
                f"copy (select * from main.{mart}) to {sql_literal(storage.join(target, EXPORT_FILE))} "
                "(format parquet, compression zstd)"
            )
            storage.fault("while_writing")
            out.append(MartResult(mart, int(rows), ""))
    finally:
        con.close()
    return out


def _write_record(settings: Settings, record: dict) -> str:
    path = storage.join(settings.paths.metrics_base_path, f"{RUN_RECORD_PREFIX}{record['run_id']}.json")
    storage.makedirs(settings.paths.metrics_base_path)
    storage.write_json_atomic(path, record)
    return path


def publish_build(settings: Settings, run_id: str, as_of: dt.date, warehouse: Path) -> list[MartResult]:
    """Export every mart of a built and tested warehouse as parquet, then publish the eight exports
    and the warehouse in one journal: a reader never finds new exports next to the old warehouse."""
    gold_root = settings.paths.gold_path
    final_warehouse = warehouse_path(settings)
    remote = storage.is_remote(gold_root)
    if remote:
        local_exports = warehouse.parent / "exports"
        marts = _export_marts(settings, warehouse, lambda m: str(local_exports / m), str(warehouse.parent))
        for m in marts:
            staged = storage.staging_path(gold_root, run_id, m.name, "")
            fs, p = storage.fs_for(storage.join(staged, EXPORT_FILE))
            fs.put_file(str(local_exports / m.name / EXPORT_FILE), p)
        staged_warehouse = storage.join(storage.staging_root(gold_root, run_id), WAREHOUSE_NAME)
        fs, p = storage.fs_for(staged_warehouse)
        fs.put_file(str(warehouse), p)
    else:
        marts = _export_marts(settings, warehouse, lambda m: storage.staging_path(gold_root, run_id, m, ""), gold_root)
        staged_warehouse = str(warehouse)  # built inside the run's staging area: a rename publishes it
    publishes = [
        storage.Publish(
            staged=storage.staging_path(gold_root, run_id, m.name, ""),
            final=storage.join(gold_root, m.name),
            table=m.name,
            partition="all",
            expected_rows=m.rows,
            extra={"layer": "gold", "as_of": as_of.isoformat()},
        )
        for m in marts
    ]
    storage.publish(gold_root, run_id, publishes, files=[(staged_warehouse, final_warehouse)])
    for m in marts:
        m.export_path = storage.join(gold_root, m.name, EXPORT_FILE)
    return marts


def publish_from_warehouse(settings: Settings, warehouse: Path, as_of: dt.date, run_id: str) -> list[MartResult]:
    """The publish half of `run_gold` for a warehouse already built and tested (a copy of it is
    published): the Gold lease, staging, exports, one journal for the exports and the warehouse."""
    gold_root = settings.paths.gold_path
    storage.makedirs(gold_root)
    with locks.lease(gold_root, "gold", locks.ALL, run_id, locks.timeout_of(settings)):
        storage.claim_staging(gold_root, run_id)
        try:
            build_dir = Path(settings.paths.work_path).resolve() / "gold_build" / run_id
            if not storage.is_remote(gold_root):
                build_dir = Path(storage.staging_root(gold_root, run_id)).resolve()
            build_dir.mkdir(parents=True, exist_ok=True)
            staged = build_dir / WAREHOUSE_NAME
            shutil.copyfile(warehouse, staged)
            return publish_build(settings, run_id, as_of, staged)
        finally:
            storage.release_staging(gold_root, run_id)


@lineage.emits("gold")
def run_gold(
    settings: Settings,
    run_date: str | dt.date | None = None,
    run_id: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> GoldRunResult:
    """Build, test and publish the Gold marts as of `run_date` (default: the latest snapshot).

    Raises InputError (exit 2) when Enriched is missing, GateFailed (exit 1) when a Gold test
    fails, EcomlakeError (exit 2) when a model cannot be built. Nothing is published on failure.
    """
    requested = parse_date(run_date, "--date") if run_date is not None else None
    run_id = resolve_run_id(run_id, "gold_")
    storage.settle(settings.paths.silver_enriched_path)
    resolve_as_of(settings, requested)  # refuse (missing Enriched days) before anything is created
    gold_root = settings.paths.gold_path
    storage.makedirs(gold_root)
    # One Gold writer at a time: every run replaces the same warehouse and exports.
    with locks.lease(gold_root, "gold", locks.ALL, run_id, locks.timeout_of(settings)):
        storage.settle(settings.paths.silver_enriched_path)  # read Enriched as last committed
        return _run_gold(settings, requested, run_id, echo)


def _refuse_unlisted(settings: Settings) -> None:
    """Gold's dbt sources read whole Enriched partitions; a file their manifest does not list (dropped
    in by hand, or copied in by an Enriched publish still running on gs://) would be counted, so
    Gold names it and stops instead (exit 2)."""
    from ecomlake.transforms.schemas import SPECS

    root = settings.paths.silver_enriched_path
    stray: list[str] = []
    for name in SPECS:
        stray += storage.unlisted_files(storage.join(root, name))
    if stray:
        more = f" (and {len(stray) - 1} more)" if len(stray) > 1 else ""
        raise InputError(
            f"gold: {stray[0]}{more} is not listed in its partition's _manifest.json, and Gold would read it; "
            "remove it (or wait for the Enriched run that is publishing), then run `ecomlake gold run` again; nothing was written"
        )


def _run_gold(
    settings: Settings, requested: dt.date | None, run_id: str, echo: Callable[[str], None] | None
) -> GoldRunResult:
    from ecomlake.silver.dbt_runner import close_dbt_connections, invoke

    t0 = time.perf_counter()
    as_of = resolve_as_of(settings, requested)
    _refuse_unlisted(settings)
    gold_root = settings.paths.gold_path
    remote = storage.is_remote(gold_root)
    final_warehouse = warehouse_path(settings)
    enriched_root = settings.paths.silver_enriched_path
    if not storage.is_remote(enriched_root):
        enriched_root = str(Path(enriched_root).resolve())  # dbt runs with cwd = the project directory

    # The build happens next to its destination, so that publishing is a rename on one filesystem.
    # A gs:// gold path cannot hold a DuckDB file being written: build under the work path instead.
    storage.makedirs(gold_root)
    storage.claim_staging(gold_root, run_id)  # also finishes or clears what a crashed run left
    if remote:
        build_dir = Path(settings.paths.work_path).resolve() / "gold_build" / run_id
    else:
        build_dir = Path(storage.staging_root(gold_root, run_id)).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    warehouse = build_dir / WAREHOUSE_NAME
    result = GoldRunResult(run_id=run_id, as_of=as_of.isoformat(), warehouse=final_warehouse)
    record: dict[str, Any] = {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "started_at": utc_now_iso(),
        "enriched_path": settings.paths.silver_enriched_path,
        "gold_path": gold_root,
        "config_source": settings.source,
    }
    published = False
    try:
        if echo:
            echo(f"building {len(MARTS)} Gold marts as of {as_of} from {settings.paths.silver_enriched_path}")
        # dbt's console output is silenced (the CLI prints its own lines); the log file keeps the details.
        summary = invoke(
            settings,
            # dbt unit tests (tests of our SQL) run in `make test`, never in a production build
            [
                "build",
                "--select",
                "path:models/gold",
                "--exclude-resource-type",
                "unit_test",
                "--log-level",
                "none",
                "--log-level-file",
                "debug",
            ],
            dbt_vars={"gold": True, "enriched_root": enriched_root, "run_date": as_of.isoformat()},
            run_id=run_id,
            warehouse=warehouse,
            raise_on_failure=False,
        )
        close_dbt_connections()
        result.models_built = summary.models
        result.tests_passed, result.tests_failed, result.tests_warned = (
            summary.tests_passed,
            summary.tests_failed,
            summary.tests_warned,
        )
        record["dbt"] = summary.to_dict()
        log = f"dbt log: {summary.log_path}"
        if summary.errors:
            more = f" (+{len(summary.errors) - 1} more)" if len(summary.errors) > 1 else ""
            raise EcomlakeError(
                f"gold: dbt could not build: {summary.errors[0]}{more}; "
                f"the warehouse and exports were left unchanged; {log}"
            )
        if summary.failed_tests:
            total = summary.tests_passed + summary.tests_failed
            more = f" (+{len(summary.failed_tests) - 1} more)" if len(summary.failed_tests) > 1 else ""
            raise GateFailed(
                f"gold: {summary.tests_failed} of {total} dbt tests failed: {summary.failed_tests[0]}{more}; "
                f"the warehouse and exports were left unchanged; {log}"
            )
        if not summary.success or summary.models != len(MARTS):
            raise EcomlakeError(
                f"gold: dbt built {summary.models} of {len(MARTS)} marts; "
                f"the warehouse and exports were left unchanged; {log}"
            )

        result.marts = publish_build(settings, run_id, as_of, warehouse)
        published = True
    finally:
        close_dbt_connections()
        if remote:
            storage.remove_tree(str(build_dir), settings.paths.work_path)
        storage.release_staging(gold_root, run_id)
        result.seconds = round(time.perf_counter() - t0, 3)
        record.update(
            finished_at=utc_now_iso(),
            status="published" if published else "failed",
            warehouse=final_warehouse,
            seconds=result.seconds,
            marts={m.name: m.rows for m in result.marts},
            tests_passed=result.tests_passed,
            tests_failed=result.tests_failed,
        )
        with contextlib.suppress(OSError):  # the run record is a convenience; never mask the real outcome
            result.record_path = _write_record(settings, record)
    return result
