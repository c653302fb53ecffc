"""Fixtures shared by several functional modules (built at most once per test worker)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import silver_fixtures as sf

REAL_LAKE_DATE = "2023-01-01"


@pytest.fixture(scope="session")
def real_lake(tmp_path_factory) -> Path:
    """`silver_fixtures.build_real_lake` for 2023-01-01 (real dims and Base Silver runs), no metrics.

    Read-only: tests copy it before changing anything.
    """
    base = tmp_path_factory.mktemp("real_lake")
    sf.build_real_lake(base, REAL_LAKE_DATE)
    shutil.rmtree(base / "metrics")
    return base
