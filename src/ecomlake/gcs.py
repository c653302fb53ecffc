"""Google Cloud Storage: the gcsfs filesystem every gs:// path goes through, and its failures.

- **Credentials**: `GOOGLE_APPLICATION_CREDENTIALS` (a key file) or application default credentials
  (`gcloud auth application-default login`, Workload Identity, the GCE metadata server). When
  `STORAGE_EMULATOR_HOST` is set, every gs:// path goes to that emulator, without credentials, as
  it does for Google's own clients. A missing or unusable credential is one line naming the bucket
  (`GcsError`, exit 2), never a silent fall-back to anonymous access that then retries.
- **Timeouts and retries**: `gcs.request_timeout_s` (each HTTP request) and `gcs.retries`
  (transient failures: 5xx, 408, 429, connection errors), with exponential backoff capped at
  `gcs.max_backoff_s`. An unreachable endpoint therefore fails after a bounded time.
- **Preconditions**: `write_if_generation` uploads one object with ``ifGenerationMatch`` (0 = only
  if it does not exist). It is the commit point of a publish (the partition manifest) and of a
  lease (created with 0, taken over from a dead holder with the generation that was read).

gcsfs is an optional dependency (`pip install ecomlake[gcs]`): nothing here imports it until a
gs:// path is used, and then its absence is one line saying what to install.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass
from typing import Any

from ecomlake.errors import EcomlakeError

# Before gcsfs is imported: otherwise gcsfs probes every bucket over gRPC for hierarchical
# namespaces, which stalls about a minute per bucket off Google's network (and on emulators).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"


class GcsError(EcomlakeError):
    """GCS could not be reached or refused us: credentials, permissions, network (exit 2)."""


class PreconditionFailed(EcomlakeError):
    """An ifGenerationMatch upload lost: the object changed since it was read (another writer)."""


@dataclass(frozen=True)
class Options:
    request_timeout_s: float = 60.0
    retries: int = 5
    max_backoff_s: float = 32.0


_state = {"options": Options()}
_filesystems: dict[tuple, Any] = {}
_last_bucket: list[str] = []


def configure(request_timeout_s: float, retries: int, max_backoff_s: float = 32.0) -> None:
    """Set the timeouts and retries of every gs:// filesystem made from now on (config.load_settings calls it)."""
    _state["options"] = Options(float(request_timeout_s), int(retries), float(max_backoff_s))


def options() -> Options:
    return _state["options"]


def emulator_host() -> str | None:
    host = os.environ.get(EMULATOR_ENV, "").strip()
    return host or None


def bucket_of(path: str) -> str:
    rest = str(path).split("://", 1)[-1]
    return rest.split("/", 1)[0]


def _missing_gcsfs() -> GcsError:
    return GcsError(
        "gs:// paths need the GCS extra, which is not installed: pip install 'ecomlake[gcs]' "
        "(make install and make test install it)"
    )


def _filesystem_class():
    try:
        import gcsfs
    except ImportError:
        raise _missing_gcsfs() from None

    unwrapped = getattr(gcsfs.GCSFileSystem._request, "__wrapped__", None)

    class Filesystem(gcsfs.GCSFileSystem):
        """gcsfs with our retry count and backoff (gcsfs fixes both when the class is defined)."""

        def _open(self, path, mode="rb", block_size=None, cache_options=None, **kwargs):
            # gcsfs's default "adaptive" cache runs a background prefetcher whose tasks outlive the
            # file (asyncio "Task was destroyed" noise, and it buys nothing for parquet footers).
            kwargs.setdefault("cache_type", "readahead")
            return super()._open(path, mode, block_size=block_size, cache_options=cache_options, **kwargs)

        async def _request(self, method, path, *args, **kwargs):
            if unwrapped is None:  # a gcsfs without the decorator's __wrapped__: keep its own retries
                return await super()._request(method, path, *args, **kwargs)
            from gcsfs.retry import is_retriable

            opts: Options = getattr(self, "_ecom_options", None) or options()
            for attempt in range(opts.retries + 1):
                try:
                    return await unwrapped(self, method, path, *args, **kwargs)
                except Exception as exc:
                    if attempt >= opts.retries or not is_retriable(exc):
                        raise
                    await asyncio.sleep(min(opts.max_backoff_s, (2**attempt) * (0.5 + random.random() / 2)))
            raise AssertionError("unreachable")

    return Filesystem


_CLASS: list = []


def _cls():
    if not _CLASS:
        cls = _filesystem_class()
        import fsspec

        # dbt-duckdb's `filesystems:` profile setting builds its filesystem by protocol name: give it ours.
        for proto in ("gs", "gcs"):
            fsspec.register_implementation(proto, cls, clobber=True)
        _CLASS.append(cls)
    return _CLASS[0]


def filesystem(path: str = "") -> Any:
    """The gcsfs filesystem for gs:// paths (one per process, emulator and options)."""
    bucket = bucket_of(path) if path else ""
    if bucket:
        _last_bucket[:] = [bucket]
    emulator = emulator_host()
    opts = options()
    key = (emulator, opts)
    fs = _filesystems.get(key)
    if fs is not None:
        return fs
    cls = _cls()
    kwargs: dict[str, Any] = {
        "requests_timeout": opts.request_timeout_s,
        # Listings are not cached: a reader must see the manifest a writer committed a moment ago.
        "cache_timeout": 0,
        "skip_instance_cache": True,
    }
    if emulator:
        kwargs["token"] = "anon"
    else:
        kwargs["token"] = "google_default"
    try:
        fs = cls(**kwargs)
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and friends
        raise credentials_error(exc, bucket) from None
    fs._ecom_options = opts
    _filesystems[key] = fs
    return fs


def credentials_error(exc: BaseException, bucket: str) -> GcsError:
    where = f"gs://{bucket}" if bucket else "GCS"
    detail = _first_line(exc)
    return GcsError(
        f"cannot reach {where}: no usable Google credentials ({type(exc).__name__}: {detail}); set "
        "GOOGLE_APPLICATION_CREDENTIALS to a service account key file or run `gcloud auth application-default "
        f"login` (to use an emulator instead, set {EMULATOR_ENV})"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_gcs_failure(exc: BaseException) -> bool:
    """True for the exceptions gcsfs, google-auth and aiohttp raise when GCS cannot be used."""
    mod = type(exc).__module__ or ""
    if mod.startswith(("gcsfs", "google.auth", "google.api_core", "aiohttp")):
        return True
    if type(exc).__name__ in ("FSTimeoutError",) or isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return bool(_last_bucket)
    return isinstance(exc, OSError) and str(exc).startswith("Forbidden")


def translate(exc: BaseException) -> GcsError:
    """One line for a GCS failure the code did not expect (the CLI prints it, exit 2)."""
    bucket = _last_bucket[0] if _last_bucket else ""
    where = f"gs://{bucket}" if bucket else "GCS"
    name = type(exc).__name__
    detail = _first_line(exc)
    if "Forbidden" in detail or getattr(exc, "code", None) in (401, 403):
        return GcsError(
            f"{where}: permission denied ({detail}); the account needs roles/storage.objectAdmin on the bucket "
            "(see the runbook, section 7)"
        )
    if mod_is_auth(exc):
        return credentials_error(exc, bucket)
    opts = options()
    return GcsError(
        f"{where}: GCS request failed after {opts.retries} retries ({name}: {detail}); check the network or "
        f"{EMULATOR_ENV}, or raise gcs.request_timeout_s / gcs.retries (GCS_REQUEST_TIMEOUT_S, GCS_RETRIES)"
    )


def mod_is_auth(exc: BaseException) -> bool:
    return (type(exc).__module__ or "").startswith("google.auth")


# ------------------------------------------------------------------------------- preconditions


def generation(path: str) -> int:
    """The object's generation, 0 when it does not exist (the value ifGenerationMatch takes for 'absent')."""
    fs = filesystem(path)
    try:
        info = fs.info(_strip(path))
    except FileNotFoundError:
        return 0
    if info.get("type") != "file":
        return 0
    return int(info.get("generation") or 0)


def read_with_generation(path: str) -> tuple[bytes, int] | None:
    """(content, generation) of one object, or None when it does not exist.

    The content is fetched by generation, so the pair always belongs together even when another
    writer replaces the object in between (then the old generation may be gone: None, read again).
    """
    fs = filesystem(path)
    bucket, key, _ = fs.split_path(_strip(path))
    try:
        meta = fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True)
        gen = int(meta.get("generation") or 0)
        _, data = fs.call("GET", "b/{}/o/{}", bucket, key, alt="media", generation=str(gen))
    except FileNotFoundError:
        return None
    return data, gen


def write_if_generation(path: str, data: bytes, if_generation_match: int) -> int:
    """Upload `data` to `path` only if its generation is `if_generation_match` (0: only if absent).

    Returns the new generation; raises PreconditionFailed when another writer got there first.
    """
    from urllib.parse import quote

    fs = filesystem(path)
    bucket, key, _ = fs.split_path(_strip(path))
    meta = json.dumps({"name": key})
    body = (
        b"--==0==\nContent-Type: application/json; charset=UTF-8\n\n"
        + meta.encode()
        + b"\n--==0==\nContent-Type: application/octet-stream\n\n"
        + data
        + b"\n--==0==--"
    )
    try:
        out = fs.call(
            "POST",
            f"{fs._location}/upload/storage/v1/b/{quote(bucket, safe='')}/o",
            uploadType="multipart",
            headers={"Content-Type": 'multipart/related; boundary="==0=="'},
            data=body,
            json_out=True,
            ifGenerationMatch=str(int(if_generation_match)),
        )
    except FileExistsError:  # gcsfs maps HTTP 412 Precondition Failed to FileExistsError
        raise PreconditionFailed(
            f"gs://{bucket}/{key} changed since it was read (generation {if_generation_match})"
        ) from None
    fs.invalidate_cache(_strip(path))
    return int(out.get("generation") or 0)


def delete_if_generation(path: str, if_generation_match: int) -> bool:
    """Delete `path` only if its generation is still `if_generation_match`; False when it changed or is gone."""
    fs = filesystem(path)
    bucket, key, _ = fs.split_path(_strip(path))
    try:
        fs.call("DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=str(int(if_generation_match)))
    except (FileNotFoundError, FileExistsError):
        return False
    fs.invalidate_cache(_strip(path))
    return True


def _strip(path: str) -> str:
    return str(path).split("://", 1)[-1]
