"""Run the dbt project in-process (dbtRunner), with paths and DuckDB limits from Settings.

Every invocation gets its own warehouse file (``<work>/silver_<run_id>.duckdb``) and its own
target and log directories under the work path, so runs never write into the repository and two
runs never share state. dbt start-up is most of a small build, so callers keep invocations few.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ecomlake import ids
from ecomlake.config import Settings
from ecomlake.errors import EcomlakeError, GateFailed

# Env vars read by dbt_duckdb/profiles.yml (the profile's defaults serve hand runs).
_PROFILE_ENV = (
    "ECOM_DBT_DUCKDB_PATH",
    "ECOM_DBT_THREADS",
    "DUCKDB_MEMORY_LIMIT",
    "DUCKDB_THREADS",
    "ECOM_DBT_TEMP_DIRECTORY",
)


def project_dir() -> Path:
    """The dbt project: ECOM_DBT_PROJECT_DIR, else `dbt_duckdb/` of this checkout, else ./dbt_duckdb."""
    env = os.environ.get("ECOM_DBT_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[3] / "dbt_duckdb"  # src/ecomlake/silver -> repo root
    if (here / "dbt_project.yml").exists():
        return here
    return Path("dbt_duckdb").resolve()


def run_paths(settings: Settings, run_id: str) -> tuple[Path, Path]:
    """dbt's target and log directories of a run: under DBT_TARGET_PATH / DBT_LOG_PATH when set (the
    runbook's section 8 points them at /tmp in containers), else under the work path; one per run."""
    ids.run_id(run_id, "run id")
    default = work_dir(settings) / "dbt" / run_id
    target, logs = os.environ.get("DBT_TARGET_PATH"), os.environ.get("DBT_LOG_PATH")
    return (
        Path(target).resolve() / run_id if target else default / "target",
        Path(logs).resolve() / run_id if logs else default / "logs",
    )


def work_dir(settings: Settings) -> Path:
    p = Path(settings.paths.work_path).resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p


def warehouse_path(settings: Settings, run_id: str) -> Path:
    return work_dir(settings) / f"silver_{ids.run_id(run_id, 'run id')}.duckdb"


@dataclass
class DbtSummary:
    """What a dbt invocation did, for the run ledger."""

    command: str
    success: bool
    models: int = 0
    seeds: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    unit_tests_passed: int = 0
    unit_tests_failed: int = 0
    errors: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    log_path: str = ""

    def to_dict(self) -> dict:
        return {
            "command": self.command,
            "success": self.success,
            "models_built": self.models,
            "seeds": self.seeds,
            "tests_passed": self.tests_passed,
            "tests_failed": self.tests_failed,
            "tests_warned": self.tests_warned,
            "unit_tests_passed": self.unit_tests_passed,
            "unit_tests_failed": self.unit_tests_failed,
            "errors": self.errors,
            "failed_tests": self.failed_tests,
        }


@contextmanager
def _profile_env(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _summarise(command: str, res, log_path: str) -> DbtSummary:
    summary = DbtSummary(command=command, success=bool(res.success), log_path=log_path)
    results = getattr(res.result, "results", None) or []
    for r in results:
        node = getattr(r, "node", None)
        rtype = str(getattr(node, "resource_type", "")).split(".")[-1].lower()
        status = str(getattr(r, "status", "")).split(".")[-1].lower()
        name = getattr(node, "name", "?")
        if rtype == "model":
            if status == "success":
                summary.models += 1
            elif status == "error":
                summary.errors.append(f"{name}: {_first_line(r.message)}")
        elif rtype == "seed":
            summary.seeds += status == "success"
            if status == "error":
                summary.errors.append(f"{name}: {_first_line(r.message)}")
        elif rtype == "unit_test":
            if status == "pass":
                summary.unit_tests_passed += 1
            else:
                summary.unit_tests_failed += 1
                summary.failed_tests.append(f"{name} ({status})")
        elif rtype == "test":
            if status == "pass":
                summary.tests_passed += 1
            elif status == "warn":
                summary.tests_warned += 1
            elif status in ("fail", "error"):
                summary.tests_failed += 1
                summary.failed_tests.append(f"{name}: {_first_line(r.message)}")
    if res.exception is not None:
        summary.errors.append(_first_line(str(res.exception)))
    return summary


def _first_line(message) -> str:
    text = " ".join(str(message or "").split())
    return text[:400]


def invoke(
    settings: Settings,
    command: list[str],
    *,
    dbt_vars: dict,
    run_id: str,
    warehouse: Path | None = None,
    raise_on_failure: bool = True,
) -> DbtSummary:
    """Run one dbt command (e.g. ["build", "--select", "tag:facts"]) against the run's warehouse."""
    from dbt.cli.main import dbtRunner

    work = work_dir(settings)
    warehouse = warehouse or warehouse_path(settings, run_id)
    target_path, log_path = run_paths(settings, run_id)
    temp_dir = Path(settings.temp_directory).resolve() if "://" not in settings.temp_directory else work / "duckdb_tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    project = project_dir()
    env = {
        "ECOM_DBT_DUCKDB_PATH": str(warehouse),
        "ECOM_DBT_THREADS": str(max(1, settings.duckdb.threads)),
        "DUCKDB_MEMORY_LIMIT": settings.duckdb.memory_limit,
        "DUCKDB_THREADS": str(settings.duckdb.threads),
        "ECOM_DBT_TEMP_DIRECTORY": str(temp_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "ECOM_DBT_FILESYSTEMS": json.dumps(filesystems(settings)),
    }
    args = [
        *command,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target",
        "local",
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--vars",
        json.dumps(dbt_vars),
        "--quiet",
    ]
    with _profile_env(env):
        res = dbtRunner().invoke(args)
    summary = _summarise(" ".join(command), res, str(log_path / "dbt.log"))
    if raise_on_failure and not summary.success:
        raise_for(summary, warehouse)
    return summary


def filesystems(settings: Settings) -> list[dict]:
    """dbt-duckdb's `filesystems:` profile setting: gcsfs when a lake root is gs:// (DuckDB 2.0 cannot
    load httpfs offline; it reaches GCS through the registered fsspec filesystem instead)."""
    from ecomlake import duck, gcs

    if not duck.uses_gcs(settings):
        return []
    gcs.filesystem()  # registers ecomlake's gcsfs class (timeouts, retries) for the gs protocol; checks credentials
    opts = gcs.options()
    spec: dict = {"fs": "gs", "requests_timeout": opts.request_timeout_s, "cache_timeout": 0}
    spec["token"] = "anon" if gcs.emulator_host() else "google_default"
    return [spec]


def raise_for(summary: DbtSummary, warehouse: Path) -> None:
    """One line: what failed, the first problem, and where to look."""
    where = f"warehouse kept at {warehouse}, log at {summary.log_path}"
    if summary.errors:
        first = summary.errors[0]
        more = f" (+{len(summary.errors) - 1} more)" if len(summary.errors) > 1 else ""
        raise EcomlakeError(f"dbt {summary.command} failed: {first}{more}; nothing was published; {where}")
    if summary.failed_tests:
        first = summary.failed_tests[0]
        more = f" (+{len(summary.failed_tests) - 1} more)" if len(summary.failed_tests) > 1 else ""
        raise GateFailed(f"dbt tests failed: {first}{more}; nothing was published; {where}")
    raise EcomlakeError(f"dbt {summary.command} failed; nothing was published; {where}")


def close_dbt_connections() -> None:
    """dbt-duckdb keeps its DuckDB handle in a class attribute; close it so the file can be reopened."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        env = getattr(DuckDBConnectionManager, "_ENV", None)
        conn = getattr(env, "conn", None) if env is not None else None
        if env is not None and conn is not None:
            conn.close()
            env.conn = None
        DuckDBConnectionManager._ENV = None
    except Exception:  # best effort: a fresh process never has one open
        pass
