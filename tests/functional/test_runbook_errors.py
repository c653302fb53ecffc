"""Errors and reports that point at the right thing (issue 17, sections 3 and 4): the runbook's manual
quarantine cleanup, `quarantine summary --since` on an old lake, missing paths, staging publish."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import silver_fixtures as sf

from ecomlake.quarantine.prune import prune_quarantine
from ecomlake.quarantine.summary import quarantine_summary
from ecomlake.silver.validate import validate_silver

D1, D2 = "2022-12-30", "2023-01-01"  # far older than a week before today


@pytest.fixture(scope="module")
def qlake(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("runbook_errors")
    s = sf.settings_for(base)
    sf.make_day(s, "orders", D1, 18, ["null_customer_id", "negative_gross_total"])
    sf.make_day(s, "orders", D2, 16, ["duplicate_order_id"], start=100)
    return base


def _copy(qlake: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(qlake, tmp_path / "lake"))


def _checks(result, name: str) -> list:
    return [c for c in result.checks if c.name == name and c.status.value == "FAIL"]


def test_the_runbooks_find_delete_cleanup_is_named_by_the_gate(qlake, tmp_path):
    lake = _copy(qlake, tmp_path)
    quarantine = lake / "silver" / "quarantine"
    # The runbook's section 5 cleanup, as written, on files older than a week.
    subprocess.run(
        ["find", str(quarantine), "-type", "f", "-exec", "touch", "-d", "10 days ago", "{}", "+"], check=True
    )
    subprocess.run(["find", str(quarantine), "-type", "f", "-mtime", "+7", "-delete"], check=True)
    assert not any(p.is_file() for p in quarantine.rglob("*"))
    _, result = validate_silver(sf.settings_for(lake), tables="orders", echo=False)
    emptied = _checks(result, "partition_emptied")
    assert [c.partition for c in emptied] == [f"ingest_dt={D1}", f"ingest_dt={D2}"]
    msg = emptied[0].message
    assert "was emptied outside the pipeline" in msg and "_manifest.json and _SUCCESS deleted" in msg
    assert "`ecomlake quarantine prune`" in msg
    assert not _checks(result, "manifest_present")  # one finding per partition, not a missing-manifest noise
    lost = _checks(result, "row_conservation")
    assert lost[0].message == (
        f"orders/ingest_dt={D1}: bronze 20 != silver 18 + quarantine 0 (lost 2 rows): the quarantine partition "
        "was emptied by hand (`ecomlake quarantine prune` would have recorded them)"
    )
    assert "ecomlake quarantine prune --older-than 7d" in lost[0].action
    assert f"ecomlake local silver --date {D1}" in lost[0].action


def test_the_same_cleanup_through_prune_keeps_the_gate_balanced(qlake, tmp_path):
    lake = _copy(qlake, tmp_path)
    s = sf.settings_for(lake)
    r = prune_quarantine(s, older_than="7d")
    assert r["partitions_pruned"] == 2 and r["rows_pruned"] == 3
    _, result = validate_silver(s, tables="orders", echo=False)
    assert not _checks(result, "partition_emptied") and not _checks(result, "row_conservation")


def test_summary_since_counts_back_from_the_newest_partition(qlake, tmp_path):
    s = sf.settings_for(qlake)
    s.paths.reports_base_path = str(tmp_path)
    week = quarantine_summary(s, since="7d", output=str(tmp_path / "w.json"))
    assert week["ingest_dts"] == [D1, D2] and week["total_rows"] == 3  # not empty although 2023 is long ago
    assert week["since"] == "2022-12-25" and week["newest_ingest_dt"] == D2
    assert week["since_basis"] == f"7d before the newest quarantine partition, {D2}"
    day = quarantine_summary(s, since="0d", output=str(tmp_path / "d.json"))
    assert day["ingest_dts"] == [D2]
    r = sf.run_cli(["quarantine", "summary", "--since", "7d", "--output", str(tmp_path / "cli.json")], qlake)
    assert r.returncode == 0, r.stderr
    assert f"since 2022-12-25 (7d before the newest quarantine partition, {D2})" in r.stdout
    assert "total: 3 quarantined rows over 2 dates" in r.stdout


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["quarantine", "summary", "--silver-path", "nope"], "silver path not found: nope"),
        (["quarantine", "summary", "--quarantine-path", "nope"], "quarantine path not found: nope"),
        (["quarantine", "prune", "--silver-path", "nope", "--older-than", "7d"], "silver path not found: nope"),
        (["quarantine", "prune", "--quarantine-path", "nope", "--older-than", "7d"], "quarantine path not found"),
        (
            ["quarantine", "inspect", "--silver-path", "nope", "--table", "orders", "--ingest-dt", D1],
            "silver path not found: nope",
        ),
        (
            ["quarantine", "recover", "--silver-path", "nope", "--table", "orders", "--ingest-dt", D1, "--dry-run"],
            "silver path not found: nope",
        ),
        (["silver", "validate", "--quarantine-path", "nope"], "quarantine path not found: nope"),
        (["dim", "validate", "--dims-path", "nope", "--run-date", D1], "dims path not found: nope"),
    ],
)
def test_a_missing_path_is_exit_2_with_one_line(qlake, tmp_path, argv, fragment):
    r = sf.run_cli(argv, qlake, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == "" and r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {fragment}")
    assert not (tmp_path / "nope").exists()  # nothing created at the mistyped path


def test_dims_in_staging_mode_say_staged_and_how_to_promote(capsys):
    from ecomlake.cli.local import echo_dims_run
    from ecomlake.config import load_settings
    from ecomlake.dims.snapshot import DimsRun

    run = DimsRun(run_id="R1", snapshot_dt="2023-01-01")
    run.rows = {"customer_snapshot": 3}
    settings = load_settings(sf.CONFIG, env={"DIMS_PUBLISH_MODE": "staging", "SILVER_DIMS_PATH": "lake/dims"})
    echo_dims_run(run, settings)
    out = capsys.readouterr().out
    assert "published" not in out.replace("NOT published", "")
    assert "snapshot 2023-01-01 staged, NOT published (DIMS_PUBLISH_MODE=staging)" in out
    assert "`ecomlake promote dims --run-id R1`" in out and "storage.promote(" not in out
