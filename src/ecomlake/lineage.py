"""OpenLineage events for every layer run and every gate.

Each run (dims, Base Silver, Enriched, Gold, a quarantine recovery) emits START, then COMPLETE or
FAIL, through the OpenLineage Python client (both are written when the run ends, each with the time
it happened; a run refused before it wrote anything, exit 2, emits nothing, as it writes no metrics); each gate emits START, then COMPLETE (PASS or WARN)
or FAIL (a FAIL verdict), with its checks as a `dataQualityAssertions` facet on the datasets it
judged. Datasets are tables named by their lake paths (OpenLineage naming: `file` + the absolute
path, or `gs://<bucket>` + the object prefix), so Marquez, DataHub or Airflow's OpenLineage
provider join the lake's jobs into one graph.

Events always go to `<paths.lineage_path>/<run_id>.jsonl` (default `data/lineage/`) (one JSON event per line, the client's
file transport) and also to `lineage.url` over HTTP when it is set. Emitting never changes the
outcome of a run: a failure to write or post an event is one warning line on stderr.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ecomlake import __version__, ids, storage
from ecomlake.config import Settings
from ecomlake.contract import DIM_SNAPSHOTS, DIM_TABLES, FACT_TABLES, TABLES
from ecomlake.errors import InputError
from ecomlake.locks import LeaseHeld
from ecomlake.runs import resolve_run_id

PRODUCER = f"https://github.com/ecomlake/ecomlake/tree/v{__version__}"
JOB_TYPE = "ECOMLAKE"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Dataset:
    """A lake table: `<root>/<table>` (the partitions below it are its versions)."""

    root: str
    table: str

    @property
    def path(self) -> str:
        return storage.join(self.root, self.table) if self.table else self.root

    def naming(self) -> tuple[str, str]:
        from openlineage.client.naming.dataset import GCS, LocalFileSystem

        if self.path.startswith("gs://"):
            bucket, _, key = self.path[len("gs://") :].partition("/")
            gcs = GCS(bucket_name=bucket, object_key=key or "/")
            return gcs.get_namespace(), gcs.get_name()
        local = LocalFileSystem(path=os.path.abspath(self.path))
        return local.get_namespace(), local.get_name()


# ------------------------------------------------------------------------------ what each job reads and writes


def _bronze(s: Settings, tables: Iterable[str]) -> list[Dataset]:
    return [Dataset(s.paths.bronze_base_path, t) for t in tables]


def _silver(s: Settings, tables: Iterable[str]) -> list[Dataset]:
    return [Dataset(s.paths.silver_base_path, t) for t in tables]


def _quarantine(s: Settings, tables: Iterable[str]) -> list[Dataset]:
    return [Dataset(s.paths.quarantine_path, t) for t in tables]


def _snapshots(s: Settings) -> list[Dataset]:
    return [Dataset(s.paths.silver_dims_path, DIM_SNAPSHOTS[t]) for t in DIM_TABLES]


def _enriched(s: Settings) -> list[Dataset]:
    from ecomlake.transforms.schemas import TABLE_NAMES

    return [Dataset(s.paths.silver_enriched_path, t) for t in TABLE_NAMES]


def _gold(s: Settings) -> list[Dataset]:
    from ecomlake.gold.runner import MARTS

    return [Dataset(s.paths.gold_path, m) for m in MARTS]


def _silver_io(s: Settings, a: dict) -> tuple[list[Dataset], list[Dataset]]:
    tables = FACT_TABLES if a.get("group", "facts") == "facts" else DIM_TABLES
    inputs = _bronze(s, tables) + (_snapshots(s) if tables == FACT_TABLES else [])
    return inputs, _silver(s, tables) + _quarantine(s, tables)


def _silver_rows(s: Settings, result: Any) -> dict[Dataset, int]:
    rows: dict[Dataset, int] = {}
    for t in result.tables:
        rows[Dataset(s.paths.silver_base_path, t.table)] = t.silver_rows
        rows[Dataset(s.paths.quarantine_path, t.table)] = t.quarantine_rows
    return rows


@dataclass(frozen=True)
class Job:
    name: Callable[[dict], str]
    io: Callable[[Settings, dict], tuple[list[Dataset], list[Dataset]]]
    rows: Callable[[Settings, Any], dict[Dataset, int]]
    date_arg: str
    run_prefix: str = ""


JOBS: dict[str, Job] = {
    "dims": Job(
        lambda a: "dims_snapshot",
        lambda s, a: (_bronze(s, DIM_TABLES) + _snapshots(s), _snapshots(s)),
        lambda s, r: {Dataset(s.paths.silver_dims_path, name): n for name, n in r.rows.items()},
        "run_date",
    ),
    "silver": Job(lambda a: f"base_silver_{a.get('group', 'facts')}", _silver_io, _silver_rows, "ingest_dt"),
    "enriched": Job(
        lambda a: "enriched",
        lambda s, a: (_silver(s, FACT_TABLES) + _snapshots(s), _enriched(s)),
        lambda s, r: {Dataset(s.paths.silver_enriched_path, t.table): t.rows for t in r.tables},
        "ingest_dt",
        "enriched_",
    ),
    "gold": Job(
        lambda a: "gold",
        lambda s, a: (_enriched(s), _gold(s)),
        lambda s, r: {Dataset(s.paths.gold_path, m.name): m.rows for m in r.marts},
        "run_date",
        "gold_",
    ),
    "recover": Job(
        lambda a: "quarantine_recover",
        lambda s, a: (_quarantine(s, [a["table"]]), _silver(s, [a["table"]]) + _quarantine(s, [a["table"]])),
        lambda s, r: {},
        "ingest_dt",
    ),
}

# Gate name (GateResult.gate) -> the layer root its checks judge.
GATE_ROOTS: dict[str, Callable[[Settings], str]] = {
    "bronze_quality": lambda s: s.paths.bronze_base_path,
    "dims_quality": lambda s: s.paths.silver_dims_path,
    "silver_quality": lambda s: s.paths.silver_base_path,
    "enriched_quality": lambda s: s.paths.silver_enriched_path,
}


# ------------------------------------------------------------------------------ emitting


def _warn(message: str) -> None:
    print(f"warning: lineage: {message}", file=sys.stderr)


def _clients(settings: Settings, run_id: str) -> list[Any]:
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    os.makedirs(settings.paths.lineage_dir, exist_ok=True)
    path = os.path.join(settings.paths.lineage_dir, f"{ids.run_id(run_id)}.jsonl")
    transports: list[Any] = [FileTransport(FileConfig(log_file_path=path, append=True))]
    lin = settings.lineage
    if lin.url:
        retry = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.3, "status_forcelist": [500, 502, 503, 504]}
        transports.append(
            HttpTransport(HttpConfig(url=lin.url, endpoint=lin.endpoint, timeout=lin.timeout_s, retry=retry))
        )
    return [OpenLineageClient(transport=t) for t in transports]


class _Run:
    """One OpenLineage run. Events are built when they happen (their eventTime) and written by `send`."""

    def __init__(self, settings: Settings, job: str, run_id: str, day: str | None) -> None:
        from openlineage.client.uuid import generate_new_uuid

        self.settings, self.job, self.run_id, self.day = settings, job, run_id, day
        self.uuid = str(generate_new_uuid())

    def event(
        self,
        state: str,
        inputs: list[tuple[Dataset, dict]],
        outputs: list[tuple[Dataset, dict]],
        error: str | None = None,
    ) -> Any:
        if not self.settings.lineage.enabled:
            return None
        try:
            return self._event(state, inputs, outputs, error)
        except Exception as exc:  # never fail a run because lineage cannot be written
            _warn(f"{self.job} {state} event of run {self.run_id} not built: {exc}")
            return None

    def send(self, *events: Any) -> None:
        events = tuple(e for e in events if e is not None)
        if not events:
            return
        try:
            clients = _clients(self.settings, self.run_id)
        except Exception as exc:
            _warn(f"events of run {self.run_id} not emitted: {exc}")
            return
        for event in events:
            for client in clients:
                try:
                    client.emit(event)
                except Exception as exc:
                    where = getattr(client.transport, "kind", "transport")
                    state = event.eventType.value
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    _warn(f"{self.job} {state} event of run {self.run_id} not sent ({where}): {first}")

    def _event(
        self, state: str, inputs: list[tuple[Dataset, dict]], outputs: list[tuple[Dataset, dict]], error: str | None
    ) -> Any:
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import (
            error_message_run,
            job_type_job,
            nominal_time_run,
            set_producer,
            tags_run,
        )

        set_producer(PRODUCER)
        run_facets: dict[str, Any] = {
            "tags": tags_run.TagsRunFacet(
                tags=[
                    tags_run.TagsRunFacetFields(key="ecomlake.run_id", value=self.run_id, source="ECOMLAKE"),
                    tags_run.TagsRunFacetFields(
                        key="ecomlake.environment", value=self.settings.environment, source="ECOMLAKE"
                    ),
                ]
            )
        }
        if self.day:
            start = dt.datetime.fromisoformat(self.day).replace(tzinfo=dt.UTC)
            run_facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=start.isoformat(), nominalEndTime=(start + dt.timedelta(days=1)).isoformat()
            )
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python"
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration=JOB_TYPE, jobType="JOB")
        }

        def ds(cls: Any, d: Dataset, facets: dict, key: str) -> Any:
            namespace, name = d.naming()
            return cls(namespace=namespace, name=name, **({key: facets} if facets else {}))

        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=Run(runId=self.uuid, facets=run_facets),
            job=Job(namespace=self.settings.lineage.namespace, name=self.job, facets=job_facets),
            inputs=[ds(InputDataset, d, f, "inputFacets") for d, f in inputs],
            outputs=[ds(OutputDataset, d, f, "outputFacets") for d, f in outputs],
            producer=PRODUCER,
        )


def emits(kind: str) -> Callable[[F], F]:
    """Decorate a layer's run function so every call emits START and COMPLETE/FAIL.

    The function must take `settings` first, a `run_id` keyword and the date argument its Job names;
    a run id the caller left out is resolved here (as the function would) so START and the run's
    own records carry the same id.
    """
    job = JOBS[kind]

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            a = bound.arguments
            settings: Settings = a["settings"]
            day = a.get(job.date_arg)
            day_text = _valid_day(day.isoformat() if isinstance(day, dt.date) else day)
            bad = (day is not None and day_text is None) or ("table" in a and a["table"] not in TABLES)
            if bad or a.get("dry_run"):  # bad arguments are refused by the function itself; a dry run writes nothing
                return fn(*bound.args, **bound.kwargs)
            a["run_id"] = resolve_run_id(a.get("run_id"), job.run_prefix)
            inputs, outputs = job.io(settings, a)
            r = _Run(settings, job.name(a), a["run_id"], day_text)
            start = r.event("START", [(d, {}) for d in inputs], [(d, {}) for d in outputs])
            try:
                result = fn(*bound.args, **bound.kwargs)
            except (InputError, LeaseHeld):
                raise  # refused before it wrote anything (bad argument, missing input, a held lease): no events
            except BaseException as exc:
                text = str(exc).strip()
                error = text.splitlines()[0] if text else type(exc).__name__
                r.send(start, r.event("FAIL", [(d, {}) for d in inputs], [], error=error))
                raise
            r.send(
                start, r.event("COMPLETE", [(d, {}) for d in inputs], _with_rows(outputs, _rows(job, settings, result)))
            )
            return result

        return run  # type: ignore[return-value]

    return wrap


def _valid_day(day: Any) -> str | None:
    if not isinstance(day, str) or not day:
        return None
    try:
        return dt.date.fromisoformat(day).isoformat() if len(day) == 10 else None
    except ValueError:
        return None


def _rows(job: Job, settings: Settings, result: Any) -> dict[Dataset, int]:
    try:
        return job.rows(settings, result)
    except Exception:  # a result without counts (a dry run, staging): the event goes without them
        return {}


def _with_rows(outputs: list[Dataset], rows: dict[Dataset, int]) -> list[tuple[Dataset, dict]]:
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    return [
        (d, {"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=int(rows[d]))} if d in rows else {})
        for d in outputs
    ]


def gate(settings: Settings, result: Any) -> None:
    """START, then COMPLETE (PASS, WARN) or FAIL (FAIL verdict) of a gate, with its checks as assertions."""
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

    if not settings.lineage.enabled or result.gate not in GATE_ROOTS:
        return
    root = GATE_ROOTS[result.gate](settings)
    by_table: dict[Dataset, list[Any]] = {}
    for c in result.checks:
        table = c.table
        if result.gate == "dims_quality" and table in DIM_SNAPSHOTS:
            table = DIM_SNAPSHOTS[table]
        d = Dataset(root, table or "")
        status = c.status.value
        by_table.setdefault(d, []).append(
            dq.Assertion(
                assertion=c.name,
                success=status != "FAIL",
                severity={"FAIL": "error", "WARN": "warn"}.get(status),
                description=c.message[:500],
                actual=None if c.observed is None else str(c.observed)[:200],
                expected=None if c.threshold is None else str(c.threshold)[:200],
                params={"partition": c.partition} if c.partition else {},
            )
        )
    p = result.parameters
    day = p.get("partition_date") or p.get("run_date") or p.get("ingest_dt")
    r = _Run(settings, result.gate.replace("_quality", "_gate"), result.run_id, _valid_day(day))
    facet = dq.DataQualityAssertionsDatasetFacet
    inputs = [(d, {"dataQualityAssertions": facet(assertions=a)}) for d, a in by_table.items()]
    start = r.event("START", [(d, {}) for d, _ in inputs], [])
    if result.overall_status.value == "FAIL":
        failed = next(c for c in result.checks if c.status.value == "FAIL")
        r.send(start, r.event("FAIL", inputs, [], error=f"gate FAIL: {failed.name}: {failed.message}"[:1000]))
    else:
        r.send(start, r.event("COMPLETE", inputs, []))
