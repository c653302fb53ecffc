"""Leases: one writer per layer and scope (a date, or the whole layer) at a time.

A lease is a small JSON object ``<layer root>/_locks/<layer>_<scope>.lease`` holding the holder's
run id, host, pid (and the pid's start time, so a reused pid is not mistaken for the holder),
creation time and timeout. It is created exclusively: written to a temp file and hard-linked
into place, which fails when the name exists (the local equivalent of uploading the object with
the precondition ``ifGenerationMatch=0`` on GCS, which is what happens there). A second writer therefore fails at once with
`LeaseHeld` (exit 2) naming the holder, instead of racing it.

A lease whose holder is provably gone (same host and its pid is dead or reused) or that is older
than its timeout is broken: renamed aside (atomic) and created again; on GCS it is replaced by the new holder's lease in
one upload with ``ifGenerationMatch`` = the generation that was read. Breaking checks that the object renamed aside is the
one judged stale, so a fresh lease created in between is put back, not stolen.

Leases are re-entrant within a process: a run that holds ``silver 2023-01-01`` may enter code that
takes it again (for example `storage.recover` finishing an interrupted publish of that date).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecomlake import storage
from ecomlake.errors import EcomlakeError
from ecomlake.runs import utc_now_iso

if TYPE_CHECKING:
    from ecomlake.config import Settings

LOCK_DIR = "_locks"
DEFAULT_TIMEOUT_S = 6 * 3600.0
ALL = "all"  # scope of a lease over a whole layer


class LeaseHeld(EcomlakeError):
    """Another live writer holds the lease (exit 2)."""


@dataclass
class Lease:
    path: str
    layer: str
    scope: str
    run_id: str
    token: str
    depth: int = 1

    def release(self) -> None:
        self.depth -= 1
        if self.depth > 0:
            return
        _HELD.pop(self.path, None)
        current = _read(self.path)
        if current is not None and current[0].get("token") == self.token:
            if storage.is_remote(self.path):
                from ecomlake import gcs

                gcs.delete_if_generation(self.path, int(current[1]))  # only the lease we read, never a newer one
                return
            storage.remove_tree(self.path, self.path.rsplit("/", 1)[0])


_HELD: dict[str, Lease] = {}


def lease_path(root: str, layer: str, scope: str) -> str:
    return storage.join(root, LOCK_DIR, f"{layer}_{scope}.lease")


def _proc_start(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot) from /proc; None where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: str) -> tuple[dict, Any] | None:
    """(holder, identity of the object read) or None when there is no lease."""
    try:
        if storage.is_remote(path):
            from ecomlake import gcs

            got = gcs.read_with_generation(path)
            if got is None:
                return None
            try:
                return json.loads(got[0]), got[1]
            except (ValueError, UnicodeDecodeError):
                return {}, got[1]
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
        return json.loads(data), (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        return {}, None  # unreadable: never written by us (we link complete files); judged by age below


def stale_reason(holder: dict, now: float | None = None) -> str | None:
    """Why a lease's holder is gone, or None while it may still be alive."""
    now = time.time() if now is None else now
    try:
        ts = float(holder.get("ts", 0))
        timeout = float(holder.get("timeout_s", DEFAULT_TIMEOUT_S))
        pid = int(holder.get("pid", -1))
    except (TypeError, ValueError):
        return "unreadable lease"
    if now - ts > timeout:
        return f"older than its timeout ({timeout:.0f} s)"
    if holder.get("host") == socket.gethostname():
        if not _pid_alive(pid):
            return f"process {pid} is gone"
        start = holder.get("pid_start")
        if start is not None and _proc_start(pid) not in (None, start):
            return f"pid {pid} now belongs to another process"
    return None


def _create(path: str, body: bytes) -> bool:
    """Create `path` with `body` only if it does not exist; True when we created it."""
    if storage.is_remote(path):
        from ecomlake import gcs

        try:
            gcs.write_if_generation(path, body, 0)  # created only if absent: the object store's O_EXCL
        except gcs.PreconditionFailed:
            return False
        return True
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic, and fails when the lease exists: readers never see half a lease
        return True
    except FileExistsError:
        return False
    finally:
        os.remove(tmp)


def _break(path: str, seen: object) -> None:
    """Remove the stale lease we read (identity `seen`), never a fresher one."""
    if storage.is_remote(path):
        return  # taken over in place by `_take_over` instead
    aside = f"{path}.broken-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # released or broken by someone else meanwhile
    st = os.stat(aside)
    if seen is not None and (st.st_ino, st.st_mtime_ns) != seen:
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)  # a new holder took it between our read and our rename: put it back
    os.remove(aside)


def _take_over(path: str, body: bytes, seen: int) -> bool:
    """Object stores: replace the stale lease we read (generation `seen`) by ours in one conditional
    upload (ifGenerationMatch=seen), so a fresher lease written in between is never overwritten."""
    from ecomlake import gcs

    try:
        gcs.write_if_generation(path, body, seen)
    except gcs.PreconditionFailed:
        return False
    return True


def acquire(root: str, layer: str, scope: str, run_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Lease:
    """Take the lease of `layer`/`scope` under `root`, or raise LeaseHeld naming the live holder."""
    path = lease_path(root, layer, scope)
    held = _HELD.get(path)
    if held is not None:
        held.depth += 1
        return held
    token = secrets.token_hex(8)
    body = {
        "layer": layer,
        "scope": scope,
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": _proc_start(os.getpid()),
        "created_at": utc_now_iso(),
        "ts": time.time(),
        "timeout_s": float(timeout_s),
        "token": token,
    }
    data = (json.dumps(body, indent=2) + "\n").encode()
    for _ in range(5):
        if _create(path, data):
            lease = Lease(path, layer, scope, run_id, token)
            _HELD[path] = lease
            return lease
        found = _read(path)
        if found is None:
            continue  # released between our attempt and our read: try again
        holder, seen = found
        if stale_reason(holder) is None:
            raise LeaseHeld(
                f"{layer} {scope} is being written by run {holder.get('run_id')} (host {holder.get('host')}, "
                f"pid {holder.get('pid')}, since {holder.get('created_at')}); wait for it to finish and retry "
                f"(a lease whose holder died is broken automatically; lease file {path})"
            )
        if storage.is_remote(path):
            if isinstance(seen, int) and _take_over(path, data, seen):
                lease = Lease(path, layer, scope, run_id, token)
                _HELD[path] = lease
                return lease
            continue
        _break(path, seen)
    raise LeaseHeld(f"{layer} {scope}: could not take the lease {path} after repeated contention; retry")


def try_acquire(root: str, layer: str, scope: str, run_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Lease | None:
    """Like `acquire`, but None instead of LeaseHeld."""
    try:
        return acquire(root, layer, scope, run_id, timeout_s)
    except LeaseHeld:
        return None


@contextlib.contextmanager
def lease(root: str, layer: str, scope: str, run_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[Lease]:
    held = acquire(root, layer, scope, run_id, timeout_s)
    try:
        yield held
    finally:
        held.release()


def timeout_of(settings: Settings) -> float:
    return float(settings.publish.lease_timeout_minutes) * 60.0


def holds(root: str, layer: str, scope: str) -> bool:
    """True when this process holds the lease."""
    return lease_path(root, layer, scope) in _HELD
