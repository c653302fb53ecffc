"""`ecomlake bronze validate` exit codes, through the real CLI in a subprocess.

0 = PASS or WARN (or FAIL when not enforcing outside prod), 1 = FAIL with --enforce / --env prod /
PIPELINE_ENV=prod, 2 = could not run (missing path, bad date, unknown table, malformed config).
"""

from __future__ import annotations

import json
from pathlib import Path

import bronze_fixtures as bf
import pytest


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bronze_cli")
    clean = bf.build_lake(base / "clean", rows=3, files=1)
    warn = bf.copy_lake(clean, base / "warn")
    bf.fault_extra_column(warn)  # an unexpected column: WARN
    fail = bf.copy_lake(clean, base / "fail")
    bf.fault_missing_success(fail)  # a partition still being written: FAIL
    return {"clean": clean, "warn": warn, "fail": fail}


def validate(lake: Path, out: Path, *extra: str, **env: str):
    return bf.run_cli(
        [
            "bronze",
            "validate",
            "--bronze-path",
            str(lake),
            "--partition-date",
            "2023-01-02",
            "--lookback-days",
            "1",
            "--run-id",
            "cli",
            *extra,
        ],
        out,
        **env,
    )


def test_pass_exits_0_and_writes_outputs(lakes, tmp_path):
    r = validate(lakes["clean"], tmp_path, "--enforce", "--env", "prod")
    assert r.returncode == 0, r.stderr
    assert "Bronze gate PASS" in r.stdout
    assert "PASS orders: 2 partitions, 2 files, 6 rows" in r.stdout
    assert len([ln for ln in r.stdout.splitlines() if ln.split(" ", 1)[0] in ("PASS", "WARN", "FAIL")]) == 8
    metrics = json.loads((tmp_path / "metrics" / "bronze_quality_cli.json").read_text())
    assert metrics["overall_status"] == "PASS"
    assert (tmp_path / "reports" / "BRONZE_QUALITY_2023-01-02.md").exists()
    assert str(tmp_path / "reports" / "BRONZE_QUALITY_2023-01-02.md") in r.stdout


@pytest.mark.parametrize("extra", [(), ("--enforce",), ("--env", "prod")])
def test_warn_exits_0_even_when_enforcing(lakes, tmp_path, extra):
    r = validate(lakes["warn"], tmp_path, *extra)
    assert r.returncode == 0, r.stderr
    assert "Bronze gate WARN" in r.stdout


@pytest.mark.parametrize(
    "extra, env, code",
    [
        ((), {}, 0),  # local, not enforcing: report only
        (("--env", "dev"), {}, 0),
        (("--enforce",), {}, 1),
        (("--enforce-quality",), {}, 1),
        (("--fail-on-issues",), {}, 1),  # the predecessor's legacy flag
        (("--env", "prod"), {}, 1),
        ((), {"PIPELINE_ENV": "prod"}, 1),
        (("--env", "local"), {"PIPELINE_ENV": "prod"}, 0),  # the flag beats the environment
    ],
)
def test_fail_exit_codes(lakes, tmp_path, extra, env, code):
    r = validate(lakes["fail"], tmp_path, *extra, **env)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Bronze gate FAIL" in r.stdout
    assert "FAIL orders" in r.stdout and "no _SUCCESS marker" in r.stdout


def test_missing_bronze_path_exits_2(tmp_path):
    r = bf.run_cli(["bronze", "validate", "--bronze-path", str(tmp_path / "nowhere")], tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("error: bronze path not found:") and "Traceback" not in r.stderr
    assert not (tmp_path / "metrics").exists()


def test_bad_date_exits_2(lakes, tmp_path):
    r = bf.run_cli(
        ["bronze", "validate", "--bronze-path", str(lakes["clean"]), "--partition-date", "2023-13-01"], tmp_path
    )
    assert r.returncode == 2
    assert "error: invalid --partition-date '2023-13-01': expected YYYY-MM-DD" in r.stderr


def test_unknown_table_exits_2(lakes, tmp_path):
    r = bf.run_cli(["bronze", "validate", "--bronze-path", str(lakes["clean"]), "--tables", "orders,ordres"], tmp_path)
    assert r.returncode == 2
    assert "unknown table 'ordres'" in r.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        ("paths:\n  bronze_base_path: [unclosed\n", "not valid YAML at line"),
        ("bronze:\n  lookbak_days: 2\n", "unknown key 'bronze.lookbak_days'"),
        ("bronze:\n  lookback_days: -1\n", "invalid value for 'bronze.lookback_days'"),
    ],
)
def test_malformed_config_exits_2(lakes, tmp_path, text, message):
    cfg = tmp_path / "bad.yml"
    cfg.write_text(text)
    r = bf.run_cli(["bronze", "validate", "--bronze-path", str(lakes["clean"])], tmp_path, ECOM_CONFIG_PATH=str(cfg))
    assert r.returncode == 2
    assert message in r.stderr and str(cfg) in r.stderr
    assert not (tmp_path / "metrics").exists()
