"""`ecomlake sample package`: a reproducible zip of a small Bronze lake, laid out for the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ecomlake import storage
from ecomlake.bronze.gen_sample import DEFAULT_OUTPUT, ZIP_TIMESTAMP, package_bronze
from ecomlake.contract import TABLES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "nested" / "bronze_samples.zip"
    package_bronze(out, start_date="2022-12-30", days=3, orders_per_day=60, seed=7)
    return out


def test_rebuilding_gives_identical_bytes(small_zip, tmp_path):
    again = tmp_path / "again.zip"
    package_bronze(again, start_date="2022-12-30", days=3, orders_per_day=60, seed=7)
    assert again.read_bytes() == small_zip.read_bytes()
    other = tmp_path / "other.zip"
    package_bronze(other, start_date="2022-12-30", days=3, orders_per_day=60, seed=8)
    assert other.read_bytes() != small_zip.read_bytes()


def test_entries_are_sorted_stamped_and_under_bronze(small_zip):
    with zipfile.ZipFile(small_zip) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert all(n.startswith("bronze/") for n in names)
        assert {i.date_time for i in infos} == {ZIP_TIMESTAMP}
        assert zf.testzip() is None


def test_unzip_gives_the_demo_layout(small_zip, tmp_path):
    samples = tmp_path / "samples"
    with zipfile.ZipFile(small_zip) as zf:
        zf.extractall(samples)  # what `unzip samples/bronze_samples.zip -d samples/` does
    bronze = samples / "bronze"
    assert sorted(os.listdir(bronze)) == sorted(TABLES)
    for name in TABLES:
        assert storage.list_partitions(str(bronze), name) == ["2022-12-30", "2022-12-31", "2023-01-01"]
        for part in (bronze / name).iterdir():
            assert (part / "_SUCCESS").exists() and (part / "_defects.json").exists()
            m = json.loads((part / "_manifest.json").read_text())
            assert m["total_rows"] == sum(storage.parquet_num_rows(str(p)) for p in part.glob("part-*.parquet"))


def test_help_shows_the_rebuild_command():
    proc = subprocess.run(
        [sys.executable, "-m", "ecomlake", "sample", "package", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "    ecomlake sample package\n" in proc.stdout


def test_committed_sample_is_what_the_documented_command_builds(tmp_path):
    committed = REPO / DEFAULT_OUTPUT
    assert committed.exists(), "samples/bronze_samples.zip is missing: run `ecomlake sample package`"
    rebuilt = tmp_path / "bronze_samples.zip"
    package_bronze(rebuilt)
    assert rebuilt.read_bytes() == committed.read_bytes(), (
        "the committed sample is stale: run `ecomlake sample package`"
    )
    with zipfile.ZipFile(committed) as zf:
        days = {n.split("/")[2] for n in zf.namelist() if n.startswith("bronze/orders/")}
    assert "ingest_dt=2023-01-01" in days
    assert sorted(days)[0] < "ingest_dt=2022-12-31" and sorted(days)[-1] >= "ingest_dt=2023-01-03"
    assert committed.stat().st_size < 5_000_000
