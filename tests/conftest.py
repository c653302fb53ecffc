"""Shared test plumbing: isolated lake paths (helpers in cli_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import ECOMLAKE, REPO, lake_env, run_cli  # noqa: F401  (re-exported for older imports)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def env(lake: Path) -> dict[str, str]:
    return lake_env(lake)
