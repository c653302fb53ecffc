"""Bronze quality gate (`ecomlake bronze validate`).

Per table and ingest_dt partition: the partition exists, its manifest is present and valid, the
manifest's row counts equal the parquet footers, every listed file exists and every file present
is listed, checksums match, every file starts and ends with PAR1 and its footer opens, the schema
matches the contract column by column (a type Silver can cast is a WARN naming the column, the
contract's type and the arrived type; a type it cannot cast is a FAIL), and `_SUCCESS` is present.
Only footers are read (plus a streaming sha256 of each file), never row data, so the gate stays
fast on large partitions.

Unlike the predecessor's gate, nothing is skipped: a corrupt file, a table without partitions or a
partition still being written is a FAIL that names the table, partition and file.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import contract, ids, storage
from ecomlake.bronze import coerce
from ecomlake.config import Settings
from ecomlake.errors import InputError
from ecomlake.quality.gate import Check, CheckName, GateResult, Status, finish, fmt_int, md_table, worst
from ecomlake.runs import date_window, parse_date, resolve_run_id

GATE = "bronze_quality"
KEY = contract.PARTITION_KEY

# Per-table PASS summaries are written for these checks when nothing went wrong, so the metrics
# show what was verified, not only what failed.
_PARTITION_CHECKS = (
    CheckName.TABLE_PRESENT,
    CheckName.PARTITION_NAME,
    CheckName.PARTITION_PRESENT,
    CheckName.MANIFEST_PRESENT,
    CheckName.MANIFEST_VALID,
    CheckName.MANIFEST_ROWS,
    CheckName.MANIFEST_FILE_PRESENT,
    CheckName.FILE_LISTED,
    CheckName.CHECKSUM,
    CheckName.PARQUET_MAGIC,
    CheckName.PARQUET_READABLE,
    CheckName.COLUMN_PRESENT,
    CheckName.COLUMN_TYPE,
    CheckName.UNEXPECTED_COLUMN,
    CheckName.SUCCESS_MARKER,
    CheckName.MIN_ROWS,
)


# ------------------------------------------------------------------------------ type checks


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def compatible_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    """True when a Bronze column of type `actual` can stand in for the contract's `expected` type.

    Accepted: the same type; any string flavour for string; a narrower integer for int64; any
    float or integer for float64 (Silver casts to DECIMAL either way); dictionary encoding of an
    accepted type; and the null type (a column that is null in the whole file).
    """
    if pa.types.is_null(actual):
        return True
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if _is_string(expected):
        return _is_string(actual)
    if pa.types.is_int64(expected):
        return pa.types.is_integer(actual) and not pa.types.is_uint64(actual)
    if pa.types.is_float64(expected):
        return pa.types.is_floating(actual) or (pa.types.is_integer(actual) and not pa.types.is_uint64(actual))
    if pa.types.is_boolean(expected):
        return pa.types.is_boolean(actual)
    return actual.equals(expected)


def read_footer(path: str) -> pq.FileMetaData:
    """The parquet footer of a local or remote file (raises on a corrupt file)."""
    if storage.is_remote(path):
        fs, p = storage.fs_for(path)
        with fs.open(p, "rb") as fh:
            return pq.read_metadata(fh)
    return pq.read_metadata(path)


def _checksum_of(entry: dict) -> tuple[str | None, str | None]:
    """(hex digest, key) from a manifest file entry: `sha256`, or the legacy `checksum`."""
    for key in ("sha256", "checksum"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip().lower()
            if value.startswith("sha256:"):
                value = value[len("sha256:") :]
            return value, key
    return None, None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _names(files: list[str], limit: int = 5) -> str:
    shown = ", ".join(files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


# ------------------------------------------------------------------------------ bookkeeping


@dataclass
class PartitionReport:
    table: str
    partition: str  # ingest_dt=YYYY-MM-DD
    present: bool = True
    files: int = 0
    rows: int = 0  # rows in the footers of the files that opened
    manifest_rows: int | None = None
    manifest: str | None = None  # manifest file name found
    success_marker: bool = False
    status: Status = Status.PASS
    findings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "table_name": self.table,
            "partition": self.partition,
            "status": self.status.value,
            "present": self.present,
            "files": self.files,
            "rows": self.rows,
            "manifest_rows": self.manifest_rows,
            "manifest": self.manifest,
            "success_marker": self.success_marker,
            "findings": self.findings,
        }


class _TableRun:
    """Collects one table's findings; emits one PASS summary per check that found nothing."""

    def __init__(self, result: GateResult, table: str, root: str):
        self.result = result
        self.table = table
        self.root = root
        self.evaluated: dict[str, int] = defaultdict(int)
        self.problems: dict[str, int] = defaultdict(int)
        self.partitions: list[PartitionReport] = []
        self.files_by_issue: dict[str, list[str]] = defaultdict(list)
        self.schema_drift: list[dict] = []

    def rel(self, path: str) -> str:
        root = self.root.rstrip("/") + "/"
        return path[len(root) :] if path.startswith(root) else path

    def seen(self, name: str, n: int = 1) -> None:
        self.evaluated[name] += n

    def problem(
        self,
        name: str,
        status: Status,
        message: str,
        *,
        part: PartitionReport | None = None,
        action: str | None = None,
        observed: Any = None,
        threshold: Any = None,
        files: list[str] | None = None,
    ) -> None:
        self.problems[name] += 1
        self.result.add(
            Check(
                name,
                status,
                message,
                table=self.table,
                partition=part.partition if part else None,
                observed=observed,
                threshold=threshold,
                action=action,
            )
        )
        if part is not None:
            part.findings.append(f"{status.value} {name}: {message}")
            if status.rank > part.status.rank:
                part.status = status
        for f in files or ():
            self.files_by_issue[name].append(f)

    def close(self) -> None:
        for name in _PARTITION_CHECKS:
            if self.evaluated.get(name) and not self.problems.get(name):
                self.result.add(Check(name, Status.PASS, f"{self.evaluated[name]:,} verified", table=self.table))


# ------------------------------------------------------------------------------ checks


def _rerun(table: str, partition: str) -> str:
    return f"re-run the upstream export for {table} {partition}"


def _check_schema(run: _TableRun, part: PartitionReport, schemas: dict[str, pa.Schema]) -> None:
    """Compare every file's schema with the contract and report drift by column."""
    tbl = contract.table(run.table)
    expected = tbl.bronze_schema()
    required = set(tbl.required_columns) | set(contract.LINEAGE_COLUMNS)
    missing: dict[str, list[str]] = defaultdict(list)
    wrong: dict[tuple[str, str], list[str]] = defaultdict(list)
    castable: dict[tuple[str, str], list[str]] = defaultdict(list)
    extra: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rel, schema in schemas.items():
        run.seen(CheckName.COLUMN_PRESENT, len(expected))
        run.seen(CheckName.COLUMN_TYPE, len(expected))
        run.seen(CheckName.UNEXPECTED_COLUMN)
        for f in expected:
            idx = schema.get_field_index(f.name)
            if idx < 0:
                missing[f.name].append(rel)
                continue
            arrived = schema.field(idx).type
            bronze = tbl.column(f.name).bronze if f.name in tbl.column_names else contract.STRING
            verdict = coerce.verdict(arrived, bronze)
            if verdict == coerce.CASTABLE:
                castable[(f.name, str(arrived))].append(rel)
            elif verdict == coerce.INCOMPATIBLE:
                wrong[(f.name, str(arrived))].append(rel)
        for f in schema:
            if expected.get_field_index(f.name) < 0:
                extra[(f.name, str(f.type))].append(rel)
    where = f"{run.table} {part.partition}"
    for col, files in missing.items():
        status = Status.FAIL if col in required else Status.WARN
        kind = "required" if col in required else "optional"
        run.problem(
            CheckName.COLUMN_PRESENT,
            status,
            f"{where}: {kind} column {col} is missing from {_names(files)}",
            part=part,
            observed=col,
            files=files,
            action=f"fix the exporter's schema for {run.table} and {_rerun(run.table, part.partition)}",
        )
        run.schema_drift.append(
            {"partition": part.partition, "column": col, "issue": "missing", "status": status.value, "files": files}
        )
    for (col, typ), files in wrong.items():
        want = str(expected.field(col).type)
        run.problem(
            CheckName.COLUMN_TYPE,
            Status.FAIL,
            f"{where}: column {col} is {typ} in {_names(files)}, the contract says {want}, and {typ} cannot be cast "
            "to it (Base Silver refuses this partition)",
            part=part,
            observed=typ,
            threshold=want,
            files=files,
            action=f"write {col} as {want} in the exporter and {_rerun(run.table, part.partition)}",
        )
        run.schema_drift.append(
            {
                "partition": part.partition,
                "column": col,
                "issue": "type_change",
                "status": "FAIL",
                "actual_type": typ,
                "contract_type": want,
                "files": files,
            }
        )
    for (col, typ), files in castable.items():
        want = str(expected.field(col).type)
        run.problem(
            CheckName.COLUMN_TYPE,
            Status.WARN,
            f"{where}: column {col} is {typ} in {_names(files)}, the contract says {want}; Silver casts it "
            "(values that do not cast are quarantined, their text kept)",
            part=part,
            observed=typ,
            threshold=want,
            files=files,
            action=f"write {col} as {want} in the exporter if you can; nothing is lost meanwhile",
        )
        run.schema_drift.append(
            {
                "partition": part.partition,
                "column": col,
                "issue": "type_change",
                "status": "WARN",
                "actual_type": typ,
                "contract_type": want,
                "files": files,
            }
        )
    for (col, typ), files in extra.items():
        run.problem(
            CheckName.UNEXPECTED_COLUMN,
            Status.WARN,
            f"{where}: column {col} ({typ}) is not in the contract, found in {_names(files)}",
            part=part,
            observed=col,
            files=files,
            action=f"add {col} to ecomlake.contract if it is intended; Silver ignores it until then",
        )
        run.schema_drift.append(
            {
                "partition": part.partition,
                "column": col,
                "issue": "unexpected",
                "status": "WARN",
                "actual_type": typ,
                "files": files,
            }
        )


def _read_manifest(run: _TableRun, part: PartitionReport, pdir: str) -> dict | None:
    """The manifest when present and well-formed; otherwise records why and returns None."""
    table, partition = run.table, part.partition
    run.seen(CheckName.MANIFEST_PRESENT)
    mpath = storage.find_manifest(pdir)
    if mpath is None:
        expected = run.rel(storage.join(pdir, storage.MANIFEST_NAME))
        run.problem(
            CheckName.MANIFEST_PRESENT,
            Status.FAIL,
            f"{table} {partition}: manifest {expected} is missing (no _MANIFEST.json either), so rows and "
            "checksums cannot be verified",
            part=part,
            files=[expected],
            action=_rerun(table, partition),
        )
        return None
    part.manifest = mpath.rsplit("/", 1)[-1]
    rel = run.rel(mpath)
    run.seen(CheckName.MANIFEST_VALID)
    try:
        manifest = storage.read_manifest(pdir)
    except InputError:
        run.problem(
            CheckName.MANIFEST_VALID,
            Status.FAIL,
            f"{table} {partition}: manifest {rel} is not a valid JSON object",
            part=part,
            files=[rel],
            action=_rerun(table, partition),
        )
        return None
    except OSError as exc:
        run.problem(
            CheckName.MANIFEST_VALID,
            Status.FAIL,
            f"{table} {partition}: manifest {rel} cannot be read: {exc}",
            part=part,
            files=[rel],
            action=_rerun(table, partition),
        )
        return None
    if manifest is None:  # it was there a moment ago: removed by a concurrent rewrite of the partition
        run.problem(
            CheckName.MANIFEST_VALID,
            Status.FAIL,
            f"{table} {partition}: manifest {rel} disappeared while it was being read; rerun the validation",
            part=part,
            files=[rel],
            action=_rerun(table, partition),
        )
        return None

    problems: list[str] = []
    if not _is_count(manifest.get("total_rows")):
        problems.append(f"total_rows is {manifest.get('total_rows')!r}, expected a non-negative integer")
    files = manifest.get("files")
    if not isinstance(files, list):
        problems.append("files[] is missing, so files, rows and checksums cannot be verified")
    else:
        seen_names: set[str] = set()
        for i, entry in enumerate(files):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("path"), str)
                or not _is_count(entry.get("rows"))
            ):
                problems.append(f"files[{i}] needs a 'path' string and a non-negative integer 'rows'")
                continue
            name = entry["path"].rstrip("/").rsplit("/", 1)[-1]
            if name in seen_names:
                problems.append(f"files[] lists {name} twice")
            seen_names.add(name)
    if manifest.get("table") not in (None, table):
        problems.append(f"it belongs to table {manifest.get('table')!r}")
    value = partition.split("=", 1)[1]
    if manifest.get("partition") not in (None, partition, value):
        problems.append(f"it belongs to partition {manifest.get('partition')!r}")
    if problems:
        run.problem(
            CheckName.MANIFEST_VALID,
            Status.FAIL,
            f"{table} {partition}: manifest {rel}: " + "; ".join(problems),
            part=part,
            files=[rel],
            action=_rerun(table, partition),
        )
        return None
    return manifest


def check_partition(run: _TableRun, pdir: str, value: str, min_rows: int) -> PartitionReport:
    """Every integrity and schema check of one partition directory."""
    table = run.table
    part = PartitionReport(table, storage.partition_name(value, KEY))
    partition = part.partition
    run.partitions.append(part)

    run.seen(CheckName.SUCCESS_MARKER)
    part.success_marker = storage.exists(storage.join(pdir, storage.SUCCESS_NAME))
    if not part.success_marker:
        run.problem(
            CheckName.SUCCESS_MARKER,
            Status.FAIL,
            f"{table} {partition}: no {storage.SUCCESS_NAME} marker, so the partition may still be being written "
            "or its writer crashed",
            part=part,
            action=f"wait for the running export to finish, otherwise {_rerun(table, partition)}",
        )

    manifest = _read_manifest(run, part, pdir)
    entries: dict[str, dict] = {}
    mrel = run.rel(storage.join(pdir, part.manifest or storage.MANIFEST_NAME))
    if manifest is not None:
        part.manifest_rows = manifest["total_rows"]
        entries = {e["path"].rstrip("/").rsplit("/", 1)[-1]: e for e in manifest["files"]}
        listed_rows = sum(e["rows"] for e in manifest["files"])
        run.seen(CheckName.MANIFEST_ROWS)
        if listed_rows != manifest["total_rows"]:
            run.problem(
                CheckName.MANIFEST_ROWS,
                Status.FAIL,
                f"{table} {partition}: manifest {mrel} total_rows {manifest['total_rows']:,} != sum of its files[].rows "
                f"{listed_rows:,}",
                part=part,
                observed=listed_rows,
                threshold=manifest["total_rows"],
                action=_rerun(table, partition),
            )

    data_files = storage.list_data_files(pdir)
    part.files = len(data_files)
    present = {f.rsplit("/", 1)[-1]: f for f in data_files}
    schemas: dict[str, pa.Schema] = {}
    unreadable = 0

    if manifest is not None:
        run.seen(CheckName.MANIFEST_FILE_PRESENT, len(entries))
        for name in entries:
            if name not in present:
                rel = run.rel(storage.join(pdir, name))
                run.problem(
                    CheckName.MANIFEST_FILE_PRESENT,
                    Status.FAIL,
                    f"{table} {partition}: manifest lists {rel} but the file is missing",
                    part=part,
                    files=[rel],
                    action=_rerun(table, partition),
                )

    for name, path in present.items():
        rel = run.rel(path)
        entry = entries.get(name)
        if manifest is not None:
            run.seen(CheckName.FILE_LISTED)
            if entry is None:
                run.problem(
                    CheckName.FILE_LISTED,
                    Status.FAIL,
                    f"{table} {partition}: {rel} is not listed in the manifest (a stray or hand-dropped file "
                    "that readers would count)",
                    part=part,
                    files=[rel],
                    action=f"remove {rel} if it does not belong there, otherwise {_rerun(table, partition)}",
                )
        # Magic bytes: a truncated upload ends early and loses its trailing PAR1.
        run.seen(CheckName.PARQUET_MAGIC)
        try:
            magic_ok = storage.has_parquet_magic(path)
        except OSError:
            magic_ok = False
        if not magic_ok:
            unreadable += 1
            run.problem(
                CheckName.PARQUET_MAGIC,
                Status.FAIL,
                f"{table} {partition}: {rel} does not start and end with PAR1 (truncated or not parquet)",
                part=part,
                files=[rel],
                action=f"delete {rel} and {_rerun(table, partition)}",
            )
        else:
            run.seen(CheckName.PARQUET_READABLE)
            try:
                meta = read_footer(path)
                rows, schema = meta.num_rows, meta.schema.to_arrow_schema()
            except Exception as exc:  # pyarrow raises several exception types for a bad footer
                unreadable += 1
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                run.problem(
                    CheckName.PARQUET_READABLE,
                    Status.FAIL,
                    f"{table} {partition}: {rel} does not open as parquet: {first}",
                    part=part,
                    files=[rel],
                    action=f"delete {rel} and {_rerun(table, partition)}",
                )
            else:
                part.rows += rows
                schemas[rel] = schema
                if entry is not None:
                    run.seen(CheckName.MANIFEST_ROWS)
                    if entry["rows"] != rows:
                        run.problem(
                            CheckName.MANIFEST_ROWS,
                            Status.FAIL,
                            f"{table} {partition}: manifest says {rel} has {entry['rows']:,} rows, "
                            f"its footer says {rows:,}",
                            part=part,
                            files=[rel],
                            observed=rows,
                            threshold=entry["rows"],
                            action=_rerun(table, partition),
                        )
        if entry is not None:
            run.seen(CheckName.CHECKSUM)
            digest, key = _checksum_of(entry)
            if digest is None:
                run.problem(
                    CheckName.CHECKSUM,
                    Status.WARN,
                    f"{table} {partition}: manifest entry for {rel} has no sha256, so its content is not verified",
                    part=part,
                    files=[rel],
                    action="write sha256 per file in the exporter's manifest",
                )
            else:
                try:
                    actual = storage.sha256_file(path)
                except OSError as exc:
                    actual = f"unreadable ({exc})"
                if actual != digest:
                    run.problem(
                        CheckName.CHECKSUM,
                        Status.FAIL,
                        f"{table} {partition}: {rel} sha256 {actual[:12]}... does not match the manifest's "
                        f"{key} {digest[:12]}...",
                        part=part,
                        files=[rel],
                        observed=actual,
                        threshold=digest,
                        action=f"delete {rel} and {_rerun(table, partition)}",
                    )

    if manifest is not None:
        run.seen(CheckName.MANIFEST_ROWS)
        if manifest["total_rows"] != part.rows:
            note = f" ({unreadable} file(s) unreadable)" if unreadable else ""
            run.problem(
                CheckName.MANIFEST_ROWS,
                Status.FAIL,
                f"{table} {partition}: manifest {mrel} says total_rows {manifest['total_rows']:,} but the parquet files "
                f"present hold {part.rows:,} rows{note}",
                part=part,
                observed=part.rows,
                threshold=manifest["total_rows"],
                action=_rerun(table, partition),
            )

    _check_schema(run, part, schemas)

    if min_rows > 0:
        run.seen(CheckName.MIN_ROWS)
        if part.rows < min_rows and not unreadable:
            run.problem(
                CheckName.MIN_ROWS,
                Status.FAIL,
                f"{table} {partition}: {part.rows:,} rows, below min_table_rows {min_rows}",
                part=part,
                observed=part.rows,
                threshold=min_rows,
                action=_rerun(table, partition),
            )
    return part


def _partition_values(run: _TableRun, table_dir: str) -> list[str]:
    """Valid ingest_dt values under a table directory; anything else there is reported."""
    values: list[str] = []
    prefix = f"{KEY}="
    for name in storage.listdir(table_dir):
        if name.startswith(("_", ".")):
            continue  # staging areas and hidden files are not partitions
        if not name.startswith(prefix):
            run.seen(CheckName.PARTITION_NAME)
            run.problem(
                CheckName.PARTITION_NAME,
                Status.WARN,
                f"{run.table}: {run.rel(storage.join(table_dir, name))} is not an {KEY}= partition and was "
                "not validated",
                action=f"move it out of {run.rel(table_dir)} (Bronze is partitioned by {KEY})",
            )
            continue
        value = name[len(prefix) :]
        run.seen(CheckName.PARTITION_NAME)
        if ".__old__" in value:
            run.problem(
                CheckName.PARTITION_NAME,
                Status.FAIL,
                f"{run.table}: {name} is the previous version left by an interrupted publish",
                action="run the writer again (its recovery finishes the publish) before reading this table",
            )
            continue
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            run.problem(
                CheckName.PARTITION_NAME,
                Status.FAIL,
                f"{run.table}: partition directory {name} does not hold a YYYY-MM-DD date",
                action=f"rename or remove {run.rel(storage.join(table_dir, name))}",
            )
            continue
        values.append(value)
    return sorted(values)


# ------------------------------------------------------------------------------ the gate


def validate_bronze(
    settings: Settings,
    *,
    partition_date: str | None = None,
    lookback_days: int | None = None,
    tables: str | list[str] | None = None,
    enforce: bool = False,
    output_report: str | None = None,
    run_id: str | None = None,
    echo: bool = True,
    rewrite_manifest: bool = False,
) -> int:
    """Validate Bronze partitions; write metrics JSON and the Markdown report; return the exit code.

    With `rewrite_manifest`, first rewrite the manifest of every partition in scope whose files are
    intact but whose manifest disagrees with them (ecomlake.bronze.manifest), then validate.
    """
    end = parse_date(partition_date, "--partition-date") if partition_date is not None else None
    run_id = resolve_run_id(run_id)
    if output_report is not None:
        ids.user_path(output_report, "--output-report")
    table_names = contract.parse_tables(",".join(tables) if isinstance(tables, list) else tables)
    root = settings.paths.bronze_base_path
    if not storage.isdir(root):
        from ecomlake.lake import missing_bronze_hint

        raise InputError(
            f"bronze path not found: {root} (pass --bronze-path or set BRONZE_BASE_PATH, or "
            f"{missing_bronze_hint(settings)})"
        )
    if end is not None:
        lookback = settings.bronze.lookback_days if lookback_days is None else lookback_days
        if lookback < 0:
            raise InputError(f"--lookback-days must be >= 0, got {lookback}")
        window: list[str] | None = [d.isoformat() for d in date_window(end, lookback)]
    else:
        if lookback_days:
            raise InputError("--lookback-days needs --partition-date (the window ends at that date)")
        window = None
    report_path = output_report or storage.join(
        settings.paths.reports_base_path, f"BRONZE_QUALITY_{end.isoformat() if end else run_id}.md"
    )

    result = GateResult(
        gate=GATE,
        title="Bronze Quality Report",
        run_id=run_id,
        environment=settings.environment,
        config_source=settings.source,
        parameters={
            "bronze_path": root,
            "partition_date": end.isoformat() if end else None,
            "lookback_days": (len(window) - 1) if window else None,
            "tables": table_names,
            "enforce": enforce,
        },
    )

    if rewrite_manifest:
        from ecomlake.bronze.manifest import UNCHANGED, rewrite_manifests

        rewrites = rewrite_manifests(root, table_names, window)
        result.parameters["manifest_rewrites"] = [
            {"table": r.table, "partition": r.partition, "outcome": r.outcome, "findings": r.findings}
            for r in rewrites
            if r.outcome != UNCHANGED
        ]
        if echo:
            changed = [r for r in rewrites if r.outcome != UNCHANGED]
            for r in changed:
                click.echo(r.line())
            click.echo(
                f"--rewrite-manifest: {sum(r.outcome == 'rewritten' for r in rewrites)} rewritten, "
                f"{sum(r.outcome == 'refused' for r in rewrites)} refused, "
                f"{sum(r.outcome == UNCHANGED for r in rewrites)} already matched their files"
            )

    runs = {t: _TableRun(result, t, root) for t in table_names}
    present = {t: _partition_values(runs[t], storage.join(root, t)) for t in table_names}
    if window is not None:
        expected = window
    else:
        # Every date any table has is a day every table should have: a gap is a missing export.
        expected = sorted(set().union(*present.values())) if present else []

    for t in table_names:
        run = runs[t]
        min_rows = settings.silver.min_rows(t)
        quiet_ok = min_rows == 0  # returns/return_items: days without returns are normal
        run.seen(CheckName.TABLE_PRESENT)
        if not present[t]:
            run.problem(
                CheckName.TABLE_PRESENT,
                Status.WARN if quiet_ok else Status.FAIL,
                f"{t}: no {KEY}= partitions at all under {run.rel(storage.join(root, t))}",
                observed=0,
                action=f"run the upstream export for {t} (or check --bronze-path)",
            )
        values = set(present[t])
        for value in expected:
            pdir = storage.partition_path(root, t, value, KEY)
            run.seen(CheckName.PARTITION_PRESENT)
            if value not in values:
                part = PartitionReport(t, storage.partition_name(value, KEY), present=False)
                run.partitions.append(part)
                run.problem(
                    CheckName.PARTITION_PRESENT,
                    Status.WARN if quiet_ok else Status.FAIL,
                    f"{t} {part.partition}: partition is missing"
                    + (" (allowed: min_table_rows is 0 for this table)" if quiet_ok else ""),
                    part=part,
                    action=_rerun(t, part.partition),
                )
                continue
            check_partition(run, pdir, value, min_rows)
        run.close()

    table_metrics = [_table_metrics(result, runs[t]) for t in table_names]
    result.table_metrics = table_metrics
    result.extra = {
        "bronze_path": root,
        "window": window,
        "partitions": [p.to_dict() for t in table_names for p in runs[t].partitions],
    }
    sections = _sections(result, runs, table_names, window, root)
    rc, metrics_path, report = finish(
        result,
        metrics_dir=settings.paths.metrics_base_path,
        report_path=report_path,
        sections=sections,
        enforce=enforce,
        settings=settings,
    )
    if echo:
        for m in table_metrics:
            line = (
                f"{m['status']:<4} {m['table_name']}: {m['partitions']} partitions, {m['files']} files, "
                f"{m['rows']:,} rows"
            )
            first = next((c for c in result.problems if c.table == m["table_name"]), None)
            if first is not None:
                more = m["failed_checks"] + m["warned_checks"] - 1
                line += f"; {first.message}" + (f" (+{more} more)" if more > 0 else "")
            click.echo(line)
        status = result.overall_status
        s = result.to_dict()["summary"]
        click.echo(
            f"Bronze gate {status.value}: {s['failed']} failed, {s['warned']} warned, {s['passed']} passed "
            f"checks; metrics {metrics_path}; report {report}; exit {rc}"
        )
    return rc


def _table_metrics(result: GateResult, run: _TableRun) -> dict:
    present = [p for p in run.partitions if p.present]
    checks = [c for c in result.checks if c.table == run.table]
    manifest_rows = [p.manifest_rows for p in present if p.manifest_rows is not None]
    return {
        "table_name": run.table,
        "status": worst(c.status for c in checks).value,
        "partitions": len(present),
        "partitions_expected": len(run.partitions),
        "missing_partitions": [p.partition for p in run.partitions if not p.present],
        "files": sum(p.files for p in present),
        "rows": sum(p.rows for p in present),
        "manifest_rows": sum(manifest_rows) if manifest_rows else (0 if not present else None),
        "missing_manifests": sum(1 for p in present if p.manifest is None),
        "missing_success_markers": sum(1 for p in present if not p.success_marker),
        "corrupt_files": sorted(
            set(run.files_by_issue[CheckName.PARQUET_MAGIC] + run.files_by_issue[CheckName.PARQUET_READABLE])
        ),
        "checksum_mismatches": sorted(f for f in run.files_by_issue[CheckName.CHECKSUM]),
        "unlisted_files": sorted(run.files_by_issue[CheckName.FILE_LISTED]),
        "missing_files": sorted(run.files_by_issue[CheckName.MANIFEST_FILE_PRESENT]),
        "row_count_mismatch_files": sorted(run.files_by_issue[CheckName.MANIFEST_ROWS]),
        "invalid_manifests": sorted(run.files_by_issue[CheckName.MANIFEST_VALID]),
        "schema_drift": run.schema_drift,
        "failed_checks": sum(c.status == Status.FAIL for c in checks),
        "warned_checks": sum(c.status == Status.WARN for c in checks),
    }


def _sections(
    result: GateResult, runs: dict[str, _TableRun], tables: list[str], window: list[str] | None, root: str
) -> list[tuple[str, str]]:
    summary = md_table(
        ["Table", "Status", "Partitions", "Files", "Rows", "Manifest rows", "Missing partitions", "Failed", "Warned"],
        [
            (
                m["table_name"],
                f"{Status(m['status']).emoji} {m['status']}",
                f"{m['partitions']}/{m['partitions_expected']}",
                fmt_int(m["files"]),
                fmt_int(m["rows"]),
                fmt_int(m["manifest_rows"]),
                len(m["missing_partitions"]),
                m["failed_checks"],
                m["warned_checks"],
            )
            for m in result.table_metrics
        ],
    )
    scope = "\n".join(
        [
            f"- Bronze path: `{root}`",
            f"- Partitions: {', '.join(window) if window else 'every ingest_dt partition present (a date any table has is expected for all)'}",
            f"- Tables: {', '.join(tables)}",
            (
                "- Checked per partition: `_SUCCESS`, manifest present and valid, manifest rows = footer rows (total and per "
                "file), listed files exist, no unlisted files, sha256, PAR1 magic bytes, footer opens, schema vs contract."
            ),
        ]
    )
    parts = [p for t in tables for p in runs[t].partitions]
    bad = [p for p in parts if p.status != Status.PASS]
    rows = (
        md_table(
            ["Table", "Partition", "Status", "Files", "Rows", "Manifest rows", "_SUCCESS", "Findings"],
            [
                (
                    p.table,
                    p.partition,
                    f"{p.status.emoji} {p.status.value}",
                    p.files if p.present else "-",
                    fmt_int(p.rows) if p.present else "-",
                    fmt_int(p.manifest_rows),
                    ("yes" if p.success_marker else "no") if p.present else "-",
                    len(p.findings),
                )
                for p in parts
            ],
        )
        if parts
        else "No partitions were found."
    )
    findings_md = [rows, ""]
    for p in bad:
        findings_md.append(f"**{p.table} {p.partition}** {p.status.emoji} {p.status.value}")
        findings_md += [f"- {f}" for f in p.findings]
        findings_md.append("")
    if not bad and parts:
        findings_md.append(f"All {len(parts)} partitions passed every check.")
    actions: list[str] = []
    for c in result.problems:
        if c.action and c.action not in actions:
            actions.append(c.action)
    actions_md = "\n".join(f"{i}. {a}" for i, a in enumerate(actions, 1)) or "None."
    return [
        ("Summary", summary),
        ("Scope", scope),
        ("Partition Findings", "\n".join(findings_md)),
        ("Recommended Actions", actions_md),
    ]
