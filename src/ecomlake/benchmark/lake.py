"""Benchmark lakes: a cached Bronze lake per set of generator parameters, and the environment that
points every stage at one lake.

Bronze is the expensive, deterministic part (same parameters and seed give the same bytes), so it
is generated once into `<cache-dir>/bronze/<key>/` and reused. The key covers the parameters,
the generator's version string and a hash of the generator's and the contract's source, so a
change to the generator makes a new lake instead of silently reusing an old one. Stages only read
Bronze, so every run points BRONZE_BASE_PATH at the cached lake directly. Everything derived
(dims, silver, enriched, gold, metrics, reports, spill) lives in a per-run lake directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ecomlake import storage

# Environment variables a user may have set that would redirect or distort a benchmark run.
_DROPPED_ENV = (
    "SILVER_QUARANTINE_PATH",
    "RUN_ID",
    "ECOMLAKE_FAULT",
    "ECOM_SAMPLES_PATH",
    "BRONZE_VALIDATION_LOOKBACK_DAYS",
    "SILVER_VALIDATION_LOOKBACK_DAYS",
)


@dataclass(frozen=True)
class BronzeSpec:
    orders_per_day: int
    days: int
    start_date: str
    seed: int

    @property
    def dates(self) -> list[str]:
        d0 = dt.date.fromisoformat(self.start_date)
        return [(d0 + dt.timedelta(days=i)).isoformat() for i in range(self.days)]

    def key(self) -> str:
        from ecomlake.bronze import generator

        src = hashlib.sha256()
        pkg = Path(generator.__file__).parent
        for f in [*sorted(pkg.glob("gen*.py")), pkg.parent / "contract.py"]:
            src.update(f.name.encode() + f.read_bytes())
        ident = json.dumps(
            {
                "orders_per_day": self.orders_per_day,
                "days": self.days,
                "start_date": self.start_date,
                "seed": self.seed,
                "generator_version": generator.GENERATOR_VERSION,
                "generator_source": src.hexdigest(),
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
        return f"o{self.orders_per_day}_d{self.days}_{self.start_date}_s{self.seed}_{digest}"


def ecomlake_argv(*args: str) -> list[str]:
    """The real CLI, in the interpreter that runs the harness."""
    return [sys.executable, "-m", "ecomlake", *args]


def cached_bronze(cache_dir: Path, spec: BronzeSpec) -> Path | None:
    root = cache_dir / "bronze" / spec.key()
    marker = root.with_suffix(".json")
    return root if root.is_dir() and marker.is_file() else None


def bronze_target(cache_dir: Path, spec: BronzeSpec) -> tuple[Path, Path]:
    """(final root, temporary root) for generating `spec` into the cache."""
    root = cache_dir / "bronze" / spec.key()
    return root, root.with_name(root.name + f".tmp-{os.getpid()}")


def seal_bronze(tmp: Path, root: Path, spec: BronzeSpec, seconds: float) -> None:
    """Move a completed generation into place, then write the marker (a crash leaves no marker)."""
    if root.exists():
        storage.remove_tree(str(root), str(root.parent))
    tmp.rename(root)
    meta = {
        "orders_per_day": spec.orders_per_day,
        "days": spec.days,
        "start_date": spec.start_date,
        "seed": spec.seed,
        "generate_seconds": round(seconds, 2),
        "key": spec.key(),
    }
    root.with_suffix(".json").write_text(json.dumps(meta, indent=2))


def lake_env(lake: Path, bronze: Path, *, memory_limit: str, threads: int, config_path: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(
        {
            "BRONZE_BASE_PATH": str(bronze),
            "SILVER_BASE_PATH": str(lake / "silver" / "base"),
            "SILVER_DIMS_PATH": str(lake / "silver" / "dims"),
            "SILVER_ENRICHED_PATH": str(lake / "silver" / "enriched"),
            "GOLD_PATH": str(lake / "gold"),
            "METRICS_BASE_PATH": str(lake / "metrics"),
            "REPORTS_BASE_PATH": str(lake / "reports"),
            "ECOM_WORK_PATH": str(lake / "work"),
            "DUCKDB_MEMORY_LIMIT": memory_limit,
            "DUCKDB_THREADS": str(threads),
            "DUCKDB_TEMP_DIRECTORY": str(lake / "work" / "duckdb_tmp"),
            "PIPELINE_ENV": "local",
            # Each stage publishes what the next one reads; staging mode would wait for a promote.
            "SILVER_PUBLISH_MODE": "direct",
            "ENRICHED_PUBLISH_MODE": "direct",
            "DIMS_PUBLISH_MODE": "direct",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if config_path:
        env["ECOM_CONFIG_PATH"] = config_path
    return env
