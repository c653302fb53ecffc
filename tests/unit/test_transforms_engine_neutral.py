"""The transforms do not know their engine: nothing in ecomlake.transforms reads files, opens a
connection or imports an engine (the Enriched runner's context does: ecomlake.enriched.inputs)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TRANSFORMS = Path(__file__).resolve().parents[2] / "src" / "ecomlake" / "transforms"

# Modules a transform must not import: file access, engines, and the runner side (which does both).
FORBIDDEN = ("duckdb", "pyspark", "ecomlake.storage", "ecomlake.duck", "ecomlake.spark", "ecomlake.enriched", "gcsfs")


def forbidden_imports(source: str) -> list[str]:
    """Imported module names in `source` that are FORBIDDEN (or inside one)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        found += [n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import duckdb",
        "from ecomlake import storage",
        "from ecomlake.enriched.state import customer_state",
        "import pyspark.sql as ps",
        "import importlib\nimportlib.import_module('ecomlake.duck')",
    ],
)
def test_checker_catches_an_engine_import(source):
    assert forbidden_imports(source)


def test_no_transform_module_imports_storage_or_an_engine():
    files = sorted(TRANSFORMS.glob("*.py"))
    assert len(files) >= 12  # ten transforms, common, schemas, __init__
    bad = {f.name: forbidden_imports(f.read_text()) for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_importing_every_transform_loads_no_engine():
    """Transitively too: importing all ten builds pulls in neither storage nor an engine."""
    code = f"import sys, ecomlake.transforms as t; t.builders(); print([m for m in {FORBIDDEN!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
