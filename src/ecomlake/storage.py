"""Storage for every layer: paths, partitions, manifests and atomic publish.

A layer root is a local directory or a gs://bucket/prefix (gcsfs, see ecomlake.gcs). Locally a
partition is swapped into place as a directory (below); on object storage, which has no rename,
a partition version is committed by its manifest (`_publish_objects`, docs/RELIABILITY.md,
"Object storage").

Publishing a partition never writes into the live tree. A run writes each partition under
``<layer root>/_staging/<run_id>/<table>/<key>=<value>/``, verifies it (every file opens, row
counts add up), writes its ``_manifest.json`` and ``_SUCCESS``, records a journal, and only then
swaps it into place. The journal is the commit point and makes the swap a redo log: a crash
anywhere after it is finished by the next writer (`recover`) or reader (`settle`), under the
leases the crashed run held (ecomlake.locks); a crash before it leaves the old partition untouched
and only orphaned staging behind, which the next writer removes.

Locally each partition is swapped with one renameat2(RENAME_EXCHANGE), so a live partition is
never missing, even for an instant; the previous version is removed from staging afterwards.
Where the platform cannot exchange (other OS, object stores), two renames are used and the
partition is absent between them. docs/RELIABILITY.md ("Crashes and kills") lists what a reader
can see at every step.

Nothing here deletes or moves a path that is not inside the layer root it belongs to: every
delete takes that root (`remove_tree(path, root)`), and `check_inside` refuses a target that
escapes it (a `..` component, a symlinked parent pointing elsewhere) or that is the root itself.
Run ids, tables and partition values that make up staging and partition paths are checked as
single path components (`ecomlake.ids`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ecomlake import ids
from ecomlake.errors import InputError
from ecomlake.runs import utc_now_iso

MANIFEST_NAME = "_manifest.json"
MANIFEST_NAMES = ("_manifest.json", "_MANIFEST.json")  # the predecessor's exporter writes the latter
SUCCESS_NAME = "_SUCCESS"
STAGING_DIR = "_staging"
MANIFEST_SCHEMA_VERSION = "1.0"
PARQUET_MAGIC = b"PAR1"


# --------------------------------------------------------------------------------------- paths


def is_remote(path: str) -> bool:
    return "://" in str(path)


def join(*parts: str) -> str:
    """Join path parts with '/', keeping URLs such as gs://bucket/prefix intact."""
    cleaned = [str(p) for p in parts if str(p)]
    if not cleaned:
        return ""
    head, rest = cleaned[0].rstrip("/"), [p.strip("/") for p in cleaned[1:]]
    return "/".join([head, *rest]) if head else "/" + "/".join(rest)


def fs_for(path: str):
    """(fsspec filesystem, path inside it). Local paths use the local filesystem; gs:// uses ecomlake.gcs."""
    if is_remote(path):
        if str(path).startswith("gs://"):
            from ecomlake import gcs

            return gcs.filesystem(path), str(path)[len("gs://") :]
        import fsspec.core

        return fsspec.core.url_to_fs(str(path))
    import fsspec

    return fsspec.filesystem("file"), str(path)


def url(path: str, fs_path: str) -> str:
    """The URL of `fs_path` (a path inside the filesystem of `path`), e.g. bucket/a -> gs://bucket/a."""
    if not is_remote(path):
        return fs_path
    scheme = str(path).split("://", 1)[0]
    return f"{scheme}://{fs_path.split('://', 1)[-1].lstrip('/')}"  # memory:// lists /bucket/...


def find_files(prefix: str) -> list[str]:
    """Every file under `prefix` (recursively), as full paths/URLs, sorted; [] when there is none."""
    if not is_remote(prefix):
        out = []
        for dirpath, _, names in os.walk(prefix):
            out += [os.path.join(dirpath, n) for n in names]
        return sorted(out)
    fs, p = fs_for(prefix)
    try:
        return sorted(url(prefix, f) for f in fs.find(p.rstrip("/") + "/"))
    except FileNotFoundError:
        return []


def copy_file(src: str, dst: str) -> None:
    """Copy one file; between two gs:// paths a server-side copy, local <-> gs:// an upload or download."""
    if is_remote(src) and is_remote(dst):
        fs, s = fs_for(src)
        _, d = fs_for(dst)
        fs.cp_file(s, d)
    elif is_remote(dst):
        fs, d = fs_for(dst)
        fs.put_file(src, d)
    elif is_remote(src):
        fs, s = fs_for(src)
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        fs.get_file(s, dst)
    else:
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        shutil.copyfile(src, dst)


def put_tree(local_dir: str, dst: str) -> None:
    """Copy a local directory tree to `dst` (a local path or a gs:// prefix)."""
    for dirpath, _, names in os.walk(local_dir):
        rel = os.path.relpath(dirpath, local_dir)
        for n in sorted(names):
            copy_file(os.path.join(dirpath, n), join(dst, "" if rel == "." else rel, n))


def _info(path: str) -> dict | None:
    """Remote metadata, None when absent. Unlike fsspec's exists/isdir, a network or permission
    error is raised, never mistaken for 'not found'."""
    fs, p = fs_for(path)
    try:
        return fs.info(p)
    except FileNotFoundError:
        return None


def exists(path: str) -> bool:
    if not is_remote(path):
        return os.path.exists(path)
    return _info(path) is not None


def isdir(path: str) -> bool:
    if not is_remote(path):
        return os.path.isdir(path)
    info = _info(path)
    return info is not None and info.get("type") == "directory"


def listdir(path: str) -> list[str]:
    """Names (not paths) in a directory, sorted; [] when it does not exist."""
    if not is_remote(path):
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []
    fs, p = fs_for(path)
    try:
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(p, detail=False))
    except FileNotFoundError:
        return []


def makedirs(path: str) -> None:
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)
    # Object stores have no directories to create.


class UnsafePathError(InputError):
    """A delete or move whose target is not inside the layer root it belongs to (exit 2)."""


def _split_url(path: str) -> tuple[str, str]:
    scheme, _, rest = str(path).partition("://")
    return scheme, rest


def _escapes(path: str, root: str) -> bool:
    """True when `path` has a '..' component beyond `root` (the root itself may be relative: ../lake)."""
    r = root.rstrip("/")
    tail = path[len(r) :] if path == r or path.startswith(r + "/") else path
    return ".." in tail.replace("\\", "/").split("/")


def check_inside(path: str, root: str, action: str = "delete") -> None:
    """Refuse (UnsafePathError) unless `path` lies strictly inside `root`.

    Works on strings for URLs (gs://bucket/prefix: no filesystem needed) and on resolved paths
    locally (a symlinked parent is followed; a symlink as the target itself is removed, never
    followed). A `..` component after the root is refused outright, whatever it would resolve to.
    """
    path, root = str(path), str(root)

    def refuse(why: str) -> UnsafePathError:
        return UnsafePathError(f"refusing to {action} {path!r}: {why} (layer root {root!r}); nothing was changed")

    if not path or not root:
        raise refuse("empty path or layer root")
    if "\x00" in path or "\x00" in root:
        raise refuse("NUL character in the path")
    if _escapes(path, root):
        raise refuse("'..' in the path")
    if is_remote(path) or is_remote(root):
        (ps, prest), (rs, rrest) = _split_url(path), _split_url(root)
        if ps != rs:
            raise refuse("not on the same storage as its layer root")
        target, base = posixpath.normpath("/" + prest), posixpath.normpath("/" + rrest)
        if base == "/" or not target.startswith(base.rstrip("/") + "/"):
            raise refuse("not inside its layer root")
        return
    base = os.path.realpath(root)
    if base == os.path.realpath(os.sep):
        raise refuse("the layer root is the filesystem root")
    absolute = os.path.abspath(path)
    target = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
    if target == base or os.path.commonpath([target, base]) != base:
        raise refuse("not inside its layer root")


def remove_tree(path: str, root: str) -> None:
    """Remove a directory tree or a single file inside `root`; nothing when it does not exist.

    `root` is the layer root the path belongs to; anything not strictly inside it is refused.
    """
    check_inside(path, root)
    if not is_remote(path):
        # rmtree silently ignores a plain file (e.g. a publish journal), so remove files directly.
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)
        else:
            shutil.rmtree(path, ignore_errors=True)
        return
    if exists(path):
        fs, p = fs_for(path)
        fs.rm(p, recursive=True)


def move(src: str, dst: str, root: str, dst_root: str | None = None) -> None:
    """Rename a directory inside `root` (`dst` inside `dst_root` when given). Atomic locally (same device)."""
    check_inside(src, root, "move")
    check_inside(dst, dst_root or root, "move")
    if not is_remote(src):
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        os.rename(src, dst)
        return
    fs, s = fs_for(src)
    _, d = fs_for(dst)
    fs.mv(s, d, recursive=True)
    fs.invalidate_cache()


def read_bytes(path: str) -> bytes:
    if not is_remote(path):
        return Path(path).read_bytes()
    fs, p = fs_for(path)
    return fs.cat_file(p)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write a small file so readers never see half of it (temp file + rename)."""
    if is_remote(path):
        fs, p = fs_for(path)
        fs.pipe_file(p, data)  # single-object uploads are atomic
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def read_json(path: str) -> Any:
    return json.loads(read_bytes(path))


# --------------------------------------------------------------------------------- partitions


def partition_name(value: str, key: str = "ingest_dt") -> str:
    return f"{key}={value}"


def partition_path(root: str, table: str, value: str, key: str = "ingest_dt") -> str:
    """`<root>/<table>/<key>=<value>`; each part must be a plain path component (`table` may be `_state/x`)."""
    ids.relative_parts(table, "table")
    ids.component(str(value), f"{key} value")
    return join(root, table, partition_name(value, key))


def list_partitions(root: str, table: str, key: str = "ingest_dt") -> list[str]:
    """Partition values of `table` under `root` (e.g. ['2023-01-01', ...]), sorted.

    On object storage only committed partitions count: those with a manifest (a partition whose
    first version is still being copied in has data objects but no manifest yet).
    """
    prefix = f"{key}="
    if is_remote(root):
        found = set()
        for f in find_files(join(root, table)):
            parent, name = f.rsplit("/", 1)
            part = parent.rsplit("/", 1)[-1]
            if name in MANIFEST_NAMES and part.startswith(prefix) and parent == join(root, table, part):
                found.add(part[len(prefix) :])
        return sorted(found)
    # `<partition>.__old__<run_id>` is the previous version during (or after a crash in) a publish swap.
    return [n[len(prefix) :] for n in listdir(join(root, table)) if n.startswith(prefix) and ".__old__" not in n]


def list_data_files(partition_dir: str) -> list[str]:
    """Parquet data files of a partition (hidden, `_`-prefixed and temp files excluded)."""
    return [
        join(partition_dir, n)
        for n in listdir(partition_dir)
        if n.endswith(".parquet") and not n.startswith(("_", "."))
    ]


_REPORTED: set[str] = set()
_VERSIONED = re.compile(r"-[0-9a-f]{12}\.parquet$")  # part-0000-<version>.parquet, see _publish_objects


def _report(line: str) -> None:
    """A reader's warning about files it did not read, once per process."""
    if line not in _REPORTED:
        _REPORTED.add(line)
        print(f"warning: {line}", file=sys.stderr)


def _listed_names(manifest: dict) -> list[str] | None:
    """Base names of the data files a manifest lists; None when it lists none in a form we read."""
    entries = manifest.get("files")
    if not isinstance(entries, list):
        return None
    names = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            return None
        names.append(e["path"].rstrip("/").rsplit("/", 1)[-1])
    return names


def partition_files(partition_dir: str) -> list[str]:
    """The data files a reader reads: those the partition's committed manifest lists.

    A file in the partition that the manifest does not list (dropped in by hand, or copied in by a
    publish that has not committed yet) is reported on stderr and not read; a listed file that is
    missing is reported too. Without a manifest: locally every data file (a directory swap
    publishes a partition whole, and Bronze from other exporters may have none); on object storage
    none, because an uncommitted partition has no manifest yet.
    """
    present = list_data_files(partition_dir)
    try:
        manifest = read_manifest(partition_dir)
    except InputError:
        manifest = None
    names = _listed_names(manifest) if manifest is not None else None
    if names is None:
        if is_remote(partition_dir) and present:
            _report(f"{partition_dir}: {len(present)} data files but no committed _manifest.json; not read")
            return []
        return present
    by_name = {f.rsplit("/", 1)[-1]: f for f in present}
    for f in present:
        name = f.rsplit("/", 1)[-1]
        if name in names:
            continue
        if _VERSIONED.search(name):
            _report(f"{f}: data object of a publish that has not committed (in progress, or killed); not read")
        else:
            _report(f"{f}: not listed in the partition's _manifest.json (added outside the pipeline?); not read")
    missing = [n for n in names if n not in by_name]
    if missing:
        _report(f"{partition_dir}: {len(missing)} file(s) listed in _manifest.json are missing: {', '.join(missing)}")
    return [by_name[n] for n in names if n in by_name]


def unlisted_files(table_dir: str) -> list[str]:
    """Data files in the partitions under `table_dir` that their partition's manifest does not list
    (partitions without a manifest are not judged here). One listing of the whole table."""
    by_dir: dict[str, list[str]] = {}
    for f in find_files(table_dir):
        parent, name = f.rsplit("/", 1)
        if "=" in parent.rsplit("/", 1)[-1] and "/_staging/" not in f:
            by_dir.setdefault(parent, []).append(name)
    out = []
    for d, names in sorted(by_dir.items()):
        if not any(n in MANIFEST_NAMES for n in names):
            continue
        try:
            manifest = read_manifest(d)
        except InputError:
            continue
        listed = _listed_names(manifest) if manifest else None
        if listed is None:
            continue
        out += [
            join(d, n)
            for n in sorted(names)
            if n.endswith(".parquet") and not n.startswith(("_", ".")) and n not in listed
        ]
    return out


def find_manifest(partition_dir: str) -> str | None:
    names = set(listdir(partition_dir))
    for name in MANIFEST_NAMES:
        if name in names:
            return join(partition_dir, name)
    return None


def read_manifest(partition_dir: str) -> dict | None:
    """The partition's manifest, or None when there is none. Invalid JSON raises InputError."""
    path = find_manifest(partition_dir)
    if path is None:
        return None
    try:
        data = read_json(path)
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"manifest is not valid JSON: {path}") from None
    if not isinstance(data, dict):
        raise InputError(f"manifest is not a JSON object: {path}")
    return data


def read_table(path: str, columns: list[str] | None = None):
    """One parquet file as an Arrow table, local or gs://."""
    if is_remote(path):
        fs, p = fs_for(path)
        with fs.open(p, "rb") as fh:
            return pq.read_table(fh, columns=columns)
    return pq.read_table(path, columns=columns)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    if is_remote(path):
        h.update(read_bytes(path))
        return h.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def has_parquet_magic(path: str) -> bool:
    """True when the file starts and ends with PAR1 (a truncated upload does not)."""
    if is_remote(path):
        data = read_bytes(path)
        return len(data) >= 8 and data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC
    size = os.path.getsize(path)
    if size < 8:
        return False
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(-4, os.SEEK_END)
        tail = fh.read(4)
    return head == PARQUET_MAGIC and tail == PARQUET_MAGIC


def parquet_num_rows(path: str) -> int:
    """Row count from the footer; InputError naming the file when it does not open."""
    try:
        if is_remote(path):
            fs, p = fs_for(path)
            with fs.open(p, "rb") as fh:
                return pq.ParquetFile(fh).metadata.num_rows
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"corrupt parquet file {path}: {exc}; delete it and re-run the job that wrote it") from None


def file_entry(path: str, relative_to: str) -> dict:
    rel = path[len(relative_to.rstrip("/")) + 1 :] if path.startswith(relative_to) else path
    return {"path": rel, "rows": parquet_num_rows(path), "sha256": sha256_file(path)}


def build_manifest(partition_dir: str, *, table: str, partition: str, run_id: str, extra: dict | None = None) -> dict:
    files = [file_entry(f, partition_dir) for f in list_data_files(partition_dir)]
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "table": table,
        "partition": partition,
        "run_id": run_id,
        "created_at": utc_now_iso(),
        "files": files,
        "total_rows": sum(f["rows"] for f in files),
    }
    if extra:
        manifest.update(extra)
    return manifest


# ----------------------------------------------------------------------------------- publish

FAULT_POINTS = ("before_staging", "while_writing", "before_swap", "after_journal", "mid_swap", "after_swap")


def fault(point: str) -> None:
    """Test hook: ECOMLAKE_FAULT=<point> makes the process exit at that point of a publish.

    ``ECOMLAKE_FAULT=kill:<point>`` sends the process SIGKILL instead: no exception handler, no
    `finally`, no atexit runs, exactly like the OOM killer or a lost machine.
    ``ECOMLAKE_FAULT=stop:<point>`` sends it SIGSTOP: it waits there, alive, until SIGCONT (tests
    use it to hold a writer in the middle of its run while a second writer tries).
    """
    wanted = os.environ.get("ECOMLAKE_FAULT")
    if not wanted:
        return
    if wanted in (f"kill:{point}", f"stop:{point}"):
        import signal

        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL if wanted.startswith("kill:") else signal.SIGSTOP)
        return
    if wanted == point:
        raise SystemExit(f"injected fault at {point}")


def staging_root(layer_root: str, run_id: str) -> str:
    return join(layer_root, STAGING_DIR, ids.run_id(run_id, "run id"))


def staging_path(layer_root: str, run_id: str, table: str, partition: str) -> str:
    """Where a run writes a partition before publishing it (`table` may be `_quarantine/<table>`)."""
    ids.relative_parts(table, "table")
    if partition:
        ids.component(partition, "partition")
    return join(staging_root(layer_root, run_id), table, partition)


def _owner_file(layer_root: str, run_id: str) -> str:
    return join(staging_root(layer_root, run_id), "_owner.json")


def _owner_record() -> dict:
    from ecomlake.locks import _proc_start

    return {
        "pid": os.getpid(),
        "pid_start": _proc_start(os.getpid()),
        "host": socket.gethostname(),
        "created_at": utc_now_iso(),
        "ts": time.time(),
    }


def claim_staging(layer_root: str, run_id: str) -> None:
    """Mark a run's staging area as in use, so that `recover` leaves it alone while we live.

    First finishes or clears what crashed runs left under `layer_root` (`recover`). The run's
    directory appears with its owner file already inside it (built under a dot-name and renamed),
    so a concurrent `recover` never sees it without an owner and mistakes it for a dead run's.
    """
    recover(layer_root)
    owner = _owner_record()
    final = staging_root(layer_root, run_id)
    if is_remote(layer_root) or isdir(final):
        write_json_atomic(_owner_file(layer_root, run_id), owner)
    else:
        tmp = join(layer_root, STAGING_DIR, f".{run_id}.claim-{os.getpid()}")
        write_json_atomic(join(tmp, "_owner.json"), owner)
        try:
            os.rename(tmp, final)
        except OSError:  # appeared meanwhile (the same run id claimed twice): write into it
            remove_tree(tmp, layer_root)
            write_json_atomic(_owner_file(layer_root, run_id), owner)
    fault("before_staging")


@dataclass
class Publish:
    """One partition to publish: staged directory -> live directory.

    `root` is the layer root `final` belongs to, when it is not the publishing layer's root
    (quarantine partitions published with Silver live under the quarantine root).
    """

    staged: str
    final: str
    table: str
    partition: str
    expected_rows: int | None = None
    extra: dict | None = None
    root: str | None = None


def _verify_and_seal(p: Publish, run_id: str) -> dict:
    if not isdir(p.staged):
        makedirs(p.staged)
    for f in list_data_files(p.staged):
        if not has_parquet_magic(f):
            raise InputError(f"staged file is not a complete parquet file: {f}")
    manifest = build_manifest(p.staged, table=p.table, partition=p.partition, run_id=run_id, extra=p.extra)
    if p.expected_rows is not None and manifest["total_rows"] != p.expected_rows:
        raise InputError(
            f"{p.table}/{p.partition}: staged {manifest['total_rows']} rows but expected {p.expected_rows}; nothing was published"
        )
    write_json_atomic(join(p.staged, MANIFEST_NAME), manifest)
    write_bytes_atomic(join(p.staged, SUCCESS_NAME), b"")
    return manifest


def seal(publishes: Iterable[Publish], run_id: str) -> list[dict]:
    """Verify staged partitions and write their manifests, without publishing (staging mode)."""
    return [_verify_and_seal(p, run_id) for p in publishes]


def _manifest_tag(partition_dir: str) -> str | None:
    """Identity of a partition version: the sha256 of its manifest bytes (None without one)."""
    path = join(partition_dir, MANIFEST_NAME)
    if not exists(path):
        return None
    return hashlib.sha256(read_bytes(path)).hexdigest()


def _held_leases(layer_root: str) -> list[dict]:
    from ecomlake import locks

    prefix = join(layer_root, locks.LOCK_DIR) + "/"
    return [
        {"root": layer_root, "layer": lease.layer, "scope": lease.scope}
        for path, lease in locks._HELD.items()
        if path.startswith(prefix)
    ]


def publish(
    layer_root: str,
    run_id: str,
    publishes: list[Publish],
    sealed: bool = False,
    files: list[tuple[str, str]] | None = None,
) -> list[dict]:
    """Atomically replace each live partition by its staged version: all of them or none.

    `files` are (staged file, live file) pairs committed in the same journal (Gold's warehouse).
    Returns the manifests. Partitions not named here are never touched.
    """
    if is_remote(layer_root):
        return _publish_objects(layer_root, run_id, publishes, sealed, files)
    run_dir = staging_root(layer_root, run_id)
    moves: list[dict[str, Any]] = [
        {
            "staged": p.staged,
            "final": p.final,
            # Only used without an exchange (two renames): the previous version waits here.
            "old": p.final.rstrip("/") + f".__old__{run_id}",
            "root": p.root or layer_root,
        }
        for p in publishes
    ] + [{"kind": "file", "staged": s, "final": f, "root": layer_root} for s, f in (files or [])]
    _check_journal({"run_id": run_id, "moves": moves}, layer_root)  # before anything is sealed or moved
    manifests = [read_json(join(p.staged, MANIFEST_NAME)) for p in publishes] if sealed else seal(publishes, run_id)
    fault("before_swap")
    for move_, p in zip(moves, publishes, strict=False):
        move_["tag"] = _manifest_tag(p.staged)  # which version the live partition must end up holding
    journal = {
        "run_id": run_id,
        "created_at": utc_now_iso(),
        # The leases that protect these partitions: whoever finishes a crashed publish takes them first.
        "leases": _held_leases(layer_root),
        "moves": moves,
    }
    journal_path = join(run_dir, "_journal.json")
    write_json_atomic(journal_path, journal)  # the commit point
    fault("after_journal")
    _apply_journal(journal, layer_root)
    remove_tree(journal_path, layer_root)
    return manifests


# ------------------------------------------------------------------- publish on object storage
#
# Object stores cannot rename a prefix, so a partition version is never moved into place. Instead:
#
# 1. the staged data objects are copied into the live partition under names no version uses
#    (`part-0000-<version>.parquet`), after recording them in the run's `_copies.json`: readers
#    read only what the committed manifest lists, so these copies are invisible to them;
# 2. the run's journal `_staging/<run_id>/_journal.json` is created (ifGenerationMatch=0): from here
#    the publish is committed and whoever finds the journal of a dead run finishes it;
# 3. each partition's `_manifest.json` is written with ifGenerationMatch = the generation read
#    before step 1: this single-object compare-and-swap is the moment readers switch versions, and
#    a writer that raced us and committed first makes it fail (PublishConflict, nothing of ours
#    stays visible);
# 4. superseded objects (the previous version's files) are deleted; then the journal.

COPIES_NAME = "_copies.json"
JOURNAL_NAME = "_journal.json"
OBJECT_PROTOCOL = "object-manifest-cas/1"


class PublishConflict(InputError):
    """Another writer committed a partition while this run was publishing it (exit 2)."""


def _versioned(name: str, version: str) -> str:
    stem, dot, ext = logical_name(name).rpartition(".")
    return f"{stem}-{version}.{ext}" if dot else f"{name}-{version}"


def logical_name(name: str) -> str:
    """A data file's name without the version an object-store publish gave it
    (`part-0000-<version>.parquet` -> `part-0000.parquet`); other names as they are."""
    return _VERSIONED.sub(".parquet", name)


def _live_manifest(final: str) -> tuple[dict | None, int]:
    """(manifest, generation) of a live partition; (None, 0) when it has none yet."""
    from ecomlake import gcs

    got = gcs.read_with_generation(join(final, MANIFEST_NAME))
    if got is None:
        return None, 0
    try:
        data = json.loads(got[0])
    except ValueError:
        data = {}
    return (data if isinstance(data, dict) else {}), got[1]


def _publish_objects(
    layer_root: str, run_id: str, publishes: list[Publish], sealed: bool, files: list[tuple[str, str]] | None
) -> list[dict]:
    from ecomlake import gcs

    run_dir = staging_root(layer_root, run_id)
    version = secrets.token_hex(6)
    plan = sorted(publishes, key=lambda p: p.final)  # one order for every writer: the first partition decides a race
    moves: list[dict] = [
        {
            "staged": p.staged,
            "final": p.final,
            "old": p.final.rstrip("/") + f".__old__{run_id}",
            "root": p.root or layer_root,
        }
        for p in plan
    ] + [{"kind": "file", "staged": s_, "final": f, "root": layer_root} for s_, f in (files or [])]
    _check_journal({"run_id": run_id, "moves": moves}, layer_root)
    manifests = [read_json(join(p.staged, MANIFEST_NAME)) for p in plan] if sealed else seal(plan, run_id)
    for move_, p, staged_manifest in zip(moves, plan, manifests, strict=False):
        old_manifest, gen = _live_manifest(p.final)
        live = dict(staged_manifest)
        live["version"] = version
        names = [str(e["path"]).rstrip("/").rsplit("/", 1)[-1] for e in staged_manifest.get("files", [])]
        if len({logical_name(n) for n in names}) != len(names):
            raise InputError(
                f"{p.staged}: two staged files share a name once their versions are dropped; nothing was published"
            )
        live["files"] = [
            {**e, "path": _versioned(n, version)} for e, n in zip(staged_manifest.get("files", []), names, strict=True)
        ]
        side = [
            n
            for n in listdir(p.staged)
            if n not in (MANIFEST_NAME, SUCCESS_NAME, *names)
            and not n.endswith(".parquet")
            and not isdir(join(p.staged, n))
        ]
        move_.update(
            base_generation=gen,
            manifest=live,
            previous_manifest=old_manifest,
            copies=[[join(p.staged, n), join(p.final, v["path"])] for n, v in zip(names, live["files"], strict=True)],
            # Small files that travel with a partition (Bronze's _defects.json): replaced after the commit.
            side_files=side,
        )  # 1. data objects, recorded first so that a crash here leaves nothing we cannot find again
    write_json_atomic(
        join(run_dir, COPIES_NAME),
        {"run_id": run_id, "objects": [list(o) for o in _copied_objects(moves, layer_root)]},
    )
    for m in moves:
        for src, dst in m.get("copies", []):
            copy_file(src, dst)
    fault("before_swap")
    journal = {
        "protocol": OBJECT_PROTOCOL,
        "run_id": run_id,
        "version": version,
        "created_at": utc_now_iso(),
        "leases": _held_leases(layer_root),
        "moves": moves,
    }
    # 2. the commit of the run: from here the publish is finished, by us or by whoever finds it
    try:
        gcs.write_if_generation(join(run_dir, JOURNAL_NAME), _json_bytes(journal), 0)
    except gcs.PreconditionFailed:
        _abandon(layer_root, run_id, moves, [])
        raise PublishConflict(
            f"run {run_id} already has a publish journal under {run_dir}; nothing was published"
        ) from None
    fault("after_journal")
    _apply_objects(journal, layer_root)
    return manifests


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode()


def _apply_objects(journal: dict, layer_root: str) -> None:
    """Make each partition show the journal's version (step 3), then clean up (step 4). Idempotent."""
    from ecomlake import gcs

    _check_journal(journal, layer_root)
    run_id, version = str(journal["run_id"]), str(journal["version"])
    run_dir = staging_root(layer_root, run_id)
    done: list[dict] = []
    for i, m in enumerate(journal["moves"]):
        if m.get("kind") == "file":
            continue
        current, gen = _live_manifest(m["final"])
        if current is not None and current.get("version") == version:
            done.append({**m, "committed_generation": gen})
            continue
        if gen != int(m["base_generation"]):
            _abandon(layer_root, run_id, journal["moves"], done)
            holder = (current or {}).get("run_id", "another run")
            raise PublishConflict(
                f"{m['final']} was published by {holder} while run {run_id} was publishing it; exactly one "
                "writer commits a partition, and it was the other one: nothing of this run was published "
                "(re-run it to publish on top of the new version)"
            )
        try:
            new_gen = gcs.write_if_generation(join(m["final"], MANIFEST_NAME), _json_bytes(m["manifest"]), gen)
        except gcs.PreconditionFailed:
            _abandon(layer_root, run_id, journal["moves"], done)
            raise PublishConflict(
                f"{m['final']} was published by another writer while run {run_id} was publishing it; exactly one "
                "writer commits a partition, and it was the other one: nothing of this run was published "
                "(re-run it to publish on top of the new version)"
            ) from None
        done.append({**m, "committed_generation": new_gen})
        for n in m.get("side_files", []):
            if exists(join(m["staged"], n)):
                copy_file(join(m["staged"], n), join(m["final"], n))
        if not exists(join(m["final"], SUCCESS_NAME)):
            write_bytes_atomic(join(m["final"], SUCCESS_NAME), b"")
        if i == 0:
            fault("mid_swap")
    for m in journal["moves"]:
        if m.get("kind") == "file" and exists(m["staged"]):
            copy_file(m["staged"], m["final"])  # one object: atomic
    fault("after_swap")
    for m in journal["moves"]:
        if m.get("kind") == "file":
            continue
        keep = {e["path"] for e in m["manifest"].get("files", [])}
        for f in list_data_files(m["final"]):
            if f.rsplit("/", 1)[-1] not in keep:
                remove_tree(f, m.get("root") or layer_root)  # the superseded version (and stray files it replaced)
    remove_tree(join(run_dir, JOURNAL_NAME), layer_root)
    remove_tree(join(run_dir, COPIES_NAME), layer_root)


def _abandon(layer_root: str, run_id: str, moves: list[dict], done: list[dict]) -> None:
    """Undo a publish that lost a race: put back the partitions it had switched, drop its copies."""
    from ecomlake import gcs

    run_dir = staging_root(layer_root, run_id)
    for m in reversed(done):
        old = _previous_manifest(m)
        try:
            if old is None:
                gcs.delete_if_generation(join(m["final"], MANIFEST_NAME), int(m["committed_generation"]))
            else:
                gcs.write_if_generation(
                    join(m["final"], MANIFEST_NAME), _json_bytes(old), int(m["committed_generation"])
                )
        except gcs.PreconditionFailed:
            pass  # changed again meanwhile: the newer writer owns it
    _drop_copies(_copied_objects(moves, layer_root))
    remove_tree(join(run_dir, JOURNAL_NAME), layer_root)
    remove_tree(join(run_dir, COPIES_NAME), layer_root)


def _previous_manifest(m: dict) -> dict | None:
    prev = m.get("previous_manifest")
    return prev if isinstance(prev, dict) else None


def _copied_objects(moves: list[dict], layer_root: str) -> list[tuple[str, str]]:
    return [(c[1], m.get("root") or layer_root) for m in moves for c in m.get("copies", [])]


def _drop_copies(objects: list[tuple[str, str]]) -> None:
    """Delete copied data objects that no committed manifest lists (an uncommitted or abandoned publish)."""
    by_dir: dict[str, list[tuple[str, str]]] = {}
    for o, root in objects:
        by_dir.setdefault(o.rsplit("/", 1)[0], []).append((o, root))
    for d, objs in by_dir.items():
        try:
            manifest = read_manifest(d)
        except InputError:
            manifest = None
        listed = set(_listed_names(manifest) or []) if manifest else set()
        for o, root in objs:
            if o.rsplit("/", 1)[-1] not in listed:
                remove_tree(o, root)


def _check_journal(journal: dict, layer_root: str) -> None:
    """Every move of a publish stays inside its roots: staged under this run's staging area, the
    live partition (and its `.__old__` copy) under the layer root it belongs to."""
    run_dir = staging_root(layer_root, str(journal.get("run_id", "")))
    for m in journal.get("moves", []):
        root = m.get("root") or layer_root
        check_inside(m["staged"], run_dir, "publish from")
        check_inside(m["final"], root, "publish into")
        if m.get("kind") == "file":
            continue
        if m["old"] != m["final"].rstrip("/") + f".__old__{journal['run_id']}":
            raise UnsafePathError(f"refusing to publish: journal move {m['old']!r} does not belong to {m['final']!r}")


# Linux renameat2(RENAME_EXCHANGE): swap two directories in one atomic step, so a live partition
# is never missing, not even for a moment. Elsewhere (other OS, object stores) two renames.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Atomically swap directories `a` and `b`; False where the platform cannot."""
    if is_remote(a) or not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # this filesystem cannot exchange: fall back to two renames
    raise OSError(err, os.strerror(err), f"{a} <-> {b}")


def _replace_file(src: str, dst: str, src_root: str, dst_root: str) -> None:
    check_inside(src, src_root, "move")
    check_inside(dst, dst_root, "move")
    if is_remote(src):
        move(src, dst, src_root, dst_root)
        return
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    os.replace(src, dst)


def _apply_journal(journal: dict, layer_root: str) -> None:
    """Finish a committed publish. Each step is idempotent, so this is safe to run twice.

    A move is done when the live directory holds the version whose manifest the journal recorded
    (`tag`). With an exchange, the staged path then holds the previous version, which is removed
    there (it never appears next to the live partition); with two renames, the previous version
    waits in `old` (`<partition>.__old__<run_id>`, which `list_partitions` skips) until the end.
    """
    _check_journal(journal, layer_root)
    run_dir = staging_root(layer_root, str(journal["run_id"]))
    for i, move_ in enumerate(journal["moves"]):
        staged, final = move_["staged"], move_["final"]
        root = move_.get("root") or layer_root
        if move_.get("kind") == "file":
            if exists(staged):
                _replace_file(staged, final, run_dir, root)
            continue
        old, tag = move_["old"], move_.get("tag")
        if not isdir(staged):
            continue
        if tag is not None and _manifest_tag(staged) != tag:
            remove_tree(staged, run_dir)  # the previous version, left here by an exchange
            continue
        if isdir(final):
            if tag is not None and _exchange(staged, final):
                if i == 0:
                    fault("mid_swap")
                remove_tree(staged, run_dir)  # now the previous version
            else:
                move(final, old, root)
                if i == 0:
                    fault("mid_swap")
                move(staged, final, layer_root, root)
        else:
            move(staged, final, layer_root, root)
    fault("after_swap")
    for move_ in journal["moves"]:
        if move_.get("kind") != "file":
            remove_tree(move_["old"], move_.get("root") or layer_root)


def _owner_alive(layer_root: str, run_id: str, max_age_hours: float) -> bool:
    owner_path = _owner_file(layer_root, run_id)
    if not exists(owner_path):
        return False
    try:
        owner = read_json(owner_path)
    except (ValueError, OSError):
        return False
    from ecomlake.locks import stale_reason

    return stale_reason({**owner, "timeout_s": max_age_hours * 3600}) is None


def _finish(layer_root: str, run_id: str, journal_path: str) -> bool:
    """Finish a dead run's committed publish under the leases it held; False when one is held."""
    from ecomlake import locks

    journal = read_json(journal_path)
    taken = []
    try:
        for spec in journal.get("leases", []):
            lease = locks.try_acquire(spec["root"], spec["layer"], spec["scope"], f"recover_{run_id}")
            if lease is None:
                return False  # a live writer holds it: that writer (or the next one) finishes it
            taken.append(lease)
        if exists(journal_path):  # not finished by someone else while we took the leases
            if journal.get("protocol") == OBJECT_PROTOCOL:
                # A newer version committed after this run's stays; this one is dropped.
                with contextlib.suppress(PublishConflict):
                    _apply_objects(journal, layer_root)
            else:
                _apply_journal(journal, layer_root)
            remove_tree(journal_path, layer_root)
        return True
    finally:
        for lease in reversed(taken):
            lease.release()


def recover(layer_root: str, max_age_hours: float = 24.0, cleanup: bool = True) -> list[str]:
    """Finish interrupted publishes and remove staging left by crashed runs under `layer_root`.

    Runs whose owner is alive are left alone. A dead run's committed publish (a journal) is
    finished under the leases it held; its uncommitted staging is removed (`cleanup`). Staging
    that is waiting for promotion (`_pending.json`, staging publish mode) is kept.
    Returns a line per action, for logs.
    """
    actions: list[str] = []
    root = join(layer_root, STAGING_DIR)
    for run_id in listdir(root):
        run_dir = join(root, run_id)
        claim = re.fullmatch(r"\.(.+)\.claim-\d+", run_id)
        if claim and ids.is_run_id(claim.group(1)):  # a claim being created; only a very old one is debris
            if cleanup and not is_remote(run_dir):
                with contextlib.suppress(OSError):
                    if time.time() - os.path.getmtime(run_dir) > max_age_hours * 3600:
                        remove_tree(run_dir, layer_root)
            continue
        if not ids.is_run_id(run_id):  # not made by a run of ours: never delete what we cannot account for
            actions.append(f"left {run_dir!r} alone: not a run's staging area")
            continue
        if _owner_alive(layer_root, run_id, max_age_hours):
            continue
        journal_path = join(run_dir, "_journal.json")
        if exists(journal_path):
            if not _finish(layer_root, run_id, journal_path):
                actions.append(f"left the interrupted publish of run {run_id} to the live holder of its lease")
                continue
            actions.append(f"finished interrupted publish of run {run_id}")
        elif exists(join(run_dir, COPIES_NAME)):
            # Killed while copying data objects into live partitions, before its commit: no manifest
            # lists them, so no reader reads them; remove them (readers too: they are only debris).
            copies = read_json(join(run_dir, COPIES_NAME))
            _drop_copies([(o, r) for o, r in copies.get("objects", [])])
            remove_tree(join(run_dir, COPIES_NAME), layer_root)
            actions.append(f"removed the uncommitted data objects of run {run_id}")
        if not cleanup or exists(join(run_dir, "_pending.json")):
            continue
        remove_tree(run_dir, layer_root)
        actions.append(f"removed staging left by run {run_id}")
    if cleanup and isdir(root) and not listdir(root):
        remove_tree(root, layer_root)
    return actions


def settle(layer_root: str) -> list[str]:
    """What a reader runs first: finish committed publishes of dead runs, touch nothing else.

    A publish killed between its commit (the journal) and the end of its swap leaves some
    partitions new and some old; settling first means a reader never sees that mix.
    """
    if not isdir(join(layer_root, STAGING_DIR)):
        return []
    return recover(layer_root, cleanup=False)


def release_staging(layer_root: str, run_id: str) -> None:
    """Drop a run's (now empty or abandoned) staging area."""
    remove_tree(staging_root(layer_root, run_id), layer_root)
    root = join(layer_root, STAGING_DIR)
    if isdir(root) and not listdir(root):
        remove_tree(root, layer_root)


def mark_pending(layer_root: str, run_id: str, publishes: list[Publish], gate: str) -> None:
    """Staging publish mode: keep sealed partitions in staging until `promote` after the gate."""
    write_json_atomic(
        join(staging_root(layer_root, run_id), "_pending.json"),
        {
            "run_id": run_id,
            "gate": gate,
            "created_at": utc_now_iso(),
            "partitions": [
                {"staged": p.staged, "final": p.final, "table": p.table, "partition": p.partition, "root": p.root}
                for p in publishes
            ],
        },
    )


def promote(layer_root: str, run_id: str) -> list[dict]:
    """Publish what a staging-mode run left pending (`ecomlake enriched promote` calls this)."""
    pending_path = join(staging_root(layer_root, run_id), "_pending.json")
    if not exists(pending_path):
        raise InputError(f"nothing staged for run {run_id} under {join(layer_root, STAGING_DIR)}")
    pending = read_json(pending_path)
    publishes = [
        Publish(p["staged"], p["final"], p["table"], p["partition"], root=p.get("root")) for p in pending["partitions"]
    ]
    manifests = publish(layer_root, run_id, publishes, sealed=True)
    release_staging(layer_root, run_id)
    return manifests
