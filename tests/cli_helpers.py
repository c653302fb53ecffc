"""Helpers for tests that drive the CLI like a user's shell: isolated lake paths and a runner.

A plain module (not conftest) so test modules anywhere under tests/ can import it by one name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ECOMLAKE = str(Path(sys.executable).with_name("ecomlake"))


def lake_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment that points every ecomlake path under `root` (never the repo's data/ or docs/)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID", "MAX_QUARANTINE"))
    }
    env.update(
        BRONZE_BASE_PATH=str(root / "bronze"),
        SILVER_BASE_PATH=str(root / "silver" / "base"),
        SILVER_DIMS_PATH=str(root / "silver" / "dims"),
        SILVER_ENRICHED_PATH=str(root / "silver" / "enriched"),
        GOLD_PATH=str(root / "gold"),
        METRICS_BASE_PATH=str(root / "metrics"),
        REPORTS_BASE_PATH=str(root / "reports"),
        ECOM_WORK_PATH=str(root / "work"),
        ECOM_CONFIG_PATH=str(REPO / "config" / "config.yml"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | str = REPO, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run `ecomlake <args>` in a fresh process, as a user would."""
    return subprocess.run([ECOMLAKE, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout)
