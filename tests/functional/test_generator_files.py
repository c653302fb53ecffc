"""Bronze files as written by the generator: layout, schema, manifests, determinism, atomic
rewrites, whole-file faults and the CLI's errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ecomlake import storage
from ecomlake.bronze.generator import GENERATOR_VERSION, LEDGER_NAME, GeneratorOptions, generate
from ecomlake.config import load_settings
from ecomlake.contract import CONTRACT, TABLES

MAX_ROWS = 700  # small part files, so that the big tables are split


def _settings():
    return load_settings(env={}, overrides={"bronze.max_part_file_rows": MAX_ROWS})


def _opts(**kw):
    base = {"start_date": "2023-03-01", "days": 2, "orders_per_day": 250, "seed": 5, "defect_rate": 0.05}
    base.update(kw)
    return GeneratorOptions(**base)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    a = tmp_path_factory.mktemp("a") / "bronze"
    b = tmp_path_factory.mktemp("b") / "bronze"
    c = tmp_path_factory.mktemp("c") / "bronze"
    result = generate(_settings(), _opts(), out=str(a))
    generate(_settings(), _opts(), out=str(b))
    generate(_settings(), _opts(seed=6), out=str(c))
    return a, b, c, result


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_every_table_every_day(lakes):
    a, *_ = lakes
    for name in TABLES:
        assert storage.list_partitions(str(a), name) == ["2023-03-01", "2023-03-02"]
        for day in ("2023-03-01", "2023-03-02"):
            names = sorted(os.listdir(a / name / f"ingest_dt={day}"))
            parts = [n for n in names if n.endswith(".parquet")]
            assert names == sorted(["_SUCCESS", "_manifest.json", LEDGER_NAME, *parts])
            assert parts == [f"part-{i:04d}.parquet" for i in range(len(parts))]
    assert len(os.listdir(a / "cart_items" / "ingest_dt=2023-03-02")) > 4  # split into several part files
    assert not list(a.rglob("_tmp*")) and not list(a.rglob("_old*"))


def test_same_seed_same_bytes_different_seed_different_data(lakes):
    a, b, c, _ = lakes
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa.keys() == fb.keys()
    for rel, data in fa.items():
        if rel.endswith("_manifest.json"):
            ma, mb = json.loads(data), json.loads(fb[rel])
            ma.pop("created_at"), mb.pop("created_at")
            assert ma == mb, rel
        else:
            assert data == fb[rel], rel
    parquet = [r for r in fa if r.endswith(".parquet")]
    assert all(fa[r] != fc.get(r) for r in parquet if r.startswith(("orders/", "cart_items/")))
    assert any(fa[r] != fc[r] for r in fa if r.endswith(LEDGER_NAME))


def test_exact_arrow_schema_and_bounded_part_files(lakes):
    a, *_ = lakes
    for name in TABLES:
        for f in a.glob(f"{name}/ingest_dt=*/part-*.parquet"):
            pf = pq.ParquetFile(f)
            assert pf.schema_arrow.remove_metadata() == CONTRACT[name].bronze_schema(), f
            assert 0 <= pf.metadata.num_rows <= MAX_ROWS


def test_manifests_describe_the_files(lakes):
    a, _b, _c, result = lakes
    total = 0
    for name in TABLES:
        for part_dir in sorted(a.glob(f"{name}/ingest_dt=*")):
            m = json.loads((part_dir / "_manifest.json").read_text())
            day = part_dir.name.split("=")[1]
            assert m["table"] == name and m["partition"] == f"ingest_dt={day}"
            assert (
                m["schema_version"] == storage.MANIFEST_SCHEMA_VERSION and m["generator_version"] == GENERATOR_VERSION
            )
            assert m["seed"] == 5 and m["batch_id"].startswith(f"batch_{day.replace('-', '')}_") and m["created_at"]
            names = sorted(p.name for p in part_dir.glob("*.parquet"))
            assert [f["path"] for f in m["files"]] == names
            for f in m["files"]:
                path = part_dir / f["path"]
                assert f["rows"] == pq.ParquetFile(path).metadata.num_rows
                assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert m["total_rows"] == sum(f["rows"] for f in m["files"])
            total += m["total_rows"]
            col = CONTRACT[name].event_date_column
            if col is None:
                assert m["min_event_dt"] is None and m["max_event_dt"] is None
            elif m["total_rows"]:
                assert m["min_event_dt"] <= day <= m["max_event_dt"] or m["max_event_dt"] <= day
            # _SUCCESS is empty and written last
            success = part_dir / "_SUCCESS"
            assert success.read_bytes() == b""
            newest = max(p.stat().st_mtime_ns for p in part_dir.iterdir())
            assert success.stat().st_mtime_ns == newest
    assert total == result.total_rows


def test_rerun_replaces_a_partition_atomically(tmp_path):
    root = tmp_path / "bronze"
    generate(_settings(), _opts(days=1, orders_per_day=400), out=str(root))
    before = sorted(p.name for p in (root / "cart_items" / "ingest_dt=2023-03-01").iterdir())
    generate(_settings(), _opts(days=1, orders_per_day=100, seed=9), out=str(root))
    part = root / "cart_items" / "ingest_dt=2023-03-01"
    after = sorted(p.name for p in part.iterdir())
    assert len(after) < len(before)  # no stale part files survive the rewrite
    m = json.loads((part / "_manifest.json").read_text())
    assert m["seed"] == 9 and m["total_rows"] == sum(
        pq.ParquetFile(p).metadata.num_rows for p in part.glob("*.parquet")
    )
    assert sorted(os.listdir(root / "cart_items")) == ["ingest_dt=2023-03-01"]


def test_fixed_created_at_makes_manifests_reproducible(tmp_path):
    for name in ("x", "y"):
        generate(_settings(), _opts(days=1, orders_per_day=50, fixed_created_at=True), out=str(tmp_path / name))
    assert _files(tmp_path / "x") == _files(tmp_path / "y")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "bronze"
    spec = (
        "truncated_parquet,customers:missing_manifest@2023-03-01,cart_items:manifest_row_mismatch@2023-03-02,"
        "shopping_carts:dropped_required_column"
    )
    generate(_settings(), _opts(file_faults=spec), out=str(root))
    return root


def _ledger_faults(part_dir: Path) -> list[dict]:
    return json.loads((part_dir / LEDGER_NAME).read_text())["file_faults"]


def test_truncated_parquet(faulty):
    part = faulty / "orders" / "ingest_dt=2023-03-02"  # a bare kind means orders on the last day
    faults = _ledger_faults(part)
    assert [f["kind"] for f in faults] == ["truncated_parquet"]
    path = part / faults[0]["file"]
    assert not storage.has_parquet_magic(str(path))
    assert path.stat().st_size == faults[0]["truncated_bytes"] < faults[0]["original_bytes"]
    entry = json.loads((part / "_manifest.json").read_text())["files"][0]
    assert entry["sha256"] != storage.sha256_file(str(path))
    with pytest.raises(Exception):
        pq.ParquetFile(path)
    assert _ledger_faults(faulty / "orders" / "ingest_dt=2023-03-01") == []


def test_missing_manifest(faulty):
    part = faulty / "customers" / "ingest_dt=2023-03-01"
    assert not (part / "_manifest.json").exists() and (part / "_SUCCESS").exists()
    assert _ledger_faults(part) == [{"kind": "missing_manifest", "file": "_manifest.json"}]
    assert (faulty / "customers" / "ingest_dt=2023-03-02" / "_manifest.json").exists()


def test_manifest_row_mismatch(faulty):
    part = faulty / "cart_items" / "ingest_dt=2023-03-02"
    m = json.loads((part / "_manifest.json").read_text())
    actual = sum(pq.ParquetFile(p).metadata.num_rows for p in part.glob("*.parquet"))
    assert m["total_rows"] != actual
    assert _ledger_faults(part) == [
        {
            "kind": "manifest_row_mismatch",
            "file": "_manifest.json",
            "manifest_rows": m["total_rows"],
            "actual_rows": actual,
        }
    ]


def test_dropped_required_column(faulty):
    part = faulty / "shopping_carts" / "ingest_dt=2023-03-02"
    fault = _ledger_faults(part)[0]
    assert fault["kind"] == "dropped_required_column" and fault["column"] in CONTRACT["shopping_carts"].required_columns
    schema = pq.ParquetFile(part / fault["file"]).schema_arrow
    assert fault["column"] not in schema.names
    assert set(schema.names) == set(CONTRACT["shopping_carts"].bronze_schema().names) - {fault["column"]}


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "BRONZE_BASE_PATH": str(Path(cwd) / "never")},
    )


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--file-faults", "melted_disk"], "unknown file fault 'melted_disk'"),
        (["--history-start", "2023-05-01"], "--history-start"),
        (["--file-faults", "orders:truncated_parquet@2023-04-01"], "outside the generated days"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    proc = _cli(
        "bronze",
        "generate",
        "--start-date",
        "2023-03-01",
        "--days",
        "1",
        "--out",
        str(tmp_path / "b"),
        *args,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not (tmp_path / "b").exists()


def test_cli_generates_and_summarises(tmp_path):
    proc = _cli(
        "bronze",
        "generate",
        "--start-date",
        "2023-03-01",
        "--days",
        "2",
        "--orders-per-day",
        "60",
        "--seed",
        "1",
        "--out",
        "lake",
        "--defect-rate",
        "0",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = [line for line in proc.stdout.splitlines() if line.startswith("bronze generate:")]
    assert len(summary) == 1 and "rows/s" in summary[0] and "orders=" in summary[0]
    assert storage.list_partitions(str(tmp_path / "lake"), "orders") == ["2023-03-01", "2023-03-02"]


def test_stale_temp_dirs_of_dead_runs_are_removed(tmp_path):
    root = tmp_path / "bronze"
    dead = root / "orders" / "_tmp.ingest_dt=2023-03-01.999999999"  # no such pid
    dead.mkdir(parents=True)
    (dead / "part-0000.parquet").write_bytes(b"half a file")
    generate(_settings(), _opts(days=1, orders_per_day=20), out=str(root))
    assert sorted(os.listdir(root / "orders")) == ["ingest_dt=2023-03-01"]


def test_object_store_roots_work(tmp_path):
    import fsspec

    generate(_settings(), _opts(days=1, orders_per_day=30), out="memory://ecomlake-test/bronze")
    fs = fsspec.filesystem("memory")
    try:
        part = "memory://ecomlake-test/bronze/orders/ingest_dt=2023-03-01"
        assert storage.list_partitions("memory://ecomlake-test/bronze", "orders") == ["2023-03-01"]
        assert storage.exists(part + "/_SUCCESS") and storage.exists(part + "/" + LEDGER_NAME)
        m = storage.read_manifest(part)
        assert m["total_rows"] == storage.parquet_num_rows(part + "/part-0000.parquet") > 0
    finally:
        fs.rm("/ecomlake-test", recursive=True)
