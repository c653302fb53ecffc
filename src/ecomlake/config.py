"""Typed settings: config/config.yml < environment variables < CLI flags.

A malformed file or an unknown key is an error that names the key (exit 2); there is no
silent fallback to defaults, because a threshold that changes without notice is worse than a
stopped pipeline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecomlake.errors import ConfigError

Environment = Literal["local", "dev", "prod"]
PublishMode = Literal["direct", "staging"]

DEFAULT_CONFIG_PATH = "config/config.yml"


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

    @property
    def quarantine_path(self) -> str:
        return self.silver_quarantine_path or self.silver_base_path.rstrip("/") + "/quarantine"


class DuckDBSettings(_Strict):
    memory_limit: str = "4GB"
    threads: int = Field(2, ge=1, le=256)
    temp_directory: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", v, re.IGNORECASE):
            raise ValueError(f"expected a size such as '4GB', got {v!r}")
        return v.strip()


class PublishSettings(_Strict):
    silver_publish_mode: PublishMode = "direct"
    enriched_publish_mode: PublishMode = "direct"
    dims_publish_mode: PublishMode = "direct"


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


class Settings(_Strict):
    environment: Environment = "local"
    paths: Paths = Field(default_factory=Paths)
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    bronze: BronzeSettings = Field(default_factory=BronzeSettings)
    dims: DimsSettings = Field(default_factory=DimsSettings)
    silver: SilverSettings = Field(default_factory=SilverSettings)
    quarantine: QuarantineSettings = Field(default_factory=QuarantineSettings)
    enriched: EnrichedSettings = Field(default_factory=EnrichedSettings)
    enriched_validation: EnrichedValidationSettings = Field(default_factory=EnrichedValidationSettings)

    # Where the file came from, for messages and reports (not a config key).
    source: str | None = Field(default=None, exclude=True)

    @property
    def temp_directory(self) -> str:
        return self.duckdb.temp_directory or self.paths.work_path.rstrip("/") + "/duckdb_tmp"


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
    "DUCKDB_MEMORY_LIMIT": ("duckdb.memory_limit", str),
    "DUCKDB_THREADS": ("duckdb.threads", int),
    "DUCKDB_TEMP_DIRECTORY": ("duckdb.temp_directory", str),
    "SILVER_PUBLISH_MODE": ("publish.silver_publish_mode", str),
    "ENRICHED_PUBLISH_MODE": ("publish.enriched_publish_mode", str),
    "DIMS_PUBLISH_MODE": ("publish.dims_publish_mode", str),
    "BRONZE_VALIDATION_LOOKBACK_DAYS": ("bronze.lookback_days", int),
    "DIMS_REQUIRE_DAILY_PARTITION": ("dims.require_daily_partition", _bool),
    "SILVER_VALIDATION_LOOKBACK_DAYS": ("silver.lookback_days", int),
    # The runbook's alert threshold is a fraction; the config key is the same threshold in percent.
    # Rounded so that 0.07 becomes 7.0, not 7.000000000000001.
    "MAX_QUARANTINE_RATE": ("silver.max_quarantine_pct", lambda v: round(float(v) * 100.0, 9)),
}


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}' (check the spelling; see config/config.yml for every key)"
    return f"{source}: invalid value for '{key}': {first['msg']}"


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Load settings from the config file, then the environment, then `overrides` (CLI flags).

    `overrides` maps dotted keys (``"paths.bronze_base_path"``) to values; None values are ignored
    so that unset CLI flags do not mask the environment.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("ECOM_CONFIG_PATH"))
    cfg_path = Path(path or env.get("ECOM_CONFIG_PATH") or DEFAULT_CONFIG_PATH)
    data: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            loaded = yaml.safe_load(cfg_path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(
                f"{cfg_path}: not valid YAML{where}; fix the file or point ECOM_CONFIG_PATH elsewhere"
            ) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{cfg_path}: expected a mapping of keys at the top level")
        data = loaded
    elif explicit:
        raise ConfigError(f"config file not found: {cfg_path} (set --config or ECOM_CONFIG_PATH to an existing file)")

    source = str(cfg_path) if cfg_path.exists() else "defaults"
    for var, (dotted, conv) in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        try:
            _set_dotted(data, dotted, conv(raw))
        except (TypeError, ValueError):
            raise ConfigError(f"environment variable {var}={raw!r} is not valid for '{dotted}'") from None
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None
    settings.source = source
    return settings
