"""`ecomlake bronze validate --rewrite-manifest`: the runbook's "Regenerate manifest" (section 1).

A manifest that disagrees with its partition (missing, not valid JSON, wrong row counts, a stale
checksum, a file it does not list) is rewritten from the files on disk, but only when the files
themselves are intact, so a rewrite can never bless a damaged partition:

- the partition has `_SUCCESS` (its writer finished);
- it has at least one data file, and every one starts and ends with PAR1, opens, and decodes in
  full (every page is read, not only the footer);
- every file has the contract's required columns with compatible types.

Otherwise nothing is written and the partition fails the gate as before, naming the file and the
check. Fields of the old manifest that still hold (batch_id, event date range, generator version)
are kept; the rewrite is recorded in ``regenerated_at`` and ``regenerated_from``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ecomlake import contract, storage
from ecomlake.errors import InputError
from ecomlake.runs import utc_now_iso

REWRITTEN, REFUSED, UNCHANGED = "rewritten", "refused", "unchanged"


@dataclass
class Rewrite:
    table: str
    partition: str  # ingest_dt=YYYY-MM-DD
    outcome: str  # rewritten | refused | unchanged
    findings: list[str] = field(default_factory=list)  # what the old manifest got wrong, or why refused
    rows: int = 0
    files: int = 0

    def line(self) -> str:
        where = f"{self.table}/{self.partition}"
        if self.outcome == REWRITTEN:
            return (
                f"manifest rewritten: {where}: {self.files} files, {self.rows:,} rows "
                f"(the old one failed: {'; '.join(self.findings)})"
            )
        if self.outcome == REFUSED:
            return f"manifest NOT rewritten: {where}: {'; '.join(self.findings)}"
        return f"manifest unchanged: {where}: it already matches its files"


def _file_problems(table: str, name: str, data: pa.Table | None, error: str | None) -> list[str]:
    from ecomlake.bronze.validate import compatible_type

    if error is not None:
        return [f"{name} {error}"]
    assert data is not None
    t = contract.table(table)
    expected = t.bronze_schema()
    required = set(t.required_columns) | set(contract.LINEAGE_COLUMNS)
    out = []
    for f in expected:
        idx = data.schema.get_field_index(f.name)
        if idx < 0:
            if f.name in required:
                out.append(f"{name} lacks required column {f.name}")
        elif not compatible_type(data.schema.field(idx).type, f.type):
            out.append(f"{name} column {f.name} is {data.schema.field(idx).type}, the contract says {f.type}")
    return out


def _event_range(table: str, tables: list[pa.Table]) -> tuple[str | None, str | None]:
    col = contract.table(table).event_date_column
    values = [t.column(col) for t in tables if col and col in t.column_names and t.num_rows]
    if not values:
        return None, None
    days = []
    for v in values:
        head = pc.utf8_slice_codeunits(v.cast(pa.string()), 0, 10)
        parsed = pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True)
        days.append(pc.min_max(parsed).as_py())
    lows = [d["min"] for d in days if d["min"] is not None]
    highs = [d["max"] for d in days if d["max"] is not None]
    return (min(lows).date().isoformat() if lows else None, max(highs).date().isoformat() if highs else None)


def _old_manifest_findings(old: dict | None, old_error: str | None, entries: list[dict]) -> list[str]:
    if old_error is not None:
        return [old_error]
    if old is None:
        return ["no manifest"]
    findings = []
    listed = {}
    for e in old.get("files") or []:
        if isinstance(e, dict) and isinstance(e.get("path"), str):
            listed[e["path"].rstrip("/").rsplit("/", 1)[-1]] = e
    on_disk = {e["path"]: e for e in entries}
    for name in sorted(set(listed) - set(on_disk)):
        findings.append(f"lists {name}, which is missing")
    for name in sorted(set(on_disk) - set(listed)):
        findings.append(f"does not list {name}")
    for name in sorted(set(listed) & set(on_disk)):
        if listed[name].get("rows") != on_disk[name]["rows"]:
            findings.append(f"says {name} has {listed[name].get('rows')} rows, it has {on_disk[name]['rows']}")
        digest = str(listed[name].get("sha256") or listed[name].get("checksum") or "").lower()
        digest = digest.removeprefix("sha256:")
        if digest != on_disk[name]["sha256"]:
            findings.append(f"has a stale sha256 for {name}")
    total = sum(e["rows"] for e in entries)
    if old.get("total_rows") != total:
        findings.append(f"total_rows {old.get('total_rows')!r}, the files hold {total}")
    return findings


def rewrite_partition(root: str, table: str, day: str) -> Rewrite:
    """Rewrite one partition's manifest from its files when they are intact (see the module doc)."""
    partition = storage.partition_name(day, contract.PARTITION_KEY)
    pdir = storage.partition_path(root, table, day, contract.PARTITION_KEY)
    result = Rewrite(table, partition, REFUSED)
    if not storage.exists(storage.join(pdir, storage.SUCCESS_NAME)):
        result.findings.append(
            f"no {storage.SUCCESS_NAME}: its writer may still be running or crashed; re-run the export "
            f"(or, once you know the files are complete, create {storage.SUCCESS_NAME} and run this again)"
        )
        return result
    files = storage.list_data_files(pdir)
    if not files:
        result.findings.append("no data files to describe")
        return result
    entries: list[dict] = []
    tables: list[pa.Table] = []
    for path in files:
        name = path.rsplit("/", 1)[-1]
        data, error = None, None
        if not storage.has_parquet_magic(path):
            error = "does not start and end with PAR1 (truncated or not parquet)"
        else:
            try:
                data = storage.read_table(path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                error = f"does not decode as parquet: {first}"
        result.findings += _file_problems(table, name, data, error)
        if data is not None:
            tables.append(data)
            entries.append({"path": name, "rows": data.num_rows, "sha256": storage.sha256_file(path)})
    if result.findings:
        result.findings.append("delete the damaged file and re-run the export for this partition")
        return result
    try:
        old, old_error = storage.read_manifest(pdir), None
    except InputError as exc:
        old, old_error = None, exc.message.split(":", 1)[0]
    findings = _old_manifest_findings(old, old_error, entries)
    result.rows, result.files = sum(e["rows"] for e in entries), len(entries)
    if not findings:
        result.outcome = UNCHANGED
        return result
    keep = old or {}
    batch = keep.get("batch_id")
    if not batch:
        ids = {v for t in tables if "batch_id" in t.column_names for v in pc.unique(t.column("batch_id")).to_pylist()}
        batch = ids.pop() if len(ids) == 1 else None
    low, high = _event_range(table, tables)
    manifest = {
        "schema_version": keep.get("schema_version", storage.MANIFEST_SCHEMA_VERSION),
        "table": table,
        "partition": partition,
        "batch_id": batch,
        "created_at": keep.get("created_at") or utc_now_iso(),
        "files": entries,
        "total_rows": result.rows,
        "min_event_dt": low,
        "max_event_dt": high,
        **{k: keep[k] for k in ("generator_version", "seed") if k in keep},
        "regenerated_at": utc_now_iso(),
        "regenerated_from": "the partition's files, by `ecomlake bronze validate --rewrite-manifest`",
    }
    # `_manifest.json` is read before a legacy `_MANIFEST.json`, so the rewrite wins either way.
    storage.write_json_atomic(storage.join(pdir, storage.MANIFEST_NAME), manifest)
    result.outcome = REWRITTEN
    result.findings = findings
    return result


def _is_date(value: str) -> bool:
    try:
        return dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def rewrite_manifests(root: str, tables: list[str], window: list[str] | None) -> list[Rewrite]:
    """Every partition of `tables` in `window` (every partition when None) whose manifest is wrong."""
    out = []
    for table in tables:
        for day in storage.list_partitions(root, table, contract.PARTITION_KEY):
            if not _is_date(day) or (window is not None and day not in window):
                continue  # the gate reports partition names that are not dates
            out.append(rewrite_partition(root, table, day))
    return out
