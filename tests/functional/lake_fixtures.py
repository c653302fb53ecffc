"""A small real lake (one generated day through dims, Silver, Enriched and Gold), built once per test
session in a directory whose path holds a quote and a space, and shared by the xdist workers.

The build runs the real CLI in fresh processes; its results (exit codes, output tails) are kept in
`build.json` beside the lake so every worker's tests can check them. Tests that need to change or
watch the lake work on their own copy (`copy_lake`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import lake_env

D = "2023-01-01"
LAKE_DIR = "it's a lake"  # a quote and a space: every path that reaches SQL must be quoted
BUILD = (
    ("bronze", "generate", "--start-date", D, "--days", "1", "--orders-per-day", "40", "--seed", "7"),
    ("local", "dims"),
    ("local", "silver"),
    ("local", "enriched"),
    ("gold", "run"),
)


def _shared_dir(tmp_path_factory) -> Path:
    """A directory every xdist worker of this session sees (the session's base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _build(root: Path) -> dict:
    lake = root / LAKE_DIR
    env = lake_env(lake)
    steps = []
    for args in BUILD:
        argv = [sys.executable, "-m", "ecomlake", *args]
        if args[:2] == ("bronze", "generate"):
            argv += ["--out", str(lake / "bronze")]
        p = subprocess.run(argv, env=env, cwd=str(root), capture_output=True, text=True, timeout=600)
        steps.append({"args": list(args), "rc": p.returncode, "stdout": p.stdout[-3000:], "stderr": p.stderr[-3000:]})
        if p.returncode != 0:
            break
    # dbt's target/ and logs of the finished Gold run are scratch (hundreds of files): not the lake.
    shutil.rmtree(lake / "work" / "dbt", ignore_errors=True)
    return {"lake": str(lake), "steps": steps}


def golden_lake(tmp_path_factory) -> tuple[Path, dict]:
    """(lake root, build record); built by the first worker that asks, under a lock."""
    shared = _shared_dir(tmp_path_factory) / "ecomlake_golden_lake"
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record_path = shared / "build.json"
        if not record_path.exists():
            record_path.write_text(json.dumps(_build(shared), indent=2))
        record = json.loads(record_path.read_text())
    failed = [s for s in record["steps"] if s["rc"] != 0]
    if failed or len(record["steps"]) != len(BUILD):
        s = failed[0] if failed else record["steps"][-1]
        raise AssertionError(f"building the test lake failed at `ecomlake {' '.join(s['args'])}`: {s['stderr']}")
    return Path(record["lake"]), record


def copy_lake(golden: Path, dest: Path) -> Path:
    shutil.copytree(golden, dest, symlinks=True)
    return dest


def snapshot(root: Path) -> dict[str, str]:
    """Every file (sha256 of its bytes), directory and symlink under `root`: equal snapshots, same tree."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "symlink:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = [f"removed {k}" for k in before if k not in after]
    lines += [f"added {k}" for k in after if k not in before]
    lines += [f"changed {k}" for k in before if k in after and before[k] != after[k]]
    return lines
