"""The Silver gate on hand-made partitions: conservation, manifests, gaps, SLA, reason codes, thresholds.

Counts are small and chosen per test, so every expected number below is computed by hand.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import silver_fixtures as sf

from ecomlake.quality.gate import Status
from ecomlake.silver.validate import validate_silver

D = "2023-01-01"


def checks(result, name, status=None, table=None):
    return [
        c
        for c in result.checks
        if c.name == name and (status is None or c.status == Status(status)) and (table is None or c.table == table)
    ]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """All eight tables for D: 99 good rows each, one quarantined order (1 of 100 = 1%)."""
    base = tmp_path_factory.mktemp("silver_clean")
    s = sf.settings_for(base)
    for t in sf.CONTRACT:
        sf.make_day(
            s, t, D, 99 if t == "orders" else 20, ["null_customer_id|invalid_customer_fk"] if t == "orders" else []
        )
    return base


def fresh_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    shutil.rmtree(dst / "metrics", ignore_errors=True)
    return dst


def test_clean_day_passes_with_exact_counts(clean, tmp_path):
    base = fresh_copy(clean, tmp_path / "lake")
    rc, result = validate_silver(sf.settings_for(base), partition_date=D, run_id="clean", echo=False)
    assert rc == 0
    assert result.overall_status == Status.PASS, [c.message for c in result.problems]
    orders = next(t for t in result.table_metrics if t["table_name"] == "orders")
    assert (orders["bronze_rows"], orders["silver_rows"], orders["quarantine_rows"]) == (100, 99, 1)
    assert orders["quarantine_pct"] == 1.0
    assert orders["pass_rate"] == 0.99
    assert orders["reasons"] == {"null_customer_id": 1, "invalid_customer_fk": 1}  # counted under each code
    assert orders["families"] == {"null_primary_key": 1, "invalid_foreign_key": 1}
    assert orders["conservation"] == {"ok": True, "bronze": 100, "silver": 99, "quarantine": 1, "difference": 0}
    assert result.extra["tables_passing"] == 8 and result.extra["fact_tables_passing"] == 6
    # overall: 1 quarantined of 99 + 7 * 20 + 1 processed rows
    assert result.extra["quarantine_pct"] == round(100 / 240, 4)
    report = (base / "reports" / f"SILVER_QUALITY_{D}.md").read_text()
    assert "| Table | Bronze | Silver | Quarantine | Quarantine % | Pass rate | SLA | Status |" in report
    assert "| orders | 100 | 99 | 1 | 1.00% | 99.00% | 95% | ✅ PASS |" in report
    assert "Tables passing: 8/8" in report


def test_runbook_command_and_jq_query(clean, tmp_path):
    base = fresh_copy(clean, tmp_path / "lake")
    silver = base / "silver"
    r = sf.run_cli(
        [
            "silver",
            "validate",
            "--silver-path",
            str(silver),
            "--quarantine-path",
            str(silver / "quarantine"),
            "--env",
            "local",
            "--output-report",
            str(base / "reports" / "SILVER_QUALITY_2025_W03.md"),
        ],
        base,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(ln.startswith("orders") and "PASS" in ln for ln in lines)
    assert sum(1 for ln in lines if ln.split(" ", 1)[0] in sf.CONTRACT) == 8  # one line per table
    assert any(ln.startswith("Silver gate: PASS") for ln in lines)
    assert (base / "reports" / "SILVER_QUALITY_2025_W03.md").exists()
    metrics = sorted((base / "metrics").glob("silver_quality_*.json"))
    assert len(metrics) == 1
    query = '.table_metrics[] | select(.table_name=="orders") | .quarantine_pct'
    if shutil.which("jq"):
        import subprocess

        out = subprocess.run(
            f"cat {base}/metrics/silver_quality_*.json | jq '{query}'",
            shell=True,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert float(out) == 1.0
    data = json.loads(metrics[0].read_text())
    values = [t["quarantine_pct"] for t in data["table_metrics"] if t["table_name"] == "orders"]
    assert values == [1.0] and isinstance(values[0], float)


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    """orders only: 80 good rows and 20 quarantined (20%: above the 5% limit, pass rate 80% < 0.9 * 95%)."""
    base = tmp_path_factory.mktemp("silver_defective")
    s = sf.settings_for(base)
    sf.make_day(s, "orders", D, 80, ["negative_gross_total"] * 15 + ["cast_failed_order_date"] * 5)
    return base


@pytest.mark.parametrize(
    "flags,env,expected",
    [
        ([], {}, 0),
        (["--enforce"], {}, 1),
        (["--enforce-quality"], {}, 1),
        (["--env", "prod"], {}, 1),
        ([], {"PIPELINE_ENV": "prod"}, 1),
        (["--env", "dev"], {}, 0),
    ],
)
def test_high_defect_rate_fails_only_when_enforcing(defective, flags, env, expected):
    r = sf.run_cli(["silver", "validate", "--partition-date", D, "--tables", "orders", *flags], defective, env)
    assert r.returncode == expected, r.stdout + r.stderr
    assert "Silver gate: FAIL" in r.stdout
    assert "overall quarantine rate 20.00% (20 of 100 rows) vs limit 5.00%" in r.stdout


def test_high_defect_rate_checks(defective):
    rc, result = validate_silver(
        sf.settings_for(defective), partition_date=D, tables="orders", enforce=True, echo=False
    )
    assert rc == 1
    assert checks(result, "max_quarantine_pct", "FAIL")[0].observed == 20.0
    sla = checks(result, "pass_rate_sla", table="orders")[0]
    assert (sla.status, sla.observed, sla.threshold) == (Status.FAIL, 0.8, 0.95)
    orders = result.table_metrics[0]
    assert orders["families"] == {"type_cast_failure": 5, "out_of_range": 15}
    assert orders["reasons"] == {"negative_gross_total": 15, "cast_failed_order_date": 5}


def test_max_quarantine_rate_env_is_a_fraction(defective):
    # MAX_QUARANTINE_RATE=0.25 (25%) lets 20% through; the SLA still fails on its own.
    s = sf.settings_for(defective)
    s.silver.max_quarantine_pct = 0.25 * 100
    _, result = validate_silver(s, partition_date=D, tables="orders", echo=False)
    assert checks(result, "max_quarantine_pct")[0].status == Status.PASS
    r = sf.run_cli(
        ["silver", "validate", "--partition-date", D, "--tables", "orders"], defective, {"MAX_QUARANTINE_RATE": "0.25"}
    )
    assert "limit 25.00%" in r.stdout


def test_sla_warn_band(tmp_path):
    # 88 of 100 pass: below the 95% SLA but above 0.9 * 95% = 85.5%, so WARN; quarantine 12% fails the overall limit.
    s = sf.settings_for(tmp_path)
    sf.make_day(s, "orders", D, 88, ["negative_net_total"] * 12)
    _, result = validate_silver(s, partition_date=D, tables="orders", echo=False)
    assert checks(result, "pass_rate_sla", table="orders")[0].status == Status.WARN
    assert result.table_metrics[0]["sla_status"] == "WARN"


def test_deleted_silver_file_breaks_conservation_with_exact_counts(clean, tmp_path):
    base = fresh_copy(clean, tmp_path / "lake")
    s = sf.settings_for(base)
    victim = sf.silver_file(s, "orders", D)
    os.remove(victim)
    rc, result = validate_silver(s, partition_date=D, tables="orders", enforce=True, echo=False)
    assert rc == 1
    cons = checks(result, "row_conservation", "FAIL", "orders")
    assert [c.message for c in cons] == [f"orders/ingest_dt={D}: bronze 100 != silver 0 + quarantine 1 (lost 99 rows)"]
    assert cons[0].observed == {"bronze": 100, "silver": 0, "quarantine": 1, "difference": 99}
    missing = checks(result, "manifest_file_present", "FAIL", "orders")
    assert len(missing) == 1 and victim in missing[0].message and "(99 rows) but missing" in missing[0].message
    assert result.table_metrics[0]["conservation"]["ok"] is False


def test_file_dropped_into_silver_partition_is_reported(clean, tmp_path):
    # The runbook's manual recovery: write recovered rows straight into the live partition.
    base = fresh_copy(clean, tmp_path / "lake")
    s = sf.settings_for(base)
    part = Path(sf.silver_file(s, "orders", D)).parent
    dropped = part / "recovered.parquet"
    pq.write_table(pq.read_table(sf.silver_file(s, "orders", D)).slice(0, 3), dropped)
    rc, result = validate_silver(s, partition_date=D, tables="orders", echo=False)
    assert rc == 0 and result.overall_status == Status.FAIL
    listed = checks(result, "file_listed_in_manifest", "FAIL", "orders")
    assert len(listed) == 1 and str(dropped) in listed[0].message and "(3 rows, not counted)" in listed[0].message
    # Reported, not counted: every reader reads the files the manifest lists, so the rows Silver
    # really serves still balance with Bronze.
    assert not checks(result, "row_conservation", "FAIL", "orders")


def test_checksum_change_and_corrupt_file_are_reported(clean, tmp_path):
    base = fresh_copy(clean, tmp_path / "lake")
    s = sf.settings_for(base)
    f = sf.silver_file(s, "customers", D)
    pq.write_table(pq.read_table(f), f, compression="gzip")  # same rows, different bytes
    q = sf.storage.list_data_files(sf.storage.partition_path(s.paths.quarantine_path, "orders", D))[0]
    Path(q).write_bytes(b"PAR1 this is not parquet")
    _, result = validate_silver(s, partition_date=D, tables="customers,orders", echo=False)
    assert any(f in c.message for c in checks(result, "checksum_match", "FAIL", "customers"))
    corrupt = checks(result, "parquet_readable", "FAIL", "orders")
    assert len(corrupt) == 1 and q in corrupt[0].message
    assert "cannot prove conservation" in checks(result, "row_conservation", "FAIL", "orders")[0].message


def test_missing_partitions_are_gaps_and_unprocessed_bronze_fails(clean, tmp_path):
    base = fresh_copy(clean, tmp_path / "lake")
    s = sf.settings_for(base)
    # Bronze for the next day, never processed into Silver.
    sf.write_bronze(s.paths.bronze_base_path, "orders", "2023-01-02", sf.bronze_rows("orders", 5, "2023-01-02"))
    _rc, result = validate_silver(s, partition_date="2023-01-02", lookback_days=2, tables="orders", echo=False)
    gaps = checks(result, "partition_present", "WARN", "orders")
    assert [c.partition for c in gaps] == ["ingest_dt=2022-12-31"]
    unprocessed = checks(result, "partition_processed", "FAIL", "orders")
    assert [c.partition for c in unprocessed] == ["ingest_dt=2023-01-02"]
    assert "not processed" in unprocessed[0].message
    assert result.extra["gaps"] == [
        {"table": "orders", "ingest_dt": "2022-12-31", "kind": "no bronze"},
        {"table": "orders", "ingest_dt": "2023-01-02", "kind": "not processed"},
    ]
    assert result.table_metrics[0]["ingest_dts"] == ["2023-01-01", "2023-01-02"]
    # Without a date the window is every ingest_dt in Bronze: the unprocessed day is still found.
    _, all_dates = validate_silver(s, tables="orders", echo=False)
    assert [c.partition for c in checks(all_dates, "partition_processed", "FAIL")] == ["ingest_dt=2023-01-02"]


def test_min_table_rows(tmp_path):
    s = sf.settings_for(tmp_path)
    sf.make_day(s, "returns", D, 0, [])  # min 0 for returns: a quiet day passes
    sf.make_day(s, "shopping_carts", D, 0, [])
    _, result = validate_silver(s, partition_date=D, tables="returns,shopping_carts", echo=False)
    assert checks(result, "min_table_rows", "PASS", "returns")
    fail = checks(result, "min_table_rows", "FAIL", "shopping_carts")
    assert fail and fail[0].message == "shopping_carts: 0 silver rows in the window (minimum 1)"


def test_unknown_and_new_reason_codes(tmp_path):
    s = sf.settings_for(tmp_path)
    sf.make_day(s, "orders", D, 98, ["negative_gross_total", "negative_gross_total"])
    _, first = validate_silver(s, partition_date=D, tables="orders", run_id="r1", echo=False)
    assert not checks(first, "new_reason_codes")  # no history: this run is the baseline
    sf.make_day(s, "orders", "2023-01-02", 97, ["negative_gross_total", "future_order_date", "made_up_code"])
    _, second = validate_silver(s, partition_date="2023-01-02", tables="orders", run_id="r2", echo=False)
    new = checks(second, "new_reason_codes", "WARN", "orders")
    assert len(new) == 1 and new[0].observed == ["future_order_date"]
    unknown = checks(second, "reason_codes_known", "FAIL", "orders")
    assert unknown and unknown[0].observed == ["made_up_code"]
    assert second.table_metrics[0]["new_codes"] == ["future_order_date"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--silver-path", "/nonexistent/silver"], "silver path not found"),
        (["--partition-date", "2023-13-45"], "invalid --partition-date"),
        (["--tables", "orders,nope"], "unknown table 'nope'"),
    ],
)
def test_cannot_run_exits_2(clean, args, needle):
    r = sf.run_cli(["silver", "validate", *args], clean)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_config_exits_2(clean, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("silver:\n  max_quarantine_pct: lots\n")
    r = sf.run_cli(["silver", "validate"], clean, {"ECOM_CONFIG_PATH": str(bad)})
    assert r.returncode == 2 and "silver.max_quarantine_pct" in r.stderr


def test_without_bronze_conservation_uses_the_rows_recorded_at_publish(clean, tmp_path):
    # The runbook types only --silver-path; Bronze may live elsewhere (or be gone). Still check, and say so.
    base = fresh_copy(clean, tmp_path / "lake")
    s = sf.settings_for(base)
    s.paths.bronze_base_path = str(tmp_path / "nope")
    rc, result = validate_silver(s, tables="orders,customers", enforce=True, echo=False)
    assert rc == 0
    assert checks(result, "bronze_available", "WARN")[0].message.startswith(
        f"bronze path not found: {tmp_path / 'nope'}"
    )
    assert result.table_metrics[1]["conservation"] == {
        "ok": True,
        "bronze": 100,
        "silver": 99,
        "quarantine": 1,
        "difference": 0,
    }
    os.remove(sf.silver_file(s, "orders", D))
    rc, broken = validate_silver(s, tables="orders", enforce=True, echo=False)
    assert rc == 1
    assert (
        checks(broken, "row_conservation", "FAIL")[0].message
        == f"orders/ingest_dt={D}: bronze 100 != silver 0 + quarantine 1 (lost 99 rows)"
    )


def test_without_bronze_or_recorded_counts_conservation_cannot_be_proved(tmp_path):
    s = sf.settings_for(tmp_path)
    rows = sf.bronze_rows("orders", 5, D)
    sf.publish_tables(s, "orders", D, sf.to_silver("orders", rows, D), None)  # no bronze_rows in the manifest
    _, result = validate_silver(s, tables="orders", echo=False)
    assert (
        checks(result, "row_conservation", "FAIL")[0].message
        == f"orders/ingest_dt={D}: cannot prove conservation: Bronze not found and no bronze_rows recorded in the manifests"
    )


def test_staging_publish_mode_validates_the_staged_partitions(tmp_path):
    # SILVER_PUBLISH_MODE=staging: the run seals its partitions in staging and the gate decides on promotion.
    s = sf.settings_for(tmp_path)
    good, bad = sf.bronze_rows("orders", 19, D), sf.bronze_rows("orders", 1, D, start=19)
    sf.write_bronze(s.paths.bronze_base_path, "orders", D, sf.pa.concat_tables([good, bad]))
    root = s.paths.silver_base_path
    pubs = []
    for tbl, final_root, name in (
        (sf.to_silver("orders", good, D), root, "orders"),
        (sf.to_quarantine(bad, D, ["negative_net_total"]), s.paths.quarantine_path, "_quarantine/orders"),
    ):
        staged = sf.storage.staging_path(root, "stg1", name, f"ingest_dt={D}")
        os.makedirs(staged)
        pq.write_table(tbl, os.path.join(staged, "part-0000.parquet"))
        pubs.append(
            sf.storage.Publish(staged, sf.storage.partition_path(final_root, "orders", D), "orders", f"ingest_dt={D}")
        )
    sf.storage.seal(pubs, "stg1")
    sf.storage.mark_pending(root, "stg1", pubs, gate="silver_quality")
    rc, result = validate_silver(s, partition_date=D, tables="orders", run_id="stg1", enforce=True, echo=False)
    assert rc == 0, [c.message for c in result.problems]
    assert result.table_metrics[0]["conservation"] == {
        "ok": True,
        "bronze": 20,
        "silver": 19,
        "quarantine": 1,
        "difference": 0,
    }
    # Any other run id sees the live tree, where nothing is published yet.
    rc, other = validate_silver(s, partition_date=D, tables="orders", run_id="other", enforce=True, echo=False)
    assert rc == 1 and checks(other, "partition_processed", "FAIL", "orders")
