"""Tiny Bronze lakes built with pyarrow from the contract, and the whole-file faults a gate must catch.

Used by the Bronze validate/profile tests so they do not depend on the generator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import contract, storage
from ecomlake.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
REPO_CONFIG = REPO / "config" / "config.yml"
DAYS = ("2023-01-01", "2023-01-02")


def rows_for(table: str, n: int, day: str, *, offset: int = 0) -> pa.Table:
    """`n` plausible rows of `table` with its exact Bronze schema (unique primary keys)."""
    t = contract.CONTRACT[table]
    schema = t.bronze_schema()
    data: dict[str, list] = {}
    for f in schema:
        col = []
        for i in range(offset, offset + n):
            name = f.name
            if pa.types.is_int64(f.type):
                col.append(i + 1)
            elif pa.types.is_float64(f.type):
                col.append(float(10 + i))
            elif pa.types.is_boolean(f.type):
                col.append(i % 2 == 0)
            elif name.endswith(("_date", "_at")) or name == "ingestion_ts":
                col.append(f"{day}T0{i % 10}:00:00")
            elif name == "event_id":
                col.append(f"evt_{table}_{i}")
            else:
                col.append(f"{name}-{i}")
        data[f.name] = col
    return pa.table(data, schema=schema)


def write_partition(
    root: str | Path,
    table: str,
    day: str,
    parts: list[pa.Table],
    *,
    manifest_name: str = storage.MANIFEST_NAME,
    success: bool = True,
) -> Path:
    pdir = Path(storage.partition_path(str(root), table, day))
    pdir.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        pq.write_table(part, pdir / f"part-{i:04d}.parquet")
    manifest = storage.build_manifest(
        str(pdir),
        table=table,
        partition=f"ingest_dt={day}",
        run_id="fixture",
        extra={"batch_id": "batch_fixture", "generator_version": "fixture"},
    )
    (pdir / manifest_name).write_text(json.dumps(manifest, indent=2))
    if success:
        (pdir / storage.SUCCESS_NAME).write_bytes(b"")
    return pdir


def build_lake(root: str | Path, days=DAYS, rows: int = 4, files: int = 2, tables=contract.TABLES) -> Path:
    """A clean lake: every table, every day, `files` part files of `rows` rows each."""
    root = Path(root)
    for table in tables:
        for d, day in enumerate(days):
            parts = [rows_for(table, rows, day, offset=(d * files + k) * rows) for k in range(files)]
            write_partition(root, table, day, parts)
    return root


def copy_lake(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def pdir(root: Path, table: str, day: str) -> Path:
    return Path(storage.partition_path(str(root), table, day))


def manifest_path(partition_dir: Path) -> Path:
    return partition_dir / storage.MANIFEST_NAME


def load_manifest(partition_dir: Path) -> dict:
    return json.loads(manifest_path(partition_dir).read_text())


def save_manifest(partition_dir: Path, manifest: dict) -> None:
    manifest_path(partition_dir).write_text(json.dumps(manifest, indent=2))


def reseal(partition_dir: Path, table: str) -> None:
    """Rewrite the manifest so it matches the files (to isolate a schema fault)."""
    day = partition_dir.name.split("=", 1)[1]
    manifest = storage.build_manifest(str(partition_dir), table=table, partition=f"ingest_dt={day}", run_id="fixture")
    save_manifest(partition_dir, manifest)


# ----------------------------------------------------------------------------- faults
# Each returns the file name (relative to the Bronze root) the gate must name.


def fault_truncated_parquet(root: Path, table="orders", day=DAYS[1]) -> str:
    f = pdir(root, table, day) / "part-0000.parquet"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])  # an interrupted upload
    return f"{table}/ingest_dt={day}/part-0000.parquet"


def fault_missing_manifest(root: Path, table="orders", day=DAYS[1]) -> str:
    manifest_path(pdir(root, table, day)).unlink()
    return f"{table}/ingest_dt={day}/_manifest.json"


def fault_manifest_row_mismatch(root: Path, table="orders", day=DAYS[1]) -> str:
    p = pdir(root, table, day)
    m = load_manifest(p)
    m["total_rows"] += 3
    m["files"][0]["rows"] += 3  # a consistent lie: the manifest itself adds up
    save_manifest(p, m)
    return f"{table}/ingest_dt={day}/part-0000.parquet"


def fault_checksum_mismatch(root: Path, table="orders", day=DAYS[1]) -> str:
    """Same row count, different bytes: only the checksum can tell."""
    p = pdir(root, table, day)
    f = p / "part-0001.parquet"
    t = pq.read_table(f)
    t = t.set_column(
        t.schema.get_field_index("gross_total"), "gross_total", pa.array([999.0] * t.num_rows, pa.float64())
    )
    pq.write_table(t, f)
    return f"{table}/ingest_dt={day}/part-0001.parquet"


def fault_dropped_required_column(root: Path, table="orders", day=DAYS[1], column="customer_id") -> str:
    p = pdir(root, table, day)
    f = p / "part-0000.parquet"
    pq.write_table(pq.read_table(f).drop_columns([column]), f)
    reseal(p, table)
    return f"{table}/ingest_dt={day}/part-0000.parquet"


def fault_type_change(root: Path, table="orders", day=DAYS[1], column="gross_total") -> str:
    p = pdir(root, table, day)
    f = p / "part-0000.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index(column)
    t = t.set_column(i, column, pa.array([str(v) for v in t.column(column).to_pylist()], pa.string()))
    pq.write_table(t, f)
    reseal(p, table)
    return f"{table}/ingest_dt={day}/part-0000.parquet"


def fault_extra_column(root: Path, table="orders", day=DAYS[1], column="promo_code") -> str:
    p = pdir(root, table, day)
    f = p / "part-0000.parquet"
    t = pq.read_table(f)
    pq.write_table(t.append_column(column, pa.array(["X"] * t.num_rows, pa.string())), f)
    reseal(p, table)
    return f"{table}/ingest_dt={day}/part-0000.parquet"


def fault_missing_success(root: Path, table="orders", day=DAYS[1]) -> str:
    (pdir(root, table, day) / storage.SUCCESS_NAME).unlink()
    return f"{table} ingest_dt={day}"


def fault_unlisted_file(root: Path, table="orders", day=DAYS[1]) -> str:
    p = pdir(root, table, day)
    pq.write_table(rows_for(table, 2, day, offset=500), p / "part-0099.parquet")
    return f"{table}/ingest_dt={day}/part-0099.parquet"


def fault_missing_partition(root: Path, table="orders", day=DAYS[1]) -> str:
    shutil.rmtree(pdir(root, table, day))
    return f"{table} ingest_dt={day}"


# ----------------------------------------------------------------------------- running


def settings_for(root: Path, out: Path, **overrides) -> Settings:
    base = {
        "paths.bronze_base_path": str(root),
        "paths.metrics_base_path": str(out / "metrics"),
        "paths.reports_base_path": str(out / "reports"),
        "paths.work_path": str(out / "work"),
    }
    base.update(overrides)
    return load_settings(REPO_CONFIG, overrides=base, env={})


def cli_env(out: Path, **extra: str) -> dict:
    """A clean environment for a CLI subprocess: repo config, outputs under `out`, no PIPELINE_ENV."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIPELINE_ENV", "RUN_ID", "BRONZE_BASE_PATH", "ECOMLAKE_FAULT", "BRONZE_VALIDATION_LOOKBACK_DAYS")
    }
    env.update(
        {
            "ECOM_CONFIG_PATH": str(REPO_CONFIG),
            "METRICS_BASE_PATH": str(out / "metrics"),
            "REPORTS_BASE_PATH": str(out / "reports"),
            "ECOM_WORK_PATH": str(out / "work"),
        }
    )
    env.update(extra)
    return env


def run_cli(args: list[str], out: Path, **extra_env: str) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args],
        cwd=out,
        env=cli_env(out, **extra_env),
        capture_output=True,
        text=True,
        timeout=300,
    )
