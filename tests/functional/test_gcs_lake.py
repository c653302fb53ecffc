"""Every layer on gs://, against a real GCS emulator process (tests/gcs_emulator.py) that this
session starts and stops: what a user types, as a user types it (`ecomlake` subprocesses with
STORAGE_EMULATOR_HOST the only GCS setting).

- the demo day end to end with every layer root on gs:// (Bronze, dims, Silver + quarantine,
  Enriched, Gold), then a rerun of the day that replaces and never adds;
- staging then promote for dims, Base Silver and Enriched, with the runbook's staging check (the
  staged objects under `<root>/_staging/<run_id>/`), the gate on what is staged, and a second
  promote that is a no-op;
- the runbook's `pl.read_parquet` on gs:// paths through gcsfs;
- a missing or unusable credential, and an unreachable endpoint: one line naming the bucket, exit 2.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cli_helpers import lake_env, run_cli

from ecomlake import storage

pytestmark = pytest.mark.slow

D, D2 = "2023-01-01", "2023-01-02"


def gcs_env(tmp: Path, bucket: str, emulator_url: str | None, **extra: str) -> dict[str, str]:
    env = lake_env(tmp)
    env.pop("STORAGE_EMULATOR_HOST", None)
    root = f"gs://{bucket}"
    env.update(
        BRONZE_BASE_PATH=f"{root}/bronze",
        SILVER_BASE_PATH=f"{root}/silver/base",
        SILVER_DIMS_PATH=f"{root}/silver/dims",
        SILVER_ENRICHED_PATH=f"{root}/silver/enriched",
        GOLD_PATH=f"{root}/gold",
        DUCKDB_THREADS="1",
    )
    if emulator_url:
        env["STORAGE_EMULATOR_HOST"] = emulator_url
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def gcs_lake(gcs_emulator, tmp_path_factory):
    """The demo day on gs:// (built once for the module)."""
    tmp = tmp_path_factory.mktemp("gcs_lake")
    bucket = gcs_emulator.new_bucket("demo")
    env = gcs_env(tmp, bucket, gcs_emulator.url, RUN_ID="demo_gcs")
    demo = run_cli(["local", "demo-fast"], env)
    return tmp, bucket, env, demo


def rows_of(prefix: str) -> dict[str, int]:
    """total_rows of every committed partition manifest under `prefix` (table/partition -> rows)."""
    out = {}
    for f in storage.find_files(prefix):
        if f.endswith("/_manifest.json") and "/_staging/" not in f:
            parts = f.rsplit("/", 3)
            out[f"{parts[1]}/{parts[2]}"] = storage.read_json(f)["total_rows"]
    return out


def test_the_demo_day_runs_with_every_root_on_gs(gcs_lake):
    _, bucket, env, demo = gcs_lake
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    for line in (
        f"in gs://{bucket}/bronze",
        "✅ Silver: 6/6 fact tables passing validation (PASS)",
        "✅ Enriched: 10/10 business tables with data (PASS)",
        f"✅ Gold: 8 marts built in gs://{bucket}/gold/ecomlake.duckdb",
    ):
        assert line in out, out
    assert "Traceback" not in demo.stderr and "Task was destroyed" not in demo.stderr
    root = f"gs://{bucket}"
    # Every layer is on the bucket, committed by its manifest; nothing is left in staging or leased.
    assert D in storage.list_partitions(f"{root}/silver/base", "orders")
    assert D in storage.list_partitions(f"{root}/silver/base/quarantine", "orders")
    assert D in storage.list_partitions(f"{root}/silver/dims", "customer_snapshot", "snapshot_dt")
    assert D in storage.list_partitions(f"{root}/silver/enriched", "int_cart_attribution", "cart_dt")
    assert storage.exists(f"{root}/gold/ecomlake.duckdb")
    assert storage.exists(f"{root}/gold/mart_daily_revenue/part-0000.parquet") or storage.find_files(f"{root}/gold")
    leftovers = [f for f in storage.find_files(root) if "/_staging/" in f or f.endswith(".lease")]
    assert leftovers == []
    # The gates read the lake on GCS: the Silver gate passes on it from a fresh process.
    gate = run_cli(["silver", "validate", "--partition-date", D, "--enforce"], env)
    assert gate.returncode == 0, gate.stdout + gate.stderr


def test_a_rerun_of_the_day_on_gs_replaces_and_never_adds(gcs_lake):
    _, bucket, env, demo = gcs_lake
    assert demo.returncode == 0
    root = f"gs://{bucket}/silver/base"
    before = rows_of(root)
    objects_before = len([f for f in storage.find_files(root) if f.endswith(".parquet")])
    rerun = run_cli(["local", "silver", "--date", D], {**env, "RUN_ID": "silver_rerun"})
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rows_of(root) == before
    assert len([f for f in storage.find_files(root) if f.endswith(".parquet")]) == objects_before
    manifest = storage.read_manifest(storage.partition_path(root, "orders", D))
    assert manifest["run_id"] == "silver_rerun"


def test_the_runbooks_read_parquet_on_gs_paths_through_gcsfs(gcs_lake):
    _, bucket, _, demo = gcs_lake
    assert demo.returncode == 0
    import polars as pl

    # As in the README (import ecomlake.storage as storage): gcsfs from ecomlake (credentials or STORAGE_EMULATOR_HOST), polars reads file objects.
    fs, _ = storage.fs_for(f"gs://{bucket}")
    files = ["gs://" + f for f in fs.glob(f"gs://{bucket}/silver/base/quarantine/orders/*/*.parquet")]
    assert files
    df = pl.concat([pl.read_parquet(fs.open(f)) for f in files])
    by_reason = df.group_by("_quarantine_reason").agg(pl.len().alias("record_count"))
    listed = sum(storage.read_manifest(p)["total_rows"] for p in {f.rsplit("/", 1)[0] for f in files})
    assert by_reason["record_count"].sum() == df.height == listed > 0


def test_staging_then_promote_for_each_layer_on_gs(gcs_lake):
    _, bucket, env, demo = gcs_lake
    assert demo.returncode == 0
    root = f"gs://{bucket}"

    def run(args, run_id, **extra):
        res = run_cli(args, {**env, "RUN_ID": run_id, **extra})
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        return res

    # dims: staged, invisible to `dim validate` until promoted
    run(["local", "dims", "--date", D2], "dims_stg", DIMS_PUBLISH_MODE="staging")
    assert storage.find_files(f"{root}/silver/dims/_staging/dims_stg/")  # the runbook's `gsutil ls`
    assert D2 not in storage.list_partitions(f"{root}/silver/dims", "customer_snapshot", "snapshot_dt")
    run(["promote", "dims", "--run-id", "dims_stg"], "promote_dims")
    assert D2 in storage.list_partitions(f"{root}/silver/dims", "customer_snapshot", "snapshot_dt")
    assert storage.read_json(f"{root}/silver/dims/_latest.json")["snapshot_dt"] == D2
    assert not storage.find_files(f"{root}/silver/dims/_staging/")
    gate = run_cli(["dim", "validate", "--run-date", D2, "--enforce"], env)
    assert gate.returncode == 0, gate.stdout + gate.stderr

    # Base Silver
    run(["local", "silver", "--date", D2], "silver_stg", SILVER_PUBLISH_MODE="staging")
    staged = storage.find_files(f"{root}/silver/base/_staging/silver_stg/")
    assert any("/orders/ingest_dt=2023-01-02/" in f for f in staged)
    assert D2 not in storage.list_partitions(f"{root}/silver/base", "orders")
    staged_gate = run_cli(["silver", "validate", "--partition-date", D2, "--run-id", "silver_stg", "--enforce"], env)
    assert staged_gate.returncode == 0, staged_gate.stdout + staged_gate.stderr  # the gate reads what is staged
    first = run(["promote", "silver", "--run-id", "silver_stg"], "promote_silver")
    assert D2 in storage.list_partitions(f"{root}/silver/base", "orders")
    assert not storage.find_files(f"{root}/silver/base/_staging/")
    again = run(["promote", "silver", "--run-id", "silver_stg"], "promote_silver2")
    assert "already promoted" in again.stdout + again.stderr, again.stdout
    assert first.stdout != again.stdout

    # Enriched
    run(["local", "enriched", "--date", D2], "enriched_stg", ENRICHED_PUBLISH_MODE="staging")
    assert storage.find_files(f"{root}/silver/enriched/_staging/enriched_stg/")
    current = json.loads(storage.read_bytes(f"{root}/silver/enriched/_latest.json"))
    assert current["ingest_dt"] == D
    run(["promote", "enriched", "--run-id", "enriched_stg"], "promote_enriched")
    assert json.loads(storage.read_bytes(f"{root}/silver/enriched/_latest.json"))["ingest_dt"] == D2
    assert not storage.find_files(f"{root}/silver/enriched/_staging/")
    twice = run(["promote", "enriched", "--run-id", "enriched_stg"], "promote_enriched2")
    assert "already promoted" in twice.stdout + twice.stderr


def test_ecomlake_run_builds_a_day_with_every_root_on_gs(gcs_lake):
    _, bucket, env, demo = gcs_lake
    assert demo.returncode == 0
    root = f"gs://{bucket}"
    res = run_cli(["run", "--date", D2], {**env, "RUN_ID": "run_gcs"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert f"[ok] day {D2}:" in res.stdout
    assert "[ok] load_bigquery: BigQuery not configured" in res.stdout
    assert D2 in storage.list_partitions(f"{root}/silver/base", "orders")
    assert json.loads(storage.read_bytes(f"{root}/silver/enriched/_latest.json"))["ingest_dt"] == D2
    assert storage.find_files(f"{root}/gold/fct_daily_dashboard/")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_credentials(tmp: Path) -> dict[str, str]:
    # No key file, no gcloud config, and no probe of a metadata server off this machine.
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "true"}


@pytest.mark.parametrize("credentials", ["missing", "unreadable key file"])
def test_no_usable_credentials_is_one_line_naming_the_bucket(tmp_path, credentials):
    env = gcs_env(tmp_path, "prod-lake", None, **_no_credentials(tmp_path))
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    if credentials != "missing":
        key = tmp_path / "key.json"
        key.write_text("{not json")
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
    res = run_cli(["silver", "validate", "--partition-date", D], env, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(
        "error: cannot reach gs://prod-lake: no usable Google credentials (DefaultCredentialsError"
    )
    assert "GOOGLE_APPLICATION_CREDENTIALS" in lines[0] and "STORAGE_EMULATOR_HOST" in lines[0]


def test_an_unreachable_endpoint_fails_after_the_configured_retries(tmp_path):
    env = gcs_env(
        tmp_path,
        "lake",
        f"http://127.0.0.1:{_closed_port()}",
        GCS_RETRIES="1",
        GCS_MAX_BACKOFF_S="0",
        GCS_REQUEST_TIMEOUT_S="5",
    )
    res = run_cli(["silver", "validate", "--partition-date", D], env, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: gs://lake: GCS request failed after 1 retries"), res.stderr


def test_gcsfs_missing_is_one_line(tmp_path):
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'gcsfs' or name.startswith('gcsfs.'): raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "from ecomlake.cli.main import main\n"
        "main(['silver', 'validate', '--partition-date', '2023-01-01'])\n"
    )
    import subprocess
    import sys

    env = gcs_env(tmp_path, "lake", "http://127.0.0.1:9")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: gs:// paths need the GCS extra, which is not installed: pip install 'ecomlake[gcs]' "
        "(make install and make test install it)"
    )
