"""`make airflow-up` / `make airflow-down`: Airflow on 127.0.0.1 without Docker, health, clean stop."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request

import pytest
from conftest import REPO, base_env, run

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_airflow_up_answers_its_health_endpoint_on_localhost_and_down_stops_it(airflow_installed, tmp_path):
    home = tmp_path / "home"
    env = base_env(home, tmp_path / "lake")
    up = run(["make", "-s", "airflow-up"], env, cwd=REPO, timeout=600)
    state_file = home / "local_stack.json"
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        state = json.loads(state_file.read_text())
        url, port = state["url"], state["port"]
        assert url == f"http://127.0.0.1:{port}" and f"Airflow is up at {url}" in up.stdout
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=10) as resp:
            health = json.loads(resp.read())
        for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
            assert health[component]["status"] == "healthy", health
        # Only the api-server listens, and only on 127.0.0.1 (the log servers are off).
        listening = run(["ss", "-ltnpH"], env).stdout
        ours = [ln for ln in listening.splitlines() if any(f"pid={p}," in ln for p in state["pids"].values())]
        assert ours and all(f"127.0.0.1:{port}" in ln for ln in ours), ours
        # A second `up` finds it running and starts nothing.
        again = run(["make", "-s", "airflow-up"], env, cwd=REPO, timeout=120)
        assert again.returncode == 0 and "already running" in again.stderr
    finally:
        down = run(["make", "-s", "airflow-down"], env, cwd=REPO, timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"Airflow at {url} stopped" in down.stdout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in state["pids"].values()):
        time.sleep(0.2)
    assert not [n for n, p in state["pids"].items() if _alive(p)]
    assert not _listening(port) and not state_file.exists()
    # Down when nothing runs says so and succeeds.
    idle = run(["make", "-s", "airflow-down"], env, cwd=REPO, timeout=60)
    assert idle.returncode == 0 and "Airflow is not running" in idle.stdout
