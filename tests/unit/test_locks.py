"""Leases (ecomlake.locks): a second writer fails at once naming the holder; a dead holder's lease
is broken; a live one never is. Holders are real processes, killed with a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ecomlake import locks

HOLDER = textwrap.dedent("""
    import sys
    from ecomlake import locks
    lease = locks.acquire(sys.argv[1], "silver", "2023-01-01", sys.argv[2])
    print("held", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
    lease.release()
    print("released", flush=True)
""")


def _holder(root: Path, run_id: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "held", p.stderr.read()
    return p


def _lease_file(root: Path) -> Path:
    return root / locks.LOCK_DIR / "silver_2023-01-01.lease"


def test_second_writer_fails_at_once_naming_the_holder(tmp_path):
    holder = _holder(tmp_path, "run_a")
    try:
        with pytest.raises(locks.LeaseHeld) as exc:
            locks.acquire(str(tmp_path), "silver", "2023-01-01", "run_b")
        msg = exc.value.message
        assert msg.startswith(
            f"silver 2023-01-01 is being written by run run_a (host {socket.gethostname()}, pid {holder.pid}, since "
        )
        assert f"lease file {_lease_file(tmp_path)}" in msg and exc.value.exit_code == 2
        # Other dates and layers are free.
        locks.acquire(str(tmp_path), "silver", "2023-01-02", "run_b").release()
        assert locks.try_acquire(str(tmp_path), "silver", "2023-01-01", "run_b") is None
    finally:
        out, _ = holder.communicate("")
    assert "released" in out and not _lease_file(tmp_path).exists()
    lease = locks.acquire(str(tmp_path), "silver", "2023-01-01", "run_b")
    assert json.loads(_lease_file(tmp_path).read_text())["run_id"] == "run_b"
    lease.release()
    assert not _lease_file(tmp_path).exists()


def test_the_lease_of_a_killed_holder_is_broken(tmp_path):
    holder = _holder(tmp_path, "run_a")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    held = json.loads(_lease_file(tmp_path).read_text())
    assert held["run_id"] == "run_a" and held["pid"] == holder.pid  # no cleanup ran
    assert locks.stale_reason(held) == f"process {holder.pid} is gone"
    lease = locks.acquire(str(tmp_path), "silver", "2023-01-01", "run_b")
    assert json.loads(_lease_file(tmp_path).read_text())["run_id"] == "run_b"
    lease.release()
    assert sorted(p.name for p in (tmp_path / locks.LOCK_DIR).iterdir()) == []  # nothing broken left behind


def _plant(root: Path, **fields) -> None:
    body = {"run_id": "far", "host": "another-host", "pid": 1, "ts": time.time(), "timeout_s": 600, **fields}
    _lease_file(root).parent.mkdir(parents=True, exist_ok=True)
    _lease_file(root).write_text(json.dumps(body))


def test_a_lease_from_another_host_holds_until_its_timeout(tmp_path):
    _plant(tmp_path)  # its pid cannot be checked from here: only age can prove it dead
    with pytest.raises(locks.LeaseHeld, match="being written by run far .host another-host"):
        locks.acquire(str(tmp_path), "silver", "2023-01-01", "mine")
    _plant(tmp_path, ts=time.time() - 601)
    lease = locks.acquire(str(tmp_path), "silver", "2023-01-01", "mine")
    assert json.loads(_lease_file(tmp_path).read_text())["run_id"] == "mine"
    lease.release()


def test_a_reused_pid_is_not_the_holder(tmp_path):
    # Our own pid is alive, but the recorded start time is another process's: the holder is gone.
    _plant(tmp_path, host=socket.gethostname(), pid=os.getpid(), pid_start="1")
    assert "now belongs to another process" in locks.stale_reason(json.loads(_lease_file(tmp_path).read_text()))
    locks.acquire(str(tmp_path), "silver", "2023-01-01", "mine").release()
    _plant(tmp_path, host=socket.gethostname(), pid=os.getpid(), pid_start=locks._proc_start(os.getpid()))
    with pytest.raises(locks.LeaseHeld):
        locks.acquire(str(tmp_path), "silver", "2023-01-01", "mine")


def test_unreadable_lease_is_judged_by_nothing_but_age(tmp_path):
    _lease_file(tmp_path).parent.mkdir(parents=True)
    _lease_file(tmp_path).write_text("{oops")
    lease = locks.acquire(str(tmp_path), "silver", "2023-01-01", "mine")  # ts 0: far past any timeout
    lease.release()


def test_leases_are_reentrant_and_release_only_their_own(tmp_path):
    outer = locks.acquire(str(tmp_path), "enriched", locks.ALL, "r1")
    inner = locks.acquire(str(tmp_path), "enriched", locks.ALL, "r1")
    assert inner is outer and locks.holds(str(tmp_path), "enriched", locks.ALL)
    inner.release()
    assert (tmp_path / locks.LOCK_DIR / "enriched_all.lease").exists()
    outer.release()
    assert not (tmp_path / locks.LOCK_DIR / "enriched_all.lease").exists()
    # A lease that was broken and taken by someone else is not removed by the old holder's release.
    stale = locks.acquire(str(tmp_path), "enriched", locks.ALL, "r1")
    path = tmp_path / locks.LOCK_DIR / "enriched_all.lease"
    other = json.loads(path.read_text()) | {"token": "someone-else", "run_id": "r2"}
    path.write_text(json.dumps(other))
    stale.release()
    assert json.loads(path.read_text())["run_id"] == "r2"


def test_breaking_never_removes_a_fresher_lease(tmp_path):
    _plant(tmp_path, ts=0)
    found = locks._read(str(_lease_file(tmp_path)))
    assert found is not None
    # Between our read and our break, the stale lease is replaced by a fresh one (a new object).
    _lease_file(tmp_path).unlink()
    _plant(tmp_path, run_id="fresh")
    locks._break(str(_lease_file(tmp_path)), found[1])
    assert json.loads(_lease_file(tmp_path).read_text())["run_id"] == "fresh"
