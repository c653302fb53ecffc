"""Settings: config file < environment < CLI flags; malformed input is a one-line error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake.config import ENV_OVERRIDES, Settings, load_settings
from ecomlake.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yml"
    p.write_text(text)
    return p


def test_repo_config_loads_and_matches_documented_values():
    s = load_settings(REPO_CONFIG, env={})
    assert s.source == str(REPO_CONFIG)
    assert s.environment == "local"
    assert s.paths.bronze_base_path == "data/bronze"
    assert s.paths.quarantine_path == "data/silver/base/quarantine"
    assert s.silver.min_rows("returns") == 0 and s.silver.min_rows("orders") == 1
    assert s.silver.sla("product_catalog") == 0.99
    assert s.temp_directory == "data/_work/duckdb_tmp"


def test_precedence_file_then_env_then_flags(tmp_path):
    cfg = write(
        tmp_path,
        "environment: dev\npaths:\n  bronze_base_path: from_file\n  metrics_base_path: m_file\nduckdb:\n  threads: 3\n",
    )
    s = load_settings(cfg, env={})
    assert (s.environment, s.paths.bronze_base_path, s.duckdb.threads) == ("dev", "from_file", 3)
    env = {"BRONZE_BASE_PATH": "from_env", "PIPELINE_ENV": "prod", "DUCKDB_THREADS": "5"}
    s = load_settings(cfg, env=env)
    assert (s.environment, s.paths.bronze_base_path, s.duckdb.threads) == ("prod", "from_env", 5)
    assert s.paths.metrics_base_path == "m_file"  # untouched keys keep the file's value
    s = load_settings(
        cfg, env=env, overrides={"paths.bronze_base_path": "from_flag", "environment": "local", "duckdb.threads": None}
    )
    assert (s.environment, s.paths.bronze_base_path) == ("local", "from_flag")
    assert s.duckdb.threads == 5  # an unset flag (None) does not mask the environment


def test_empty_env_value_is_ignored(tmp_path):
    cfg = write(tmp_path, "paths:\n  bronze_base_path: from_file\n")
    assert load_settings(cfg, env={"BRONZE_BASE_PATH": ""}).paths.bronze_base_path == "from_file"


def test_ecom_config_path_selects_the_file(tmp_path):
    cfg = write(tmp_path, "paths:\n  gold_path: g\n")
    assert load_settings(env={"ECOM_CONFIG_PATH": str(cfg)}).paths.gold_path == "g"


@pytest.mark.parametrize(
    "text, key",
    [
        ("paths:\n  bronze_bse_path: x\n", "paths.bronze_bse_path"),
        ("silvr:\n  lookback_days: 1\n", "silvr"),
        ("silver:\n  sla_thresholds:\n    orders: 0.9\n  max_quarantine: 3\n", "silver.max_quarantine"),
    ],
)
def test_unknown_key_names_the_key(tmp_path, text, key):
    cfg = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env={})
    assert exc.value.exit_code == 2
    assert f"unknown key '{key}'" in exc.value.message and str(cfg) in exc.value.message
    assert "\n" not in exc.value.message


@pytest.mark.parametrize(
    "text, key",
    [
        ("duckdb:\n  memory_limit: lots\n", "duckdb.memory_limit"),
        ("duckdb:\n  threads: zero\n", "duckdb.threads"),
        ("environment: staging\n", "environment"),
        ("silver:\n  sla_thresholds:\n    orders: 95\n", "silver.sla_thresholds"),
        ("silver:\n  min_table_rows:\n    ordrs: 1\n", "silver.min_table_rows"),
        ("publish:\n  silver_publish_mode: yolo\n", "publish.silver_publish_mode"),
    ],
)
def test_invalid_value_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=f"invalid value for '{key}'") as exc:
        load_settings(write(tmp_path, text), env={})
    assert exc.value.exit_code == 2


@pytest.mark.parametrize("text", ["paths: [unclosed\n", "a: b: c\n", "\tpaths: x\n"])
def test_malformed_yaml(tmp_path, text):
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+") as exc:
        load_settings(write(tmp_path, text), env={})
    assert exc.value.exit_code == 2


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), env={})


def test_empty_file_means_defaults(tmp_path):
    assert load_settings(write(tmp_path, ""), env={}).model_dump() == Settings().model_dump()


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "missing.yml", env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(env={"ECOM_CONFIG_PATH": str(tmp_path / "missing.yml")})


@pytest.mark.parametrize("raw, pct", [("0.05", 5.0), ("0.07", 7.0), ("0", 0.0), ("1", 100.0), ("0.125", 12.5)])
def test_max_quarantine_rate_is_a_fraction_stored_as_percent(raw, pct):
    s = load_settings(REPO_CONFIG, env={"MAX_QUARANTINE_RATE": raw})
    assert s.silver.max_quarantine_pct == pct  # exact: no 7.000000000000001 in reports


@pytest.mark.parametrize("var, raw", [("MAX_QUARANTINE_RATE", "five"), ("DUCKDB_THREADS", "2.5")])
def test_unparseable_env_value_names_the_variable(var, raw):
    with pytest.raises(ConfigError, match=f"environment variable {var}='{raw}'"):
        load_settings(REPO_CONFIG, env={var: raw})


def test_max_quarantine_rate_given_in_percent_is_rejected():
    # 5 means 500%: a percent given where the runbook's fraction belongs must stop the run.
    with pytest.raises(ConfigError, match="silver.max_quarantine_pct"):
        load_settings(REPO_CONFIG, env={"MAX_QUARANTINE_RATE": "5"})


def test_every_env_override_targets_a_real_key():
    s = Settings()
    for var, (dotted, _) in ENV_OVERRIDES.items():
        node = s
        for part in dotted.split("."):
            assert hasattr(node, part), f"{var} -> {dotted}"
            node = getattr(node, part)


# ------------------------------------------------------------------ hardening (issue 10 s.3, issue 17 s.4)


def test_packaged_default_config_is_the_repository_config():
    # The package ships config/config.yml so that a run from any directory gets the same settings.
    from ecomlake.config import packaged_config_path

    assert packaged_config_path().read_bytes() == REPO_CONFIG.read_bytes(), (
        "src/ecomlake/default_config.yml differs from config/config.yml: copy config/config.yml over it"
    )


def test_outside_the_repository_the_packaged_config_is_loaded_not_bare_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/config.yml here
    s = load_settings(env={})
    assert s.source_kind == "packaged" and s.source.endswith("default_config.yml")
    repo = load_settings(REPO_CONFIG, env={})
    assert s.model_dump() == repo.model_dump()
    assert sum(len(v) for v in s.enriched_validation.semantic_checks.values()) > 20
    assert s.enriched.tax_rates["EU-DE"] == 0.19


def test_project_config_wins_over_the_packaged_one(tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yml").write_text("environment: dev\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert (s.source_kind, s.environment) == ("project", "dev")
    assert s.source == str(tmp_path / "config" / "config.yml")


def test_source_is_not_a_config_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'source'"):
        load_settings(write(tmp_path, "source: elsewhere\n"), env={})


@pytest.mark.parametrize(
    "env, overrides",
    [
        ({}, {}),
        ({"BRONZE_BASE_PATH": "from_env"}, {}),
        ({}, {"paths.silver_base_path": "from_flag"}),
        ({"SILVER_BASE_PATH": "e"}, {"paths.gold_path": "f"}),
    ],
)
def test_malformed_section_is_the_same_error_with_or_without_an_override(tmp_path, env, overrides):
    cfg = write(tmp_path, "paths: oops\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env=env, overrides=overrides)
    assert exc.value.exit_code == 2
    assert exc.value.message.startswith(f"{cfg}: invalid value for 'paths': ")


@pytest.mark.parametrize(
    "var, raw, fragment",
    [
        ("PIPELINE_ENV", "staging", "Input should be 'local', 'dev' or 'prod'"),
        ("DUCKDB_MEMORY_LIMIT", "lots", "expected a size such as '4GB'"),
        ("MAX_QUARANTINE_RATE", "5", "expected a fraction between 0 and 1"),
        ("MAX_QUARANTINE_RATE", "-0.1", "expected a fraction between 0 and 1"),
        ("MAX_QUARANTINE_RATE", "nan", "expected a fraction between 0 and 1"),
        ("DUCKDB_THREADS", "0", "greater than or equal to 1"),
        ("SILVER_PUBLISH_MODE", "yolo", "'direct' or 'staging'"),
        ("SILVER_BASE_PATH", "/", "filesystem root"),
        ("METRICS_BASE_PATH", "gs://bucket/metrics", "this path must be local"),
        ("BRONZE_BASE_PATH", "s3://bucket/bronze", "not a gs://bucket/prefix URL"),
        ("SILVER_BASE_PATH", "gs://Bad_Bucket/x", "not a gs://bucket/prefix URL"),
        ("SILVER_DIMS_PATH", "gs://bucket/a/../b", "'..' component"),
        ("ECOM_WORK_PATH", "a\nb", "control character"),
    ],
)
def test_a_bad_environment_value_names_the_variable_not_the_file(var, raw, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(REPO_CONFIG, env={var: raw})
    msg = exc.value.message
    assert msg.startswith(f"environment variable {var}={raw!r} is not valid for '"), msg
    assert fragment in msg and "config/config.yml" not in msg and "\n" not in msg


def test_a_bad_flag_value_says_it_came_from_the_command_line():
    with pytest.raises(ConfigError, match=r"^command-line value '' is not valid for 'paths.silver_base_path'"):
        load_settings(REPO_CONFIG, env={}, overrides={"paths.silver_base_path": ""})


@pytest.mark.parametrize("value", ["", "a\x00b", "gs://b/x", "/"])
def test_path_keys_in_the_file_are_checked_too(tmp_path, value):
    with pytest.raises(ConfigError, match=r"invalid value for 'paths.work_path'"):
        load_settings(write(tmp_path, f"paths:\n  work_path: {json.dumps(value)}\n"), env={})


def test_layer_roots_may_be_gs_urls_and_the_gcs_keys_load_from_env(tmp_path):
    env = {
        "BRONZE_BASE_PATH": "gs://my-lake/bronze",
        "SILVER_BASE_PATH": "gs://my-lake/silver/base/",
        "SILVER_DIMS_PATH": "gs://my-lake/silver/dims",
        "SILVER_ENRICHED_PATH": "gs://my-lake/silver/enriched",
        "GOLD_PATH": "gs://my-lake/gold",
        "GCS_REQUEST_TIMEOUT_S": "7.5",
        "GCS_RETRIES": "0",
    }
    s = load_settings(REPO_CONFIG, env=env)
    assert s.paths.silver_base_path == "gs://my-lake/silver/base"  # trailing slash dropped
    assert s.paths.quarantine_path == "gs://my-lake/silver/base/quarantine"
    assert (s.gcs.request_timeout_s, s.gcs.retries) == (7.5, 0)
    from ecomlake import gcs

    assert (gcs.options().request_timeout_s, gcs.options().retries) == (7.5, 0)
    with pytest.raises(ConfigError, match=r"^environment variable GCS_RETRIES='-1' is not valid for 'gcs.retries'"):
        load_settings(REPO_CONFIG, env={"GCS_RETRIES": "-1"})
    load_settings(REPO_CONFIG, env={})  # back to the defaults for other tests in this process


def test_ecom_config_path_errors_name_the_variable(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^environment variable ECOM_CONFIG_PATH='.*missing.yml': config file not found"
    ):
        load_settings(env={"ECOM_CONFIG_PATH": str(tmp_path / "missing.yml")})
    with pytest.raises(ConfigError, match="is not a file"):
        load_settings(env={"ECOM_CONFIG_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    ("budget", "duckdb_limit"),
    [("4GB", "2861MiB"), ("2GB", "1430MiB"), ("3GiB", "2304MiB"), ("512 mb", "366MiB"), ("10B", "1MiB")],
)
def test_duckdb_gets_three_quarters_of_the_process_budget(tmp_path, budget, duckdb_limit):
    from ecomlake.duck import connect

    settings = load_settings(None, env={"DUCKDB_MEMORY_LIMIT": budget, "ECOM_WORK_PATH": str(tmp_path)})
    assert settings.duckdb.engine_memory_limit == duckdb_limit
    con = connect(settings)
    # DuckDB reports its limit cut to one decimal of its unit (2861MiB reads "2.7 GiB"): compare in
    # MiB within that display step (the full budget, 4GB = 3815MiB, would be far outside it)
    (got,) = con.execute("select current_setting('memory_limit')").fetchone()
    value, unit = got.split()
    mib = float(value) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]
    assert 0 <= int(duckdb_limit.removesuffix("MiB")) - mib < 103
