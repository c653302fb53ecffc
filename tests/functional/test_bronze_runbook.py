"""The runbook's Bronze recipes (section 1): "Regenerate manifest" is `ecomlake bronze validate
--rewrite-manifest`, which rewrites only a partition whose files are intact; and generated Bronze
never silently replaces partitions a lake may be built from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bronze_fixtures as bf
import pytest

from ecomlake import storage

DAY = bf.DAYS[1]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return bf.build_lake(tmp_path_factory.mktemp("bronze_manifest") / "clean", rows=3, files=2, tables=("orders",))


class _Run:
    def __init__(self, returncode: int, stdout: str):
        self.returncode, self.stdout = returncode, stdout


def _validate(lake: Path, out: Path, capsys, *, rewrite: bool = False, lookback: int = 0, enforce: bool = False):
    """The gate in process (the flag's CLI wiring is checked once, below)."""
    from ecomlake.bronze.validate import validate_bronze

    capsys.readouterr()
    rc = validate_bronze(
        bf.settings_for(lake, out),
        partition_date=DAY,
        lookback_days=lookback,
        tables="orders",
        enforce=enforce,
        rewrite_manifest=rewrite,
    )
    return _Run(rc, capsys.readouterr().out)


def _partition(lake: Path) -> Path:
    return bf.pdir(lake, "orders", DAY)


def _damage(lake: Path, kind: str) -> str:
    p = _partition(lake)
    if kind == "missing manifest":
        bf.fault_missing_manifest(lake, day=DAY)
        return "no manifest"
    if kind == "row counts":
        bf.fault_manifest_row_mismatch(lake, day=DAY)
        return "says part-0000.parquet has 6 rows, it has 3"
    if kind == "stale checksum":
        bf.fault_checksum_mismatch(lake, day=DAY)
        return "has a stale sha256 for part-0001.parquet"
    if kind == "unlisted file":
        bf.fault_unlisted_file(lake, day=DAY)
        return "does not list part-0099.parquet"
    if kind == "listed file gone":
        (p / "part-0001.parquet").unlink()
        return "lists part-0001.parquet, which is missing"
    if kind == "not JSON":
        bf.manifest_path(p).write_text("{not json")
        return "manifest is not valid JSON"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["missing manifest", "row counts", "stale checksum", "unlisted file", "listed file gone", "not JSON"]
)
def test_rewrite_manifest_fixes_a_partition_whose_files_are_intact(clean, tmp_path, capsys, kind):
    lake = bf.copy_lake(clean, tmp_path / "lake")
    finding = _damage(lake, kind)
    before = _validate(lake, tmp_path / "before", capsys)
    assert before.returncode == 0 and "Bronze gate FAIL" in before.stdout  # local env: FAIL exits 0
    first = bf.pdir(lake, "orders", bf.DAYS[0])
    untouched = bf.manifest_path(first).read_bytes()

    r = _validate(lake, tmp_path / "after", capsys, rewrite=True, lookback=1, enforce=True)
    assert r.returncode == 0, r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("manifest rewritten: "))
    assert f"orders/ingest_dt={DAY}" in line and finding in line
    assert "1 rewritten, 0 refused, 1 already matched their files" in r.stdout
    assert "Bronze gate PASS" in r.stdout
    assert bf.manifest_path(first).read_bytes() == untouched  # a right manifest is left alone
    manifest = bf.load_manifest(_partition(lake))
    on_disk = sorted(f.name for f in _partition(lake).glob("part-*.parquet"))
    assert [f["path"] for f in manifest["files"]] == on_disk
    for f in manifest["files"]:
        assert f["sha256"] == storage.sha256_file(str(_partition(lake) / f["path"]))
    assert manifest["total_rows"] == sum(f["rows"] for f in manifest["files"])
    assert manifest["regenerated_at"] and manifest["table"] == "orders"
    if kind not in ("missing manifest", "not JSON"):
        assert manifest["batch_id"] == "batch_fixture" and manifest["generator_version"] == "fixture"


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("truncated", "part-0000.parquet does not start and end with PAR1"),
        ("dropped column", "part-0000.parquet lacks required column customer_id"),
        ("no _SUCCESS", "no _SUCCESS: its writer may still be running"),
    ],
)
def test_rewrite_manifest_refuses_damaged_files(clean, tmp_path, capsys, kind, expected):
    lake = bf.copy_lake(clean, tmp_path / "lake")
    bf.fault_manifest_row_mismatch(lake, day=DAY)  # the manifest is wrong too
    if kind == "truncated":
        bf.fault_truncated_parquet(lake, day=DAY)
    elif kind == "dropped column":
        p = _partition(lake)
        import pyarrow.parquet as pq

        f = p / "part-0000.parquet"
        pq.write_table(pq.read_table(f).drop_columns(["customer_id"]), f)
    else:
        bf.fault_missing_success(lake, day=DAY)
    before = bf.manifest_path(_partition(lake)).read_bytes()
    r = _validate(lake, tmp_path / "out", capsys, rewrite=True, enforce=True)
    assert r.returncode == 1  # the partition still fails the gate
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("manifest NOT rewritten: "))
    assert expected in line
    assert "0 rewritten, 1 refused" in r.stdout
    assert bf.manifest_path(_partition(lake)).read_bytes() == before


def test_the_runbooks_regenerate_manifest_is_a_cli_flag(clean, tmp_path):
    lake = bf.copy_lake(clean, tmp_path / "lake")
    bf.fault_missing_manifest(lake, day=DAY)
    args = ["bronze", "validate", "--bronze-path", str(lake), "--partition-date", DAY, "--tables", "orders"]
    r = bf.run_cli([*args, "--regenerate-manifest", "--enforce"], tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"manifest rewritten: orders/ingest_dt={DAY}" in r.stdout and "Bronze gate PASS" in r.stdout


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "BRONZE_", "SILVER_", "PIPELINE_ENV"))}
    env["ECOM_CONFIG_PATH"] = str(REPO / "config" / "config.yml")
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bronze_generate_refuses_to_replace_existing_partitions(tmp_path):
    args = ["bronze", "generate", "--start-date", "2023-01-01", "--days", "1", "--orders-per-day", "10"]
    first = _cli(*args, "--out", "data/bronze", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _tree(tmp_path / "data" / "bronze")
    again = _cli(*args, "--seed", "9", "--out", "data/bronze", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "data/bronze already has customers/ingest_dt=2023-01-01" in again.stderr
    assert "--overwrite" in again.stderr
    assert _tree(tmp_path / "data" / "bronze") == before
    forced = _cli(*args, "--seed", "9", "--out", "data/bronze", "--overwrite", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert _tree(tmp_path / "data" / "bronze") != before
    assert storage.list_partitions(str(tmp_path / "data" / "bronze"), "orders") == ["2023-01-01"]
