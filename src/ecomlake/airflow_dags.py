"""The Airflow DAGs of the daily pipeline, built from `ecomlake.pipeline.STEPS` (Airflow 3.3).

``airflow/dags/ecom_dim_refresh.py`` and ``airflow/dags/ecom_silver_to_gold.py`` call `build_dag`.
One task per step of the DAG, chained in the pipeline's order; each task calls the Python API
(`pipeline.run_step`) in the worker's process: no shell, no CLI.

- Schedule: `orchestration.schedule` (``@daily``) as data intervals, so the run of day D starts
  after D ends and processes D; ``catchup=False``; ``max_active_runs=1`` (a day builds on the one
  before: snapshot(D-1), Enriched state); backfills by date range run day by day.
- Sensors (``wait_for_*``) poke for the day's ``_SUCCESS`` markers in reschedule mode (no worker
  slot held between pokes), with `orchestration.sensor_timeout_seconds` / ``..._poke_interval_seconds``.
- Retries and retry delay per environment (`orchestration.retries`, ``retry_delay_seconds``) of the
  process that parses the DAG (``PIPELINE_ENV``). Gates never retry: a FAILed blocking gate raises
  ``AirflowFailException`` (its data will not change by waiting).
- Params ``environment`` (local | dev | prod) and ``strict`` (true | false) override, per run, the
  environment the steps see and whether a FAILed layer gate blocks; null keeps the configured ones.
- ``on_failure_callback`` writes a structured alert (`pipeline.write_alert`) to
  ``<metrics>/alerts/<dag>__<task>__<date>__<run>.json``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ecomlake import pipeline
from ecomlake.config import Settings, load_settings

log = logging.getLogger("ecomlake.airflow")

TAGS = {pipeline.DIMS_DAG: ["ecomlake", "dims"], pipeline.DAY_DAG: ["ecomlake", "silver", "gold"]}
DOCS = {
    pipeline.DIMS_DAG: "Dims snapshot of the day: Bronze dims sensor and gate, dims refresh (Base Silver of "
    "customers and product_catalog, then snapshot(D)), dims gate, promote.",
    pipeline.DAY_DAG: "The day's facts through Gold, once its Bronze and its dims snapshot are there: Bronze gate, "
    "Base Silver, Silver gate, quarantine-rate gate, promote, Enriched, Enriched gate, promote, Gold.",
}


def _settings(context: dict[str, Any]) -> Settings:
    params = context.get("params") or {}
    return load_settings(overrides={"environment": params.get("environment")})


def _date(context: dict[str, Any]) -> str:
    """The day a run processes: its logical date (the start of its data interval)."""
    for key in ("logical_date", "data_interval_start", "run_after"):
        value = context.get(key)
        if value is not None:
            return value.date().isoformat() if isinstance(value, dt.datetime) else str(value)[:10]
    return str(context["ds"])


def day_from_context(context: dict[str, Any]) -> pipeline.Day:
    params = context.get("params") or {}
    return pipeline.Day(
        _settings(context),
        _date(context),
        pipeline.airflow_run_id(str(context["run_id"])),
        strict=params.get("strict"),
    )


def run_step(step: str, **context: Any) -> dict:
    """A task: run one pipeline step for the run's day; the outcome goes to the log and XCom."""
    from airflow.sdk.exceptions import AirflowFailException

    from ecomlake.errors import GateFailed

    day = day_from_context(context)
    log.info("%s for %s (run %s, environment %s, strict %s)", step, day.date, day.run_id, day.environment, day.strict)
    try:
        outcome = pipeline.run_step(day, step)
    except GateFailed as exc:
        raise AirflowFailException(exc.message) from None
    log.info("[%s] %s: %s", outcome.status, step, outcome.message)
    return outcome.to_dict()


def poke_step(step: str, **context: Any) -> bool:
    """A sensor's poke: True once the day's input is complete."""
    outcome = pipeline.run_step(day_from_context(context), step)
    log.info("%s: %s", step, outcome.message)
    return outcome.status == "ok"


def on_task_failure(context: dict[str, Any]) -> None:
    """Write the structured alert of a failed task (never raises: an alert must not mask the failure)."""
    try:
        ti = context["ti"]
        error = context.get("exception")
        path = pipeline.write_alert(
            _settings(context),
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            date=_date(context),
            run_id=str(context["run_id"]),
            error=f"{type(error).__name__}: {error}" if error is not None else "task failed",
            try_number=getattr(ti, "try_number", None),
        )
        log.error("alert written: %s", path)
    except Exception:
        log.exception("could not write the alert")


def build_dag(dag_id: str) -> Any:
    """The DAG `dag_id` (``ecom_dim_refresh`` or ``ecom_silver_to_gold``) from the pipeline's steps."""
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.providers.standard.sensors.python import PythonSensor
    from airflow.sdk import DAG, CronDataIntervalTimetable, Param

    settings = load_settings()
    orch = settings.orchestration
    env = settings.environment
    plan = pipeline.steps(dag_id)
    default_args = {
        "owner": "ecomlake",
        "retries": orch.retries[env],
        "retry_delay": dt.timedelta(seconds=orch.retry_delay_seconds[env]),
        "on_failure_callback": on_task_failure,
    }
    params = {
        "environment": Param(
            None,
            type=["null", "string"],
            enum=[None, "local", "dev", "prod"],
            description="Environment the steps see (null: PIPELINE_ENV, then config). Layer gates block in prod.",
        ),
        "strict": Param(
            None,
            type=["null", "boolean"],
            description="true: every FAILed gate blocks; false: no layer gate blocks; null: the environment "
            "decides. The quarantine-rate gate always blocks.",
        ),
    }
    with DAG(
        dag_id,
        description=DOCS[dag_id],
        doc_md=DOCS[dag_id] + "\n\nSteps: " + " → ".join(f"`{s.name}`" for s in plan),
        schedule=CronDataIntervalTimetable(orch.schedule, timezone="UTC"),
        start_date=dt.datetime.fromisoformat(orch.start_date).replace(tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        default_args=default_args,
        params=params,
        tags=TAGS[dag_id],
    ) as dag:
        previous = None
        for s in plan:
            if s.kind == pipeline.SENSOR:
                task = PythonSensor(
                    task_id=s.name,
                    python_callable=poke_step,
                    op_kwargs={"step": s.name},
                    mode="reschedule",
                    timeout=orch.sensor_timeout_seconds,
                    poke_interval=orch.sensor_poke_interval_seconds,
                    retries=0,  # a sensor's timeout is its retry budget
                    doc_md=s.doc,
                )
            else:
                task = PythonOperator(
                    task_id=s.name,
                    python_callable=run_step,
                    op_kwargs={"step": s.name},
                    retries=0 if s.kind == pipeline.GATE else orch.retries[env],
                    doc_md=s.doc or None,
                )
            if previous is not None:
                previous >> task
            previous = task
    return dag
