"""Run one command in a fresh child process and measure it as the operating system sees it.

Wall time from the parent's clock; CPU time (user + system) and peak resident memory from
`os.wait4` (the child's rusage, which covers any children it waited for); and the peak size of the
DuckDB spill directory, sampled while the child runs. CPU time is what the child itself consumed:
on a shared, loaded machine it moves far less than wall time, so the report gives both. Output goes to a log file, never to a pipe (a full pipe
would stall the child and distort its time).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Measured:
    argv: list[str]
    wall_s: float
    cpu_s: float  # user + system of the child (all its threads)
    peak_rss_mb: float
    peak_spill_mb: float
    exit_code: int
    log: str

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("argv")
        return d


def dir_bytes(path: str | None) -> int:
    if not path or not os.path.isdir(path):
        return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a spill file removed between listing and stat
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


class _SpillSampler(threading.Thread):
    """Polls the spill directory; DuckDB deletes spill files when done, so only sampling sees them."""

    def __init__(self, path: str | None, every_s: float = 0.25):
        super().__init__(daemon=True)
        self.path, self.every_s, self.peak = path, every_s, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, dir_bytes(self.path))
            self._stop_event.wait(self.every_s)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def run_measured(
    argv: list[str], env: dict[str, str], cwd: str, log_path: Path, spill_dir: str | None = None
) -> Measured:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sampler = _SpillSampler(spill_dir)
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        sampler.start()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: stop Popen from waiting again
        spill = sampler.stop()
    return Measured(
        argv=argv,
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024.0, 1),
        peak_spill_mb=round(spill / 2**20, 1),
        exit_code=proc.returncode,
        log=str(log_path),
    )


def last_error_line(log_path: str, limit: int = 240) -> str:
    """The child's own one-line error (`error: ...`) if it printed one, else its last line."""
    try:
        lines = [ln.strip() for ln in Path(log_path).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith(("error:", "Error:"))]
    line = (errors or lines[-1:] or [""])[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."
