"""Configuration never falls back silently (issue 10, section 3), on a small real lake.

Run from a directory without config/config.yml, the lake used to load built-in defaults with no
semantic checks and no tax rates, and the Enriched gate said "0 semantic checks" and PASS. Now the
packaged default (a copy of config/config.yml) is loaded and named, every report and metrics JSON
names its config source, and a gate that loaded no checks FAILs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import lake_env
from lake_fixtures import D, copy_lake, golden_lake

from ecomlake.config import packaged_config_path

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SEMANTIC = sum(
    len(v)
    for v in yaml.safe_load((REPO / "config" / "config.yml").read_text())["enriched_validation"][
        "semantic_checks"
    ].values()
)


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> Path:
    """A copy of the lake in a directory that has no config/config.yml."""
    golden, _ = golden_lake(tmp_path_factory)
    box = tmp_path_factory.mktemp("elsewhere")
    copy_lake(golden, box / "lake")
    return box


def _run(args: list[str], box: Path, **env: str) -> subprocess.CompletedProcess:
    e = lake_env(box / "lake", **env)
    if "ECOM_CONFIG_PATH" not in env:
        e.pop("ECOM_CONFIG_PATH")
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args], env=e, cwd=str(box), capture_output=True, text=True, timeout=600
    )


def _gate_json(box: Path, gate: str, run_id: str) -> dict:
    return json.loads((box / "lake" / "metrics" / f"{gate}_{run_id}.json").read_text())


def test_enriched_gate_outside_the_repo_loads_the_packaged_config_and_names_it(elsewhere):
    p = _run(["enriched", "validate", "--ingest-dt", D, "--run-id", "from_elsewhere"], elsewhere)
    assert p.returncode == 0, p.stderr
    packaged = str(packaged_config_path())
    assert f"note: no config/config.yml in this directory; used the packaged default {packaged}" in p.stderr
    data = _gate_json(elsewhere, "enriched_quality", "from_elsewhere")
    assert data["metadata"]["config_source"] == packaged
    assert data["overall_status"] == "PASS"
    loaded = next(c for c in data["checks"] if c["name"] == "config_checks_loaded")
    assert loaded["status"] == "PASS" and loaded["observed"]["semantic_checks"] == SEMANTIC > 20
    report = (elsewhere / "lake" / "reports" / f"ENRICHED_QUALITY_{D}.md").read_text()
    assert f"**Config:** `{packaged}`" in report


def test_silver_and_dims_gates_name_their_config_source(elsewhere):
    cfg = str(REPO / "config" / "config.yml")
    p = _run(["silver", "validate", "--partition-date", D, "--run-id", "s1"], elsewhere, ECOM_CONFIG_PATH=cfg)
    assert p.returncode == 0, p.stderr
    assert _gate_json(elsewhere, "silver_quality", "s1")["metadata"]["config_source"] == cfg
    p = _run(["dim", "validate", "--run-date", D, "--run-id", "d1"], elsewhere, ECOM_CONFIG_PATH=cfg)
    assert p.returncode == 0, p.stderr
    assert _gate_json(elsewhere, "dims_quality", "d1")["metadata"]["config_source"] == cfg
    assert "note:" not in p.stderr  # an explicit config needs no note


def test_a_config_without_semantic_checks_fails_the_enriched_gate(elsewhere):
    bare = elsewhere / "bare.yml"
    bare.write_text("environment: local\n")
    p = _run(
        ["enriched", "validate", "--ingest-dt", D, "--run-id", "bare1", "--enforce"],
        elsewhere,
        ECOM_CONFIG_PATH=str(bare),
    )
    assert p.returncode == 1, p.stderr  # FAIL with --enforce
    data = _gate_json(elsewhere, "enriched_quality", "bare1")
    assert data["overall_status"] == "FAIL"
    loaded = next(c for c in data["checks"] if c["name"] == "config_checks_loaded")
    assert loaded["status"] == "FAIL"
    assert loaded["message"] == (
        f"no enriched_validation.semantic_checks or sanity_checks loaded from {bare}: the gate would check no business rule"
    )
    assert "config_checks_loaded" in p.stderr


def test_malformed_section_with_a_flag_override_is_still_exit_2(elsewhere):
    # The lake's environment overrides keys inside `paths` (BRONZE_BASE_PATH, ...); a flag adds one more.
    bad = elsewhere / "bad.yml"
    bad.write_text("paths: oops\n")
    env_only = _run(["silver", "validate", "--partition-date", D], elsewhere, ECOM_CONFIG_PATH=str(bad))
    with_flag = _run(
        ["silver", "validate", "--partition-date", D, "--silver-path", "lake/silver/base"],
        elsewhere,
        ECOM_CONFIG_PATH=str(bad),
    )
    assert env_only.returncode == with_flag.returncode == 2
    assert env_only.stderr == with_flag.stderr
    assert env_only.stderr.strip() == (
        f"error: {bad}: invalid value for 'paths': Input should be a valid dictionary or instance of Paths"
    )
