"""Run the dbt project in-process (dbtRunner), with paths and DuckDB limits from Settings.

Every invocation gets its own warehouse file (``<work>/silver_<run_id>/silver.duckdb``) and its own
target and log directories under the work path, so runs never write into the repository and two
runs never share state. dbt start-up is most of a small build, so callers keep invocations few.

Parsing the project costs seconds on every invocation, and its result does not depend on the run:
the run's vars (`RUN_VARS`: dates, paths of the lake, run id) are only read when a model runs,
never while dbt parses. So the parsed project (dbt's Manifest) is cached under
``<work>/dbt_manifests/<key>.pickle``, the key being a hash of every file of the project, the dbt
and Python versions and the vars that are not run vars; dbt then runs with that manifest
(``dbtRunner(manifest=...)``) instead of parsing again. Any change to the project makes a new key.
tests/functional/test_dbt_manifest_cache.py proves the manifest is identical for any values of the
run vars.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from collections.abc import Callable
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


# Vars read only when a model runs (macros under `execute`, model and test SQL compiled at run
# time), never while the project is parsed: the parsed project is the same for any value of them.
RUN_VARS = frozenset(
    {
        "run_id",
        "run_ts",
        "run_date",
        "bronze_root",
        "silver_root",
        "quarantine_root",
        "dims_root",
        "dims_snapshot_dt",
        "parent_source",
        "published_through_run_date",
        "max_future_skew_hours",
    }
)
MANIFEST_CACHE_DIR = "dbt_manifests"
_SKIPPED_PROJECT_DIRS = {"target", "logs", "dbt_packages"}


def work_dir(settings: Settings) -> Path:
    p = Path(settings.paths.work_path).resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p


def warehouse_path(settings: Settings, run_id: str) -> Path:
    # One directory per run, one file name for all: dbt-duckdb names the database after the file's
    # stem and the parsed project (cached, see manifest_key) holds that name in every relation.
    return work_dir(settings) / f"silver_{ids.run_id(run_id, 'run id')}" / "silver.duckdb"


def project_digest(project: Path) -> str:
    """sha256 of every file of the dbt project (its path and content), build outputs excluded."""
    h = hashlib.sha256(str(project).encode())
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_PROJECT_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            h.update(str(path.relative_to(project)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def manifest_key(project: Path, dbt_vars: dict, database: str) -> str:
    """The cache key of the parsed project: its files, dbt's and Python's versions, every var that
    is not a run var (e.g. `gold`, `enriched_root`: Gold's sources render it while parsing), and the
    database name (dbt-duckdb: the warehouse file's stem), which every parsed relation carries."""
    from importlib import metadata

    parse_vars = {k: v for k, v in dbt_vars.items() if k not in RUN_VARS}
    ident = {
        "project": project_digest(project),
        "database": database,
        "vars": parse_vars,
        "python": sys.version,
        "dbt-core": metadata.version("dbt-core"),
        "dbt-duckdb": metadata.version("dbt-duckdb"),
        "target": "local",
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]


# The Manifest's own __reduce_ex__ (dbt-core 1.11) puts its private lookups in the wrong fields on
# unpickling, so only the public fields are stored and the Manifest is rebuilt from them by name
# (its lookups are then rebuilt lazily, as after dbt's own msgpack round trip, in a tenth of the time).


def _load_manifest(path: Path):
    from dbt.contracts.graph.manifest import Manifest

    try:
        with open(path, "rb") as fh:
            return Manifest(**pickle.load(fh))
    except Exception:  # a truncated or foreign file: parse again and replace it
        return None


def _save_manifest(path: Path, manifest) -> None:
    import dataclasses

    fields = {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest) if not f.name.startswith("_")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(fields, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one


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
    manifest_cached: bool = False  # the parsed project came from the cache (no parse)
    failed_sql: dict[str, str] = field(default_factory=dict, repr=False)  # failed test -> its compiled SQL

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
            "manifest_cached": self.manifest_cached,
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
                compiled = getattr(node, "compiled_code", None)
                if status == "fail" and compiled:
                    summary.failed_sql[name] = compiled
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
    engine: str = "duckdb",
) -> DbtSummary:
    """Run one dbt command (e.g. ["build", "--select", "tag:facts"]) against the run's warehouse
    (engine 'duckdb', target local) or the run's Spark schema (engine 'spark', target spark)."""
    from dbt.cli.main import dbtRunner

    if check_engine(engine) == "spark":
        return _invoke_spark(settings, command, dbt_vars=dbt_vars, run_id=run_id, raise_on_failure=raise_on_failure)
    from dbt.contracts.graph.manifest import Manifest

    work = work_dir(settings)
    warehouse = warehouse or warehouse_path(settings, run_id)
    target_path, log_path = run_paths(settings, run_id)
    temp_dir = Path(settings.temp_directory).resolve() if "://" not in settings.temp_directory else work / "duckdb_tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    project = project_dir()
    env = {
        "ECOM_DBT_DUCKDB_PATH": str(warehouse),
        "ECOM_DBT_THREADS": str(max(1, settings.duckdb.threads)),
        "DUCKDB_MEMORY_LIMIT": settings.duckdb.engine_memory_limit,
        "DUCKDB_THREADS": str(settings.duckdb.threads),
        "ECOM_DBT_TEMP_DIRECTORY": str(temp_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "ECOM_DBT_FILESYSTEMS": json.dumps(filesystems(settings)),
    }
    common = _common_args(project, "local", target_path, log_path, dbt_vars)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    cache = work / MANIFEST_CACHE_DIR / f"{manifest_key(project, dbt_vars, warehouse.stem)}.pickle"
    with _profile_env(env):
        manifest = _load_manifest(cache) if cache.is_file() else None
        cached = manifest is not None
        if manifest is None:
            parsed = dbtRunner().invoke(["parse", "--no-partial-parse", "--no-write-json", *common])
            if parsed.success and isinstance(parsed.result, Manifest):
                manifest = parsed.result
                _save_manifest(cache, manifest)
        # No manifest (the project does not parse): the command itself reports why, as before.
        res = dbtRunner(manifest=manifest).invoke([*command, "--no-write-json", *common])
    summary = _summarise(" ".join(command), res, str(log_path / "dbt.log"))
    summary.manifest_cached = cached
    if summary.failed_sql:
        close_dbt_connections()  # the failing tests' rows are read from the warehouse file
        _name_failed_checks(summary, warehouse)
    if raise_on_failure and not summary.success:
        raise_for(summary, warehouse)
    return summary


# ------------------------------------------------------------------------------------- spark

ENGINES = ("duckdb", "spark")


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise EcomlakeError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
    if engine == "spark":
        from importlib.util import find_spec

        if find_spec("pyspark") is None or find_spec("dbt.adapters.spark") is None:
            raise EcomlakeError(
                "--engine spark needs pyspark and dbt-spark: install the spark extra "
                "(`pip install -e '.[spark]'`, as `make install` does)"
            )
    return engine


def spark_schema(run_id: str) -> str:
    """The run's own schema (Spark database): runs never share tables, and the run drops it after."""
    return "silver_" + "".join(ch if ch.isalnum() else "_" for ch in ids.run_id(run_id, "run id").lower())


def spark_session():
    """The process's SparkSession (ecomlake.spark), which dbt-spark's session method reuses."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    return session if session is not None else SparkSession.builder.getOrCreate()


def drop_spark_schema(run_id: str) -> None:
    """Drop the run's schema and its table files (nothing to do when no session was made)."""
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is None and getattr(SparkSession, "_instantiatedSession", None) is None:
        return
    spark_session().sql(f"drop database if exists {spark_schema(run_id)} cascade")


def _common_args(project: Path, target: str, target_path: Path, log_path: Path, dbt_vars: dict) -> list[str]:
    """The dbt arguments every invocation of a run shares (after the command)."""
    return [
        *("--project-dir", str(project), "--profiles-dir", str(project), "--target", target),
        *("--target-path", str(target_path), "--log-path", str(log_path)),
        *("--vars", json.dumps(dbt_vars), "--quiet"),
    ]


def _invoke_spark(
    settings: Settings, command: list[str], *, dbt_vars: dict, run_id: str, raise_on_failure: bool
) -> DbtSummary:
    """`invoke` on the `spark` target: dbt-spark's session method runs Spark SQL in this process.

    The project is parsed on every invocation (the cached manifest is DuckDB's: it holds the
    warehouse file's name in every relation). The session is started first by
    `ecomlake.spark.get_session` from the config's `spark:` settings; dbt-spark's
    `builder.getOrCreate()` then reuses it and applies only the profile's runtime SQL settings
    (TIMESTAMP as TIMESTAMP_NTZ, shuffle partitions), so dbt and Enriched share one configuration
    and one JVM, and the catalog is in memory (no Derby metastore; each run has its own schema).
    """
    from dbt.cli.main import dbtRunner

    from ecomlake.spark import get_session, spark_dir

    get_session(settings)
    work = spark_dir(settings)
    target_path, log_path = run_paths(settings, run_id)
    project = project_dir()
    env = {
        "ECOM_SPARK_WORK_DIR": str(work),
        "ECOM_SPARK_SCHEMA": spark_schema(run_id),
        "ECOM_SPARK_MASTER": settings.spark.master,
        "ECOM_SPARK_DRIVER_MEMORY": settings.spark.driver_memory,
        "ECOM_SPARK_SHUFFLE_PARTITIONS": str(settings.spark.shuffle_partitions),
        "ECOM_DBT_PROJECT_DIR": str(project),  # macros/lake.sql lists files with the project's own file
        "ECOM_DBT_THREADS": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    common = _common_args(project, "spark", target_path, log_path, dbt_vars)
    with _profile_env(env):
        res = dbtRunner().invoke([*command, "--no-write-json", *common])
    summary = _summarise(" ".join(command), res, str(log_path / "dbt.log"))
    if summary.failed_sql:
        _name_failed_checks_spark(summary)
    if raise_on_failure and not summary.success:
        raise_for(summary, work, what=f"Spark schema {spark_schema(run_id)} kept in")
    return summary


def _name_failed_checks_spark(summary: DbtSummary) -> None:
    """`_name_failed_checks` on the Spark session dbt used."""
    session = spark_session()

    def query(sql: str) -> tuple[list[str], list[tuple]]:
        df = session.sql(sql)
        return df.columns, [tuple(r) for r in df.collect()]

    _label_failed_checks(summary, query, Exception)


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


def _name_failed_checks(summary: DbtSummary, warehouse: Path) -> None:
    """Name what failed inside a test that returns (check_name, failing_rows) rows (the audits of
    tests/base_silver): `audit_stg_orders: ... [invalid_order_channel: 3 rows, null_batch_id: 1 row]`."""
    import duckdb

    if not warehouse.is_file():
        return
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return

    def query(sql: str) -> tuple[list[str], list[tuple]]:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()

    try:
        con.execute("SET TimeZone = 'UTC'")
        _label_failed_checks(summary, query, duckdb.Error)
    finally:
        con.close()


def _label_failed_checks(
    summary: DbtSummary,
    query: Callable[[str], tuple[list[str], list[tuple]]],
    errors: type[Exception] | tuple[type[Exception], ...],
) -> None:
    """Append the failing checks of each (check_name, failing_rows) audit to its line, querying the
    engine that ran it. Naming the checks is a courtesy: on an engine error the test's own line stands."""
    for i, line in enumerate(summary.failed_tests):
        name = line.split(":", 1)[0]
        sql = summary.failed_sql.get(name)
        if not sql:
            continue
        try:
            cols, rows = query(f"select * from ({sql}) limit 20")
        except errors:
            continue
        if cols[:2] == ["check_name", "failing_rows"] and rows:
            named = ", ".join(f"{c}: {n} row{'s' if abs(n) != 1 else ''}" for c, n in rows)
            summary.failed_tests[i] = f"{line} [{named}]"


def raise_for(summary: DbtSummary, warehouse: Path, what: str = "warehouse kept at") -> None:
    """One line: what failed, the first problem, and where to look."""
    where = f"{what} {warehouse}, log at {summary.log_path}"
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
