"""Quarantine management: summary, inspect, recover and prune the rows Base Silver rejected.

Quarantine partitions live at ``<quarantine_path>/<table>/ingest_dt=D/`` (default
``<silver_base_path>/quarantine``) and hold every Bronze column as it arrived, plus ``ingest_dt``,
``_quarantine_reason`` (rule codes joined with ``|`` in registry order), ``_quarantine_timestamp``,
``_run_id`` and ``_raw_text`` (JSON text of non-text values whose Bronze arrived in another physical
type; partitions written before it existed do not have it). Everything here goes through
`ecomlake.storage`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage
from ecomlake.errors import InputError
from ecomlake.runs import parse_date

if TYPE_CHECKING:
    from ecomlake.config import Settings

REASON = "_quarantine_reason"
TIMESTAMP = "_quarantine_timestamp"
RUN_ID = "_run_id"
META_COLUMNS = ("ingest_dt", REASON, TIMESTAMP, RUN_ID)
# The Silver cleaning macros treat these (trimmed, case-insensitive) as NULL.
NULL_TOKENS = ("", "none", "null", "n/a", "nan")


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def parse_days(value: str | int, what: str = "--older-than") -> int:
    """'7d', '7' or 7 -> 7 days."""
    m = re.fullmatch(r"\s*(\d+)\s*d?\s*", str(value))
    if not m:
        raise InputError(f"invalid {what} {value!r}: expected a number of days such as 7d")
    return int(m.group(1))


def require_quarantine_root(settings: Settings) -> None:
    """A missing Silver or quarantine root is an error (exit 2), never an empty answer."""
    silver, qroot = settings.paths.silver_base_path, settings.paths.quarantine_path
    if settings.paths.silver_quarantine_path is None and not storage.isdir(silver):
        raise InputError(
            f"silver path not found: {silver} (pass --silver-path or set SILVER_BASE_PATH; "
            "run `ecomlake local silver` first)"
        )
    if not storage.isdir(qroot):
        raise InputError(
            f"quarantine path not found: {qroot} (pass --quarantine-path or set SILVER_QUARANTINE_PATH; "
            "Base Silver writes it: `ecomlake local silver`)"
        )


def parse_since(value: str | None, today: dt.date | None = None) -> dt.date | None:
    """'7d' -> `today` (the date counted back from) minus 7 days; 'YYYY-MM-DD' -> that date; None -> no
    lower bound ('' is refused)."""
    if value is None:
        return None
    text = str(value)
    if re.fullmatch(r"\d+\s*d", text.strip()):
        return (today or today_utc()) - dt.timedelta(days=parse_days(text, "--since"))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return parse_date(text, "--since")
    raise InputError(f"invalid --since {text!r}: expected a number of days such as 7d, or a date YYYY-MM-DD")


def read_files(files: list[str], columns: list[str] | None = None) -> pa.Table:
    """Read parquet files (local or remote) into one table; a file that does not open is an InputError."""
    tables = []
    for f in files:
        try:
            if storage.is_remote(f):
                fs, p = storage.fs_for(f)
                with fs.open(p, "rb") as fh:
                    pf = pq.ParquetFile(fh)
                    cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
                    tables.append(pf.read(columns=cols))
            else:
                pf = pq.ParquetFile(f)
                cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
                tables.append(pf.read(columns=cols))
        except Exception as exc:
            raise InputError(f"cannot read quarantine file {f}: {exc}") from None
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")


def partition_dir(quarantine_root: str, table: str, ingest_dt: str) -> str:
    return storage.partition_path(quarantine_root, table, ingest_dt)


def read_partition(
    quarantine_root: str, table: str, ingest_dt: str, columns: list[str] | None = None
) -> pa.Table | None:
    """The quarantine rows of one partition, or None when the partition does not exist."""
    part = partition_dir(quarantine_root, table, ingest_dt)
    if not storage.isdir(part):
        return None
    return read_files(storage.partition_files(part), columns)


def key_string(values: list) -> str:
    return "/".join("NULL" if v is None else str(v) for v in values)
