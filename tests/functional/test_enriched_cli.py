"""`ecomlake enriched run`, `ecomlake local enriched` and the staging publish mode, end to end."""

from __future__ import annotations

import json

import pytest
from enriched_fixtures import DAYS, Lake, fill_small_lake

from ecomlake.cli.main import main
from ecomlake.enriched.runner import promote_enriched, run_enriched
from ecomlake.enriched.validate import validate_enriched
from ecomlake.transforms.schemas import TABLE_NAMES


def _cli(monkeypatch, lake, argv, **env):
    for k, v in lake.env(**env).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_enriched_run_builds_all_tables_then_gates(tmp_path, monkeypatch, capsys):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[0], "--enforce", "--run-id", "cli1"]) == 0
    out = capsys.readouterr().out
    for name in TABLE_NAMES:  # one line per table: rows, partitions, seconds
        assert f"{name}: " in out
    assert "PASS: 10/10 tables with data" in out
    record = json.loads((lake.metrics / "enriched_run_cli1.json").read_text())
    assert record["ingest_dt"] == DAYS[0] and record["tables"]["int_cart_attribution"]["partitions"]
    assert (lake.metrics / "enriched_quality_cli1.json").exists()
    assert (lake.reports / f"ENRICHED_QUALITY_{DAYS[0]}.md").exists()
    # Without --date, `local enriched` builds every Silver date that has no run yet, oldest first.
    assert _cli(monkeypatch, lake, ["local", "enriched"]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("== enriched")] == [
        f"== enriched {d} ({i}/3)" for i, d in enumerate(DAYS[1:], 1)
    ]
    assert _cli(monkeypatch, lake, ["local", "enriched", "--date", DAYS[3]]) == 0
    # The runbook's diagnosis snippet reads the table root and sees the newest snapshot only.
    import polars as pl

    df = pl.read_parquet(str(lake.enriched / "int_customer_lifetime_value" / "*.parquet"))
    assert df.height == 6 and df["ingest_dt"].unique().to_list() == [__import__("datetime").date(2023, 1, 4)]
    assert df.filter(pl.col("net_clv") < 0).height == 0
    # A backfill of an older day does not replace it.
    assert _cli(monkeypatch, lake, ["local", "enriched", "--date", DAYS[1]]) == 0
    df = pl.read_parquet(str(lake.enriched / "int_customer_lifetime_value" / "*.parquet"))
    assert df["ingest_dt"].unique().to_list() == [__import__("datetime").date(2023, 1, 4)]


def test_bad_input_exits_2(tmp_path, monkeypatch, capsys):
    lake = Lake(tmp_path)
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", "2023-13-01"]) == 2
    assert "invalid --ingest-dt" in capsys.readouterr().err
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", "2023-01-01"]) == 2
    err = capsys.readouterr().err
    assert "no Base Silver partition" in err and "`ecomlake local silver --date 2023-01-01`" in err
    lake.write_day("2023-01-01")
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", "2023-01-01"]) == 2
    assert "run `ecomlake local dims --date 2023-01-01` first" in capsys.readouterr().err


def test_staging_mode_validates_staged_partitions_then_promotes(tmp_path):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    settings = lake.settings(ENRICHED_PUBLISH_MODE="staging")
    run_enriched(settings, DAYS[0], run_id="staged")
    assert not (lake.enriched / "int_customer_lifetime_value").exists()  # nothing live before the gate
    code, result = validate_enriched(settings, ingest_dt=DAYS[0], run_id="staged", enforce=True)
    assert code == 0 and result.overall_status.value == "PASS"
    promote_enriched(settings, "staged")
    assert len(lake.read("int_customer_lifetime_value", f"ingest_dt={DAYS[0]}")) == 6
    assert json.loads((lake.metrics / "enriched_run_staged.json").read_text())["status"] == "published"
    assert not (lake.enriched / "_staging").exists()


def test_missing_dims_snapshot_for_d_stops_unless_older_dims_are_allowed(tmp_path, monkeypatch, capsys):
    lake = Lake(tmp_path)
    fill_small_lake(lake)
    import shutil

    for name in ("customer_snapshot", "product_catalog"):
        shutil.rmtree(lake.dims / name / f"snapshot_dt={DAYS[1]}")
    # ENRICHED.md: D reads exactly the snapshot of D. One line naming it and the command that builds it.
    assert _cli(monkeypatch, lake, ["enriched", "run", "--ingest-dt", DAYS[1], "--run-id", "no_dims"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]  # not the bar
    want = (
        f"error: no customer_snapshot snapshot for {DAYS[1]} under {lake.dims} (latest before it: {DAYS[0]}); "
        f"run `ecomlake local dims --date {DAYS[1]}` first, or pass --allow-older-dims to use {DAYS[0]}"
    )
    assert err == [want]
    assert not (lake.metrics / "enriched_run_no_dims.json").exists()
    assert not (lake.enriched / "int_customer_lifetime_value" / f"ingest_dt={DAYS[1]}").exists()

    # The explicit fallback: a warning, and the run record and the gate report say which snapshot was used.
    argv = ["enriched", "run", "--ingest-dt", DAYS[1], "--run-id", "late_dims", "--allow-older-dims"]
    assert _cli(monkeypatch, lake, argv) == 0
    assert "no snapshot for 2023-01-02; using the latest before it (2023-01-01)" in capsys.readouterr().err
    record = json.loads((lake.metrics / "enriched_run_late_dims.json").read_text())
    assert record["allow_older_dims"] is True
    assert record["snapshot_dates"] == {"customer_snapshot": DAYS[0], "product_catalog": DAYS[0]}
    gate = json.loads((lake.metrics / "enriched_quality_late_dims.json").read_text())
    older = [c for c in gate["checks"] if c["name"] == "dims_snapshot_of_d"]
    assert [c["status"] for c in older] == ["WARN"]
    assert "(--allow-older-dims)" in (lake.reports / f"ENRICHED_QUALITY_{DAYS[1]}.md").read_text()
