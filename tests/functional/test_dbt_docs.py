"""`dbt docs generate` from dbt_duckdb/, offline, on a fresh clone (no Bronze, no dims, no warehouse yet).

It runs as a user types it, from the project directory, with the warehouse file, target/ and logs/
pointed at a temp dir so nothing is written into the repository. The manifest must hold every model
of the project with its description, its columns' descriptions and its tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_duckdb"
DBT = str(Path(sys.executable).with_name("dbt"))
pytestmark = pytest.mark.slow


def _models(*folders: str) -> set[str]:
    return {p.stem for folder in folders for p in (PROJECT / "models" / folder).glob("*.sql")}


def _docs(tmp_path: Path, *args: str) -> tuple[dict, dict, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "DBT_", "RUN_ID"))}
    empty = tmp_path / "lake"  # nothing exists there: the state of a fresh clone
    env.update(
        BRONZE_BASE_PATH=str(empty / "bronze"),
        SILVER_BASE_PATH=str(empty / "silver"),
        SILVER_DIMS_PATH=str(empty / "dims"),
        SILVER_ENRICHED_PATH=str(empty / "enriched"),
        ECOM_DBT_DUCKDB_PATH=str(tmp_path / "docs.duckdb"),
        ECOM_DBT_TEMP_DIRECTORY=str(tmp_path / "duckdb_tmp"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    proc = subprocess.run(
        [DBT, "docs", "generate", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    target = tmp_path / "target"
    return json.loads((target / "manifest.json").read_text()), json.loads((target / "catalog.json").read_text()), target


def _check_documented(manifest: dict, expected: set[str]) -> None:
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert set(models) == expected
    tested = {d for n in manifest["nodes"].values() if n["resource_type"] == "test" for d in n["depends_on"]["nodes"]}
    for name, node in models.items():
        assert node["description"].strip(), f"{name} has no description"
        assert node["columns"], f"{name} documents no columns"
        blank = [c for c, col in node["columns"].items() if not col["description"].strip()]
        assert not blank, f"{name}: columns without a description: {blank}"
        assert node["unique_id"] in tested, f"{name} has no test"
        assert node["compiled_code"].strip(), f"{name} did not compile"


def test_docs_generate_base_silver_by_default(tmp_path):
    manifest, catalog, target = _docs(tmp_path)
    _check_documented(manifest, _models("base_silver"))
    # Gold is disabled without var gold=true, as for `dbt run`.
    assert {n["name"] for nodes in manifest["disabled"].values() for n in nodes} >= _models("gold")
    assert catalog["errors"] is None and isinstance(catalog["nodes"], dict)
    assert (target / "index.html").is_file()


def test_docs_generate_with_gold_and_a_static_page(tmp_path):
    manifest, catalog, target = _docs(tmp_path, "--vars", "{gold: true}", "--static")
    _check_documented(manifest, _models("base_silver", "gold"))
    assert catalog["errors"] is None
    static = (target / "static_index.html").read_text(encoding="utf-8")
    assert "fct_daily_dashboard" in static and "stg_orders_quarantine" in static
