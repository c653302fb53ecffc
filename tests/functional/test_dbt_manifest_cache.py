"""The parsed dbt project is cached (ecomlake.silver.dbt_runner): the cache is only sound if parsing
never reads a run var (dates, lake paths, run id) nor the run's warehouse file, and if any change to
the project or to a parse-time var makes a new key. These tests feed each case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ecomlake.silver import dbt_runner

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_duckdb"
pytestmark = pytest.mark.slow


def _run_vars(base: Path, day: str, run_id: str) -> dict:
    return {
        "bronze_root": str(base / "bronze"),
        "silver_root": str(base / "silver"),
        "quarantine_root": str(base / "silver" / "quarantine"),
        "dims_root": str(base / "dims"),
        "run_date": day,
        "run_id": run_id,
        "run_ts": f"{day} 01:02:03.000004",
        "max_future_skew_hours": 24,
    }


@pytest.fixture
def project_copy(tmp_path) -> Path:
    dest = tmp_path / "dbt_duckdb"
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".*"))
    return dest


def test_key_ignores_run_vars_and_follows_project_files_and_parse_vars(project_copy, tmp_path):
    a = dbt_runner.manifest_key(project_copy, _run_vars(tmp_path / "a", "2023-01-01", "run-a"), "silver")
    b = dbt_runner.manifest_key(project_copy, _run_vars(tmp_path / "b", "2024-02-29", "run-b"), "silver")
    assert a == b  # every run var may change without a new parse
    gold = dbt_runner.manifest_key(project_copy, {**_run_vars(tmp_path, "2023-01-01", "r"), "gold": True}, "silver")
    assert gold != a  # a var that is not a run var is read while parsing: a new key
    other_db = dbt_runner.manifest_key(project_copy, _run_vars(tmp_path / "a", "2023-01-01", "run-a"), "warehouse")
    assert other_db != a  # every parsed relation names its database (the warehouse file's stem)
    model = project_copy / "models" / "base_silver" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    changed = dbt_runner.manifest_key(project_copy, _run_vars(tmp_path / "a", "2023-01-01", "run-a"), "silver")
    assert changed != a  # any edit to the project: a new key
    (project_copy / "target").mkdir()
    (project_copy / "target" / "anything.json").write_text("{}")  # build outputs are not the project
    assert dbt_runner.manifest_key(project_copy, _run_vars(tmp_path / "a", "2023-01-01", "run-a"), "silver") == changed


def _parse(project: Path, base: Path, dbt_vars: dict) -> dict:
    """dbt's parsed project for these vars and this warehouse file, as a comparable dict."""
    from dbt.cli.main import dbtRunner

    env = {
        "ECOM_DBT_DUCKDB_PATH": str(base / "silver.duckdb"),  # another directory, the same stem
        "ECOM_DBT_TEMP_DIRECTORY": str(base / "tmp"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = ["parse", "--no-partial-parse", "--no-write-json", "--project-dir", str(project)]
    args += ["--profiles-dir", str(project), "--target", "local", "--target-path", str(base / "target")]
    args += ["--log-path", str(base / "logs"), "--vars", json.dumps(dbt_vars), "--quiet"]
    with dbt_runner._profile_env(env):
        res = dbtRunner().invoke(args)
    assert res.success, res.exception
    out = res.result.writable_manifest().to_dict()
    out.pop("metadata")
    return _without_created_at(out)


def _without_created_at(value):
    """The manifest without the wall-clock time each node was parsed at (the only field allowed to differ)."""
    if isinstance(value, dict):
        return {k: _without_created_at(v) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return [_without_created_at(v) for v in value]
    return value


def test_parsed_project_is_the_same_for_any_run_vars_and_warehouse_directory(tmp_path):
    one = _parse(PROJECT, tmp_path / "one", _run_vars(tmp_path / "lake1", "2023-01-01", "run-one"))
    two = _parse(PROJECT, tmp_path / "two", _run_vars(tmp_path / "lake2", "2024-06-30", "run-two"))
    assert json.dumps(one, sort_keys=True, default=str) == json.dumps(two, sort_keys=True, default=str)


def test_cache_file_round_trips_and_a_damaged_file_is_parsed_again(tmp_path):
    from dbt.cli.main import dbtRunner

    base = tmp_path / "p"
    env = {"ECOM_DBT_DUCKDB_PATH": str(base / "w.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    args = ["parse", "--no-partial-parse", "--no-write-json", "--project-dir", str(PROJECT)]
    args += ["--profiles-dir", str(PROJECT), "--target", "local", "--target-path", str(base / "target")]
    args += ["--log-path", str(base / "logs"), "--quiet"]
    with dbt_runner._profile_env(env):
        manifest = dbtRunner().invoke(args).result
    path = tmp_path / "cache" / "k.pickle"
    dbt_runner._save_manifest(path, manifest)
    loaded = dbt_runner._load_manifest(path)
    assert loaded is not None and set(loaded.nodes) == set(manifest.nodes)
    assert loaded.writable_manifest().to_dict()["nodes"] == manifest.writable_manifest().to_dict()["nodes"]
    path.write_bytes(path.read_bytes()[:100])  # truncated: read as no cache (parse again), never an error
    assert dbt_runner._load_manifest(path) is None
