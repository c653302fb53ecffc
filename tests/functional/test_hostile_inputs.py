"""Hostile arguments and environment values against every command and API that builds a path from them.

Each case runs against a small real lake (`lake_fixtures`: one generated day through dims, Silver,
Enriched and Gold) and must (1) exit 2 (or raise an exit-2 error from the API) with ONE line that
names the value, and (2) leave every file and directory under the sandbox (the lake and the
directory the command runs in) byte for byte as it was.

The command-line matrix calls `ecomlake.cli.main.main(argv)` in this process: the same function the
`ecomlake` console script runs (parsing, callbacks, error handling, exit codes), a hundred times
faster than a process per case. A handful of cases, the issue's exact reproduction first, run as
real processes too. NUL cannot be passed in an argv or the environment, so it is tried through
the Python API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from cli_helpers import lake_env
from lake_fixtures import D, copy_lake, diff, golden_lake, snapshot

from ecomlake import storage
from ecomlake.config import load_settings
from ecomlake.errors import EcomlakeError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config" / "config.yml")

# --------------------------------------------------------------------------------- the values

RUN_IDS = ["../..", "..", ".", "/", "/tmp/x", "", "..%2F..", "a/b", "a\\b", "x\ny", " ", "_staging", "-rf", "x" * 129]
DATES = [
    "2023-13-01",
    "2023-02-30",
    "..",
    "../..",
    "",
    "/",
    "2023-01-01/../..",
    "..%2F..",
    "2023-1-1",
    "20230101",
    "2023-01-01\n",
    "x\ny",
]
TABLES = ["../..", "..", "/", "", "a/b", "..%2F..", "orders/../..", "x\ny", "ORDERS", "orders,../.."]
DIRS = ["", "/", "x\ny"]  # a layer root or output directory: any real directory is the user's choice
FILES = ["", "x\ny", ".", "lake/"]  # an output file: an existing directory is not a file
NUL = "x\x00y"


def _cases() -> list[tuple[str, list[str], str]]:
    """(id, argv, bad value) for every command-line flag that becomes part of a path."""
    run_id_cmds = [
        ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--silver-path", "lake/silver/base"],
        ["quarantine", "summary"],
        ["quarantine", "prune", "--older-than", "0d"],
        ["dim", "run", "--run-date", D],
        ["dim", "validate", "--run-date", D],
        ["silver", "validate", "--partition-date", D],
        ["bronze", "validate", "--partition-date", D],
        ["enriched", "run", "--ingest-dt", D],
        ["enriched", "validate", "--ingest-dt", D],
        ["enriched", "promote"],
        ["gold", "run"],
    ]
    date_cmds = [
        (["local", "dims"], "--date"),
        (["local", "silver"], "--date"),
        (["local", "enriched"], "--date"),
        (["local", "demo-fast"], "--date"),
        (["local", "demo"], "--end-date"),
        (["dim", "run"], "--run-date"),
        (["dim", "validate"], "--run-date"),
        (["silver", "validate"], "--partition-date"),
        (["bronze", "validate"], "--partition-date"),
        (["bronze", "generate", "--out", "lake/bronze"], "--start-date"),
        (["bronze", "generate", "--start-date", D, "--out", "lake/bronze"], "--history-start"),
        (["enriched", "run"], "--ingest-dt"),
        (["enriched", "validate"], "--ingest-dt"),
        (["gold", "run"], "--date"),
        (["quarantine", "inspect", "--table", "orders"], "--ingest-dt"),
        (["quarantine", "recover", "--table", "orders", "--fill", "customer_id=UNKNOWN"], "--ingest-dt"),
        (["quarantine", "summary"], "--since"),
        (["sample", "package", "--output", "lake/x.zip"], "--start-date"),
        (["sample", "dims", "--output", "lake/y.zip"], "--date"),
        (["bench", "--cache-dir", "lake/cache", "--output", "lake/p.md"], "--start-date"),
    ]
    table_cmds = [
        (["quarantine", "recover", "--ingest-dt", D, "--fill", "customer_id=UNKNOWN"], "--table"),
        (["quarantine", "inspect", "--ingest-dt", D], "--table"),
        (["quarantine", "summary"], "--table"),
        (["quarantine", "prune", "--older-than", "0d"], "--tables"),
        (["silver", "validate", "--partition-date", D], "--tables"),
        (["bronze", "validate", "--partition-date", D], "--tables"),
        (["bronze", "profile", "--output", "lake/p.md", "--schema-json", "lake/p.json"], "--tables"),
    ]
    dir_cmds = [
        (["quarantine", "summary"], "--silver-path"),
        (["quarantine", "summary"], "--quarantine-path"),
        (["quarantine", "prune", "--older-than", "0d"], "--silver-path"),
        (
            ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--fill", "customer_id=UNKNOWN"],
            "--silver-path",
        ),
        (["quarantine", "inspect", "--table", "orders", "--ingest-dt", D], "--quarantine-path"),
        (["silver", "validate"], "--silver-path"),
        (["silver", "validate"], "--bronze-path"),
        (["bronze", "validate"], "--bronze-path"),
        (["bronze", "profile", "--output", "lake/p.md"], "--bronze-path"),
        (["bronze", "generate", "--start-date", D], "--out"),
        (["dim", "run", "--run-date", D], "--dims-path"),
        (["dim", "validate", "--run-date", D], "--dims-path"),
        (["enriched", "run", "--ingest-dt", D], "--enriched-path"),
        (["enriched", "validate"], "--enriched-path"),
        (["gold", "run"], "--enriched-path"),
        (["gold", "run"], "--gold-path"),
        (["bench"], "--cache-dir"),
        (["bench"], "--results-dir"),
    ]
    file_cmds = [
        (["quarantine", "summary"], "--output"),
        (["silver", "validate", "--partition-date", D], "--output-report"),
        (["bronze", "validate", "--partition-date", D], "--output-report"),
        (["dim", "validate", "--run-date", D], "--output-report"),
        (["enriched", "run", "--ingest-dt", D], "--output-report"),
        (["enriched", "validate", "--ingest-dt", D], "--output-report"),
        (["bronze", "profile"], "--output"),
        (["bronze", "profile"], "--schema-json"),
        (["sample", "package"], "--output"),
        (["sample", "dims"], "--output"),
        (["sample", "dims"], "--bronze-zip"),
        (["bench"], "--output"),
        (["bench"], "--plot"),
        (["bench"], "--from-json"),
    ]
    out = []
    for cmd in run_id_cmds:
        out += [(f"{' '.join(cmd[:2])} --run-id {v!r}", [*cmd, "--run-id", v], v) for v in RUN_IDS]
    for groups, values in ((date_cmds, DATES), (table_cmds, TABLES), (dir_cmds, DIRS), (file_cmds, FILES)):
        for cmd, flag in groups:
            out += [(f"{' '.join(cmd[:2])} {flag} {v!r}", [*cmd, flag, v], v) for v in values]
    out += [(f"--config {v!r}", ["--config", v, "quarantine", "summary"], v) for v in ["", "/", "x\ny", "lake"]]
    return out


CASES = _cases()

ENV_CASES = [
    # RUN_ID reaches the same staging paths as --run-id; every command refuses it before doing anything.
    *[
        (f"RUN_ID={v!r} {' '.join(cmd)}", {"RUN_ID": v}, cmd, "RUN_ID")
        for v in ["../..", "/", "..%2F..", "a/b", "x\ny", ".", "..", "/tmp/x"]
        for cmd in (
            ["local", "silver"],
            ["quarantine", "prune", "--older-than", "0d"],
            ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--fill", "customer_id=UNKNOWN"],
            ["gold", "run"],
        )
    ],
    *[
        (f"{var}={v!r}", {var: v}, ["quarantine", "prune", "--older-than", "0d"], var)
        for var in ("SILVER_BASE_PATH", "SILVER_QUARANTINE_PATH", "METRICS_BASE_PATH", "ECOM_WORK_PATH")
        # A layer root may be gs:// (issue 14); metrics and the work path stay local; s3:// is refused everywhere.
        for v in (
            "/",
            "x\ny",
            "s3://bucket/lake",
            *(("gs://bucket/lake",) if var in ("METRICS_BASE_PATH", "ECOM_WORK_PATH") else ()),
        )
    ],
    # Issue 17: an invalid environment value names the variable, not config/config.yml.
    (
        "PIPELINE_ENV=staging",
        {"PIPELINE_ENV": "staging"},
        ["silver", "validate", "--partition-date", D],
        "PIPELINE_ENV",
    ),
    ("DUCKDB_MEMORY_LIMIT=lots", {"DUCKDB_MEMORY_LIMIT": "lots"}, ["silver", "validate"], "DUCKDB_MEMORY_LIMIT"),
    (
        "DUCKDB_MEMORY_LIMIT with SQL",
        {"DUCKDB_MEMORY_LIMIT": "1GB'; SELECT 1; --"},
        ["silver", "validate"],
        "DUCKDB_MEMORY_LIMIT",
    ),
    ("MAX_QUARANTINE_RATE=5", {"MAX_QUARANTINE_RATE": "5"}, ["silver", "validate"], "MAX_QUARANTINE_RATE"),
    ("DUCKDB_TEMP_DIRECTORY=/", {"DUCKDB_TEMP_DIRECTORY": "/"}, ["silver", "validate"], "DUCKDB_TEMP_DIRECTORY"),
    ("ECOM_CONFIG_PATH=lake", {"ECOM_CONFIG_PATH": "lake"}, ["silver", "validate"], "ECOM_CONFIG_PATH"),
]

# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    return golden_lake(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def sandbox(golden, tmp_path_factory) -> Path:
    """This worker's copy of the lake, at <sandbox>/lake; commands run with cwd = <sandbox>."""
    box = tmp_path_factory.mktemp("hostile")
    copy_lake(golden, box / "lake")
    return box


@pytest.fixture(scope="module")
def expected(sandbox) -> dict[str, str]:
    return snapshot(sandbox)


@pytest.fixture
def unchanged(golden, sandbox, expected):
    """Yield, then prove the sandbox is byte for byte as before (restoring it if not, for the next case)."""
    yield
    changes = diff(expected, snapshot(sandbox))
    if changes:
        for entry in sandbox.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        copy_lake(golden, sandbox / "lake")
    assert not changes, f"the lake changed: {changes[:10]}"


def _use_lake_env(monkeypatch, sandbox: Path, extra: dict[str, str] | None = None) -> None:
    for k in list(os.environ):
        if k.startswith(("ECOM", "PIPELINE_ENV", "RUN_ID", "MAX_QUARANTINE", "SILVER_", "BRONZE_", "DUCKDB_")):
            monkeypatch.delenv(k, raising=False)
    for k, v in {**lake_env(sandbox / "lake"), **(extra or {})}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(sandbox)


def run_main(argv: list[str]) -> int:
    from ecomlake.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# ------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(("argv", "bad"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_flag_is_refused_and_the_lake_is_unchanged(argv, bad, sandbox, unchanged, monkeypatch, capsys):
    _use_lake_env(monkeypatch, sandbox)
    code = run_main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    line = one_error_line(err)
    assert repr(bad) in line or repr(bad.split(",")[-1]) in line, line
    assert not out.strip(), out


@pytest.mark.parametrize(("env", "argv", "var"), [c[1:] for c in ENV_CASES], ids=[c[0] for c in ENV_CASES])
def test_hostile_environment_value_is_refused_and_named(env, argv, var, sandbox, unchanged, monkeypatch, capsys):
    _use_lake_env(monkeypatch, sandbox, env)
    code = run_main(argv)
    _, err = capsys.readouterr()
    assert code == 2, err
    line = one_error_line(err)
    (value,) = env.values()
    assert f"environment variable {var}={value!r}" in line, line
    assert "config/config.yml" not in line, line


# ----------------------------------------------------------------------------------- the API


def _api_cases() -> list[tuple[str, object, str]]:
    from ecomlake.bronze.generator import GeneratorOptions, generate
    from ecomlake.bronze.profile import profile_bronze
    from ecomlake.bronze.validate import validate_bronze
    from ecomlake.demo import demo_fast, demo_full
    from ecomlake.dims.snapshot import run_dims
    from ecomlake.dims.validate import validate_dims
    from ecomlake.enriched.runner import promote_enriched, run_enriched
    from ecomlake.enriched.validate import validate_enriched
    from ecomlake.gold.runner import run_gold
    from ecomlake.quarantine.inspect import inspect_quarantine
    from ecomlake.quarantine.prune import prune_quarantine
    from ecomlake.quarantine.recover import recover_quarantine
    from ecomlake.quarantine.summary import quarantine_summary
    from ecomlake.silver.run import revalidate, run_tables
    from ecomlake.silver.validate import validate_silver

    fill = ["customer_id=UNKNOWN"]
    apis = {
        "run_id": {
            "recover_quarantine": lambda s, v: recover_quarantine(s, table="orders", ingest_dt=D, fills=fill, run_id=v),
            "quarantine_summary": lambda s, v: quarantine_summary(s, run_id=v),
            "prune_quarantine": lambda s, v: prune_quarantine(s, older_than="0d", run_id=v),
            "run_dims": lambda s, v: run_dims(s, D, run_id=v),
            "validate_dims": lambda s, v: validate_dims(s, D, run_id=v),
            "run_tables": lambda s, v: run_tables(s, D, "facts", run_id=v),
            "revalidate": lambda s, v: revalidate(s, "orders", D, pa.table({}), v),
            "validate_silver": lambda s, v: validate_silver(s, partition_date=D, run_id=v, echo=False),
            "validate_bronze": lambda s, v: validate_bronze(s, partition_date=D, run_id=v, echo=False),
            "run_enriched": lambda s, v: run_enriched(s, D, run_id=v),
            "validate_enriched": lambda s, v: validate_enriched(s, ingest_dt=D, run_id=v),
            "promote_enriched": promote_enriched,
            "run_gold": lambda s, v: run_gold(s, run_id=v),
            "storage.staging_root": lambda s, v: storage.staging_root(s.paths.silver_base_path, v),
            "storage.claim_staging": lambda s, v: storage.claim_staging(s.paths.silver_base_path, v),
            "storage.release_staging": lambda s, v: storage.release_staging(s.paths.silver_base_path, v),
            "storage.promote": lambda s, v: storage.promote(s.paths.silver_enriched_path, v),
        },
        "date": {
            "recover_quarantine": lambda s, v: recover_quarantine(s, table="orders", ingest_dt=v, fills=fill),
            "inspect_quarantine": lambda s, v: inspect_quarantine(s, table="orders", ingest_dt=v),
            "quarantine_summary.since": lambda s, v: quarantine_summary(s, since=v),
            "run_dims": run_dims,
            "validate_dims": validate_dims,
            "run_tables": lambda s, v: run_tables(s, v, "facts"),
            "revalidate": lambda s, v: revalidate(s, "orders", v, pa.table({}), "r1"),
            "validate_silver": lambda s, v: validate_silver(s, partition_date=v, echo=False),
            "validate_bronze": lambda s, v: validate_bronze(s, partition_date=v, echo=False),
            "generate": lambda s, v: generate(s, GeneratorOptions(start_date=v, days=1, orders_per_day=5)),
            "run_enriched": run_enriched,
            "validate_enriched": lambda s, v: validate_enriched(s, ingest_dt=v),
            "run_gold": lambda s, v: run_gold(s, run_date=v),
            "demo_fast": lambda s, v: demo_fast(s, v, echo=lambda _m: None),
            "demo_full": lambda s, v: demo_full(s, v, echo=lambda _m: None),
        },
        "table": {
            "recover_quarantine": lambda s, v: recover_quarantine(s, table=v, ingest_dt=D, fills=fill),
            "inspect_quarantine": lambda s, v: inspect_quarantine(s, table=v, ingest_dt=D),
            "quarantine_summary": lambda s, v: quarantine_summary(s, table=v),
            "prune_quarantine": lambda s, v: prune_quarantine(s, older_than="0d", tables=v),
            "revalidate": lambda s, v: revalidate(s, v, D, pa.table({}), "r1"),
            "validate_silver": lambda s, v: validate_silver(s, partition_date=D, tables=v, echo=False),
            "validate_bronze": lambda s, v: validate_bronze(s, partition_date=D, tables=v, echo=False),
            "profile_bronze": lambda s, v: profile_bronze(s, tables=v, output=None, schema_json=None),
            "run_enriched.tables": lambda s, v: run_enriched(s, D, tables=[v]),
        },
        "file": {
            "quarantine_summary.output": lambda s, v: quarantine_summary(s, output=v),
            "validate_silver": lambda s, v: validate_silver(s, partition_date=D, output_report=v, echo=False),
            "validate_bronze": lambda s, v: validate_bronze(s, partition_date=D, output_report=v, echo=False),
            "validate_dims": lambda s, v: validate_dims(s, D, output_report=v),
            "validate_enriched": lambda s, v: validate_enriched(s, ingest_dt=D, output_report=v),
            "profile_bronze.output": lambda s, v: profile_bronze(s, output=v, schema_json=None),
        },
        "component": {
            "storage.partition_path.value": lambda s, v: storage.partition_path(s.paths.silver_base_path, "orders", v),
            "storage.partition_path.table": lambda s, v: storage.partition_path(s.paths.silver_base_path, v, D),
            "storage.staging_path.table": lambda s, v: storage.staging_path(s.paths.silver_base_path, "r1", v, "x=1"),
        },
        "dir": {
            "generate.out": lambda s, v: generate(s, GeneratorOptions(start_date=D, days=1, orders_per_day=5), out=v),
        },
    }
    values = {
        "run_id": [*RUN_IDS, NUL],
        "date": [*DATES, NUL],
        "table": [*TABLES, NUL],
        "file": [*FILES, NUL],
        "dir": [*DIRS, NUL],
        "component": ["..", ".", "../..", "/", "", "x\ny", "a\\b", NUL],
    }
    return [
        (f"{name} {kind}={v!r}", fn, v) for kind, fns in apis.items() for name, fn in fns.items() for v in values[kind]
    ]


API_CASES = _api_cases()


@pytest.mark.parametrize(("fn", "bad"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_hostile_api_argument_is_refused_and_the_lake_is_unchanged(fn, bad, sandbox, unchanged, monkeypatch):
    _use_lake_env(monkeypatch, sandbox)
    settings = load_settings(CONFIG)
    with pytest.raises(EcomlakeError) as exc:
        fn(settings, bad)
    assert exc.value.exit_code == 2
    msg = exc.value.message
    assert "\n" not in msg, msg
    assert repr(bad) in msg or repr(bad.split(",")[-1]) in msg, msg


def test_run_id_from_the_environment_is_refused_by_the_api(sandbox, unchanged, monkeypatch):
    from ecomlake.quarantine.prune import prune_quarantine

    _use_lake_env(monkeypatch, sandbox, {"RUN_ID": "../.."})
    with pytest.raises(EcomlakeError, match=r"environment variable RUN_ID='\.\./\.\.'") as exc:
        prune_quarantine(load_settings(CONFIG), older_than="0d")
    assert exc.value.exit_code == 2


# ------------------------------------------------------------------------- real processes


def _process(args: list[str], sandbox: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args],
        env=lake_env(sandbox / "lake", **env),
        cwd=str(sandbox),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_issue_reproduction_recover_with_run_id_dot_dot_deletes_nothing(sandbox, unchanged):
    # Before the fix this exited 0 and deleted everything under lake/silver, dims included.
    p = _process(
        ["quarantine", "recover", "--table", "orders", "--ingest-dt", D, "--silver-path", "lake/silver/base",
         "--run-id", "../.."],
        sandbox,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert one_error_line(p.stderr) == (
        "error: invalid --run-id '../..': a run id is 1 to 128 letters, digits, '_', '-' or '.', "
        "starting with a letter or digit"
    )
    assert (sandbox / "lake" / "silver" / "dims").is_dir()


@pytest.mark.parametrize(
    "args, env, fragment",
    [
        (["quarantine", "prune", "--older-than", "0d"], {"RUN_ID": "../.."}, "environment variable RUN_ID='../..'"),
        (
            ["local", "silver", "--date", "2023-13-01"],
            {},
            "invalid --date '2023-13-01': expected YYYY-MM-DD (not a calendar date)",
        ),
        (
            ["gold", "run", "--date", "2023-02-30"],
            {},
            "invalid --date '2023-02-30': expected YYYY-MM-DD (not a calendar date)",
        ),
        (["silver", "validate"], {"DUCKDB_MEMORY_LIMIT": "lots"}, "environment variable DUCKDB_MEMORY_LIMIT='lots'"),
    ],
)
def test_hostile_values_in_a_real_process(args, env, fragment, sandbox, unchanged):
    p = _process(args, sandbox, **env)
    assert p.returncode == 2, p.stderr
    assert fragment in one_error_line(p.stderr)


@pytest.mark.parametrize("date", ["2023-13-01", "2023-02-30", "..", ""])
def test_invalid_date_is_rejected_as_a_date_before_any_other_check(date, tmp_path):
    # Today's bug: on a lake without dims, `local silver --date 2023-13-01` said no dims snapshot exists.
    p = subprocess.run(
        [sys.executable, "-m", "ecomlake", "local", "silver", "--date", date],
        env=lake_env(tmp_path / "empty"),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 2
    assert one_error_line(p.stderr).startswith(f"error: invalid --date {date!r}: ")
    assert "dims" not in p.stderr
    assert not (tmp_path / "empty").exists()


# ------------------------------------------------------------------ a quote and a space in the path


def test_lake_root_with_a_quote_and_a_space_runs_every_layer(tmp_path_factory):
    """The shared lake lives under "it's a lake": dims, Silver, Enriched and Gold all ran there."""
    import json

    lake, record = golden_lake(tmp_path_factory)
    assert "'" in str(lake) and " " in str(lake)
    assert [s["args"][:2] for s in record["steps"]] == [
        ["bronze", "generate"],
        ["local", "dims"],
        ["local", "silver"],
        ["local", "enriched"],
        ["gold", "run"],
    ]
    assert all(s["rc"] == 0 for s in record["steps"]), record["steps"]
    statuses = {}
    for gate in ("dims_quality", "silver_quality", "enriched_quality"):
        (path,) = sorted((lake / "metrics").glob(f"{gate}_*.json"))
        data = json.loads(path.read_text())
        statuses[gate] = data["overall_status"]
        assert data["metadata"]["config_source"] == CONFIG
    assert statuses == {"dims_quality": "PASS", "silver_quality": "PASS", "enriched_quality": "PASS"}
    assert (lake / "gold" / "ecomlake.duckdb").is_file()
    assert (lake / "silver" / "base" / "orders" / f"ingest_dt={D}" / "_SUCCESS").is_file()
    assert "8/8 marts built" in record["steps"][-1]["stdout"]
