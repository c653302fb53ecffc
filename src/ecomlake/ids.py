"""Identifiers that become parts of paths, and the paths users name: one strict rule each.

Run ids, dates, table names and partition values are joined into paths that the lake later
deletes (a run's staging area, a partition moved aside during a swap). A value such as ``../..``
would make that path point outside the lake, so every such value is checked here, at the
boundary (the CLI and the Python API both call these), and anything else is refused with exit 2
and one line that names the value. `storage` checks again before it deletes anything.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping

from ecomlake.errors import InputError

# A run id is one path component: it starts with a letter or digit (so never '.' or '..') and holds
# only letters, digits, '_', '-' and '.' (an Airflow run id such as
# scheduled__2023-01-01T000000 fits once ':', '+' and ' ' are dropped, see `run_id_from_env`).
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
RUN_ID_RULE = "1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit"
# Exactly YYYY-MM-DD; the calendar check comes after (2023-02-30 matches the pattern, not the calendar).
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# Table names of the contract and of the Enriched and Gold tables.
TABLE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _show(value: object) -> str:
    """The value as one line (repr escapes NUL, newlines and other control characters)."""
    return repr(value) if isinstance(value, str) else repr(str(value))


def run_id(value: object, what: str = "--run-id") -> str:
    """A valid run id, unchanged; InputError naming the value otherwise."""
    if not isinstance(value, str) or not RUN_ID_PATTERN.fullmatch(value):
        raise InputError(f"invalid {what} {_show(value)}: a run id is {RUN_ID_RULE}")
    return value


def is_run_id(value: object) -> bool:
    return isinstance(value, str) and RUN_ID_PATTERN.fullmatch(value) is not None


def run_id_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`RUN_ID` from the environment (':' '+' dropped and ' ' -> '_', as an Airflow timestamp needs), checked."""
    raw = (os.environ if env is None else env).get("RUN_ID")
    if not raw:
        return None
    value = raw.replace(":", "").replace("+", "").replace(" ", "_")
    if not RUN_ID_PATTERN.fullmatch(value):
        raise InputError(f"invalid environment variable RUN_ID={_show(raw)}: a run id is {RUN_ID_RULE}")
    return value


def date(value: object, what: str = "date") -> dt.date:
    """A calendar date from exactly 'YYYY-MM-DD' (or a date object); InputError naming the value otherwise."""
    if isinstance(value, dt.datetime):
        raise InputError(f"invalid {what} {_show(value)}: expected a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise InputError(f"invalid {what} {_show(value)}: expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"invalid {what} {_show(value)}: expected YYYY-MM-DD (not a calendar date)") from None


def table(value: object, known: Iterable[str], what: str = "table") -> str:
    """A table name from `known`; InputError naming the value (and the known names) otherwise."""
    names = list(known)
    if not isinstance(value, str) or not TABLE_PATTERN.fullmatch(value) or value not in names:
        raise InputError(f"unknown {what} {_show(value)} (known: {', '.join(names)})")
    return value


def component(value: object, what: str) -> str:
    """One path component built from data or identifiers: never empty, '.', '..', a separator or a control character.

    The storage layer's last line of defence; the strict patterns above are checked earlier.
    """
    if not isinstance(value, str) or not _is_component(value):
        raise InputError(f"invalid {what} {_show(value)}: not a single path component")
    return value


def relative_parts(value: object, what: str) -> str:
    """A short relative path made of components (`_state/customer_orders`, `_quarantine/orders`)."""
    text = value if isinstance(value, str) else None
    if text is None or not all(_is_component(p) for p in text.split("/")):
        raise InputError(f"invalid {what} {_show(value)}: not a relative path of plain components")
    return text


def _is_component(text: str) -> bool:
    return bool(text) and text not in (".", "..") and "/" not in text and "\\" not in text and not _CONTROL.search(text)


def user_path(value: object, what: str, *, kind: str = "file") -> str:
    """A path the user names for an output (report, archive, cache directory).

    Any location is the user's choice, but an empty value, a control character (NUL, newline) or,
    for a directory, the filesystem root is refused; a file path must not be an existing directory.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"invalid {what} {_show(value)}: expected a {kind} path, got an empty value")
    if _CONTROL.search(value):
        raise InputError(f"invalid {what} {_show(value)}: a path must not contain control characters")
    if kind == "directory" and "://" not in value and os.path.realpath(value) == os.path.realpath(os.sep):
        raise InputError(f"invalid {what} {_show(value)}: the filesystem root is not a place to write to")
    if kind == "file" and (value.endswith(("/", os.sep)) or os.path.isdir(value)):
        raise InputError(f"invalid {what} {_show(value)}: expected a file path, got a directory")
    return value
