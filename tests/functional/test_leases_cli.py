"""Every writer of a layer takes its lease first: while another process holds it, the command exits 2
at once with one line naming the holder, and writes nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from enriched_fixtures import CONFIG, DAYS, Lake, fill_small_lake

from ecomlake import locks

D = DAYS[0]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("leases"))
    fill_small_lake(lake)
    # Gold checks its input (every Enriched day) before it takes its lease: give it a complete Enriched.
    from ecomlake.enriched.runner import run_enriched

    for d in DAYS:
        run_enriched(lake.settings(), d, run_id=f"enr_{d.replace('-', '')}")
    q = lake.silver / "quarantine" / "orders" / f"ingest_dt={D}"
    q.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": ["X"], "_quarantine_reason": ["null_customer_id"]}), q / "part-0000.parquet")
    return lake


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and locks.LOCK_DIR not in p.parts)


CASES = [
    # command, lease root (attribute of Lake), layer, scope
    (["dim", "run", "--run-date", D], "dims", "dims", locks.ALL),
    (["local", "silver", "--date", D], "silver", "silver", D),
    (
        ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--fill", "customer_id=U"],
        "silver",
        "silver",
        D,
    ),
    (["quarantine", "prune", "--older-than", "0d"], "silver", "silver", D),
    (["enriched", "run", "--ingest-dt", D], "enriched", "enriched", locks.ALL),
    (["enriched", "promote", "--run-id", "staged_run"], "enriched", "enriched", locks.ALL),
    (["gold", "run"], "gold", "gold", locks.ALL),
]


@pytest.mark.parametrize("argv,root_attr,layer,scope", CASES, ids=[" ".join(c[0][:2]) for c in CASES])
def test_a_held_lease_stops_the_writer_naming_the_holder(lake, argv, root_attr, layer, scope):
    root = lake.root / "gold" if root_attr == "gold" else getattr(lake, root_attr)
    before = _files(lake.root)
    held = locks.acquire(str(root), layer, scope, "holder_run")  # this test process is the live holder
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "RUN_ID", "PIPELINE_ENV"))}
        env.update(lake.env(ECOM_CONFIG_PATH=str(CONFIG), GOLD_PATH=str(lake.root / "gold")))
        r = subprocess.run(
            [sys.executable, "-m", "ecomlake", *argv], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        held.release()
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, r.stderr
    since = errors[0].split("since ", 1)[1].split(")", 1)[0]
    assert errors[0] == (
        f"error: {layer} {scope} is being written by run holder_run (host {socket.gethostname()}, pid {os.getpid()}, "
        f"since {since}); wait for it to finish and retry (a lease whose holder died is broken automatically; "
        f"lease file {root}/{locks.LOCK_DIR}/{layer}_{scope}.lease)"
    )
    assert "Traceback" not in r.stderr
    assert _files(lake.root) == before
