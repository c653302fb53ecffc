"""Airflow on a laptop without Docker, and the compose stack's secrets (standard library only).

    python airflow/local_stack.py env       # the exports `airflow ...` commands need (`make airflow-env`)
    python airflow/local_stack.py up        # api-server, scheduler, dag-processor, triggerer on 127.0.0.1
    python airflow/local_stack.py down      # stop them (the process group `up` started)
    python airflow/local_stack.py secrets   # write .env for docker compose (never overwrites)

`up` runs the four components `airflow standalone` runs, started one by one so that nothing listens
beyond 127.0.0.1: the api-server binds 127.0.0.1 on AIRFLOW_PORT (default: a free port), the
scheduler and triggerer skip their log servers (the api-server reads task logs from disk). It waits
until ``/api/v2/monitor/health`` reports every component healthy, then returns; the components
keep running in their own process group, recorded in ``$AIRFLOW_HOME/local_stack.json``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = "local_stack.json"
COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
HEALTH_KEYS = ("metadatabase", "scheduler", "dag_processor", "triggerer")


def _bin() -> Path:
    return Path(sys.executable).parent


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or REPO / ".airflow").resolve()


def exports() -> dict[str, str]:
    """What every `airflow` command of ours needs: where its home, DAGs and config are."""
    return {
        "AIRFLOW_HOME": str(airflow_home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "ECOM_CONFIG_PATH": os.environ.get("ECOM_CONFIG_PATH") or str(REPO / "config" / "config.yml"),
        "PATH": f"{_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **exports(), **extra}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def migrate() -> None:
    """Create or upgrade the metadata DB (SQLite under AIRFLOW_HOME) and register our DAGs."""
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "local_stack_init.log"
    with log.open("ab") as out:
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            rc = subprocess.run([str(_bin() / "airflow"), *args], env=_env(), stdout=out, stderr=out).returncode
            if rc != 0:
                _say(f"error: `airflow {' '.join(args)}` failed (exit {rc}); see {log}")
                sys.exit(2)


def cmd_env() -> None:
    # The DB must exist for `airflow dags test`, and know the DAG files as they are now for
    # `airflow dags list-import-errors` (which reads what the last parse recorded).
    migrate()
    for key, value in exports().items():
        print(f"export {key}={shlex.quote(value)}")


# ------------------------------------------------------------------------------------- up/down


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _healthy(report: dict | None) -> bool:
    return bool(report) and all((report.get(k) or {}).get("status") == "healthy" for k in HEALTH_KEYS)


def _read_state() -> dict | None:
    path = airflow_home() / STATE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cmd_up(timeout_s: float) -> None:
    home = airflow_home()
    state = _read_state()
    if state and any(_alive(p) for p in state["pids"].values()):
        _say(f"Airflow is already running at {state['url']} (pids {sorted(state['pids'].values())}); `make airflow-down` stops it")
        return
    port = int(os.environ.get("AIRFLOW_PORT") or _free_port())
    url = f"http://127.0.0.1:{port}"
    _say(f"initialising the Airflow metadata DB in {home} ...")
    migrate()
    env = _env(
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__BASE_URL=url,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{url}/execution/",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
    )
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pids: dict[str, int] = {}
    pgid = 0
    for name, args in COMPONENTS.items():
        out = (logs / f"{name}.out").open("ab")
        proc = subprocess.Popen(
            [str(_bin() / "airflow"), *args],
            env=env,
            cwd=os.getcwd(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            process_group=pgid,  # 0 for the first: a new group, which every later component joins
        )
        pgid = pgid or proc.pid
        pids[name] = proc.pid
    (home / STATE).write_text(
        json.dumps({"url": url, "port": port, "pgid": pgid, "pids": pids, "started_at": time.time()}) + "\n"
    )
    deadline = time.monotonic() + timeout_s
    report = None
    while time.monotonic() < deadline:
        dead = [n for n, p in pids.items() if not _alive(p)]
        if dead:
            _say(f"error: Airflow {dead[0]} exited while starting; see {logs / (dead[0] + '.out')}")
            cmd_down()
            sys.exit(1)
        report = health(url)
        if _healthy(report):
            password = home / "simple_auth_manager_passwords.json.generated"
            print(f"Airflow is up at {url} (user admin, password in {password}); `make airflow-down` stops it")
            return
        time.sleep(2)
    _say(f"error: Airflow did not report healthy within {timeout_s:.0f} s (last health: {report}); see {logs}")
    cmd_down()
    sys.exit(1)


def cmd_down(timeout_s: float = 60.0) -> None:
    state = _read_state()
    path = airflow_home() / STATE
    if not state:
        print(f"Airflow is not running (no {path})")
        return
    pids = state["pids"]
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)  # each component shuts down cleanly on SIGTERM
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
        time.sleep(0.5)
    try:  # what the components started (task processes) is in the same group: stop it too
        os.killpg(int(state["pgid"]), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    path.unlink(missing_ok=True)
    left = [n for n, p in pids.items() if _alive(p)]
    if left:
        _say(f"error: could not stop {', '.join(left)}")
        sys.exit(1)
    print(f"Airflow at {state['url']} stopped")


# ------------------------------------------------------------------------------------- secrets


def cmd_secrets(path: Path, force: bool) -> None:
    """The compose stack's credentials, random, in a git-ignored .env (mode 600)."""
    if path.exists() and not force:
        _say(f"{path} exists; keeping it (delete it or pass FORCE=1 to generate new credentials)")
        return
    token = secrets.token_urlsafe
    values = {
        "AIRFLOW_UID": str(os.getuid()),
        "POSTGRES_PASSWORD": token(24),
        "AIRFLOW_ADMIN_PASSWORD": token(18),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": token(32),
        "AIRFLOW__API__SECRET_KEY": token(32),
    }
    body = "# Written by `make airflow-secrets`: the compose stack's credentials. Never commit this file.\n"
    body += "".join(f"{k}={v}\n" for k, v in values.items())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    os.replace(tmp, path)
    print(f"wrote {path} (mode 600): {', '.join(k for k in values if k != 'AIRFLOW_UID')}")


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("env", "up", "down", "secrets"):
        _say("usage: python airflow/local_stack.py env|up|down|secrets")
        sys.exit(2)
    if argv[0] == "env":
        cmd_env()
    elif argv[0] == "up":
        cmd_up(float(os.environ.get("AIRFLOW_UP_TIMEOUT", "300")))
    elif argv[0] == "down":
        cmd_down()
    else:
        cmd_secrets(Path(os.environ.get("ENV_FILE") or REPO / ".env"), os.environ.get("FORCE") == "1")


if __name__ == "__main__":
    main(sys.argv[1:])
