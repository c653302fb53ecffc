"""Run identifiers and dates shared by every layer."""

from __future__ import annotations

import datetime as dt
import os
import secrets

from ecomlake import ids


def new_run_id(prefix: str = "") -> str:
    """A sortable, unique run id: ``20260125T211945Z_3f9a`` (``RUN_ID`` in the environment wins).

    A `RUN_ID` that is not a valid run id (see `ecomlake.ids`) is an InputError naming it.
    """
    env = ids.run_id_from_env(os.environ)
    if env:
        return env
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}{stamp}_{secrets.token_hex(2)}"


def resolve_run_id(run_id: str | None, prefix: str = "", what: str = "--run-id") -> str:
    """The caller's run id, checked (an empty string is refused, not replaced), or a new one."""
    return new_run_id(prefix) if run_id is None else ids.run_id(run_id, what)


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def parse_date(value: str | dt.date, what: str = "date") -> dt.date:
    """Exactly YYYY-MM-DD and a real calendar date (`ecomlake.ids.date`), else InputError naming it."""
    return ids.date(value, what)


def date_window(end: dt.date, lookback_days: int) -> list[dt.date]:
    """[end - lookback_days, end], oldest first."""
    return [end - dt.timedelta(days=i) for i in range(lookback_days, -1, -1)]
