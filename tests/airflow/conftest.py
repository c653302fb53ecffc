"""Plumbing of the Airflow tests: one AIRFLOW_HOME (SQLite) per module, lakes from our generator,
and Airflow always in a subprocess (it reads its home and config once per process).

These tests need Airflow in the project's venv: `make airflow-install` (which `make test` and
`make airflow-test` run first). Without it they fail with that hint rather than being skipped, so a
broken install can never pass CI silently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAY = "2023-01-01"
RUNNER = str(Path(__file__).with_name("dag_test_run.py"))


@pytest.fixture(scope="session")
def airflow_installed() -> None:
    if importlib.util.find_spec("airflow") is None:
        pytest.fail("Airflow is not installed in this venv: run `make airflow-install` (`make test` does)")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory, airflow_installed) -> Path:
    """One migrated SQLite metadata DB per module (and per test worker)."""
    home = tmp_path_factory.mktemp("airflow_home")
    migrate(home)
    return home


def lake_paths(lake: Path) -> dict[str, str]:
    return {
        "BRONZE_BASE_PATH": str(lake / "bronze"),
        "SILVER_BASE_PATH": str(lake / "silver" / "base"),
        "SILVER_DIMS_PATH": str(lake / "silver" / "dims"),
        "SILVER_ENRICHED_PATH": str(lake / "silver" / "enriched"),
        "GOLD_PATH": str(lake / "gold"),
        "METRICS_BASE_PATH": str(lake / "metrics"),
        "REPORTS_BASE_PATH": str(lake / "reports"),
        "ECOM_WORK_PATH": str(lake / "work"),
    }


def base_env(home: Path, lake: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment: our venv first on PATH, Airflow at `home`, every lake path under `lake`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "ECOM", "PIPELINE_ENV", "RUN_ID", "MAX_QUARANTINE", "SENSOR_"))
        and not k.endswith("_PUBLISH_MODE")
        and not k.endswith("_PATH")
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "airflow" / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"),
        DUCKDB_THREADS="1",
        DUCKDB_MEMORY_LIMIT="1GB",
        PYTHONWARNINGS="ignore",
    )
    if lake is not None:
        env.update(lake_paths(lake))
    env.update(extra)
    return env


def run(
    args: list[str], env: dict[str, str], cwd: Path = REPO, timeout: int = 600, **kw
) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, **kw)


def migrate(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    r = run([str(BIN / "airflow"), "db", "migrate"], base_env(home))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def dag_test(home: Path, lake: Path, dag_id: str, day: str = DAY, conf: dict | None = None, **env: str) -> dict:
    """`dag.test()` of one DAG for `day` in a subprocess; {'state', 'run_id', 'tasks': {task: state}}."""
    args = [sys.executable, RUNNER, dag_id, day] + ([json.dumps(conf)] if conf is not None else [])
    r = run(args, base_env(home, lake, **env))
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    result["log"] = r.stdout + r.stderr
    return result


def generate_bronze(lake: Path, defect_rate: float = 0.0, days: int = 1, orders: int = 40) -> None:
    r = run(
        [
            str(BIN / "ecomlake"),
            "bronze",
            "generate",
            "--start-date",
            DAY,
            "--days",
            str(days),
            "--orders-per-day",
            str(orders),
            "--defect-rate",
            str(defect_rate),
            "--seed",
            "7",
            "--out",
            str(lake / "bronze"),
        ],
        base_env(lake / "_unused_home", lake),
    )
    assert r.returncode == 0, r.stderr[-2000:]


def rows(lake: Path, layer: str) -> dict[str, list[tuple]]:
    """Every row of a layer, per table/partition, without the run-specific columns (`_run_id`,
    `_quarantine_timestamp`), sorted: what two runs of the same day must agree on."""
    roots = {
        "silver": lake / "silver" / "base",
        "quarantine": lake / "silver" / "base" / "quarantine",
        "enriched": lake / "silver" / "enriched",
    }
    root = roots[layer]
    out: dict[str, list[tuple]] = {}
    for part in sorted(root.glob("*/*=*")):
        table = part.parent.name
        if table.startswith("_") or (layer == "silver" and table == "quarantine"):
            continue
        files = sorted(p for p in part.glob("*.parquet") if not p.name.startswith("_"))
        got = []
        for f in files:
            t = pq.read_table(f)
            keep = [c for c in t.column_names if c not in ("_run_id", "_quarantine_timestamp")]
            got += [tuple(r.values()) for r in t.select(keep).to_pylist()]
        out[f"{table}/{part.name}"] = sorted(got, key=repr)
    return out


def copy_lake(src: Path, dest: Path) -> Path:
    return Path(shutil.copytree(src, dest, ignore=shutil.ignore_patterns("_locks")))
