"""Storage helpers: paths, partitions, manifests, parquet integrity, atomic small-file writes."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake import storage
from ecomlake.errors import InputError


def test_join_keeps_urls_and_slashes():
    assert (
        storage.join("gs://bucket/prefix/", "orders", "/ingest_dt=2023-01-01")
        == "gs://bucket/prefix/orders/ingest_dt=2023-01-01"
    )
    assert storage.join("data/bronze", "orders") == "data/bronze/orders"
    assert storage.join("/", "a") == "/a"
    assert storage.is_remote("gs://b/x") and not storage.is_remote("/tmp/x")


def test_list_partitions_only_lists_the_key(tmp_path):
    for name in (
        "ingest_dt=2023-01-02",
        "ingest_dt=2023-01-01",
        "order_dt=2023-01-01",
        "_staging",
        "ingest_dt=2023-01-03.__old__run1",
    ):
        (tmp_path / "orders" / name).mkdir(parents=True)
    assert storage.list_partitions(str(tmp_path), "orders") == ["2023-01-01", "2023-01-02"]
    assert storage.list_partitions(str(tmp_path), "missing") == []


def test_list_data_files_skips_hidden_and_temp(tmp_path):
    for name in (
        "part-0001.parquet",
        "part-0000.parquet",
        "_manifest.json",
        "_SUCCESS",
        ".part-0002.parquet",
        "_tmp.parquet",
        "part-0003.parquet.tmp-12",
    ):
        (tmp_path / name).write_bytes(b"")
    assert storage.list_data_files(str(tmp_path)) == [
        str(tmp_path / "part-0000.parquet"),
        str(tmp_path / "part-0001.parquet"),
    ]


def test_manifest_names_and_invalid_json(tmp_path):
    assert storage.read_manifest(str(tmp_path)) is None
    (tmp_path / "_MANIFEST.json").write_text('{"total_rows": 3}')
    assert storage.read_manifest(str(tmp_path)) == {"total_rows": 3}
    (tmp_path / "_manifest.json").write_text('{"total_rows": 4}')  # ours wins when both exist
    assert storage.read_manifest(str(tmp_path)) == {"total_rows": 4}
    (tmp_path / "_manifest.json").write_text("{oops")
    with pytest.raises(InputError, match="manifest is not valid JSON: .*_manifest.json"):
        storage.read_manifest(str(tmp_path))
    (tmp_path / "_manifest.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        storage.read_manifest(str(tmp_path))


def test_parquet_integrity_helpers(tmp_path):
    good = tmp_path / "part-0000.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), good)
    assert storage.has_parquet_magic(str(good))
    assert storage.parquet_num_rows(str(good)) == 3
    truncated = tmp_path / "part-0001.parquet"
    truncated.write_bytes(good.read_bytes()[:-10])
    assert not storage.has_parquet_magic(str(truncated))
    with pytest.raises(InputError, match=f"corrupt parquet file {truncated}"):
        storage.parquet_num_rows(str(truncated))
    tiny = tmp_path / "tiny.parquet"
    tiny.write_bytes(b"PAR1")
    assert not storage.has_parquet_magic(str(tiny))


def test_build_manifest(tmp_path):
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "part-0000.parquet")
    pq.write_table(pa.table({"a": [3]}), tmp_path / "part-0001.parquet")
    m = storage.build_manifest(
        str(tmp_path), table="orders", partition="ingest_dt=2023-01-01", run_id="r", extra={"batch_id": "b"}
    )
    assert m["total_rows"] == 3 and m["table"] == "orders" and m["batch_id"] == "b"
    assert [f["path"] for f in m["files"]] == ["part-0000.parquet", "part-0001.parquet"]
    assert m["files"][0]["sha256"] == storage.sha256_file(str(tmp_path / "part-0000.parquet"))
    assert len(m["files"][0]["sha256"]) == 64


def test_write_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "x.json"
    storage.write_json_atomic(str(target), {"a": 1})
    storage.write_json_atomic(str(target), {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_remove_tree_removes_files_and_dirs(tmp_path):
    # A journal is a file: removing it must really remove it (rmtree silently ignores files).
    f = tmp_path / "_journal.json"
    f.write_text("{}")
    storage.remove_tree(str(f), str(tmp_path))
    assert not f.exists()
    d = tmp_path / "d" / "e"
    d.mkdir(parents=True)
    (d / "x").write_text("1")
    storage.remove_tree(str(tmp_path / "d"), str(tmp_path))
    assert not (tmp_path / "d").exists()
    storage.remove_tree(str(tmp_path / "never"), str(tmp_path))  # missing: no error


def test_logical_name_drops_the_version_an_object_store_publish_adds():
    assert storage.logical_name("part-0000-0123456789ab.parquet") == "part-0000.parquet"
    assert storage.logical_name("silver-run_1-0123456789ab.parquet") == "silver-run_1.parquet"
    assert storage.logical_name("part-0000.parquet") == "part-0000.parquet"
    assert storage.logical_name("part-0000-xyz.parquet") == "part-0000-xyz.parquet"
    # A republished file gets a new version, never a second one.
    assert storage._versioned("part-0000-0123456789ab.parquet", "ba9876543210") == "part-0000-ba9876543210.parquet"


def test_readers_read_what_the_manifest_lists_and_gold_refuses_a_stray_file(tmp_path, capfd):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from ecomlake.config import Settings
    from ecomlake.errors import InputError
    from ecomlake.gold.runner import _refuse_unlisted

    enriched = tmp_path / "enriched"
    part = enriched / "int_cart_attribution" / "cart_dt=2023-01-01"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"v": [1, 2]}), part / "part-00000.parquet")
    (part / "_manifest.json").write_text(json.dumps({"files": [{"path": "part-00000.parquet", "rows": 2}]}))
    assert storage.partition_files(str(part)) == [str(part / "part-00000.parquet")]
    settings = Settings()
    settings.paths.silver_enriched_path = str(enriched)
    _refuse_unlisted(settings)  # nothing stray: no error

    pq.write_table(pa.table({"v": [9]}), part / "recovered.parquet")
    assert storage.partition_files(str(part)) == [str(part / "part-00000.parquet")]  # not read
    assert f"{part}/recovered.parquet: not listed in the partition's _manifest.json" in capfd.readouterr().err
    assert storage.unlisted_files(str(enriched / "int_cart_attribution")) == [str(part / "recovered.parquet")]
    with pytest.raises(
        InputError, match=r"^gold: .*/recovered.parquet is not listed in its partition's _manifest.json"
    ):
        _refuse_unlisted(settings)
