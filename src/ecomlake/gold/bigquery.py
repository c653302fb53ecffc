"""`ecomlake gold load-bigquery`: each Gold mart's rows of one date into BigQuery, replacing that
date's partition and nothing else, so a rerun never duplicates.

Per mart, the rows of the date (from the mart's Gold export, `<gold>/<mart>/part-0000.parquet`,
local or gs://) are written to one parquet file and loaded with a load job into the partition
decorator ``<project>.<dataset>.<mart>$YYYYMMDD`` with ``WRITE_TRUNCATE``: BigQuery replaces
exactly that day (the decorator matches the rows' partition values). A date without rows loads
an empty file, which empties the partition. Tables are created when absent, day-partitioned on the
mart's date column and clustered on the rest of its grain.

`--dry-run` prints the job configurations (JSON) without credentials or a client. Credentials are
`GOOGLE_APPLICATION_CREDENTIALS` or application default credentials; `BIGQUERY_EMULATOR_HOST`
(e.g. ``http://127.0.0.1:9050``) points the client at a local emulator instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.errors import EcomlakeError, InputError
from ecomlake.gold.runner import EXPORT_FILE, MARTS

EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"

# The mart's date column (the BigQuery partitioning field) and the rest of its grain (clustering),
# from the `grain` of each mart's YAML in dbt_duckdb/models/gold (tests/unit/test_bigquery.py keeps them in sync).
PARTITIONING: dict[str, tuple[str, tuple[str, ...]]] = {
    "fct_finance_revenue": ("order_date", ("order_channel", "region")),
    "fct_marketing_attribution": ("metric_date", ("channel",)),
    "fct_sales_operations": ("order_date", ("product_id",)),
    "fct_cart_abandonment": ("cart_date", ()),
    "fct_product_profitability": ("product_date", ("product_id",)),
    "fct_customer_segments": ("snapshot_date", ("customer_segment", "predicted_clv_bucket", "actual_clv_bucket")),
    "fct_daily_dashboard": ("metric_date", ()),
    "fct_shipping_analysis": ("order_date", ("order_channel", "shipping_speed")),
}
assert set(PARTITIONING) == set(MARTS)


class BigQueryError(EcomlakeError):
    """BigQuery refused or could not be reached (exit 2)."""


@dataclass
class MartLoad:
    mart: str
    source: str
    destination: str  # project.dataset.table$YYYYMMDD
    table: str  # project.dataset.table
    rows: int
    job: dict[str, Any]  # the load job configuration (BigQuery REST form)
    table_definition: dict[str, Any]  # what is created when the table is absent
    job_id: str | None = None
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "mart": self.mart,
            "source": self.source,
            "destination": self.destination,
            "rows": self.rows,
            "job_configuration": self.job,
            "create_table_if_absent": self.table_definition,
            **({"job_id": self.job_id, "table_created": self.created} if self.job_id else {}),
        }


@dataclass
class LoadPlan:
    date: str
    project: str
    dataset: str
    loads: list[MartLoad] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "date": self.date,
                "project": self.project,
                "dataset": self.dataset,
                "loads": [m.to_dict() for m in self.loads],
            },
            indent=2,
            default=str,
        )


_ARROW_TO_BQ = {
    "string": "STRING",
    "large_string": "STRING",
    "int8": "INT64",
    "int16": "INT64",
    "int32": "INT64",
    "int64": "INT64",
    "uint8": "INT64",
    "uint16": "INT64",
    "uint32": "INT64",
    "double": "FLOAT64",
    "float": "FLOAT64",
    "bool": "BOOL",
    "date32[day]": "DATE",
}


def _bq_type(arrow_type: Any) -> str:
    text = str(arrow_type)
    if text in _ARROW_TO_BQ:
        return _ARROW_TO_BQ[text]
    if text.startswith("timestamp"):
        return "TIMESTAMP" if "tz=" in text else "DATETIME"
    if text.startswith("decimal"):
        return "NUMERIC"
    raise InputError(f"Gold column type {text} has no BigQuery mapping in ecomlake.gold.bigquery")


def _job_config(mart: str) -> dict[str, Any]:
    date_col, cluster = PARTITIONING[mart]
    load: dict[str, Any] = {
        "sourceFormat": "PARQUET",
        "writeDisposition": "WRITE_TRUNCATE",  # with the $YYYYMMDD decorator: replace that partition only
        "createDisposition": "CREATE_NEVER",  # the table is created first, with its partitioning
        "timePartitioning": {"type": "DAY", "field": date_col},
        "parquetOptions": {"enableListInference": True},
    }
    if cluster:
        load["clustering"] = {"fields": list(cluster)}
    return {"load": load}


def plan(
    settings: Settings, date: str, project: str, dataset: str, work_dir: str | None = None
) -> tuple[LoadPlan, dict[str, str]]:
    """The load of every mart for `date`: (plan, mart -> local parquet file of the day's rows).

    With `work_dir` None the day's rows are only counted (dry run); otherwise they are written there.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    day = dt.date.fromisoformat(date)
    gold = settings.paths.gold_path
    out = LoadPlan(date=date, project=project, dataset=dataset)
    files: dict[str, str] = {}
    for mart in MARTS:
        # The export's committed file (on gs:// its name carries the version: the manifest lists it).
        sources = storage.partition_files(storage.join(gold, mart))
        if not sources:
            where = storage.join(gold, mart, EXPORT_FILE)
            raise InputError(f"Gold mart {mart} not found: {where}; run `ecomlake gold run --date {date}` first")
        source = sources[0] if len(sources) == 1 else storage.join(gold, mart)
        table = pa.concat_tables([storage.read_table(f) for f in sources])
        date_col, cluster = PARTITIONING[mart]
        if date_col not in table.column_names:
            raise InputError(f"{source}: no column {date_col} to partition {mart} by")
        col = table.column(date_col)
        if not pa.types.is_date(col.type):
            col = pc.cast(col, pa.date32())
        rows = table.filter(pc.equal(col, pa.scalar(day, pa.date32())))
        if not pa.types.is_date(table.schema.field(date_col).type):
            rows = rows.set_column(
                rows.column_names.index(date_col), date_col, pc.cast(rows.column(date_col), pa.date32())
            )
        ref = f"{project}.{dataset}.{mart}"
        schema = [{"name": f.name, "type": _bq_type(f.type), "mode": "NULLABLE"} for f in rows.schema]
        definition: dict[str, Any] = {
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": mart},
            "schema": {"fields": schema},
            "timePartitioning": {"type": "DAY", "field": date_col},
        }
        if cluster:
            definition["clustering"] = {"fields": list(cluster)}
        load = MartLoad(
            mart=mart,
            source=source,
            destination=f"{ref}${day.strftime('%Y%m%d')}",
            table=ref,
            rows=rows.num_rows,
            job=_job_config(mart),
            table_definition=definition,
        )
        load.job["load"]["destinationTable"] = {
            "projectId": project,
            "datasetId": dataset,
            "tableId": f"{mart}${day.strftime('%Y%m%d')}",
        }
        out.loads.append(load)
        if work_dir is not None:
            path = os.path.join(work_dir, f"{mart}_{day.strftime('%Y%m%d')}.parquet")
            pq.write_table(rows, path)
            files[mart] = path
    return out, files


def client(project: str, location: str | None = None) -> Any:
    """A BigQuery client: the emulator at BIGQUERY_EMULATOR_HOST, else Google with ADC / a key file."""
    try:
        from google.cloud import bigquery
    except ImportError:
        raise BigQueryError(
            "the BigQuery load needs the GCS extra, which is not installed: pip install 'ecomlake[gcs]'"
        ) from None
    emulator = os.environ.get(EMULATOR_ENV, "").strip()
    if emulator:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        if "://" not in emulator:
            emulator = f"http://{emulator}"
        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=emulator),
        )
    try:
        return bigquery.Client(project=project, location=location)
    except Exception as exc:  # DefaultCredentialsError
        raise BigQueryError(
            f"cannot reach BigQuery project {project}: no usable Google credentials ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth "
            f"application-default login` (for an emulator, set {EMULATOR_ENV})"
        ) from None


def load(
    settings: Settings, date: str, project: str, dataset: str, *, dry_run: bool = False, location: str | None = None
) -> LoadPlan:
    """Load every Gold mart's rows of `date` into `<project>.<dataset>.<mart>$YYYYMMDD` (WRITE_TRUNCATE)."""
    from ecomlake import ids

    ids.date(date, "--date")
    if dry_run:
        return plan(settings, date, project, dataset)[0]
    work = os.path.abspath(settings.paths.work_path)
    os.makedirs(work, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bq_load_", dir=work) as tmp:
        out, files = plan(settings, date, project, dataset, work_dir=tmp)
        bq = client(project, location)
        # Bounded like every GCS request (gcs.request_timeout_s, gcs.retries): an unreachable
        # endpoint is an error after a while, never a 10-minute default retry.
        from google.api_core.retry import Retry

        timeout = float(settings.gcs.request_timeout_s)
        retry = Retry(
            initial=0.5,
            maximum=max(0.5, float(settings.gcs.max_backoff_s)),
            multiplier=2.0,
            timeout=timeout * (settings.gcs.retries + 1),
        )
        calls = {"retry": retry, "timeout": timeout}
        try:
            _ensure_dataset(bq, project, dataset, location, calls)
            for m in out.loads:
                m.created = _ensure_table(bq, m, calls)
                m.job_id = _run_load(bq, m, files[m.mart], calls)
        except BigQueryError:
            raise
        except Exception as exc:
            raise BigQueryError(
                f"BigQuery load into {project}.{dataset} failed: {type(exc).__name__}: {_first(exc)}"
            ) from None
    return out


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _ensure_dataset(bq: Any, project: str, dataset: str, location: str | None, calls: dict) -> None:
    from google.api_core.exceptions import Conflict
    from google.cloud import bigquery

    ds = bigquery.Dataset(f"{project}.{dataset}")
    if location:
        ds.location = location
    with contextlib.suppress(Conflict):
        bq.create_dataset(ds, exists_ok=True, **calls)


def _ensure_table(bq: Any, m: MartLoad, calls: dict) -> bool:
    """Create the mart's table with its partitioning and clustering when absent; True when created."""
    from google.api_core.exceptions import Conflict, NotFound
    from google.cloud import bigquery

    try:
        bq.get_table(m.table, **calls)
        return False
    except NotFound:
        pass
    table = bigquery.Table.from_api_repr(m.table_definition)
    try:
        bq.create_table(table, **calls)
    except Conflict:
        return False
    return True


def _run_load(bq: Any, m: MartLoad, path: str, calls: dict) -> str:
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig.from_api_repr(
        {"load": {k: v for k, v in m.job["load"].items() if k != "destinationTable"}}
    )
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size  # a known size: one multipart request instead of a resumable session
        job = bq.load_table_from_file(fh, m.destination, job_config=config, size=size, timeout=calls["timeout"])
    job.result(retry=calls["retry"], timeout=calls["timeout"] * 10)
    return str(job.job_id)
