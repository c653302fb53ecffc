"""`ecomlake quarantine prune`: delete whole quarantine partitions older than the retention.

Retention comes from `--older-than`, else `quarantine.retention_days[environment]` (prod 30, dev 7;
local is manual, so it refuses without `--older-than`). A partition is "older than N days" when its
ingest_dt is before today (UTC) minus N days.

Before deleting, the row count and reasons of each partition are recorded in
``<quarantine>/<table>/_pruned.json``, so that the Silver gate can still prove
bronze = silver + quarantine for pruned dates instead of reporting lost rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ecomlake import locks, storage
from ecomlake.config import Settings
from ecomlake.contract import parse_tables
from ecomlake.errors import InputError
from ecomlake.quarantine import parse_days, partition_dir, require_quarantine_root, today_utc
from ecomlake.runs import resolve_run_id, utc_now_iso
from ecomlake.silver.validate import PRUNED_LEDGER, reason_counts, scan_partition


def prune_quarantine(
    settings: Settings,
    *,
    older_than: str | int | None = None,
    dry_run: bool = False,
    tables: str | None = None,
    today: dt.date | None = None,
    run_id: str | None = None,
) -> dict:
    require_quarantine_root(settings)
    run_id = resolve_run_id(run_id)
    table_names = parse_tables(tables)
    env = settings.environment
    if older_than is None:
        days = settings.quarantine.retention_days.get(env)
        if days is None:
            raise InputError(
                f"quarantine retention is manual in the {env} environment: pass --older-than (e.g. --older-than 7d)"
            )
    else:
        days = parse_days(older_than)
    cutoff = (today or today_utc()) - dt.timedelta(days=days)
    leases: dict[str, locks.Lease] = {}
    try:
        return _prune(settings, table_names, cutoff, days, dry_run, run_id, leases)
    finally:
        for lease in leases.values():
            lease.release()


def _prune(
    settings: Settings,
    table_names: list[str],
    cutoff: dt.date,
    days: int,
    dry_run: bool,
    run_id: str,
    leases: dict,
) -> dict:
    env = settings.environment
    qroot = settings.paths.quarantine_path
    silver_root = settings.paths.silver_base_path
    pruned: list[dict[str, Any]] = []
    kept, skipped = 0, []
    for table in table_names:
        doomed = []
        for d in storage.list_partitions(qroot, table):
            try:
                day = dt.date.fromisoformat(d)
            except ValueError:
                skipped.append(f"{table}/ingest_dt={d}: not a date, left alone")
                continue
            if day < cutoff:
                doomed.append(d)
            else:
                kept += 1
        if not doomed:
            continue
        if not dry_run:
            for d in doomed:  # a quarantine partition belongs to its Silver date: one writer per date
                if d not in leases:
                    leases[d] = locks.acquire(silver_root, "silver", d, run_id, locks.timeout_of(settings))
        entries = {}
        for d in doomed:
            part = partition_dir(qroot, table, d)
            scan = scan_partition(part, verify_manifest=False)
            raw, _ = reason_counts(part, [storage.join(part, n) for n in scan.files])
            entries[d] = {
                "rows": scan.rows,
                "reasons_raw": dict(raw),
                "pruned_at": utc_now_iso(),
                "run_id": run_id,
                "path": part,
            }
            pruned.append({"table": table, "ingest_dt": d, "rows": scan.rows, "path": part})
        if dry_run:
            continue
        # Record first: a crash after this leaves the ledger ahead of the deletes, never behind.
        ledger_path = storage.join(qroot, table, PRUNED_LEDGER)
        ledger = storage.read_json(ledger_path) if storage.exists(ledger_path) else {"partitions": {}}
        ledger.setdefault("partitions", {}).update(entries)
        storage.write_json_atomic(ledger_path, ledger)
        for d in doomed:
            storage.remove_tree(partition_dir(qroot, table, d), qroot)
    result = {
        "run_id": run_id,
        "environment": env,
        "dry_run": dry_run,
        "older_than_days": days,
        "cutoff": cutoff.isoformat(),
        "quarantine_path": qroot,
        "config_source": settings.source,
        "tables": table_names,
        "pruned": pruned,
        "partitions_pruned": len(pruned),
        "rows_pruned": sum(p["rows"] for p in pruned),
        "partitions_kept": kept,
        "skipped": skipped,
    }
    if not dry_run:
        storage.write_json_atomic(
            storage.join(settings.paths.metrics_base_path, f"quarantine_prune_{run_id}.json"), result
        )
    return result
