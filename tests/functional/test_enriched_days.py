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
from enriched_fixtures import CONFIG, DAYS, Lake, fill_small_lake

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


@pytest.fixture
def built(tmp_path, monkeypatch, capsys):
    """Four Silver days, all four built by `ecomlake local enriched` (gated, so the pointer is at day 4)."""
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    assert _cli(monkeypatch, lake, ["local", "enriched"]) == 0
    capsys.readouterr()
    return lake


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


def test_a_failed_gate_moves_neither_latest_nor_golds_as_of(tmp_path, monkeypatch, capsys):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    for d in DAYS[:3]:
        assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", d]) == 0
    assert _pointer(lake) == DAYS[2] and _latest_days(lake) == {dt.date.fromisoformat(DAYS[2])}
    # A config under which day 4's gate FAILs (local env: exit 0, but a FAIL).
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["enriched_validation"]["min_table_rows"]["int_daily_business_metrics"] = 1_000_000
    failing = tmp_path / "failing.yml"
    failing.write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[3]], ECOM_CONFIG_PATH=str(failing)) == 0
    out = capsys.readouterr().out
    assert f"gate FAILED for {DAYS[3]}: _latest.parquet and Gold's default as-of date were not moved" in out
    assert (lake.enriched / "int_customer_lifetime_value" / f"ingest_dt={DAYS[3]}").is_dir()  # direct mode
    assert _pointer(lake) == DAYS[2] and _latest_days(lake) == {dt.date.fromisoformat(DAYS[2])}
    assert resolve_as_of(lake.settings(), None) == dt.date.fromisoformat(DAYS[2])
    # The same day with a passing gate moves both; a passing backfill of an older day moves nothing.
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[3]]) == 0
    assert f"{DAYS[3]} is current" in capsys.readouterr().out
    assert _pointer(lake) == DAYS[3] and _latest_days(lake) == {dt.date.fromisoformat(DAYS[3])}
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[1]]) == 0
    assert f"older than the current day {DAYS[3]}" in capsys.readouterr().out
    assert _pointer(lake) == DAYS[3] and resolve_as_of(lake.settings(), None) == dt.date.fromisoformat(DAYS[3])


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
    # A day missing in the middle: that day and every later one (state and business dates carry forward).
    for t in SNAPSHOTS:
        shutil.rmtree(lake.enriched / t / f"ingest_dt={DAYS[1]}")
    shutil.rmtree(lake.metrics)  # the decision never reads run records
    assert enriched_days_to_build(settings) == DAYS[1:]
    # A table wiped entirely: every day.
    shutil.rmtree(lake.enriched / "int_regional_financials")
    assert enriched_days_to_build(settings) == DAYS


def test_gold_names_the_enriched_days_it_is_missing(tmp_path, monkeypatch, capsys):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[-1]]) == 0  # only the newest day
    capsys.readouterr()
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
    from ecomlake.enriched.runner import make_context

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
