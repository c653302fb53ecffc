"""The Enriched writer: deterministic order, bounded part files, null partitions kept."""

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake.enriched.runner import write_partitions
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
