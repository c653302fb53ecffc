"""The one place a Spark session is created (`--engine spark`, dbt-spark's session method, tests).

`get_session(settings)` returns the process's SparkSession, starting it on first use:
- master from `spark.master` (default `local[2]`), driver memory from `spark.driver_memory`;
- no web UI, driver bound to 127.0.0.1 (never a public interface), session time zone UTC (Spark's
  TIMESTAMP is zone-aware; in UTC it reads and writes the lake's naive timestamps unchanged);
- warehouse, Derby metastore, scratch and JVM temp dirs under `<work_path>/spark`, never the cwd;
- Spark's own logging at ERROR on stderr, so the CLI's output stays ours.

A JVM can hold one session configuration: the first call's settings win for the life of the
process (the session is reused by every later call, which keeps tests to one JVM per worker).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ecomlake.config import Settings
from ecomlake.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOCK = threading.Lock()
_SESSION: list[SparkSession] = []  # the session this module started (at most one)

# Spark's log4j2 defaults print INFO/WARN lines to stderr on every start; ERROR only.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""

GCS_FS_CONF = "spark.hadoop.fs.gs.impl"
GCS_CONNECTOR_HINT = (
    "the GCS connector for Hadoop 3 (the gcs-connector-hadoop3 shaded jar on Spark's classpath, e.g. "
    f"spark.jars in config spark.conf, with {GCS_FS_CONF}: com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem)"
)


def spark_dir(settings: Settings) -> Path:
    """Local directory for the session's warehouse, metastore and scratch files."""
    work = settings.paths.work_path
    if "://" in work:  # config allows only local work paths; be explicit anyway
        raise InputError(f"paths.work_path {work!r} must be local for Spark's scratch files")
    return Path(work).resolve() / "spark"


def _start_with_stderr_to(log_path: Path, start: Callable[[], SparkSession]) -> SparkSession:
    """Run `start` (which launches the JVM) with file descriptor 2 pointing at `log_path`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            return start()
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def get_session(settings: Settings) -> SparkSession:
    """The process's SparkSession (started with `settings` on first use)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the `spark` extra is not installed
        raise InputError(
            "--engine spark needs pyspark: install the spark extra (pip install 'ecomlake[spark]')"
        ) from exc
    with _LOCK:
        if _SESSION and _SESSION[0].sparkContext._jsc is not None:  # not stopped
            return _SESSION[0]
        _SESSION.clear()
        base = spark_dir(settings)
        for sub in ("warehouse", "derby", "tmp", "local"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        log_conf = base / "log4j2.properties"
        log_conf.write_text(_LOG4J2)
        # The driver resolves its own address from the environment before reading the conf.
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        java_opts = (
            f"-Dderby.system.home={base / 'derby'} -Djava.io.tmpdir={base / 'tmp'} "
            f"-Dlog4j2.configurationFile={log_conf}"
        )
        # The JVM inherits this process's stderr and writes to it outside log4j (JDK notices, stage
        # progress); give it a log file of its own so the CLI's stderr stays ours.
        builder = SparkSession.builder
        for key, value in settings.spark.conf.items():
            builder = builder.config(key, value)
        session = _start_with_stderr_to(
            base / "spark.log",
            lambda: (
                builder.master(settings.spark.master)
                .appName("ecomlake")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.warehouse.dir", str(base / "warehouse"))
                .config("spark.local.dir", str(base / "local"))
                .config("spark.driver.extraJavaOptions", java_opts)
                .config("spark.executor.extraJavaOptions", java_opts)
                .config("spark.driver.memory", settings.spark.driver_memory)
                .config("spark.sql.shuffle.partitions", str(settings.spark.shuffle_partitions))
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate()
            ),
        )
        session.sparkContext.setLogLevel("ERROR")
        _SESSION.append(session)
        return session
