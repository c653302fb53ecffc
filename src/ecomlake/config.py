"""Typed settings: config file < environment variables < CLI flags.

The config file is the one named by `--config` or `ECOM_CONFIG_PATH`, else `config/config.yml`
in the directory you run from, else the copy of it shipped in the package
(`ecomlake/default_config.yml`, kept identical to the repository's `config/config.yml` by a
test), so a run from any directory gets the same thresholds, semantic checks and tax rates.
Which file was loaded is `Settings.source`; every report and metrics JSON names it.

A malformed file or an unknown key is an error that names the key (exit 2); a bad environment
variable names the variable and its value; there is no silent fallback to defaults, because a
threshold that changes without notice is worse than a stopped pipeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator

from ecomlake.errors import ConfigError

Environment = Literal["local", "dev", "prod"]
PublishMode = Literal["direct", "staging"]
Engine = Literal["duckdb", "spark"]

DEFAULT_CONFIG_PATH = "config/config.yml"
PACKAGED_CONFIG = "default_config.yml"  # package data: the same file as config/config.yml
MEMORY_LIMIT_PATTERN = re.compile(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def packaged_config_path() -> Path:
    """The default config shipped with the package."""
    return Path(str(resources.files("ecomlake").joinpath(PACKAGED_CONFIG)))


_GS_URL = re.compile(r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^/].*)?")
# Layer roots that may live on GCS; the others are written by every command and stay local.
REMOTE_OK = frozenset(
    {
        "bronze_base_path",
        "silver_base_path",
        "silver_quarantine_path",
        "silver_dims_path",
        "silver_enriched_path",
        "gold_path",
    }
)


def check_path(value: str | None, remote_ok: bool = False) -> str | None:
    """A lake path: not empty, no control characters, not the filesystem root; a gs://bucket/prefix
    URL only where `remote_ok` (the layer roots)."""
    if value is None:
        return value
    if not value.strip():
        raise ValueError("a path must not be empty")
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a control character")
    if "://" in value:
        if not remote_ok:
            raise ValueError(
                f"{value!r} is a URL; this path must be local (only the layer roots bronze, silver base, "
                "quarantine, dims, enriched and gold may be gs://)"
            )
        if not _GS_URL.fullmatch(value.rstrip("/")):
            raise ValueError(f"{value!r} is not a gs://bucket/prefix URL (GCS is the only object store supported)")
        if ".." in value.split("/"):
            raise ValueError(f"{value!r} contains a '..' component")
        return value.rstrip("/")
    if os.path.realpath(value) == os.path.realpath(os.sep):
        raise ValueError(f"{value!r} is the filesystem root; give the lake a directory of its own")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Paths(_Strict):
    bronze_base_path: str = "data/bronze"
    silver_base_path: str = "data/silver/base"
    silver_quarantine_path: str | None = None
    silver_dims_path: str = "data/silver/dims"
    silver_enriched_path: str = "data/silver/enriched"
    gold_path: str = "data/gold"
    metrics_base_path: str = "data/metrics"
    reports_base_path: str = "docs/validation_reports"
    work_path: str = "data/_work"
    samples_path: str = "samples"
    lineage_path: str | None = None

    @field_validator("*")
    @classmethod
    def _path(cls, v: str | None, info: ValidationInfo) -> str | None:
        return check_path(v, remote_ok=info.field_name in REMOTE_OK)

    @property
    def quarantine_path(self) -> str:
        return self.silver_quarantine_path or self.silver_base_path.rstrip("/") + "/quarantine"

    @property
    def lineage_dir(self) -> str:
        """OpenLineage event files: `lineage_path`, else `lineage/` beside the metrics directory."""
        return self.lineage_path or os.path.join(os.path.dirname(self.metrics_base_path.rstrip("/")), "lineage")


_UNIT_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNIT_BYTES |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
# `duckdb.memory_limit` is the budget of a whole ecomlake process. DuckDB's own limit caps only its
# buffer manager; Python, the Arrow batches being written, dbt and the allocator come on top (about
# 0.5 to 0.7 GiB measured at 1M orders/day), so DuckDB gets this share of the budget.
DUCKDB_SHARE_OF_BUDGET = 0.75


class DuckDBSettings(_Strict):
    memory_limit: str = "4GB"  # the process's budget; DuckDB itself gets DUCKDB_SHARE_OF_BUDGET of it
    threads: int = Field(2, ge=1, le=256)
    temp_directory: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not MEMORY_LIMIT_PATTERN.fullmatch(v):
            raise ValueError(f"expected a size such as '4GB', got {v!r}")
        return v.strip()

    @field_validator("temp_directory")
    @classmethod
    def _temp(cls, v: str | None) -> str | None:
        return check_path(v)

    @property
    def engine_memory_limit(self) -> str:
        """DuckDB's `memory_limit` (its buffer manager's cap), in whole MiB."""
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", self.memory_limit, re.IGNORECASE)
        assert m is not None  # checked by the validator
        budget = float(m.group(1)) * _UNIT_BYTES[m.group(2).upper()]
        return f"{max(1, int(budget * DUCKDB_SHARE_OF_BUDGET / 2**20))}MiB"


class SparkSettings(_Strict):
    """The local Spark session (ecomlake.spark.get_session) used by `--engine spark`."""

    master: str = "local[2]"
    driver_memory: str = "2g"
    # Spark's default of 200 shuffle partitions is tuned for clusters; a day on one machine needs few
    # (adaptive execution coalesces them further).
    shuffle_partitions: int = Field(8, ge=1)
    conf: dict[str, str] = Field(default_factory=dict)  # any other Spark conf, set at session start

    @field_validator("driver_memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not re.fullmatch(r"\s*\d+[kmgt]\s*", v, re.IGNORECASE):
            raise ValueError(f"expected a JVM size such as '2g' or '512m', got {v!r}")
        return v.strip()


class PublishSettings(_Strict):
    silver_publish_mode: PublishMode = "direct"
    enriched_publish_mode: PublishMode = "direct"
    dims_publish_mode: PublishMode = "direct"
    # A writer's lease (ecomlake.locks) is broken after this long even if its holder cannot be
    # proven dead (another host); well above the longest run.
    lease_timeout_minutes: float = Field(360, gt=0)


class GcsSettings(_Strict):
    """gs:// roots (ecomlake.gcs): per-request timeout and retries of transient failures."""

    request_timeout_s: float = Field(60.0, gt=0, le=3600)
    retries: int = Field(5, ge=0, le=20)
    max_backoff_s: float = Field(32.0, ge=0, le=600)


class BigQuerySettings(_Strict):
    """`ecomlake gold load-bigquery` defaults (flags win)."""

    project: str | None = None
    dataset: str | None = None
    location: str | None = None


class LineageSettings(_Strict):
    """OpenLineage events of every run (ecomlake.lineage): always to files, to HTTP when `url` is set."""

    enabled: bool = True
    namespace: str = Field("ecomlake", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    url: str | None = None  # e.g. Marquez: http://127.0.0.1:5000
    endpoint: str = Field("api/v1/lineage", pattern=r"^[A-Za-z0-9._/-]{1,200}$")
    timeout_s: float = Field(5.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/-]*)?", v.strip()):
            raise ValueError(f"expected an http(s)://host[:port][/path] URL, got {v!r}")
        return v.strip().rstrip("/")


class BronzeSettings(_Strict):
    max_part_file_rows: int = Field(250_000, ge=1)
    lookback_days: int = Field(0, ge=0)


class DimsSettings(_Strict):
    max_shrink_pct: float = Field(5.0, ge=0, le=100)
    # A day without a customers/product_catalog partition means nothing changed: snapshot(D) is
    # snapshot(D-1) carried forward, with a WARN. True turns that day into an error (exit 2).
    require_daily_partition: bool = False


def _bool(value: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


class SilverSettings(_Strict):
    lookback_days: int = Field(0, ge=0)
    max_future_skew_hours: int = Field(24, ge=0)
    max_quarantine_pct: float = Field(5.0, ge=0, le=100)
    sla_thresholds: dict[str, float] = Field(default_factory=dict)
    min_table_rows: dict[str, int] = Field(default_factory=dict)

    @field_validator("sla_thresholds")
    @classmethod
    def _sla(cls, v: dict[str, float]) -> dict[str, float]:
        from ecomlake.contract import TABLES

        for table, rate in v.items():
            if table not in TABLES:
                raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
            if not 0 <= rate <= 1:
                raise ValueError(f"{table}: SLA must be a fraction in [0, 1], got {rate}")
        return v

    @field_validator("min_table_rows")
    @classmethod
    def _min_rows(cls, v: dict[str, int]) -> dict[str, int]:
        from ecomlake.contract import TABLES

        for table, n in v.items():
            if table not in TABLES:
                raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
            if n < 0:
                raise ValueError(f"{table}: min_table_rows must be >= 0, got {n}")
        return v

    def sla(self, table: str) -> float:
        return self.sla_thresholds.get(table, 0.95)

    def min_rows(self, table: str) -> int:
        return self.min_table_rows.get(table, 1)


class QuarantineSettings(_Strict):
    retention_days: dict[str, int | None] = Field(default_factory=lambda: {"prod": 30, "dev": 7, "local": None})


class EnrichedSettings(_Strict):
    engine: Engine = "duckdb"  # the Ibis backend the transforms run on (`--engine` wins)
    lookback_days: int = Field(0, ge=0)
    attribution_tolerance_hours: float = Field(48, gt=0)
    churn_days: int = Field(90, ge=1)
    whale_clv: float = 500
    whale_orders: int = 5
    medium_clv: float = 200
    churn_danger_window_days: tuple[int, int] = (30, 90)
    bronze_nudge_days: int = 14
    bronze_nudge_tier: str = "bronze"
    sales_velocity_window_days: int = Field(7, ge=1)
    trend_up_multiplier: float = 1.2
    trend_down_multiplier: float = 0.8
    anomaly_std_multiplier: float = 2.0
    anomaly_min_history_days: int = 14
    inventory_high_cover_days: float = 7
    inventory_moderate_cover_days: float = 14
    inventory_overstock_cover_days: float = 180
    inventory_return_ratio_moderate: float = 0.2
    default_tax_rate: float = Field(0.0, ge=0, le=1)
    tax_rates: dict[str, float] = Field(default_factory=dict)
    max_rows_per_file: int = Field(500_000, ge=1)


class SemanticCheck(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    expr: str


class EnrichedValidationSettings(_Strict):
    ratio_epsilon: float = Field(1e-4, ge=0)
    currency_tolerance: float = Field(0.01, ge=0)
    min_table_rows: dict[str, int] = Field(default_factory=dict)
    sanity_checks: dict[Literal["non_negative", "rate_0_1"], list[str]] = Field(default_factory=dict)
    semantic_checks: dict[str, list[SemanticCheck]] = Field(default_factory=dict)


def _per_env(local: int, dev: int, prod: int) -> dict[Environment, int]:
    return {"local": local, "dev": dev, "prod": prod}


class OrchestrationSettings(_Strict):
    """The daily pipeline's scheduling (ecomlake.pipeline, airflow/dags): read when a DAG file is parsed,
    except the gates' strictness, which each run decides (its environment and the DAG params)."""

    schedule: str = "@daily"  # cron or preset; each run processes its data interval's start date
    start_date: str = Field("2023-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$")
    sensor_timeout_seconds: int = Field(6 * 3600, ge=1)  # Bronze/dims sensors give up after this
    sensor_poke_interval_seconds: int = Field(300, ge=1)
    retries: dict[Environment, int] = Field(default_factory=lambda: _per_env(0, 1, 2))
    retry_delay_seconds: dict[Environment, int] = Field(default_factory=lambda: _per_env(60, 300, 600))

    @field_validator("retries", "retry_delay_seconds")
    @classmethod
    def _per_env(cls, v: dict[str, int]) -> dict[str, int]:
        missing = [e for e in ("local", "dev", "prod") if e not in v]
        if missing:
            raise ValueError(f"needs a value for every environment (missing: {', '.join(missing)})")
        if any(n < 0 for n in v.values()):
            raise ValueError("values must be >= 0")
        return v


class Settings(_Strict):
    environment: Environment = "local"
    paths: Paths = Field(default_factory=Paths)
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    gcs: GcsSettings = Field(default_factory=GcsSettings)
    bigquery: BigQuerySettings = Field(default_factory=BigQuerySettings)
    lineage: LineageSettings = Field(default_factory=LineageSettings)
    bronze: BronzeSettings = Field(default_factory=BronzeSettings)
    dims: DimsSettings = Field(default_factory=DimsSettings)
    silver: SilverSettings = Field(default_factory=SilverSettings)
    quarantine: QuarantineSettings = Field(default_factory=QuarantineSettings)
    enriched: EnrichedSettings = Field(default_factory=EnrichedSettings)
    enriched_validation: EnrichedValidationSettings = Field(default_factory=EnrichedValidationSettings)
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)

    # Where the file came from, for messages and reports (not a config key: a private attribute).
    _source: str | None = PrivateAttr(default=None)
    _source_kind: str = PrivateAttr(default="none")

    @property
    def source(self) -> str | None:
        """The config file these settings were loaded from (absolute path), or None (built in code)."""
        return self._source

    @property
    def source_kind(self) -> str:
        """'explicit' (--config / ECOM_CONFIG_PATH), 'project' (./config/config.yml), 'packaged' or 'none'."""
        return self._source_kind

    @property
    def temp_directory(self) -> str:
        return self.duckdb.temp_directory or self.paths.work_path.rstrip("/") + "/duckdb_tmp"


def _fraction_as_pct(raw: str) -> float:
    """MAX_QUARANTINE_RATE is a fraction (0.05 = 5%); the config key holds the same threshold in percent."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError("expected a fraction between 0 and 1 (0.05 means 5%)")
    return round(value * 100.0, 9)  # 0.07 becomes 7.0, not 7.000000000000001


# Environment variable -> (dotted key, converter). One table so docs and code agree.
ENV_OVERRIDES: dict[str, tuple[str, Any]] = {
    "PIPELINE_ENV": ("environment", str),
    "BRONZE_BASE_PATH": ("paths.bronze_base_path", str),
    "SILVER_BASE_PATH": ("paths.silver_base_path", str),
    "SILVER_QUARANTINE_PATH": ("paths.silver_quarantine_path", str),
    "SILVER_DIMS_PATH": ("paths.silver_dims_path", str),
    "SILVER_ENRICHED_PATH": ("paths.silver_enriched_path", str),
    "GOLD_PATH": ("paths.gold_path", str),
    "METRICS_BASE_PATH": ("paths.metrics_base_path", str),
    "REPORTS_BASE_PATH": ("paths.reports_base_path", str),
    "ECOM_WORK_PATH": ("paths.work_path", str),
    "ECOM_SAMPLES_PATH": ("paths.samples_path", str),
    "LINEAGE_PATH": ("paths.lineage_path", str),
    "DUCKDB_MEMORY_LIMIT": ("duckdb.memory_limit", str),
    "DUCKDB_THREADS": ("duckdb.threads", int),
    "DUCKDB_TEMP_DIRECTORY": ("duckdb.temp_directory", str),
    "SPARK_MASTER": ("spark.master", str),
    "SPARK_DRIVER_MEMORY": ("spark.driver_memory", str),
    "ENRICHED_ENGINE": ("enriched.engine", str),
    "SILVER_PUBLISH_MODE": ("publish.silver_publish_mode", str),
    "ENRICHED_PUBLISH_MODE": ("publish.enriched_publish_mode", str),
    "DIMS_PUBLISH_MODE": ("publish.dims_publish_mode", str),
    "GCS_REQUEST_TIMEOUT_S": ("gcs.request_timeout_s", float),
    "GCS_RETRIES": ("gcs.retries", int),
    "GCS_MAX_BACKOFF_S": ("gcs.max_backoff_s", float),
    "BIGQUERY_PROJECT": ("bigquery.project", str),
    "BIGQUERY_DATASET": ("bigquery.dataset", str),
    "BIGQUERY_LOCATION": ("bigquery.location", str),
    "LINEAGE_ENABLED": ("lineage.enabled", _bool),
    "OPENLINEAGE_NAMESPACE": ("lineage.namespace", str),
    "OPENLINEAGE_URL": ("lineage.url", str),
    "OPENLINEAGE_ENDPOINT": ("lineage.endpoint", str),
    "BRONZE_VALIDATION_LOOKBACK_DAYS": ("bronze.lookback_days", int),
    "DIMS_REQUIRE_DAILY_PARTITION": ("dims.require_daily_partition", _bool),
    "SILVER_VALIDATION_LOOKBACK_DAYS": ("silver.lookback_days", int),
    # The runbook's alert threshold is a fraction; the config key is the same threshold in percent.
    "MAX_QUARANTINE_RATE": ("silver.max_quarantine_pct", _fraction_as_pct),
    "SENSOR_TIMEOUT_SECONDS": ("orchestration.sensor_timeout_seconds", int),
    "SENSOR_POKE_INTERVAL_SECONDS": ("orchestration.sensor_poke_interval_seconds", int),
}


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a nested key. A section that is present but not a mapping (``paths: oops``) is left as
    it is, so validation rejects it exactly as it would without the override."""
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        if part in node and not isinstance(node[part], dict):
            return
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", ""))
    return msg.removeprefix("Value error, ")


def _describe(err: ValidationError, source: str, origins: dict[str, str]) -> str:
    """One line naming what is wrong and who set it: the config file, an environment variable or a flag."""
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    origin = next((o for k, o in origins.items() if key == k or key.startswith(k + ".")), None)
    if origin is not None:
        return f"{origin} is not valid for '{key}': {_message(first)}"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}' (check the spelling; see config/config.yml for every key)"
    return f"{source}: invalid value for '{key}': {_message(first)}"


def _find_config(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[Path, str, str]:
    """(file to load, kind, how to name it in errors). Explicit choices must exist; the project's
    config/config.yml comes next; the packaged default last (never nothing, never silently)."""
    from_env = env.get("ECOM_CONFIG_PATH")
    if path is not None or from_env:
        chosen = str(path) if path is not None else str(from_env)
        named = (
            f"environment variable ECOM_CONFIG_PATH={chosen!r}"
            if from_env and chosen == from_env
            else f"--config {chosen!r}"
        )
        p = Path(chosen)
        if not chosen.strip() or _CONTROL.search(chosen):
            raise ConfigError(f"{named}: not a file name")
        if not p.exists():
            raise ConfigError(
                f"{named}: config file not found: {p} (set --config or ECOM_CONFIG_PATH to an existing file)"
            )
        if not p.is_file():
            raise ConfigError(f"{named}: {p} is not a file")
        return p, "explicit", str(p)
    project = Path(DEFAULT_CONFIG_PATH)
    if project.is_file():
        return project, "project", str(project)
    packaged = packaged_config_path()
    if packaged.is_file():
        return packaged, "packaged", str(packaged)
    raise ConfigError(
        f"no config file: neither {DEFAULT_CONFIG_PATH} in {os.getcwd()} nor the packaged {packaged}; "
        "pass --config or set ECOM_CONFIG_PATH"
    )


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Load settings from the config file, then the environment, then `overrides` (CLI flags).

    The file is `path`, else ECOM_CONFIG_PATH, else ./config/config.yml, else the packaged default.
    `overrides` maps dotted keys (``"paths.bronze_base_path"``) to values; None values are ignored
    so that unset CLI flags do not mask the environment.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    cfg_path, kind, shown = _find_config(path, environ)
    try:
        loaded = yaml.safe_load(cfg_path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{where}; fix the file or point ECOM_CONFIG_PATH elsewhere") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read the config file: {exc}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{shown}: expected a mapping of keys at the top level")
    data: dict[str, Any] = loaded

    origins: dict[str, str] = {}
    for var, (dotted, conv) in ENV_OVERRIDES.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        named = f"environment variable {var}={raw!r}"
        try:
            value = conv(raw)
        except (TypeError, ValueError) as exc:
            why = "expected a whole number" if conv is int else str(exc)
            raise ConfigError(f"{named} is not valid for '{dotted}': {why}") from None
        _set_dotted(data, dotted, value)
        origins[dotted] = named
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
            origins[dotted] = f"command-line value {value!r}"
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, shown, origins)) from None
    settings._source = os.path.abspath(cfg_path)
    settings._source_kind = kind
    from ecomlake import gcs

    gcs.configure(settings.gcs.request_timeout_s, settings.gcs.retries, settings.gcs.max_backoff_s)
    return settings
