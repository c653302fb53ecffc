"""storage.publish atomicity: a writer killed at any point leaves the old partition readable and
complete, or a committed publish that the next recover() finishes. Crashes are injected with
ECOMLAKE_FAULT in a real subprocess, so nothing of the dying writer survives in memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake import storage
from ecomlake.errors import InputError

DAYS = ("2023-01-01", "2023-01-02")

WRITER = textwrap.dedent("""
    import os, sys
    import pyarrow as pa, pyarrow.parquet as pq
    from ecomlake import storage
    root, run_id, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    storage.claim_staging(root, run_id)
    pubs = []
    for day in {days!r}:
        part = f"ingest_dt={{day}}"
        staged = storage.staging_path(root, run_id, "orders", part)
        os.makedirs(staged, exist_ok=True)
        for i in range(2):
            pq.write_table(pa.table({{"v": [rows] * rows}}), f"{{staged}}/part-{{i:04d}}.parquet")
            storage.fault("while_writing")
        pubs.append(storage.Publish(staged, storage.partition_path(root, "orders", day), "orders", part,
                                    expected_rows=2 * rows))
    storage.publish(root, run_id, pubs)
    storage.release_staging(root, run_id)
""").format(days=DAYS)


def write(root: Path, run_id: str, rows: int, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ECOMLAKE_FAULT"}
    if fault:
        env["ECOMLAKE_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-c", WRITER, str(root), run_id, str(rows)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_partition(root: Path, day: str) -> int | None:
    """Rows of a complete partition (manifest, _SUCCESS, files agree); None when it is not there."""
    pdir = storage.partition_path(str(root), "orders", day)
    if not os.path.isdir(pdir):
        return None
    manifest = storage.read_manifest(pdir)
    assert manifest is not None and os.path.exists(f"{pdir}/{storage.SUCCESS_NAME}")
    files = storage.list_data_files(pdir)
    assert sorted(f["path"] for f in manifest["files"]) == [f.rsplit("/", 1)[-1] for f in files]
    rows = sum(storage.parquet_num_rows(f) for f in files)
    assert rows == manifest["total_rows"]
    values = set(pq.read_table(files).column("v").to_pylist())
    assert len(values) == 1, "a partition never mixes two versions"
    return rows


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "orders").iterdir() if "__old__" in p.name) + (
        [p.name for p in (root / storage.STAGING_DIR).iterdir()] if (root / storage.STAGING_DIR).exists() else []
    )


@pytest.fixture
def lake(tmp_path) -> Path:
    root = tmp_path / "silver"
    r = write(root, "old", 3)
    assert r.returncode == 0, r.stderr
    assert [read_partition(root, d) for d in DAYS] == [6, 6]
    assert leftovers(root) == []
    return root


def test_publish_replaces_partitions(lake):
    assert write(lake, "new", 5).returncode == 0
    assert [read_partition(lake, d) for d in DAYS] == [10, 10]
    assert leftovers(lake) == []


@pytest.mark.parametrize("point", storage.FAULT_POINTS)
def test_sigkill_at_every_step_leaves_old_or_new_and_the_next_run_completes(lake, point):
    r = write(lake, "new", 5, fault=f"kill:{point}")
    assert r.returncode == -9, r.stderr  # a real SIGKILL: no handler, no finally ran
    # Every live partition is complete (manifest, _SUCCESS, files and rows agree) and none is missing.
    raw = [read_partition(lake, d) for d in DAYS]
    assert all(v in (6, 10) for v in raw), raw
    # What a reader sees after settling (finishing a committed publish of a dead run): one version.
    storage.settle(str(lake))
    seen = [read_partition(lake, d) for d in DAYS]
    committed = point in ("after_journal", "mid_swap", "after_swap")
    assert seen == ([10, 10] if committed else [6, 6])
    again = write(lake, "again", 5)
    assert again.returncode == 0, again.stderr
    assert [read_partition(lake, d) for d in DAYS] == [10, 10]
    assert leftovers(lake) == []


def test_crash_before_swap_keeps_old_and_recover_removes_staging(lake):
    r = write(lake, "new", 5, fault="before_swap")
    assert r.returncode != 0 and "injected fault at before_swap" in r.stderr
    assert [read_partition(lake, d) for d in DAYS] == [6, 6]
    assert leftovers(lake) == ["new"]  # the dead run's staging
    actions = storage.recover(str(lake))
    assert actions == ["removed staging left by run new"]
    assert [read_partition(lake, d) for d in DAYS] == [6, 6]
    assert leftovers(lake) == []


def test_crash_after_journal_is_finished_by_recover(lake):
    r = write(lake, "new", 5, fault="after_journal")
    assert r.returncode != 0 and "after_journal" in r.stderr
    assert [read_partition(lake, d) for d in DAYS] == [6, 6]  # committed but not yet swapped: old still live
    actions = storage.recover(str(lake))
    assert "finished interrupted publish of run new" in actions
    assert [read_partition(lake, d) for d in DAYS] == [10, 10]
    assert leftovers(lake) == []


def test_crash_mid_swap_is_finished_by_recover(lake):
    r = write(lake, "new", 5, fault="mid_swap")
    assert r.returncode != 0 and "mid_swap" in r.stderr
    # The first partition was exchanged with its new version in one atomic step (renameat2): it is
    # never missing, and the aside copy is never mistaken for a partition. The second is still old.
    assert storage.list_partitions(str(lake), "orders") == list(DAYS)
    assert [read_partition(lake, d) for d in DAYS] == [10, 6]
    storage.recover(str(lake))
    assert [read_partition(lake, d) for d in DAYS] == [10, 10]
    assert leftovers(lake) == []


def _publish_in_process(root: Path, run_id: str, rows: int) -> None:
    pubs = []
    for day in DAYS:
        part = f"ingest_dt={day}"
        staged = storage.staging_path(str(root), run_id, "orders", part)
        os.makedirs(staged, exist_ok=True)
        pq.write_table(pa.table({"v": [rows] * rows}), f"{staged}/part-0000.parquet")
        pubs.append(storage.Publish(staged, storage.partition_path(str(root), "orders", day), "orders", part))
    storage.publish(str(root), run_id, pubs)


def test_without_exchange_a_crash_mid_swap_hides_a_partition_until_settled(lake, monkeypatch):
    # Object stores and filesystems without renameat2 swap with two renames: between them the
    # partition is missing. `settle` (what every reader runs first) finishes the committed publish.
    monkeypatch.setattr(storage, "_exchange", lambda a, b: False)
    monkeypatch.setenv("ECOMLAKE_FAULT", "mid_swap")
    storage.claim_staging(str(lake), "nox")
    with pytest.raises(SystemExit, match="mid_swap"):
        _publish_in_process(lake, "nox", 4)
    monkeypatch.delenv("ECOMLAKE_FAULT")
    assert storage.list_partitions(str(lake), "orders") == ["2023-01-02"]
    # The owner (this process) is alive, so neither a reader nor a writer touches its publish...
    assert storage.settle(str(lake)) == []
    # ...until it is gone.
    owner = lake / storage.STAGING_DIR / "nox" / "_owner.json"
    owner.write_text(owner.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {_dead_pid()}'))
    assert storage.settle(str(lake)) == ["finished interrupted publish of run nox"]
    assert [read_partition(lake, d) for d in DAYS] == [4, 4]
    storage.recover(str(lake))
    assert leftovers(lake) == []


def test_next_claim_staging_finishes_a_crashed_publish(lake):
    write(lake, "new", 5, fault="mid_swap")
    storage.claim_staging(str(lake), "next")
    assert [read_partition(lake, d) for d in DAYS] == [10, 10]
    assert leftovers(lake) == ["next"]
    storage.release_staging(str(lake), "next")
    assert leftovers(lake) == []


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftover_staging_of_dead_runs_is_removed_but_live_and_pending_kept(lake):
    staging = lake / storage.STAGING_DIR
    import json
    import socket
    import time

    def owner(run: str, pid: int) -> None:
        (staging / run / "orders" / "ingest_dt=2023-01-01").mkdir(parents=True)
        (staging / run / "_owner.json").write_text(
            json.dumps({"pid": pid, "host": socket.gethostname(), "ts": time.time()})
        )

    owner("dead", _dead_pid())
    owner("alive", os.getpid())
    (staging / "orphan" / "orders").mkdir(parents=True)  # no owner file at all
    owner("pending", _dead_pid())
    (staging / "pending" / "_pending.json").write_text("{}")  # waiting for promotion: keep
    storage.claim_staging(str(lake), "mine")
    assert sorted(p.name for p in staging.iterdir()) == ["alive", "mine", "pending"]
    assert [read_partition(lake, d) for d in DAYS] == [6, 6]


def test_expected_rows_mismatch_publishes_nothing(lake):
    staged = storage.staging_path(str(lake), "bad", "orders", "ingest_dt=2023-01-01")
    os.makedirs(staged)
    pq.write_table(pa.table({"v": [9] * 4}), f"{staged}/part-0000.parquet")
    pubs = [
        storage.Publish(
            staged,
            storage.partition_path(str(lake), "orders", "2023-01-01"),
            "orders",
            "ingest_dt=2023-01-01",
            expected_rows=5,
        )
    ]
    with pytest.raises(InputError, match="staged 4 rows but expected 5; nothing was published"):
        storage.publish(str(lake), "bad", pubs)
    assert [read_partition(lake, d) for d in DAYS] == [6, 6]
    assert not (lake / storage.STAGING_DIR / "bad" / "_journal.json").exists()
    storage.release_staging(str(lake), "bad")
    assert leftovers(lake) == []


def test_truncated_staged_file_publishes_nothing(lake):
    staged = storage.staging_path(str(lake), "bad", "orders", "ingest_dt=2023-01-01")
    os.makedirs(staged)
    pq.write_table(pa.table({"v": [9] * 4}), f"{staged}/part-0000.parquet")
    data = Path(staged, "part-0000.parquet").read_bytes()
    Path(staged, "part-0000.parquet").write_bytes(data[:-4])
    pubs = [
        storage.Publish(
            staged, storage.partition_path(str(lake), "orders", "2023-01-01"), "orders", "ingest_dt=2023-01-01"
        )
    ]
    with pytest.raises(InputError, match="not a complete parquet file"):
        storage.publish(str(lake), "bad", pubs)
    assert read_partition(lake, "2023-01-01") == 6
