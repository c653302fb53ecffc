"""Promote a staging-mode run: publish what it left sealed in staging, after its gate passed.

With ``<LAYER>_PUBLISH_MODE=staging`` a dims, Base Silver or Enriched run verifies and seals its
partitions under ``<layer root>/_staging/<run_id>/`` and records them in ``_pending.json``
(`storage.mark_pending`); readers see nothing of it. `promote(settings, layer, run_id)` then
publishes them with `storage.promote` (one atomic journal, like a direct run) under the lease the
layer's writers take, and does what a direct run does after its publish:

- dims: moves ``<dims>/_latest.json`` to the promoted snapshot (never backwards);
- silver: marks the run's ledger promoted;
- enriched: moves the gated ``_latest`` pointer (`enriched.current.publish_current`) and marks the
  run record published.

Idempotent: each promote leaves a record ``<metrics>/promote_<layer>_<run_id>.json``; promoting a
run again is a no-op that says so. The record is written ("promoting") before the publish, so a
promote killed after its publish but before its follow-up steps is finished by the next promote.
A run id with nothing staged and no record is an error (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ecomlake import ids, locks, storage
from ecomlake.config import Settings
from ecomlake.errors import InputError
from ecomlake.runs import utc_now_iso

LAYERS = ("dims", "silver", "enriched")
PENDING_NAME = "_pending.json"
RECORD_PREFIX = "promote_"


@dataclass
class PromoteResult:
    layer: str
    run_id: str
    status: str  # "promoted" | "already promoted"
    partitions: list[str] = field(default_factory=list)  # "<table>/<partition>"
    day: str | None = None  # snapshot_dt (dims) or ingest_dt (silver, enriched)
    record_path: str = ""
    message: str = ""

    @property
    def noop(self) -> bool:
        return self.status != "promoted"


def layer_root(settings: Settings, layer: str) -> str:
    if layer == "dims":
        return settings.paths.silver_dims_path
    if layer == "silver":
        return settings.paths.silver_base_path
    if layer == "enriched":
        return settings.paths.silver_enriched_path
    raise InputError(f"unknown layer {layer!r} to promote (expected one of: {', '.join(LAYERS)})")


def publish_mode(settings: Settings, layer: str) -> str:
    layer_root(settings, layer)  # validates the name
    return str(getattr(settings.publish, f"{layer}_publish_mode"))


def record_path(settings: Settings, layer: str, run_id: str) -> str:
    return storage.join(settings.paths.metrics_base_path, f"{RECORD_PREFIX}{layer}_{run_id}.json")


def pending_of(settings: Settings, layer: str, run_id: str) -> dict | None:
    """The `_pending.json` a staging-mode run left (None when nothing is staged for it)."""
    path = storage.join(storage.staging_root(layer_root(settings, layer), run_id), PENDING_NAME)
    return storage.read_json(path) if storage.exists(path) else None


def _day_of(partitions: list[dict]) -> str | None:
    days = sorted({p["partition"].split("=", 1)[1] for p in partitions if "=" in str(p.get("partition", ""))})
    return days[-1] if days else None


def _leases(settings: Settings, layer: str, partitions: list[dict], run_id: str) -> list[locks.Lease]:
    """The leases the layer's writers take: dims and enriched the whole layer, silver each day."""
    root = layer_root(settings, layer)
    holder = f"promote_{run_id}"
    timeout = locks.timeout_of(settings)
    if layer != "silver":
        return [locks.acquire(root, layer, locks.ALL, holder, timeout)]
    taken: list[locks.Lease] = []
    try:
        days = sorted({p["partition"].split("=", 1)[1] for p in partitions if "=" in str(p.get("partition", ""))})
        for day in days:
            taken.append(locks.acquire(root, "silver", day, holder, timeout))
    except BaseException:
        for lease in reversed(taken):
            lease.release()
        raise
    return taken


def _live_is(partition: dict, run_id: str) -> bool:
    """True when the live partition holds the version this run sealed (its manifest names the run)."""
    manifest = storage.join(partition["final"], storage.MANIFEST_NAME)
    if not storage.exists(manifest):
        return False
    try:
        return storage.read_json(manifest).get("run_id") == run_id
    except (ValueError, OSError):
        return False


def _rows_of(partition: dict) -> int:
    manifest = storage.read_json(storage.join(partition["final"], storage.MANIFEST_NAME))
    return int(manifest.get("total_rows", 0))


# --------------------------------------------------------------------------- after the publish


def _after_dims(settings: Settings, run_id: str, partitions: list[dict], day: str | None) -> str:
    """Move `_latest.json` to the promoted snapshot, as a direct dims run does (never backwards)."""
    from ecomlake.dims.snapshot import DimsRun, write_latest

    if day is None:
        return ""
    run = DimsRun(run_id=run_id, snapshot_dt=day)
    run.rows = {p["table"]: _rows_of(p) for p in partitions if storage.isdir(p["final"])}
    if write_latest(settings, run):
        return f"; {storage.join(settings.paths.silver_dims_path, '_latest.json')} points at {day}"
    return f"; _latest.json stays at a newer snapshot than {day}"


def _after_silver(settings: Settings, run_id: str, partitions: list[dict], day: str | None) -> str:
    path = storage.join(settings.paths.metrics_base_path, f"silver_run_{run_id}.json")
    if storage.exists(path):
        ledger = storage.read_json(path)
        ledger.update(status="published", promoted_at=utc_now_iso())
        storage.write_json_atomic(path, ledger)
    return ""


def _after_enriched(settings: Settings, run_id: str, partitions: list[dict], day: str | None) -> str:
    from ecomlake.enriched.current import publish_current
    from ecomlake.enriched.runner import run_record_path

    path = run_record_path(settings, run_id)
    if not storage.exists(path):
        return ""
    record = storage.read_json(path)
    line = publish_current(settings, record["ingest_dt"], run_id, "PROMOTED")
    record.update(status="published", staging_root=None, promoted_at=utc_now_iso())
    storage.write_json_atomic(path, record)
    return f"; {line}"


_AFTER: dict[str, Callable[[Settings, str, list[dict], str | None], str]] = {
    "dims": _after_dims,
    "silver": _after_silver,
    "enriched": _after_enriched,
}


# ------------------------------------------------------------------------------------ promote


def promote(settings: Settings, layer: str, run_id: str) -> PromoteResult:
    """Publish the partitions staging-mode run `run_id` of `layer` left pending; see the module doc.

    Raises InputError (exit 2) for an unknown layer or run id, or when nothing is staged for the
    run and no earlier promote of it is recorded; LeaseHeld (exit 2) while a writer holds the layer.
    """
    ids.run_id(run_id)
    root = layer_root(settings, layer)
    rec_path = record_path(settings, layer, run_id)
    # The lease comes first, like every writer's: while a writer holds the layer, what is staged may
    # still change. Silver's leases are per day, so its staged days are read first to know which.
    pending = pending_of(settings, layer, run_id)
    record = storage.read_json(rec_path) if storage.exists(rec_path) else None
    partitions = (pending or record or {}).get("partitions", [])
    leases = _leases(settings, layer, partitions, run_id)
    try:
        storage.settle(root)  # finish a publish a killed promote committed
        pending = pending_of(settings, layer, run_id)
        record = storage.read_json(rec_path) if storage.exists(rec_path) else record
        if pending is None and record is None:
            raise InputError(
                f"nothing staged for {layer} run {run_id} under {storage.join(root, storage.STAGING_DIR)} and no "
                f"promote of it is recorded ({rec_path}); check the run id (its staging-mode run prints it)"
            )
        result = PromoteResult(layer, run_id, "promoted", record_path=rec_path)
        if pending is None and record is not None and record.get("status") == "promoted":
            result.status = "already promoted"
            result.partitions = [f"{p['table']}/{p['partition']}" for p in record.get("partitions", [])]
            result.day = record.get("day")
            result.message = (
                f"{layer} run {run_id} was already promoted at {record.get('promoted_at')}: nothing to do "
                f"({len(result.partitions)} partitions live)"
            )
            return result
        if pending is not None:
            partitions = pending.get("partitions", [])
            day = _day_of(partitions)
            storage.write_json_atomic(
                rec_path,
                {
                    "layer": layer,
                    "run_id": run_id,
                    "layer_root": root,
                    "gate": pending.get("gate"),
                    "day": day,
                    "status": "promoting",
                    "started_at": utc_now_iso(),
                    "partitions": partitions,
                },
            )
            if all(not storage.isdir(p["staged"]) and _live_is(p, run_id) for p in partitions):
                storage.release_staging(root, run_id)  # published before a crash; only the bookkeeping is left
            else:
                storage.promote(root, run_id)
        else:  # a killed promote: published, its follow-up steps not done
            partitions = record.get("partitions", []) if record else []
            day = record.get("day") if record else None
            stale = [p["final"] for p in partitions if not _live_is(p, run_id)]
            if stale:
                raise InputError(
                    f"{layer} run {run_id}: its promote was interrupted and {stale[0]} does not hold the run's "
                    f"version (nothing is staged any more); rerun the layer for {day}"
                )
        tail = _AFTER[layer](settings, run_id, partitions, day)
        done = storage.read_json(rec_path)
        done.update(status="promoted", promoted_at=utc_now_iso())
        storage.write_json_atomic(rec_path, done)
        result.partitions = [f"{p['table']}/{p['partition']}" for p in partitions]
        result.day = day
        result.message = f"{layer} run {run_id}: {len(partitions)} partitions published{tail}"
        return result
    finally:
        for lease in reversed(leases):
            lease.release()
