"""Recovery ledger: what `quarantine recover` changed, kept in the lake so that nothing undoes it.

One partition per table and date, next to the quarantine, published in the SAME journal as the
Silver and quarantine partitions a recovery changes (so it exists exactly when they changed)::

    <quarantine root>/_recoveries/<table>/ingest_dt=D/
        silver-<run_id>.parquet   the rows the recovery added to Silver D (exact Silver rows)
        moved-<run_id>.parquet    _source_sha256 of every quarantined row it took out of quarantine
        kept-<run_id>.parquet     the still-failing rows it rewrote (quarantine columns + _source_sha256)
        _manifest.json            the files, and `recoveries`: one entry per recovery, in order

A row's ``_source_sha256`` hashes its Bronze columns as they stood in quarantine, so a rerun of
Base Silver for D (which rebuilds quarantine D from Bronze) can find the same rows again and
re-apply every recovery in order (`replay`). A recovery is re-applied whole or not at all: when a
row it took is no longer in quarantine (Bronze changed) or one of its keys is already in Silver, it
is skipped and reported, and the rerun's rows stay exactly as Bronze gives them.

Enriched reads the ledger too: every recovery not yet in its applied list
(``<enriched>/_state/recoveries/``) widens the business dates the next run recomputes.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.contract import CONTRACT

LEDGER_DIR = "_recoveries"
SOURCE = "_source_sha256"


def ledger_root(settings: Settings) -> str:
    return storage.join(settings.paths.quarantine_path, LEDGER_DIR)


def ledger_dir(settings: Settings, table: str, day: str) -> str:
    return storage.partition_path(ledger_root(settings), table, day)


def ledger_dates(settings: Settings, table: str) -> list[str]:
    return storage.list_partitions(ledger_root(settings), table)


def row_hashes(tbl: pa.Table, table: str) -> list[str]:
    """sha256 of each row's Bronze columns (in contract order), as stored in quarantine."""
    cols = [c for c in CONTRACT[table].bronze_column_names if c in tbl.column_names]
    if tbl.num_rows == 0:
        return []
    values = [tbl.column(c).to_pylist() for c in cols]
    out = []
    for row in zip(*values, strict=True):
        text = json.dumps(list(row), default=str, separators=(",", ":"), ensure_ascii=False)
        out.append(hashlib.sha256(text.encode()).hexdigest())
    return out


def entries(settings: Settings, table: str, day: str) -> list[dict]:
    """The recoveries recorded for table/D, oldest first ([] when none)."""
    part = ledger_dir(settings, table, day)
    if not storage.isdir(part):
        return []
    manifest = storage.read_manifest(part) or {}
    return list(manifest.get("recoveries", []))


def _write(tbl: pa.Table, path: str) -> None:
    if storage.is_remote(path):
        fs, p = storage.fs_for(path)
        with fs.open(p, "wb") as fh:
            pq.write_table(tbl, fh, compression="zstd")
    else:
        pq.write_table(tbl, path, compression="zstd")


def silver_files(settings: Settings, table: str, day: str, run_ids: list[str] | None = None) -> list[str]:
    """The ledger's Silver row files of table/D (of the given recoveries only, when named)."""
    part = ledger_dir(settings, table, day)
    want = None if run_ids is None else {f"silver-{r}.parquet" for r in run_ids}
    return [
        f
        for f in storage.partition_files(part)
        if f.rsplit("/", 1)[-1].startswith("silver-")
        and (want is None or storage.logical_name(f.rsplit("/", 1)[-1]) in want)
    ]


def stage(
    settings: Settings,
    run_id: str,
    table: str,
    day: str,
    entry: dict,
    silver_rows: pa.Table,
    moved: list[str],
    kept: pa.Table | None,
) -> storage.Publish:
    """Stage the ledger partition of table/D with this recovery appended; the caller publishes it
    together with Silver D and quarantine D."""
    from ecomlake.quarantine.recover import _stage_copy

    silver_root = settings.paths.silver_base_path
    final = ledger_dir(settings, table, day)
    part = storage.partition_name(day)
    staged = storage.staging_path(silver_root, run_id, f"{LEDGER_DIR}/{table}", part)
    storage.remove_tree(staged, silver_root)
    storage.makedirs(staged)
    previous = entries(settings, table, day)
    for f in storage.partition_files(final) if storage.isdir(final) else []:
        _stage_copy(f, storage.join(staged, f.rsplit("/", 1)[-1]))
    _write(silver_rows, storage.join(staged, f"silver-{run_id}.parquet"))
    _write(pa.table({SOURCE: pa.array(moved, pa.string())}), storage.join(staged, f"moved-{run_id}.parquet"))
    if kept is not None and kept.num_rows:
        _write(kept, storage.join(staged, f"kept-{run_id}.parquet"))
    return storage.Publish(
        staged,
        final,
        table,
        part,
        extra={"layer": "recovery_ledger", "recoveries": [*previous, entry]},
        root=settings.paths.quarantine_path,
    )


@dataclass
class Replay:
    """What re-applying the ledger of table/D did to a fresh Base Silver build."""

    silver_extra: list[tuple[str, pa.Table]] = field(default_factory=list)  # (run id, rows) to add to Silver
    quarantine: pa.Table | None = None  # the new quarantine rows (None: unchanged)
    applied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # run id -> why
    rows_moved: int = 0

    def to_dict(self) -> dict:
        return {"applied": self.applied, "skipped": self.skipped, "rows_moved": self.rows_moved}


def _key_set(tbl: pa.Table, table: str) -> set[tuple]:
    pk = CONTRACT[table].primary_key
    if tbl.num_rows == 0:
        return set()
    cols = [tbl.column(k).to_pylist() for k in pk]
    return {tuple(None if v is None else str(v).strip() for v in row) for row in zip(*cols, strict=True)}


def replay(
    settings: Settings, table: str, day: str, silver_schema: pa.Schema, silver_keys: pa.Table, quarantine: pa.Table
) -> Replay:
    """Re-apply every recorded recovery of table/D, in order, to freshly built Silver and quarantine rows.

    `silver_keys` holds the primary key columns of the fresh Silver rows (to refuse a duplicate key).
    """
    out = Replay()
    recorded = entries(settings, table, day)
    if not recorded:
        return out
    part = ledger_dir(settings, table, day)
    names = {storage.logical_name(f.rsplit("/", 1)[-1]): f for f in storage.partition_files(part)}
    q = quarantine
    keys = _key_set(silver_keys, table)
    for entry in recorded:
        rid = entry["run_id"]
        s_name, m_name, k_name = f"silver-{rid}.parquet", f"moved-{rid}.parquet", f"kept-{rid}.parquet"
        if s_name not in names or m_name not in names:
            out.skipped[rid] = "its ledger files are missing"
            continue
        rows = storage.read_table(names[s_name])
        moved = storage.read_table(names[m_name]).column(SOURCE).to_pylist()
        kept = storage.read_table(names[k_name]) if k_name in names else None
        index: dict[str, list[int]] = defaultdict(list)
        for i, h in enumerate(row_hashes(q, table)):
            index[h].append(i)
        taken: list[int] = []
        missing = 0
        wanted = moved + (kept.column(SOURCE).to_pylist() if kept is not None else [])
        for h in wanted:
            if index.get(h):
                taken.append(index[h].pop())
            else:
                missing += 1
        if missing:
            out.skipped[rid] = f"{missing} of its {len(wanted)} rows are no longer in quarantine (Bronze changed?)"
            continue
        new_keys = _key_set(rows, table)
        if len(moved) != rows.num_rows:
            out.skipped[rid] = f"its ledger is inconsistent ({len(moved)} rows moved, {rows.num_rows} Silver rows)"
            continue
        if new_keys & keys or len(new_keys) != rows.num_rows:
            out.skipped[rid] = "its rows' keys are already in Silver"
            continue
        try:
            kept_rows = kept.drop_columns([SOURCE]).select(q.column_names).cast(q.schema) if kept is not None else None
            rows = rows.select(silver_schema.names).cast(silver_schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            out.skipped[rid] = f"its rows no longer match the table's columns ({exc})"
            continue
        drop = set(taken)
        remaining = q.filter(pa.array([i not in drop for i in range(q.num_rows)], pa.bool_()))
        q = pa.concat_tables([remaining, kept_rows]) if kept_rows is not None else remaining
        keys |= new_keys
        out.silver_extra.append((rid, rows))
        out.applied.append(rid)
        out.rows_moved += rows.num_rows
    if out.applied:
        out.quarantine = q
    return out
