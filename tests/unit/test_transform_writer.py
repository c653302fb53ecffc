"""The Enriched writer: deterministic order, bounded part files, null partitions kept."""

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake.enriched import runner
from ecomlake.enriched.runner import UnsortedStreamError, write_partitions
from ecomlake.transforms.schemas import SHIPPING_ECONOMICS, SPECS


def _table(order_ids, dates):
    spec = SHIPPING_ECONOMICS
    rows = [
        dict.fromkeys(spec.column_names) | {"order_id": o, "order_dt": d, "ingest_dt": dt.date(2023, 1, 2)}
        for o, d in zip(order_ids, dates, strict=False)
    ]
    return pa.Table.from_pylist(rows, schema=spec.arrow_schema())


def test_null_partition_rows_are_kept_in_their_own_partition(tmp_path):
    d1 = dt.date(2023, 1, 1)
    t = _table(["c", "a", "n", "b"], [d1, d1, None, dt.date(2023, 1, 2)])
    out = write_partitions(t, SHIPPING_ECONOMICS, lambda p: str(tmp_path / p), max_rows=1, within=str(tmp_path))
    assert sorted(out) == ["2023-01-01", "2023-01-02", "__null__"]
    null_dir = tmp_path / "order_dt=__null__"
    assert pq.read_table(null_dir / "part-00000.parquet").column("order_id").to_pylist() == ["n"]
    # At most max_rows per file, rows sorted by the grain.
    day1 = tmp_path / "order_dt=2023-01-01"
    assert sorted(p.name for p in day1.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert [pq.read_table(day1 / f).column("order_id")[0].as_py() for f in sorted(p.name for p in day1.iterdir())] == [
        "a",
        "c",
    ]
    assert out["2023-01-01"][1:] == (2, 2)


def test_same_rows_in_any_order_give_identical_bytes(tmp_path):
    d1 = dt.date(2023, 1, 1)
    a = _table(["x", "y", "z"], [d1] * 3)
    b = _table(["z", "x", "y"], [d1] * 3)
    write_partitions(a, SHIPPING_ECONOMICS, lambda p: str(tmp_path / "a" / p), max_rows=100, within=str(tmp_path))
    write_partitions(b, SHIPPING_ECONOMICS, lambda p: str(tmp_path / "b" / p), max_rows=100, within=str(tmp_path))
    f = "order_dt=2023-01-01/part-00000.parquet"
    assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_every_table_declares_date_partitions_and_ingest_dt():
    for spec in SPECS.values():
        types = dict(spec.columns)
        assert types[spec.partition_key] == "DATE" and types["ingest_dt"] == "DATE", spec.name
        assert all(g in types for g in spec.grain + spec.key_fields), spec.name
        assert not any(t == "DOUBLE" for c, t in spec.columns if c in ("net_clv", "gross_revenue", "shipping_margin"))


def _stream(table: pa.Table, sizes: list[int]) -> list[pa.RecordBatch]:
    """`table` cut into record batches of the given sizes (the last takes the rest)."""
    out, start = [], 0
    for n in sizes:
        out += table.slice(start, n).to_batches()
        start += n
    return out + table.slice(start).to_batches()


def test_a_sorted_stream_gives_the_same_bytes_however_it_is_batched(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "ROW_GROUP_ROWS", 3)
    d1, d2 = dt.date(2023, 1, 1), dt.date(2023, 1, 2)
    ids = [f"o{i:02d}" for i in range(11)]
    t = _table(ids, [d1] * 7 + [d2] * 3 + [None])  # already in (partition, grain) order
    outs = []
    for name, batches in {"one": t, "rows": _stream(t, [1] * 10), "odd": _stream(t, [4, 5, 1])}.items():
        outs.append(
            write_partitions(
                batches,
                SHIPPING_ECONOMICS,
                lambda p, n=name: str(tmp_path / n / p),
                5,
                presorted=True,
                within=str(tmp_path),
            )
        )
    assert [{k: v[1:] for k, v in o.items()} for o in outs] == [
        {"2023-01-01": (7, 2), "2023-01-02": (3, 1), "__null__": (1, 1)}
    ] * 3
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert [str(f) for f in files] == [
        "order_dt=2023-01-01/part-00000.parquet",
        "order_dt=2023-01-01/part-00001.parquet",
        "order_dt=2023-01-02/part-00000.parquet",
        "order_dt=__null__/part-00000.parquet",
    ]
    # Row groups of at most ROW_GROUP_ROWS, counted from each file's start: 5 rows = 3 + 2.
    meta = pq.ParquetFile(tmp_path / "one" / files[0]).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [3, 2]
    for f in files:
        assert (
            (tmp_path / "one" / f).read_bytes()
            == (tmp_path / "rows" / f).read_bytes()
            == (tmp_path / "odd" / f).read_bytes()
        )
    back = pa.concat_tables(pq.read_table(tmp_path / "one" / f) for f in files)
    assert back.column("order_id").to_pylist() == ids


def test_a_stream_that_returns_to_a_finished_partition_is_refused(tmp_path):
    d1, d2 = dt.date(2023, 1, 1), dt.date(2023, 1, 2)
    t = _table(["a", "b", "c"], [d1, d2, d1])
    with pytest.raises(UnsortedStreamError, match=r"order_dt=2023-01-01 came after another partition"):
        write_partitions(
            _stream(t, [1, 1]),
            SHIPPING_ECONOMICS,
            lambda p: str(tmp_path / p),
            10,
            presorted=True,
            within=str(tmp_path),
        )
