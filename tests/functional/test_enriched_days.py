"""Which days Enriched and Gold build, decided from the lake itself; refused and failed runs change
nothing readers see (issue 17, section 1). Hand-made Silver and dims (enriched_fixtures), in process."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from enriched_fixtures import CONFIG, DAYS, Lake, fill_small_lake, item, order

from ecomlake.cli.main import main
from ecomlake.gold.runner import resolve_as_of
from ecomlake.lake import enriched_days, enriched_days_to_build, missing_enriched_days

SNAPSHOTS = ("int_customer_lifetime_value", "int_customer_retention_signals", "int_inventory_risk")


def _cli(monkeypatch, lake: Lake, argv: list[str], **env) -> int:
    env = {"GOLD_PATH": str(lake.root / "gold"), "ECOM_CONFIG_PATH": str(CONFIG), **env}
    for k, v in lake.env(**env).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code or 0


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _latest_days(lake: Lake) -> set[dt.date]:
    df = pl.read_parquet(str(lake.enriched / "int_customer_lifetime_value" / "*.parquet"))
    return set(df["ingest_dt"].unique().to_list())


def _pointer(lake: Lake) -> str:
    return json.loads((lake.enriched / "_latest.json").read_text())["ingest_dt"]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> Path:
    """Four Silver days, all four built by `ecomlake local enriched` (gated: the pointer is at day 4)."""
    lake = Lake(tmp_path_factory.mktemp("enriched_days") / "lake")
    fill_small_lake(lake)
    with pytest.MonkeyPatch.context() as mp:
        assert _cli(mp, lake, ["local", "enriched"]) == 0
    return lake.root


@pytest.fixture
def built(built_once, tmp_path) -> Lake:
    """A private copy of the built lake (every path of a Lake is under its root)."""
    return Lake(shutil.copytree(built_once, tmp_path / "lake"))


def test_a_day_without_base_silver_is_refused_before_anything_is_written(built, monkeypatch, capsys):
    lake = built
    before, runs = _tree(lake.enriched), sorted(p.name for p in lake.metrics.iterdir())
    # The day after the last Silver day (the 2023-01-04 on the demo) and a day far away
    # (the runbook's 2024-01-03, which used to crash with a CatalogException).
    for day in ("2023-01-05", "2024-01-03"):
        assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", day]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("error: enriched: no Base Silver partition ")
        assert f"silver/base/orders/ingest_dt={day}" in err and f"`ecomlake local silver --date {day}`" in err
        assert f"Base Silver holds {DAYS[0]} to {DAYS[-1]}" in err and "nothing was written" in err
        assert "Exception" not in err
    assert _tree(lake.enriched) == before  # no partition, no _latest.parquet, no pointer moved
    assert sorted(p.name for p in lake.metrics.iterdir()) == runs  # no run record either
    assert resolve_as_of(lake.settings(), None) == dt.date.fromisoformat(DAYS[-1])


def test_a_day_missing_one_fact_table_is_refused_too(built, monkeypatch, capsys):
    lake = built
    shutil.rmtree(lake.silver / "returns" / f"ingest_dt={DAYS[-1]}")
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[-1]]) == 2
    err = capsys.readouterr().err
    assert f"silver/base/returns/ingest_dt={DAYS[-1]}" in err and "more fact tables" not in err


def test_a_failed_gate_moves_neither_latest_nor_golds_as_of(built, tmp_path, monkeypatch, capsys):
    lake, d4, d5 = built, DAYS[3], "2023-01-05"
    assert _pointer(lake) == d4 and _latest_days(lake) == {dt.date.fromisoformat(d4)}
    # A fifth Silver day, and a config under which its gate FAILs (local env: exit 0, but a FAIL).
    lake.write_dims(d5, [{"customer_id": f"C{i}"} for i in range(1, 6)], [{"product_id": p} for p in range(1, 5)])
    lake.write_day(d5, orders=[order("O51", "C1", f"{d5}T09:00:00", 10)], order_items=[item("O51", 1, d5, 1, 5)])
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["enriched_validation"]["min_table_rows"]["int_daily_business_metrics"] = 1_000_000
    failing = tmp_path / "failing.yml"
    failing.write_text(yaml.safe_dump(cfg))
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", d5], ECOM_CONFIG_PATH=str(failing)) == 0
    out = capsys.readouterr().out
    assert f"gate FAILED for {d5}: _latest.parquet and Gold's default as-of date were not moved" in out
    assert (lake.enriched / "int_customer_lifetime_value" / f"ingest_dt={d5}").is_dir()  # direct mode
    assert _pointer(lake) == d4 and _latest_days(lake) == {dt.date.fromisoformat(d4)}
    assert resolve_as_of(lake.settings(), None) == dt.date.fromisoformat(d4)
    # The same day with a passing gate moves both; a passing backfill of an older day moves nothing.
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", d5]) == 0
    assert f"{d5} is current" in capsys.readouterr().out
    assert _pointer(lake) == d5 and _latest_days(lake) == {dt.date.fromisoformat(d5)}
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[1]]) == 0
    assert f"older than the current day {d5}" in capsys.readouterr().out
    assert _pointer(lake) == d5 and resolve_as_of(lake.settings(), None) == dt.date.fromisoformat(d5)


def test_local_enriched_decides_from_the_lake_not_from_run_records(built, monkeypatch, capsys):
    lake = built
    settings = lake.settings()
    assert enriched_days(settings) == DAYS and enriched_days_to_build(settings) == [DAYS[-1]]
    # The run records under metrics stay; the Enriched root goes: every day is rebuilt, oldest first.
    shutil.rmtree(lake.enriched)
    assert _cli(monkeypatch, lake, ["local", "enriched"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("== enriched")]
    assert lines == [f"== enriched {d} ({i}/4)" for i, d in enumerate(DAYS, 1)]
    assert enriched_days(settings) == DAYS
    # A partition without the _SUCCESS its publish writes last is not a built day.
    (lake.enriched / "int_inventory_risk" / f"ingest_dt={DAYS[2]}" / "_SUCCESS").unlink()
    assert enriched_days_to_build(settings) == DAYS[2:]
    # A day missing in the middle: that day and every later one (state and business dates carry forward).
    for t in SNAPSHOTS:
        shutil.rmtree(lake.enriched / t / f"ingest_dt={DAYS[1]}")
    shutil.rmtree(lake.metrics)  # the decision never reads run records
    assert enriched_days_to_build(settings) == DAYS[1:]
    # A table wiped entirely: every day.
    shutil.rmtree(lake.enriched / "int_regional_financials")
    assert enriched_days_to_build(settings) == DAYS


def test_gold_names_the_enriched_days_it_is_missing(built, monkeypatch, capsys):
    lake = built
    for d in DAYS[:-1]:  # Enriched as if only the newest day had been built
        for t in SNAPSHOTS:
            shutil.rmtree(lake.enriched / t / f"ingest_dt={d}")
    assert missing_enriched_days(lake.settings(), DAYS[-1]) == DAYS[:-1]
    assert _cli(monkeypatch, lake, ["gold", "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"Enriched is missing 3 day(s) that Base Silver has up to {DAYS[-1]}: {', '.join(DAYS[:-1])}" in err
    assert "`ecomlake local enriched`" in err
    assert not (lake.root / "gold").exists()  # refused before dbt started


def test_an_input_without_files_stays_in_the_runs_connection(tmp_path):
    """Materializing an expression over an input with no files used to cache it in Ibis's default
    backend, invisible to the run (CatalogException 'ibis_cached_... does not exist')."""
    from ecomlake.enriched.inputs import make_context

    lake = Lake(tmp_path)
    ctx = make_context(lake.settings(), dt.date(2024, 1, 3))
    try:
        empty = ctx._read("orders", [])
        cached = ctx.materialize(empty.filter(empty.net_total > 0).select("order_id", "net_total"))
        result = ctx.backend.to_pyarrow(cached)
        assert result.num_rows == 0 and result.column_names == ["order_id", "net_total"]
        assert str(ctx._read("orders", []).schema()["net_total"]).startswith("decimal")
    finally:
        ctx.close()


def test_each_table_is_built_then_sorted_and_its_build_dropped(tmp_path):
    """DuckDB builds each Enriched table into a temp table and sorts that (a sort fed straight by
    the joins ran out of memory at 1M orders under 2 GB): the rows come out in (partition, grain)
    order, and the build is dropped when the stream ends, whether read to the end or not."""
    import pyarrow as pa

    from ecomlake.enriched.inputs import make_context
    from ecomlake.enriched.runner import _execute
    from ecomlake.transforms.schemas import SHIPPING_ECONOMICS as spec

    def temp_tables(ctx):
        return ctx.backend.con.execute("select table_name from duckdb_tables() where temporary").fetchall()

    rows = [
        dict.fromkeys(spec.column_names) | {"order_id": o, "order_dt": d, "ingest_dt": dt.date(2024, 1, 3)}
        for o, d in [
            ("o3", dt.date(2024, 1, 2)),
            ("o2", None),
            ("o9", dt.date(2024, 1, 1)),
            ("o1", dt.date(2024, 1, 2)),
        ]
    ]
    data = pa.Table.from_pylist(rows, schema=spec.arrow_schema())
    ctx = make_context(Lake(tmp_path).settings(), dt.date(2024, 1, 3))
    try:
        out = pa.Table.from_batches(list(_execute(ctx, ctx.engine.table(data), spec)))
        assert out.column("order_id").to_pylist() == ["o9", "o1", "o3", "o2"]
        assert temp_tables(ctx) == []
        stream = _execute(ctx, ctx.engine.table(data), spec)
        next(stream)  # (the connection cannot be asked anything while the stream is open)
        stream.close()  # the writer stopped early (an error in a later partition)
        assert temp_tables(ctx) == []
    finally:
        ctx.close()
