"""The object-store publish on a real GCS emulator (fake-gcs-server, which enforces ifGenerationMatch):

- a partition becomes visible only when its manifest is committed, and a writer killed (SIGKILL,
  a real subprocess) at any step leaves readers on the previous complete version; the rerun completes;
- two writers racing on one partition: exactly one commits, the other fails with one line;
- leases are created with ifGenerationMatch=0: of two processes, one holds it;
- a file dropped into a partition by hand is reported, not read;
- reruns replace, never add.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake import gcs, locks, storage

DAYS = ("2023-01-01", "2023-01-02")

WRITER = textwrap.dedent("""
    import io, sys
    import pyarrow as pa, pyarrow.parquet as pq
    from ecomlake import storage, locks
    from ecomlake.errors import EcomlakeError
    root, run_id, rows, lease = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "lease"
    held = locks.acquire(root, "silver", "all", run_id) if lease else None
    try:
        storage.claim_staging(root, run_id)
        pubs = []
        for day in {days!r}:
            part = f"ingest_dt={{day}}"
            staged = storage.staging_path(root, run_id, "orders", part)
            for i in range(2):
                buf = io.BytesIO()
                pq.write_table(pa.table({{"v": [rows] * rows}}), buf)
                storage.write_bytes_atomic(f"{{staged}}/part-{{i:04d}}.parquet", buf.getvalue())
                storage.fault("while_writing")
            pubs.append(storage.Publish(staged, storage.partition_path(root, "orders", day), "orders", part,
                                        expected_rows=2 * rows))
        storage.publish(root, run_id, pubs)
        storage.release_staging(root, run_id)
    except EcomlakeError as exc:
        print(f"error: {{exc.message}}", file=sys.stderr)
        sys.exit(2)
    finally:
        if held:
            held.release()
""").format(days=DAYS)


def write(root: str, run_id: str, rows: int, fault: str | None = None, lease: bool = False, wait: bool = True):
    env = {k: v for k, v in os.environ.items() if k != "ECOMLAKE_FAULT"}
    if fault:
        env["ECOMLAKE_FAULT"] = fault
    args = [sys.executable, "-c", WRITER, root, run_id, str(rows), "lease" if lease else "-"]
    if not wait:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)


def read_partition(root: str, day: str) -> int | None:
    """Rows a reader sees: the files the committed manifest lists (None: no committed version)."""
    pdir = storage.partition_path(root, "orders", day)
    if day not in storage.list_partitions(root, "orders"):
        return None
    manifest = storage.read_manifest(pdir)
    files = storage.partition_files(pdir)
    assert [f.rsplit("/", 1)[-1] for f in files] == [e["path"] for e in manifest["files"]]
    fs, _ = storage.fs_for(root)
    tables = []
    for f in files:
        with fs.open(f[len("gs://") :], "rb") as fh:
            tables.append(pq.read_table(fh))
    rows = sum(t.num_rows for t in tables)
    assert rows == manifest["total_rows"]
    values = {v for t in tables for v in t.column("v").to_pylist()}
    assert len(values) == 1, "a partition never mixes two versions"
    return rows


def objects(root: str, day: str) -> list[str]:
    return sorted(f.rsplit("/", 1)[-1] for f in storage.find_files(storage.partition_path(root, "orders", day)))


@pytest.fixture
def root(bucket) -> str:
    return f"gs://{bucket}/silver/base"


def test_publish_commits_by_manifest_and_a_rerun_replaces(root):
    first = write(root, "run1", 3)
    assert first.returncode == 0, first.stderr
    assert [read_partition(root, d) for d in DAYS] == [6, 6]
    manifest = storage.read_manifest(storage.partition_path(root, "orders", DAYS[0]))
    version = manifest["version"]
    # Data objects carry the version in their name: a new version never overwrites what readers are on.
    assert objects(root, DAYS[0]) == sorted(
        ["_SUCCESS", "_manifest.json", f"part-0000-{version}.parquet", f"part-0001-{version}.parquet"]
    )
    again = write(root, "run2", 5)
    assert again.returncode == 0, again.stderr
    assert [read_partition(root, d) for d in DAYS] == [10, 10]
    new_version = storage.read_manifest(storage.partition_path(root, "orders", DAYS[0]))["version"]
    assert new_version != version
    # Superseded objects are gone after the commit, and so is the staging area.
    assert objects(root, DAYS[0]) == sorted(
        ["_SUCCESS", "_manifest.json", f"part-0000-{new_version}.parquet", f"part-0001-{new_version}.parquet"]
    )
    assert storage.find_files(storage.join(root, storage.STAGING_DIR)) == []


@pytest.mark.parametrize("point", ["while_writing", "before_swap", "after_journal", "mid_swap", "after_swap"])
def test_a_writer_killed_at_any_step_leaves_a_complete_version_and_the_rerun_completes(root, point):
    assert write(root, "old", 3).returncode == 0
    killed = write(root, "new", 5, fault=f"kill:{point}")
    assert killed.returncode == -signal.SIGKILL
    # A reader settles first (finishes a committed publish of a dead run), then reads by manifest.
    storage.settle(root)
    seen = [read_partition(root, d) for d in DAYS]
    committed = point in ("after_journal", "mid_swap", "after_swap")
    assert seen == ([10, 10] if committed else [6, 6]), seen
    # The next writer clears what the dead run left and publishes.
    rerun = write(root, "rerun", 7)
    assert rerun.returncode == 0, rerun.stderr
    assert [read_partition(root, d) for d in DAYS] == [14, 14]
    for d in DAYS:
        version = storage.read_manifest(storage.partition_path(root, "orders", d))["version"]
        assert objects(root, d) == sorted(
            ["_SUCCESS", "_manifest.json", f"part-0000-{version}.parquet", f"part-0001-{version}.parquet"]
        ), "no data object of the killed run is left behind"
    assert storage.find_files(storage.join(root, storage.STAGING_DIR)) == []


def test_a_kill_between_the_data_objects_and_the_commit_hides_them_from_readers(root):
    assert write(root, "old", 3).returncode == 0
    killed = write(root, "new", 5, fault="kill:before_swap")
    assert killed.returncode == -signal.SIGKILL
    # The new data objects are in the live partition, but no committed manifest lists them.
    assert len(objects(root, DAYS[0])) == 6
    assert read_partition(root, DAYS[0]) == 6
    # A reader's settle removes the dead run's uncommitted objects (nothing lists them) and finishes nothing.
    assert storage.settle(root) == ["removed the uncommitted data objects of run new"]
    assert len(objects(root, DAYS[0])) == 4 and read_partition(root, DAYS[0]) == 6


def test_two_writers_racing_on_one_partition_exactly_one_commits(root):
    assert write(root, "base", 1).returncode == 0
    # The first writer stops between its data objects and its commit; the second publishes meanwhile.
    slow = write(root, "slow", 3, fault="stop:before_swap", wait=False)
    _wait_stopped(slow)
    fast = write(root, "fast", 5)
    assert fast.returncode == 0, fast.stderr
    os.kill(slow.pid, signal.SIGCONT)
    out, err = slow.communicate(timeout=120)
    assert slow.returncode == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "was published by" in lines[0] and "run slow" in lines[0] and "nothing of this run was published" in lines[0]
    assert [read_partition(root, d) for d in DAYS] == [10, 10]
    assert storage.read_manifest(storage.partition_path(root, "orders", DAYS[0]))["run_id"] == "fast"
    # The loser's data objects are gone; only the winner's version is there.
    version = storage.read_manifest(storage.partition_path(root, "orders", DAYS[0]))["version"]
    assert all(version in n for n in objects(root, DAYS[0]) if n.endswith(".parquet"))


def test_a_hand_dropped_file_is_reported_not_read(root, capfd):
    assert write(root, "run1", 3).returncode == 0
    pdir = storage.partition_path(root, "orders", DAYS[0])
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"v": [99] * 4}), buf)
    storage.write_bytes_atomic(storage.join(pdir, "recovered.parquet"), buf.getvalue().to_pybytes())
    assert read_partition(root, DAYS[0]) == 6
    err = capfd.readouterr().err
    assert f"{pdir}/recovered.parquet: not listed in the partition's _manifest.json" in err
    # The next publish of the partition removes what its manifest does not list.
    assert write(root, "run2", 2).returncode == 0
    assert "recovered.parquet" not in objects(root, DAYS[0])


def test_a_lease_is_created_with_if_generation_match_zero(root):
    first = locks.acquire(root, "silver", "2023-01-01", "run-a")
    try:
        with pytest.raises(locks.LeaseHeld, match=r"silver 2023-01-01 is being written by run run-a"):
            # Another process: this one's leases are re-entrant.
            locks._HELD.pop(first.path)
            try:
                locks.acquire(root, "silver", "2023-01-01", "run-b")
            finally:
                locks._HELD[first.path] = first
        # The create itself is the precondition: a second create of the same object fails.
        with pytest.raises(gcs.PreconditionFailed):
            gcs.write_if_generation(first.path, b"{}", 0)
    finally:
        first.release()
    assert not storage.exists(first.path)


def test_a_dead_holders_lease_is_taken_over_by_generation(root):
    code = (
        "import time\nfrom ecomlake import locks\n"
        f"locks.acquire({root!r}, 'dims', 'all', 'dead-run'); print('held', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    lease = locks.acquire(root, "dims", "all", "next-run")
    try:
        holder = storage.read_json(lease.path)
        assert holder["run_id"] == "next-run"
    finally:
        lease.release()


def _wait_stopped(proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the writer did not reach its stop point")
