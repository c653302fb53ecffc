"""What readers of Enriched see as current: `<table>/_latest.parquet` and Gold's default as-of date.

Both follow one pointer, ``<silver_enriched_path>/_latest.json``
(``{"ingest_dt", "run_id", "gate_status", "updated_at", "tables"}``), which moves only when a
run's gate did not FAIL (or a staged run was promoted) and never backwards. A refused run writes
nothing; a run whose gate FAILs may leave its partitions in place (direct publish mode) but moves
neither the copies nor the pointer, so the runbook's `pl.read_parquet(...*.parquet)` and
`ecomlake gold run` keep reading the last good day.
"""

from __future__ import annotations

import datetime as dt

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.runs import parse_date, utc_now_iso

POINTER_NAME = "_latest.json"


def pointer_path(settings: Settings) -> str:
    return storage.join(settings.paths.silver_enriched_path, POINTER_NAME)


def read_current(settings: Settings) -> dict | None:
    """The pointer, or None when no gated run has published yet (or it is unreadable)."""
    path = pointer_path(settings)
    if not storage.exists(path):
        return None
    try:
        data = storage.read_json(path)
    except (ValueError, OSError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("ingest_dt"), str):
        return None
    return data


def current_date(settings: Settings) -> dt.date | None:
    data = read_current(settings)
    if data is None:
        return None
    try:
        return dt.date.fromisoformat(data["ingest_dt"])
    except ValueError:
        return None


def publish_current(settings: Settings, ingest_dt: str | dt.date, run_id: str, gate_status: str) -> str:
    """Make D current after its gate: refresh `_latest.parquet` and move the pointer.

    Returns one line for the console. Nothing moves when the gate FAILed, or when D is older than
    the current day (a backfill).
    """
    from ecomlake.enriched.runner import refresh_latest
    from ecomlake.transforms.schemas import SPECS

    d = parse_date(ingest_dt, "--ingest-dt")
    current = current_date(settings)
    keep = f"readers still see {current}" if current else "no day is current yet"
    if gate_status == "FAIL":
        return f"gate FAILED for {d}: _latest.parquet and Gold's default as-of date were not moved ({keep})"
    if current is not None and d < current:
        return f"{d} is older than the current day {current}: _latest.parquet and Gold's as-of date stay at {current}"
    snapshot_tables = [name for name, spec in SPECS.items() if spec.snapshot]
    written = refresh_latest(settings, d, snapshot_tables)
    storage.write_json_atomic(
        pointer_path(settings),
        {
            "ingest_dt": d.isoformat(),
            "run_id": run_id,
            "gate_status": gate_status,
            "updated_at": utc_now_iso(),
            "tables": [p.rsplit("/", 2)[-2] for p in written],
        },
    )
    return f"{d} is current: _latest.parquet refreshed for {len(written)} snapshot tables; Gold's default as-of is {d}"
