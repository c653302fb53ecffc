"""Tiny hand-made Bronze / Silver / quarantine partitions for the Silver gate and quarantine tests.

Every partition is written the way the pipeline writes it: Bronze with `_manifest.json` and
`_SUCCESS`, Silver and quarantine through `storage.publish`, so manifests and checksums are real.
Counts are chosen by each test, so expected results are known by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage
from ecomlake.config import Settings, load_settings
from ecomlake.contract import CONTRACT, silver_columns

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config" / "config.yml")

_ID_PREFIX = {"order_id": "ORD", "customer_id": "CUST", "cart_id": "CART", "return_id": "RET", "agent_id": "AG"}


def paths_env(base: Path) -> dict[str, str]:
    """Environment variables that point every path of the lake at `base` (never the repo's data/)."""
    return {
        "BRONZE_BASE_PATH": str(base / "bronze"),
        "SILVER_BASE_PATH": str(base / "silver"),
        "SILVER_DIMS_PATH": str(base / "dims"),
        "SILVER_ENRICHED_PATH": str(base / "enriched"),
        "METRICS_BASE_PATH": str(base / "metrics"),
        "REPORTS_BASE_PATH": str(base / "reports"),
        "ECOM_WORK_PATH": str(base / "work"),
    }


def settings_for(base: Path, **overrides) -> Settings:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_ENV", "MAX_QUARANTINE_RATE", "SILVER_QUARANTINE_PATH", "RUN_ID")
    }
    env.update(paths_env(base))
    return load_settings(CONFIG, overrides=overrides, env=env)


def run_cli(
    args: list[str], base: Path, extra_env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_ENV", "MAX_QUARANTINE_RATE", "SILVER_QUARANTINE_PATH", "RUN_ID", "ECOMLAKE_FAULT")
    }
    env.update(paths_env(base))
    env["ECOM_CONFIG_PATH"] = CONFIG
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(cwd or base),
        timeout=300,
    )


# ------------------------------------------------------------------------------------- rows


def _value(table: str, col, i: int, d: str):
    if col.enum:
        return col.enum[0]
    if col.email:
        return f"user{i}@example.com"
    if col.bronze == "string":
        if col.silver == "TIMESTAMP":
            return f"{d} 10:00:00"
        if col.silver == "DATE":
            return d
        if col.silver.startswith("DECIMAL"):
            return "1.50"
        prefix = _ID_PREFIX.get(col.name, col.name.upper()[:4])
        return f"{prefix}-{i}"
    if col.bronze == "int64":
        return i + 1
    if col.bronze == "float64":
        if col.name == "gross_total":
            return 20.0
        if col.name == "cost_price":
            return 5.0
        return 10.0
    if col.bronze == "bool":
        return False
    raise AssertionError(col)


def bronze_rows(table: str, n: int, d: str, start: int = 0) -> pa.Table:
    """`n` valid raw rows with ids start..start+n-1, in the contract's Bronze schema."""
    t = CONTRACT[table]
    data: dict[str, list] = {c.name: [_value(table, c, start + i, d) for i in range(n)] for c in t.columns}
    data["batch_id"] = ["batch-1"] * n
    data["ingestion_ts"] = [f"{d}T01:00:00"] * n
    data["event_id"] = [f"evt-{table}-{start + i}" for i in range(n)]
    data["source_file"] = ["fixture.parquet"] * n
    return pa.table(data, schema=t.bronze_schema())


def to_silver(table: str, raw: pa.Table, d: str, run_id: str = "fixture") -> pa.Table:
    """Cast raw rows to the Silver columns and types (what the dbt models publish)."""
    import duckdb

    t = CONTRACT[table]
    con = duckdb.connect()
    con.register("raw", raw)
    exprs = []
    for name, typ in silver_columns(table):
        if name == "ingest_dt":
            exprs.append(f"DATE '{d}' AS ingest_dt")
        elif name == "_run_id":
            exprs.append(f"'{run_id}' AS _run_id")
        elif t.business_date and name == t.business_date[0]:
            exprs.append(f"DATE '{d}' AS {name}")
        else:
            exprs.append(f"TRY_CAST({name} AS {typ}) AS {name}")
    return con.sql(f"SELECT {', '.join(exprs)} FROM raw").to_arrow_table()


def to_quarantine(raw: pa.Table, d: str, reasons: list[str], run_id: str = "fixture") -> pa.Table:
    n = raw.num_rows
    assert len(reasons) == n
    ts = dt.datetime(2023, 1, 2, 3, 0, 0)
    return (
        raw.append_column("ingest_dt", pa.array([dt.date.fromisoformat(d)] * n, pa.date32()))
        .append_column("_quarantine_reason", pa.array(reasons, pa.string()))
        .append_column("_quarantine_timestamp", pa.array([ts] * n, pa.timestamp("us")))
        .append_column("_run_id", pa.array([run_id] * n, pa.string()))
    )


# ----------------------------------------------------------------------------------- writers


def write_bronze(bronze_root: str, table: str, d: str, rows: pa.Table) -> str:
    part = storage.partition_path(bronze_root, table, d)
    os.makedirs(part, exist_ok=True)
    pq.write_table(rows, storage.join(part, "part-0000.parquet"))
    manifest = storage.build_manifest(part, table=table, partition=f"ingest_dt={d}", run_id="bronze-fixture")
    storage.write_json_atomic(storage.join(part, storage.MANIFEST_NAME), manifest)
    storage.write_bytes_atomic(storage.join(part, storage.SUCCESS_NAME), b"")
    return part


def publish_tables(
    settings: Settings,
    table: str,
    d: str,
    silver: pa.Table | None,
    quarantine: pa.Table | None,
    run_id: str = "fixture",
    bronze_rows: int | None = None,
) -> None:
    """Publish a Silver and a quarantine partition together, as the pipeline does."""
    root = settings.paths.silver_base_path
    storage.claim_staging(root, run_id)
    pubs = []
    part = f"ingest_dt={d}"
    for tbl, final_root, name in (
        (silver, root, table),
        (quarantine, settings.paths.quarantine_path, f"quarantine__{table}"),
    ):
        if tbl is None:
            continue
        staged = storage.staging_path(root, run_id, name, part)
        os.makedirs(staged, exist_ok=True)
        pq.write_table(tbl, storage.join(staged, "part-0000.parquet"))
        extra = {"bronze_rows": bronze_rows} if bronze_rows is not None else None  # as Base Silver records it
        pubs.append(storage.Publish(staged, storage.partition_path(final_root, table, d), table, part, extra=extra))
    storage.publish(root, run_id, pubs)
    storage.release_staging(root, run_id)


def make_day(
    settings: Settings,
    table: str,
    d: str,
    n_good: int,
    bad_reasons: list[str],
    start: int = 0,
    write_quarantine: bool = True,
) -> None:
    """Bronze with n_good + len(bad_reasons) rows; the good ones in Silver, the bad ones quarantined."""
    good = bronze_rows(table, n_good, d, start=start)
    bad = bronze_rows(table, len(bad_reasons), d, start=start + n_good)
    write_bronze(settings.paths.bronze_base_path, table, d, pa.concat_tables([good, bad]))
    q = to_quarantine(bad, d, bad_reasons) if (bad_reasons or write_quarantine) else None
    publish_tables(settings, table, d, to_silver(table, good, d), q, bronze_rows=n_good + len(bad_reasons))


def silver_file(settings: Settings, table: str, d: str) -> str:
    part = storage.partition_path(settings.paths.silver_base_path, table, d)
    return storage.list_data_files(part)[0]


def set_column(tbl: pa.Table, col: str, values: list) -> pa.Table:
    i = tbl.column_names.index(col)
    return tbl.set_column(i, tbl.schema.field(i), pa.array(values, tbl.schema.field(i).type))


def build_real_lake(base: Path, d: str, n: int = 20) -> None:
    """Consistent Bronze for all eight tables (ids line up across tables), then the REAL pipeline:
    `ecomlake local dims` and `ecomlake local silver` (dbt), so Silver and quarantine are genuine.

    orders gets four defects: ORD-0 customer_id NULL, ORD-1 customer_id 'null' (a null token),
    ORD-2 customer_id NULL and gross_total -5, and a second copy of ORD-5 with customer_id NULL.
    """
    s = settings_for(base)
    for t in CONTRACT:
        rows = bronze_rows(t, n, d)
        if t == "orders":
            rows = set_column(rows, "customer_id", [None, "null", None, *rows.column("customer_id").to_pylist()[3:]])
            rows = set_column(rows, "gross_total", [20.0, 20.0, -5.0, *rows.column("gross_total").to_pylist()[3:]])
            copy = set_column(rows.slice(5, 1), "customer_id", [None])
            copy = set_column(copy, "event_id", ["evt-orders-5-copy"])
            rows = pa.concat_tables([rows, copy])
        write_bronze(s.paths.bronze_base_path, t, d, rows)
    for step in (["local", "dims", "--date", d], ["local", "silver", "--date", d]):
        r = run_cli(step, base)
        assert r.returncode == 0, f"{step}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
