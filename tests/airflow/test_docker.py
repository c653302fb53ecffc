"""The Dockerfile and the compose stack, validated offline (no Docker daemon here): hadolint, the
compose-spec JSON schema, and no credential with a default."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

BIN = Path(sys.executable).parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
CREDENTIAL = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY\b", re.I)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_dockerfile_passes_hadolint():
    r = subprocess.run([str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_catches_what_it_should(tmp_path):
    """The check can fail: an unpinned base image run as root is refused."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install apache-airflow\n")
    r = subprocess.run([str(BIN / "hadolint"), str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "DL3007" in r.stdout and "DL3013" in r.stdout


def test_the_image_is_pinned_non_root_and_installed_from_the_lock():
    text = DOCKERFILE.read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base  # a version tag, never latest
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] == "${AIRFLOW_UID}:0" and "ARG AIRFLOW_UID=50000" in text
    assert "pip install --no-cache-dir --no-deps -r airflow/requirements.lock" in text
    assert "apache-airflow==3.3.2" in (REPO / "airflow" / "requirements.lock").read_text()
    assert "DBT_TARGET_PATH=/tmp/dbt_target" in text and "DBT_LOG_PATH=/tmp/dbt_logs" in text


def test_the_compose_file_matches_the_compose_spec_schema(tmp_path):
    r = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    ports:\n", "    portz:\n", 1))
    r = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "portz" in r.stdout


def _environment(service: dict) -> dict:
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_the_stack_has_every_component_and_no_credential_has_a_default():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    assert services["airflow-scheduler"]["command"] == ["scheduler"]
    assert services["airflow-dag-processor"]["command"] == ["dag-processor"]
    assert services["airflow-triggerer"]["command"] == ["triggerer"]
    assert services["postgres"]["image"].startswith("postgres:16.")
    text = COMPOSE.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is never used"
        for tail in uses:  # `${VAR:?message}`: compose stops when it is unset or empty; never `:-default`
            assert tail.startswith(":?"), f"${{{name}{tail}}} has a default or may be empty"
    for svc_name, svc in services.items():
        for key, value in _environment(svc).items():
            if CREDENTIAL.search(key) and not key.endswith("_FILE") and value is not None:
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), f"{svc_name}: {key}={value!r}"
        conn = _environment(svc).get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        if conn is not None:
            assert "${POSTGRES_PASSWORD:?" in conn and conn.startswith("postgresql+psycopg2://airflow:")
    # No ${VAR:-...} default anywhere names a credential.
    for var, _default in re.findall(r"\$\{([A-Z0-9_]+):-([^}]*)\}", text):
        assert not CREDENTIAL.search(var), var


def test_compose_refuses_to_start_without_the_secrets():
    """Compose's interpolation, as the spec defines it: `${VAR:?msg}` with VAR unset or empty is an
    error naming msg. Emulated here (no docker): every required variable must come from the env."""
    text = COMPOSE.read_text()
    required = dict(re.findall(r"\$\{([A-Z0-9_]+):\?([^}]+)\}", text))
    assert set(SECRETS) <= set(required)
    for var, message in required.items():
        assert "make airflow-secrets" in message, var


def test_ports_are_bound_to_localhost_and_writable_paths_are_on_tmp():
    compose = _compose()
    published = {name: svc.get("ports") for name, svc in compose["services"].items() if svc.get("ports")}
    assert list(published) == ["airflow-apiserver"]
    for mapping in published["airflow-apiserver"]:
        assert str(mapping).startswith("127.0.0.1:"), mapping
    env = _environment(compose["services"]["airflow-scheduler"])
    assert env["DBT_TARGET_PATH"] == "/tmp/dbt_target" and env["DBT_LOG_PATH"] == "/tmp/dbt_logs"
    assert env["ECOM_WORK_PATH"].startswith("/tmp/")
    assert env["AIRFLOW__API__EXPOSE_CONFIG"] == "False"
    # The GCP connection comes from the environment when set (a pass-through: no value, no default).
    assert "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT" in env and env["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"] is None


def test_make_airflow_secrets_writes_a_private_env_file_once(tmp_path):
    target = tmp_path / ".env"
    env = {**os.environ, "ENV_FILE": str(target)}
    r = subprocess.run(["make", "-s", "airflow-secrets"], cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    values = dict(line.split("=", 1) for line in target.read_text().splitlines() if line and not line.startswith("#"))
    assert set(SECRETS) <= set(values)
    assert all(len(values[k]) >= 24 for k in SECRETS)
    assert len({values[k] for k in SECRETS}) == len(SECRETS)  # all different
    import base64

    assert len(base64.urlsafe_b64decode(values["AIRFLOW__CORE__FERNET_KEY"])) == 32  # a valid Fernet key
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_text()
    again = subprocess.run(["make", "-s", "airflow-secrets"], cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "keeping it" in again.stderr and target.read_text() == before
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO)
    assert ignored.returncode == 0, "git must ignore .env"
