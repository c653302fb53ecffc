"""The daily pipeline, defined once: the steps of a day, their order, their gates, and which
environment makes a gate blocking.

Everything that runs a day is built from `STEPS`, so they cannot drift apart:

- ``ecomlake run --date D`` (and ``--start/--end``, day by day) runs every step in process;
- the demos (``ecomlake local demo-fast``, ``ecomlake local demo``) are configurations of it
  (`ecomlake.demo`): which steps, which days, strict gates;
- the Airflow DAGs (``airflow/dags``, `ecomlake.airflow_dags`) make one task per step of their DAG,
  in this order: ``ecom_dim_refresh`` (Bronze dims sensor and gate, dims refresh, dims gate,
  promote dims) and ``ecom_silver_to_gold`` (Bronze sensor, dims sensor, Bronze gate, Base Silver,
  Silver gate, quarantine-rate gate, promote Silver, Enriched, Enriched gate, promote Enriched, Gold,
  BigQuery load).

A step is one write-audit-publish unit of a layer (Base Silver of a day is one dbt build, tested and
published atomically), a gate, a promote or a sensor. Steps share nothing in memory: every step
finds what an earlier step wrote through the run ids it derives from the day's run id
(``<run id>_silver`` is the Base Silver run, whose staged partitions and gate metrics the later
steps read), so an Airflow task can run in its own process, be retried or cleared alone.

Gates: a FAIL blocks (raises `GateFailed`, exit 1, nothing later runs) when the run is strict:
``strict=True``, or ``strict=None`` and the environment is ``prod``; otherwise it is a warning and
the day goes on. The quarantine-rate gate blocks in every environment (runbook section 5). A promote
never publishes a layer whose gate FAILed. The last step, ``load_bigquery``, loads Gold's rows of the
day into BigQuery when a project and a dataset are configured, and says so and does nothing otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ecomlake import ids, storage
from ecomlake.config import Settings
from ecomlake.contract import DIM_SNAPSHOTS, DIM_TABLES, FACT_TABLES
from ecomlake.errors import GateFailed, InputError
from ecomlake.runs import parse_date, utc_now_iso

DIMS_DAG = "ecom_dim_refresh"
DAY_DAG = "ecom_silver_to_gold"
DAGS = (DIMS_DAG, DAY_DAG)

SENSOR, TASK, GATE, PROMOTE = "sensor", "task", "gate", "promote"
ALERTS_DIR = "alerts"  # under the metrics root: one JSON per failed task (`write_alert`)

Echo = Callable[[str], None]


# ------------------------------------------------------------------------------------ the day


@dataclass
class Day:
    """One day of the pipeline: the settings (environment included), the date, the day's run id.

    `strict`: None lets the environment decide (prod blocks on a FAILed gate), True blocks on every
    FAIL (the demos, ``--strict``), False never blocks on the layer gates. `results` keeps what each
    step returned in this process (the demo's summary reads it); steps never rely on it.
    """

    settings: Settings
    date: str
    run_id: str
    strict: bool | None = None
    # duckdb | spark for dims, Base Silver and Enriched (None: DuckDB, and Enriched's own setting)
    engine: str | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.date = parse_date(self.date, "date").isoformat()
        ids.run_id(self.run_id, "run id")

    @property
    def environment(self) -> str:
        return self.settings.environment

    def run_of(self, layer: str) -> str:
        """The run id of a layer's run on this day (what its gate, promote and alerts find)."""
        return f"{self.run_id}_{layer}"

    def blocking(self, step: Step) -> bool:
        if step.always_blocking:
            return True
        if self.strict is not None:
            return self.strict
        return self.environment == "prod"


@dataclass
class Outcome:
    """What a step did: `status` ok | warn | waiting, one line for the console and the task log."""

    step: str
    status: str
    message: str
    gate: dict | None = None  # a gate's summary (status, metrics, report, problems)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"step": self.step, "status": self.status, "message": self.message, "gate": self.gate}


@dataclass(frozen=True)
class Step:
    name: str  # the Airflow task id and the line `ecomlake run` prints
    dag: str
    kind: str  # sensor | task | gate | promote
    layer: str  # bronze | dims | silver | enriched | gold
    action: Callable[[Day, Step], Outcome]
    always_blocking: bool = False
    doc: str = ""


# ------------------------------------------------------------------------------------ sensors


def missing_bronze(settings: Settings, tables: Iterable[str], day: str) -> list[str]:
    """The `_SUCCESS` markers of D's Bronze partitions that are not there yet.

    Returns and return items may have no partition on a quiet day; a partition that exists must be
    complete (its `_SUCCESS`, written last, is there).
    """
    from ecomlake.silver.codegen import OPTIONAL_BRONZE

    missing = []
    for table in tables:
        part = storage.partition_path(settings.paths.bronze_base_path, table, day)
        marker = storage.join(part, storage.SUCCESS_NAME)
        if storage.exists(marker):
            continue
        if table in OPTIONAL_BRONZE and not storage.isdir(part):
            continue
        missing.append(marker)
    return missing


def missing_dims(settings: Settings, day: str) -> list[str]:
    """The `_SUCCESS` markers of D's published dims snapshots that are not there yet."""
    from ecomlake.dims.snapshot import SNAPSHOT_KEY

    missing = []
    for dim in DIM_TABLES:
        part = storage.partition_path(settings.paths.silver_dims_path, DIM_SNAPSHOTS[dim], day, SNAPSHOT_KEY)
        marker = storage.join(part, storage.SUCCESS_NAME)
        if not storage.exists(marker):
            missing.append(marker)
    return missing


def _waiting(step: Step, missing: list[str], what: str) -> Outcome:
    if not missing:
        return Outcome(step.name, "ok", f"{what} is complete")
    more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
    return Outcome(step.name, "waiting", f"waiting for {missing[0]}{more}")


def _wait_bronze_dims(day: Day, step: Step) -> Outcome:
    return _waiting(step, missing_bronze(day.settings, DIM_TABLES, day.date), f"Bronze dims for {day.date}")


def _wait_bronze(day: Day, step: Step) -> Outcome:
    return _waiting(step, missing_bronze(day.settings, FACT_TABLES, day.date), f"Bronze for {day.date}")


def _wait_dims(day: Day, step: Step) -> Outcome:
    return _waiting(step, missing_dims(day.settings, day.date), f"the dims snapshot of {day.date}")


# -------------------------------------------------------------------------------------- gates


def gate_summary(metrics_path: str) -> dict:
    """The part of a gate's metrics JSON an operator reads first: status, counts, the first problems."""
    data = storage.read_json(metrics_path)
    checks = [c for c in data.get("checks", []) if c.get("status") != "PASS"]
    checks.sort(key=lambda c: c.get("status") != "FAIL")
    return {
        "gate": data.get("metadata", {}).get("metric_type") or data.get("gate"),
        "status": data.get("overall_status") or data.get("status"),
        "run_id": data.get("validation_metadata", {}).get("run_id") or data.get("run_id"),
        "metrics": metrics_path,
        "report": data.get("validation_metadata", {}).get("parameters", {}).get("output_report")
        or data.get("report_path"),
        "summary": data.get("summary"),
        "problems": [{k: c[k] for k in ("status", "name", "table", "message") if k in c} for c in checks[:5]]
        or [{"status": "FAIL", "name": k, "message": m} for k, m in data.get("exceeded_messages", {}).items()],
    }


def _metrics(settings: Settings, gate: str, run_id: str) -> str:
    return storage.join(settings.paths.metrics_base_path, f"{gate}_{run_id}.json")


def _judge(day: Day, step: Step, gate: str, run_id: str, report: str | None) -> Outcome:
    """Turn a gate's written result into the step's outcome; raise when it FAILed and blocks."""
    summary = gate_summary(_metrics(day.settings, gate, run_id))
    summary["report"] = summary.get("report") or report
    status = summary["status"]
    first = "; ".join(p["message"] for p in summary["problems"][:3])
    where = f"report {summary['report']}" if summary.get("report") else f"metrics {summary['metrics']}"
    if status == "FAIL":
        if day.blocking(step):
            raise GateFailed(f"{step.name} FAILED for {day.date} ({first}); {where}")
        why = "strict=false" if day.strict is False else f"environment {day.environment}"
        return Outcome(step.name, "warn", f"FAIL, not blocking ({why}): {first}; {where}", summary)
    counts = summary.get("summary") or {}
    detail = f"{counts.get('passed', 0)}/{counts.get('checks', 0)} checks passed" if counts else ""
    if status == "WARN":
        return Outcome(step.name, "warn", f"WARN ({first}); {where}", summary)
    return Outcome(step.name, "ok", f"PASS ({detail}); {where}", summary)


def _bronze_gate(tables: tuple[str, ...], layer: str, report_name: str) -> Callable[[Day, Step], Outcome]:
    def gate(day: Day, step: Step) -> Outcome:
        from ecomlake.bronze.validate import validate_bronze

        run_id = day.run_of(layer)
        report = storage.join(day.settings.paths.reports_base_path, f"{report_name}_{day.date}.md")
        validate_bronze(
            day.settings,
            partition_date=day.date,
            lookback_days=0,
            tables=list(tables),
            run_id=run_id,
            output_report=report,
            echo=False,
        )
        return _judge(day, step, "bronze_quality", run_id, report)

    return gate


def _dims_gate(day: Day, step: Step) -> Outcome:
    from ecomlake.dims.validate import validate_dims

    run_id = day.run_of("dims")
    _code, result = validate_dims(day.settings, day.date, run_id=run_id)
    day.results[step.name] = result
    report = storage.join(day.settings.paths.reports_base_path, f"DIMS_QUALITY_{day.date}.md")
    return _judge(day, step, "dims_quality", run_id, report)


def _silver_gate(day: Day, step: Step) -> Outcome:
    from ecomlake.silver.validate import validate_silver

    run_id = day.run_of("silver")
    _code, result = validate_silver(
        day.settings, partition_date=day.date, lookback_days=0, tables=list(FACT_TABLES), run_id=run_id, echo=False
    )
    day.results[step.name] = result
    return _judge(day, step, "silver_quality", run_id, None)


QUARANTINE_RATE_GATE = "quarantine_rate"


def quarantine_rate_message(table: str, rate: float, limit: float) -> str:
    """The runbook's message (section 5, Monitoring & Alerts), naming the table."""
    return f"{table}: Quarantine rate {rate:.2%} exceeds {limit:.2%}"


def _quarantine_rate_gate(day: Day, step: Step) -> Outcome:
    """Every fact table's quarantine rate of D, from the Silver gate's metrics, against
    MAX_QUARANTINE_RATE (a fraction; `silver.max_quarantine_pct` holds it in percent)."""
    run_id = day.run_of("silver")
    source = _metrics(day.settings, "silver_quality", run_id)
    if not storage.exists(source):
        raise InputError(f"no Silver gate metrics for run {run_id} ({source}); run the silver_gate step first")
    data = storage.read_json(source)
    limit = day.settings.silver.max_quarantine_pct / 100.0
    rates = {
        tm["table_name"]: round(float(tm.get("quarantine_pct") or 0.0) / 100.0, 6)
        for tm in data.get("table_metrics", [])
        if tm.get("table_name") in FACT_TABLES and tm.get("total_processed")
    }
    exceeded = {t: r for t, r in rates.items() if r > limit}
    messages = {t: quarantine_rate_message(t, r, limit) for t, r in exceeded.items()}
    status = "FAIL" if exceeded else "PASS"
    path = _metrics(day.settings, QUARANTINE_RATE_GATE, run_id)
    storage.write_json_atomic(
        path,
        {
            "gate": QUARANTINE_RATE_GATE,
            "run_id": run_id,
            "ingest_dt": day.date,
            "written_at": utc_now_iso(),
            "environment": day.environment,
            "max_quarantine_rate": limit,
            "rates": rates,
            "exceeded": exceeded,
            "exceeded_messages": messages,
            "silver_metrics": source,
            "status": status,
        },
    )
    summary = gate_summary(path)
    if exceeded:
        raise GateFailed(
            f"{'; '.join(messages.values())} (MAX_QUARANTINE_RATE); nothing later runs and nothing is promoted; "
            f"see `ecomlake quarantine summary` and runbook section 5; {path}"
        )
    worst = max(rates.items(), key=lambda kv: kv[1], default=None)
    top = f"highest {worst[0]} {worst[1]:.2%}" if worst else "no rows"
    return Outcome(step.name, "ok", f"every fact table within {limit:.2%} ({top}); {path}", summary)


def _enriched_gate(day: Day, step: Step) -> Outcome:
    from ecomlake.enriched.validate import validate_enriched

    run_id = day.run_of("enriched")
    _code, result = validate_enriched(day.settings, ingest_dt=day.date, run_id=run_id)
    day.results[step.name] = result
    return _judge(day, step, "enriched_quality", run_id, result.extra.get("report_path"))


# ---------------------------------------------------------------------------------- the layers


def _dims_refresh(day: Day, step: Step) -> Outcome:
    from ecomlake.dims.snapshot import run_dims

    settings = day.settings
    if settings.publish.silver_publish_mode == "staging":
        # The snapshot is built from the dims' Base Silver of D, so that Silver is published with the
        # dims run; what readers see of the dims (the snapshot) follows DIMS_PUBLISH_MODE.
        settings = settings.model_copy(deep=True)
        settings.publish.silver_publish_mode = "direct"
    run = run_dims(settings, day.date, run_id=day.run_of("dims"), engine=day.engine or "duckdb")
    day.results[step.name] = run
    verb = "staged" if settings.publish.dims_publish_mode == "staging" else "published"
    rows = ", ".join(f"{name} {n:,} rows" for name, n in run.rows.items())
    return Outcome(step.name, "ok", f"snapshot {day.date} {verb} ({rows}; run {run.run_id})")


def _base_silver(day: Day, step: Step) -> Outcome:
    from ecomlake.silver.run import run_tables

    run = run_tables(day.settings, day.date, "facts", run_id=day.run_of("silver"), engine=day.engine or "duckdb")
    day.results[step.name] = run
    bronze = sum(t.bronze_rows for t in run.tables)
    silver = sum(t.silver_rows for t in run.tables)
    quarantine = sum(t.quarantine_rows for t in run.tables)
    verb = "staged" if run.publish_mode == "staging" else "published"
    return Outcome(
        step.name,
        "ok",
        f"{bronze:,} bronze -> {silver:,} silver + {quarantine:,} quarantine {verb}; dbt {run.dbt.get('models_built', 0)} "
        f"models, {run.dbt.get('tests_passed', 0)} tests passed (run {run.run_id})",
    )


def _enriched(day: Day, step: Step) -> Outcome:
    from ecomlake.enriched.runner import run_enriched

    run = run_enriched(day.settings, day.date, run_id=day.run_of("enriched"), engine=day.engine)
    day.results[step.name] = run
    verb = "staged" if run.publish_mode == "staging" else "published"
    warn = f"; warnings: {'; '.join(run.warnings)}" if run.warnings else ""
    return Outcome(
        step.name,
        "warn" if run.warnings else "ok",
        f"{sum(t.rows for t in run.tables):,} rows in {len(run.tables)} tables {verb} (run {run.run_id}){warn}",
    )


def _gold(day: Day, step: Step) -> Outcome:
    from ecomlake.gold.runner import run_gold

    run = run_gold(day.settings, run_date=day.date, run_id=day.run_of("gold"))
    day.results[step.name] = run
    return Outcome(
        step.name, "ok", f"{len(run.marts)} marts as of {day.date}, {run.tests_passed} tests passed -> {run.warehouse}"
    )


def _load_bigquery(day: Day, step: Step) -> Outcome:
    """Gold's rows of D into `<project>.<dataset>.<mart>$YYYYMMDD` (WRITE_TRUNCATE), when a project
    and a dataset are configured (bigquery.project/dataset, BIGQUERY_PROJECT/BIGQUERY_DATASET)."""
    bq = day.settings.bigquery
    if not (bq.project and bq.dataset):
        return Outcome(step.name, "ok", "BigQuery not configured (BIGQUERY_PROJECT, BIGQUERY_DATASET): nothing loaded")
    from ecomlake.gold.bigquery import load

    plan = load(day.settings, day.date, bq.project, bq.dataset, location=bq.location)
    day.results[step.name] = plan
    rows = sum(m.rows for m in plan.loads)
    return Outcome(
        step.name, "ok", f"{len(plan.loads)} marts, {rows} rows of {day.date} into {bq.project}.{bq.dataset}"
    )


# ----------------------------------------------------------------------------------- promotes

# Which gate (metrics prefix) each promote waits for.
_PROMOTED_GATE = {"dims": "dims_quality", "silver": "silver_quality", "enriched": "enriched_quality"}


def _promote(layer: str, mode_var: str) -> Callable[[Day, Step], Outcome]:
    def promote_step(day: Day, step: Step) -> Outcome:
        from ecomlake.promote import promote, publish_mode

        run_id = day.run_of(layer)
        metrics = _metrics(day.settings, _PROMOTED_GATE[layer], run_id)
        status = storage.read_json(metrics).get("overall_status") if storage.exists(metrics) else None
        staging = publish_mode(day.settings, layer) == "staging"
        if status is None and (staging or layer == "enriched"):
            raise InputError(f"the {layer} gate of run {run_id} has not run ({metrics}); not promoting")
        if not staging:
            message = f"nothing to promote ({mode_var}=direct: run {run_id} published its partitions itself)"
            if layer == "enriched":  # what readers see as current moves after the gate, in both modes
                from ecomlake.enriched.current import publish_current

                message += f"; {publish_current(day.settings, day.date, run_id, str(status))}"
            return Outcome(step.name, "ok", message)
        if status == "FAIL":
            raise GateFailed(
                f"the {layer} gate FAILED for run {run_id}: not promoted, readers keep the previous data; "
                f"fix the cause and rerun the day (metrics {metrics})"
            )
        result = promote(day.settings, layer, run_id)
        return Outcome(step.name, "ok", result.message)

    return promote_step


# ---------------------------------------------------------------------------------- the steps

STEPS: tuple[Step, ...] = (
    # ecom_dim_refresh: the dims snapshot of D (Base Silver of customers and product_catalog, then
    # snapshot(D) = snapshot(D-1) + the day's valid changes).
    Step("wait_for_bronze_dims", DIMS_DAG, SENSOR, "bronze", _wait_bronze_dims, doc="D's dims Bronze has _SUCCESS"),
    Step(
        "bronze_dims_gate",
        DIMS_DAG,
        GATE,
        "bronze",
        _bronze_gate(DIM_TABLES, "bronze_dims", "BRONZE_DIMS_QUALITY"),
        doc="Bronze gate",
    ),
    Step("dims_refresh", DIMS_DAG, TASK, "dims", _dims_refresh, doc="dims Base Silver + snapshot(D)"),
    Step("dims_gate", DIMS_DAG, GATE, "dims", _dims_gate, doc="dims gate"),
    Step("promote_dims_snapshot", DIMS_DAG, PROMOTE, "dims", _promote("dims", "DIMS_PUBLISH_MODE")),
    # ecom_silver_to_gold: facts of D through Gold, once D's dims snapshot is published.
    Step("wait_for_bronze", DAY_DAG, SENSOR, "bronze", _wait_bronze, doc="D's fact Bronze has _SUCCESS"),
    Step("wait_for_dims", DAY_DAG, SENSOR, "dims", _wait_dims, doc="D's dims snapshot is published"),
    Step(
        "bronze_gate", DAY_DAG, GATE, "bronze", _bronze_gate(FACT_TABLES, "bronze", "BRONZE_QUALITY"), doc="Bronze gate"
    ),
    Step("base_silver", DAY_DAG, TASK, "silver", _base_silver, doc="dbt build + tests, silver and quarantine"),
    Step("silver_gate", DAY_DAG, GATE, "silver", _silver_gate, doc="Silver gate"),
    Step(
        "quarantine_rate_gate",
        DAY_DAG,
        GATE,
        "silver",
        _quarantine_rate_gate,
        always_blocking=True,
        doc="every fact table's quarantine rate <= MAX_QUARANTINE_RATE",
    ),
    Step("promote_silver_base", DAY_DAG, PROMOTE, "silver", _promote("silver", "SILVER_PUBLISH_MODE")),
    Step("enriched", DAY_DAG, TASK, "enriched", _enriched, doc="the ten Enriched tables"),
    Step("enriched_gate", DAY_DAG, GATE, "enriched", _enriched_gate, doc="Enriched gate"),
    Step("promote_enriched", DAY_DAG, PROMOTE, "enriched", _promote("enriched", "ENRICHED_PUBLISH_MODE")),
    Step("gold", DAY_DAG, TASK, "gold", _gold, doc="the eight Gold marts as of D"),
    Step("load_bigquery", DAY_DAG, TASK, "gold", _load_bigquery, doc="Gold of D into BigQuery, when configured"),
)

STEP_NAMES = tuple(s.name for s in STEPS)


def step(name: str) -> Step:
    for s in STEPS:
        if s.name == name:
            return s
    raise InputError(f"unknown pipeline step {name!r} (steps: {', '.join(STEP_NAMES)})")


def steps(dag: str | None = None, *, without: Iterable[str] = (), only: Iterable[str] | None = None) -> list[Step]:
    """The steps of one DAG (or of the whole day), in order."""
    if dag is not None and dag not in DAGS:
        raise InputError(f"unknown DAG {dag!r} (DAGs: {', '.join(DAGS)})")
    skip, keep = set(without), set(only) if only is not None else None
    for name in skip | (keep or set()):
        step(name)
    return [
        s for s in STEPS if (dag is None or s.dag == dag) and s.name not in skip and (keep is None or s.name in keep)
    ]


# ------------------------------------------------------------------------------------ running


def run_step(day: Day, name: str) -> Outcome:
    """Run one step of `day` (a sensor looks once: `status` is 'waiting' when its input is not there)."""
    s = step(name)
    t0 = time.perf_counter()
    outcome = s.action(day, s)
    outcome.seconds = round(time.perf_counter() - t0, 2)
    return outcome


def run_day(day: Day, plan: Iterable[Step], echo: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run `plan` in order for `day`. A sensor whose input is missing stops the day (InputError, exit 2:
    in process nothing waits); a blocking gate raises GateFailed (exit 1) and nothing later runs."""
    from ecomlake.lake import missing_bronze_hint

    outcomes = []
    for s in plan:
        outcome = run_step(day, s.name)
        if outcome.status == "waiting":
            hint = f"; {missing_bronze_hint(day.settings, day.date)}" if s.layer == "bronze" else ""
            if s.name == "wait_for_dims":
                hint = f"; run the dims steps first (`ecomlake run --date {day.date}` runs them)"
            raise InputError(f"{s.name}: {outcome.message.replace('waiting for', 'missing')}{hint}")
        outcomes.append(outcome)
        if echo:
            echo(outcome)
    return outcomes


def dates_between(start: str, end: str) -> list[str]:
    a, b = parse_date(start, "--start"), parse_date(end, "--end")
    if b < a:
        raise InputError(f"--end {b} is before --start {a}")
    return [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


# ------------------------------------------------------------------------------ Airflow helpers


def airflow_run_id(raw: str) -> str:
    """A lake run id from an Airflow run id (``scheduled__2023-01-01T00:00:00+00:00``)."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "", raw.replace(" ", "_"))[:100] or "airflow"
    if not value[0].isalnum():
        value = "r" + value
    return ids.run_id(value, "Airflow run id")


def alert_path(settings: Settings, dag_id: str, task_id: str, date: str, run_id: str) -> str:
    safe = airflow_run_id(f"{dag_id}__{task_id}__{date}__{run_id}")
    return storage.join(settings.paths.metrics_base_path, ALERTS_DIR, f"{safe}.json")


def write_alert(
    settings: Settings,
    *,
    dag_id: str,
    task_id: str,
    date: str,
    run_id: str,
    error: str,
    try_number: int | None = None,
) -> str:
    """The structured alert of a failed task: ``<metrics>/alerts/<dag>__<task>__<date>__<run>.json``.

    Names the DAG, task, date and run, the error's first line, and for a gate the failing gate's
    summary (status, first problems, metrics and report paths); for a sensor, what it waited for.
    """
    day = Day(settings, date, airflow_run_id(run_id))
    gate = None
    waiting = None
    known = task_id in STEP_NAMES
    s = step(task_id) if known else None
    if s is not None and s.kind == GATE:
        prefix = {
            "bronze_dims_gate": ("bronze_quality", "bronze_dims"),
            "bronze_gate": ("bronze_quality", "bronze"),
            "dims_gate": ("dims_quality", "dims"),
            "silver_gate": ("silver_quality", "silver"),
            "quarantine_rate_gate": (QUARANTINE_RATE_GATE, "silver"),
            "enriched_gate": ("enriched_quality", "enriched"),
        }[task_id]
        path = _metrics(settings, prefix[0], day.run_of(prefix[1]))
        if storage.exists(path):
            gate = gate_summary(path)
    if s is not None and s.kind == SENSOR:
        missing = {
            "wait_for_bronze_dims": lambda: missing_bronze(settings, DIM_TABLES, date),
            "wait_for_bronze": lambda: missing_bronze(settings, FACT_TABLES, date),
            "wait_for_dims": lambda: missing_dims(settings, date),
        }[task_id]()
        waiting = missing
    lines = str(error).strip().splitlines()
    path = alert_path(settings, dag_id, task_id, date, run_id)
    storage.write_json_atomic(
        path,
        {
            "alert": "task_failed",
            "dag_id": dag_id,
            "task_id": task_id,
            "date": date,
            "run_id": run_id,
            "lake_run_id": day.run_id,
            "try_number": try_number,
            "environment": settings.environment,
            "failed_at": utc_now_iso(),
            "error": lines[0] if lines else "",
            "gate": gate,
            "waiting_for": waiting,
            "clear": f"airflow tasks clear {dag_id} -t {task_id} -s {date} -e {date}",
        },
    )
    return path
