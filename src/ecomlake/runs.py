"""Run identifiers and dates shared by every layer."""

from __future__ import annotations

import datetime as dt
import os
import secrets

from ecomlake.errors import InputError


def new_run_id(prefix: str = "") -> str:
    """A sortable, unique run id: ``20260125T211945Z_3f9a`` (``RUN_ID`` in the environment wins)."""
    env = os.environ.get("RUN_ID")
    if env:
        return env.replace(":", "").replace("+", "").replace(" ", "_")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}{stamp}_{secrets.token_hex(2)}"


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def parse_date(value: str | dt.date, what: str = "date") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"invalid {what} {value!r}: expected YYYY-MM-DD") from None


def date_window(end: dt.date, lookback_days: int) -> list[dt.date]:
    """[end - lookback_days, end], oldest first."""
    return [end - dt.timedelta(days=i) for i in range(lookback_days, -1, -1)]
