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


@pytest.fixture(scope="session")
def gcs_emulator():
    """A fake-gcs-server process on 127.0.0.1 for the whole session; STORAGE_EMULATOR_HOST points at it."""
    import os

    import gcs_emulator as emu

    server = emu.start()
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = server.url
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old
        server.stop()


@pytest.fixture
def bucket(gcs_emulator) -> str:
    """A fresh, empty bucket on the emulator (its name)."""
    return gcs_emulator.new_bucket()
