"""The Silver quality gate: row conservation, SLA pass rates, quarantine breakdown, partition integrity.

For every table and ingest_dt of the window it counts the rows that are really on disk (parquet
footers of Bronze, Silver and quarantine; the run ledger is not trusted), proves that
bronze = silver + quarantine, checks that every Silver and quarantine partition holds exactly the
files its `_manifest.json` lists (a file dropped in by hand, or one deleted, is a finding), reads only
`_quarantine_reason` for the breakdown by rule code and family, and compares pass rates and the
overall quarantine rate with `config/config.yml`. Verdicts go through `ecomlake.quality.gate`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import click

from ecomlake import ids, rules
from ecomlake.config import Settings
from ecomlake.contract import FACT_TABLES, parse_tables
from ecomlake.errors import InputError
from ecomlake.quality.gate import (
    Check,
    CheckName,
    GateResult,
    Status,
    finish,
    fmt_int,
    fmt_pct,
    md_table,
)
from ecomlake.runs import date_window, parse_date, resolve_run_id
from ecomlake.storage import (
    MANIFEST_NAME,
    STAGING_DIR,
    SUCCESS_NAME,
    exists,
    isdir,
    join,
    list_data_files,
    list_partitions,
    listdir,
    parquet_num_rows,
    partition_path,
    read_json,
    read_manifest,
    settle,
    sha256_file,
)

GATE = "silver_quality"
REASON_COLUMN = "_quarantine_reason"
PRUNED_LEDGER = "_pruned.json"  # written by `ecomlake quarantine prune` in <quarantine>/<table>/


# ------------------------------------------------------------------------------ partition scans


@dataclass
class PartitionScan:
    """What is really in one partition directory."""

    path: str
    exists: bool = False
    files: dict[str, int] = field(default_factory=dict)  # file name -> rows (readable files only)
    corrupt: dict[str, str] = field(default_factory=dict)  # file name -> one-line error
    manifest_issues: list[tuple[str, str]] = field(default_factory=list)  # (check name, finding)
    manifest: dict | None = None
    unknown: bool = False  # the row count could not be established (no Bronze and nothing recorded)
    unlisted: set[str] = field(default_factory=set)  # files the manifest does not list: reported, not counted

    @property
    def rows(self) -> int:
        return sum(n for name, n in self.files.items() if name not in self.unlisted)

    @property
    def readable(self) -> bool:
        return not self.corrupt and not self.unknown


def scan_partition(path: str, *, verify_manifest: bool) -> PartitionScan:
    """Footer row counts of every data file; with `verify_manifest`, files vs `_manifest.json`."""
    scan = PartitionScan(path=path, exists=isdir(path))
    if not scan.exists:
        return scan
    for f in list_data_files(path):
        name = f.rsplit("/", 1)[-1]
        try:
            scan.files[name] = parquet_num_rows(f)
        except InputError as exc:
            scan.corrupt[name] = exc.message
    if verify_manifest:
        scan.manifest_issues = _manifest_issues(path, scan)
    else:
        try:
            scan.manifest = read_manifest(path)
        except InputError:
            scan.manifest = None
    # Like every reader of the lake, count only the files the manifest lists (storage.partition_files).
    listed = _listed(scan.manifest)
    if listed is not None:
        scan.unlisted = {n for n in scan.files if n not in listed}
    return scan


def _listed(manifest: dict | None) -> set[str] | None:
    if not manifest or not isinstance(manifest.get("files"), list):
        return None
    names = {str(e["path"]).rsplit("/", 1)[-1] for e in manifest["files"] if isinstance(e, dict) and e.get("path")}
    return names or None


def _manifest_issues(path: str, scan: PartitionScan) -> list[tuple[str, str]]:
    """(check name, finding) for every way the partition differs from its manifest."""
    try:
        manifest = read_manifest(path)
    except InputError as exc:
        return [(CheckName.MANIFEST_VALID, exc.message)]
    scan.manifest = manifest
    if manifest is None:
        return [
            (CheckName.MANIFEST_PRESENT, f"{path}: no _manifest.json (partition not written by the pipeline's publish)")
        ]
    issues: list[tuple[str, str]] = []
    if not exists(join(path, SUCCESS_NAME)):
        issues.append((CheckName.SUCCESS_MARKER, f"{path}: no {SUCCESS_NAME} marker (incomplete publish)"))
    listed: dict[str, dict] = {}
    for entry in manifest.get("files") or []:
        if isinstance(entry, dict) and entry.get("path"):
            listed[str(entry["path"]).rsplit("/", 1)[-1]] = entry
    on_disk = set(scan.files) | set(scan.corrupt)
    for name in sorted(on_disk - set(listed)):
        rows = scan.files.get(name)
        issues.append(
            (
                CheckName.FILE_LISTED,
                f"{join(path, name)}: file not in the manifest ({fmt_int(rows)} rows, not counted), added outside the pipeline",
            )
        )
    for name in sorted(set(listed) - on_disk):
        issues.append(
            (
                CheckName.MANIFEST_FILE_PRESENT,
                f"{join(path, name)}: listed in the manifest ({fmt_int(listed[name].get('rows'))} rows) but missing",
            )
        )
    for name in sorted(set(listed) & set(scan.files)):
        entry = listed[name]
        if entry.get("rows") is not None and int(entry["rows"]) != scan.files[name]:
            issues.append(
                (
                    CheckName.MANIFEST_ROWS,
                    f"{join(path, name)}: has {scan.files[name]} rows, the manifest says {entry['rows']}",
                )
            )
        elif entry.get("sha256") and sha256_file(join(path, name)) != entry["sha256"]:
            issues.append(
                (CheckName.CHECKSUM, f"{join(path, name)}: content differs from the manifest (sha256 mismatch)")
            )
    total = manifest.get("total_rows")
    if total is not None and not issues and int(total) != sum(scan.files.values()):
        issues.append(
            (CheckName.MANIFEST_ROWS, f"{path}: total_rows {total} in the manifest but {scan.rows} rows on disk")
        )
    return issues


def bronze_from_manifests(silver: PartitionScan, quarantine: PartitionScan) -> PartitionScan:
    """Without Bronze, the bronze_rows Base Silver recorded in the manifests when it published D."""
    recorded = [v for m in (silver.manifest, quarantine.manifest) if m and (v := m.get("bronze_rows")) is not None]
    scan = PartitionScan(path="bronze_rows recorded in the Silver manifests", exists=silver.exists or quarantine.exists)
    if recorded and len(set(recorded)) == 1:
        scan.files["<recorded>"] = int(recorded[0])
    elif scan.exists:
        scan.unknown = True
    return scan


def reason_counts(path: str, files: list[str] | None = None) -> tuple[Counter, list[str]]:
    """Rows per raw `_quarantine_reason` string of a partition (only that column is read)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ecomlake.storage import fs_for, is_remote

    counts: Counter = Counter()
    problems: list[str] = []
    for f in files if files is not None else list_data_files(path):
        try:
            if is_remote(f):
                fs, p = fs_for(f)
                with fs.open(p, "rb") as fh:
                    pf = pq.ParquetFile(fh)
                    col = pf.read(columns=[REASON_COLUMN]).column(0) if REASON_COLUMN in pf.schema_arrow.names else None
            else:
                pf = pq.ParquetFile(f)
                col = pf.read(columns=[REASON_COLUMN]).column(0) if REASON_COLUMN in pf.schema_arrow.names else None
        except Exception as exc:  # corrupt files are reported by the scan already
            problems.append(f"{f}: {exc}")
            continue
        if col is None:
            if pf.metadata.num_rows:
                problems.append(f"{f}: no {REASON_COLUMN} column")
            continue
        for item in pc.value_counts(col).to_pylist():
            counts[item["values"]] += item["counts"]
    return counts, problems


def split_counts(table: str, raw: Counter) -> tuple[Counter, Counter, Counter]:
    """(codes, families, unknown codes): a multi-reason row counts once under each of its codes."""
    codes: Counter = Counter()
    families: Counter = Counter()
    unknown: Counter = Counter()
    for reason, n in raw.items():
        parts = rules.split_reasons(reason) or ["<empty>"]
        for code in parts:
            codes[code] += n
            family = rules.family_of(table, code)
            if family is None:
                unknown[code] += n
            else:
                families[family] += n
    return codes, families, unknown


def read_pruned(quarantine_root: str, table: str) -> dict:
    path = join(quarantine_root, table, PRUNED_LEDGER)
    if not exists(path):
        return {}
    try:
        data = read_json(path)
    except ValueError:
        return {}
    return data.get("partitions", {}) if isinstance(data, dict) else {}


_DELETED_ACTION = (
    "prune old quarantine with `ecomlake quarantine prune --older-than 7d` instead of deleting files: it records "
    "the rows it removes, so this gate still proves bronze = silver + quarantine; to get these rows back, re-run "
    "`ecomlake local silver --date {d}`"
)


def _emptied(scan: PartitionScan) -> bool:
    """A partition directory left empty by hand: no data files, no manifest, no _SUCCESS."""
    if not scan.exists or scan.files or scan.corrupt or scan.manifest is not None:
        return False
    return not listdir(scan.path)  # nothing at all (a lone stray file is a different finding)


# ------------------------------------------------------------------------------------ history


def seen_codes(metrics_dir: str, exclude_run_id: str) -> dict[str, set[str]]:
    """Codes per table in earlier silver_quality_*.json metrics (tables without history are absent)."""
    seen: dict[str, set[str]] = {}
    for name in listdir(metrics_dir):
        if not (name.startswith(f"{GATE}_") and name.endswith(".json")) or name == f"{GATE}_{exclude_run_id}.json":
            continue
        try:
            data = read_json(join(metrics_dir, name))
        except (ValueError, OSError):
            continue
        for tm in data.get("table_metrics", []) if isinstance(data, dict) else []:
            if isinstance(tm, dict) and tm.get("table_name"):
                seen.setdefault(tm["table_name"], set()).update((tm.get("reasons") or {}).keys())
    return seen


# ------------------------------------------------------------------------------------- the gate


def _sla_status(rate: float | None, sla: float) -> Status:
    if rate is None or rate >= sla:
        return Status.PASS
    if rate >= 0.9 * sla:
        return Status.WARN
    return Status.FAIL


def _dates_for(
    table: str, bronze: str, silver: str, quarantine: str, window: list[dt.date] | None, staged: dict[str, str]
) -> list[str]:
    if window is not None:
        return [d.isoformat() for d in window]
    found = (
        set(list_partitions(bronze, table))
        | set(list_partitions(silver, table))
        | set(list_partitions(quarantine, table))
    )
    for final in staged:
        for root in (silver, quarantine):
            prefix = join(root, table, "ingest_dt=")
            if final.startswith(prefix) and "/" not in final[len(prefix) :]:
                found.add(final[len(prefix) :])
    return sorted(found)


def staged_partitions(silver: str, run_id: str | None) -> dict[str, str]:
    """Staging publish mode: final partition path -> staged path of a run waiting for this gate."""
    if not run_id:
        return {}
    pending = join(silver, STAGING_DIR, run_id, "_pending.json")
    if not exists(pending):
        return {}
    try:
        data = read_json(pending)
    except ValueError:
        return {}
    return {
        p["final"].rstrip("/"): p["staged"] for p in data.get("partitions", []) if p.get("final") and p.get("staged")
    }


def validate_silver(
    settings: Settings,
    *,
    partition_date: str | dt.date | None = None,
    lookback_days: int | None = None,
    tables: str | list[str] | tuple[str, ...] | None = None,
    enforce: bool = False,
    output_report: str | None = None,
    run_id: str | None = None,
    echo: bool = True,
) -> tuple[int, GateResult]:
    """Run the Silver gate; returns (exit code, result). Raises EcomlakeError (exit 2) when it cannot run."""
    end = parse_date(partition_date, "--partition-date") if partition_date is not None else None
    run_id = resolve_run_id(run_id)
    if output_report is not None:
        ids.user_path(output_report, "--output-report")
    paths = settings.paths
    silver, quarantine, bronze = paths.silver_base_path, paths.quarantine_path, paths.bronze_base_path
    if isinstance(tables, (list, tuple)):
        tables = ",".join(tables)
    table_names = parse_tables(tables)
    lookback = settings.silver.lookback_days if lookback_days is None else int(lookback_days)
    if lookback < 0:
        raise InputError(f"--lookback-days must be >= 0, got {lookback}")
    if lookback_days and end is None:
        raise InputError(
            "--lookback-days needs --partition-date (without a date every ingest_dt in Bronze is validated)"
        )
    window = date_window(end, lookback) if end is not None else None
    if not isdir(silver):
        raise InputError(
            f"silver path not found: {silver} (pass --silver-path or set SILVER_BASE_PATH; run `ecomlake local silver` first)"
        )
    if paths.silver_quarantine_path is not None and not isdir(quarantine):
        raise InputError(
            f"quarantine path not found: {quarantine} (pass --quarantine-path or set SILVER_QUARANTINE_PATH; "
            "Base Silver writes it: `ecomlake local silver`)"
        )
    bronze_ok = isdir(bronze)
    settle(silver)  # a publish killed after its commit is finished first: never judge a half-swapped date
    staged = staged_partitions(silver, run_id)  # staging mode: validate what is about to be promoted
    env = settings.environment

    result = GateResult(
        gate=GATE,
        title="Silver Layer Quality Report",
        run_id=run_id,
        environment=env,
        config_source=settings.source,
        parameters={
            "bronze_path": bronze,
            "silver_path": silver,
            "quarantine_path": quarantine,
            "partition_date": end.isoformat() if end is not None else None,
            "lookback_days": lookback,
            "tables": table_names,
            "enforce": enforce,
            "max_quarantine_pct": settings.silver.max_quarantine_pct,
            "staged_partitions": len(staged),
        },
    )
    history = seen_codes(paths.metrics_base_path, run_id)
    if not bronze_ok:
        # The runbook's command names only --silver-path: still check, against what was recorded at publish.
        result.add(
            Check(
                "bronze_available",
                Status.WARN,
                f"bronze path not found: {bronze}; conservation is checked against the bronze_rows recorded in "
                "the partition manifests at publish time",
                action="pass --bronze-path (or set BRONZE_BASE_PATH) to count Bronze itself",
            )
        )
    conservation_rows: list[dict] = []
    gaps: list[dict] = []
    new_codes_all: dict[str, list[str]] = {}

    # An interrupted publish leaves a journal; the next pipeline run finishes it (storage.recover).
    for layer in dict.fromkeys([silver, quarantine]):
        for rid in listdir(join(layer, STAGING_DIR)):
            if exists(join(layer, STAGING_DIR, rid, "_journal.json")):
                result.add(
                    Check(
                        "interrupted_publish",
                        Status.WARN,
                        f"run {rid} was interrupted while publishing under {layer}; partitions may be mid-swap",
                        action="re-run the silver job (or `ecomlake quarantine recover`), which finishes the publish",
                    )
                )

    for table in table_names:
        sla = settings.silver.sla(table)
        dates = _dates_for(table, bronze, silver, quarantine, window, staged)
        pruned = read_pruned(quarantine, table)
        totals: Counter[str] = Counter()
        raw_reasons: Counter = Counter()
        parts: list[dict] = []
        counted_dates: list[str] = []
        for d in dates:
            s_path, q_path = partition_path(silver, table, d), partition_path(quarantine, table, d)
            s = scan_partition(staged.get(s_path, s_path), verify_manifest=True)
            q = scan_partition(staged.get(q_path, q_path), verify_manifest=True)
            if bronze_ok:
                b = scan_partition(partition_path(bronze, table, d), verify_manifest=False)
            else:
                b = bronze_from_manifests(s, q)
            part_name = f"ingest_dt={d}"
            if not (b.exists or s.exists or q.exists):
                gaps.append({"table": table, "ingest_dt": d, "kind": "no bronze"})
                result.add(
                    Check(
                        CheckName.PARTITION_PRESENT,
                        Status.WARN,
                        f"{table}: no Bronze partition for {d} in the window",
                        table=table,
                        partition=part_name,
                        action="check Bronze ingestion for this date (runbook section 1)",
                    )
                )
                continue
            if b.exists and not s.exists:
                gaps.append({"table": table, "ingest_dt": d, "kind": "not processed"})
                result.add(
                    Check(
                        "partition_processed",
                        Status.FAIL,
                        f"{table}/{part_name}: Bronze has {fmt_int(b.rows)} rows but there is no Silver partition (not processed)",
                        table=table,
                        partition=part_name,
                        observed=b.rows,
                        action=f"run `ecomlake local silver --date {d}` for this date",
                    )
                )
            for label, sc in (("bronze", b), ("silver", s), ("quarantine", q)):
                for problem in sc.corrupt.values():
                    result.add(
                        Check(
                            CheckName.PARQUET_READABLE,
                            Status.FAIL,
                            f"{label}: {problem}",
                            table=table,
                            partition=part_name,
                            action=f"delete the file and re-run the job that wrote {label} for {d}",
                        )
                    )
            # The runbook's manual cleanup (`find <quarantine> -type f -mtime +7 -delete`) leaves empty
            # partition directories: no data files, no manifest, no _SUCCESS. Say so, once, instead of
            # a missing-manifest finding and an unexplained loss.
            emptied = {label: _emptied(sc) for label, sc in (("silver", s), ("quarantine", q))}
            q_vanished = not q.exists and d not in pruned and s.exists
            for label, sc in (("silver", s), ("quarantine", q)):
                if emptied[label]:
                    result.add(
                        Check(
                            "partition_emptied",
                            Status.FAIL,
                            f"{label}: {sc.path} was emptied outside the pipeline (its data files, {MANIFEST_NAME} "
                            f"and {SUCCESS_NAME} deleted, e.g. by `find ... -mtime +7 -delete`): its rows are gone "
                            "without a record; remove old quarantine with `ecomlake quarantine prune`, which records "
                            "what it removes",
                            table=table,
                            partition=part_name,
                            action=_DELETED_ACTION.format(d=d),
                        )
                    )
                    continue
                for name, issue in sc.manifest_issues:
                    result.add(
                        Check(
                            name,
                            Status.FAIL,
                            f"{label}: {issue}",
                            table=table,
                            partition=part_name,
                            action="files must only enter a partition through the pipeline's publish: remove hand-made "
                            "files (use `ecomlake quarantine recover` to move repaired rows) or re-run silver for "
                            f"{d}",
                        )
                    )
                if sc.exists and not sc.corrupt and not sc.manifest_issues:
                    result.add(
                        Check(
                            CheckName.FILE_LISTED,
                            Status.PASS,
                            f"{label}: {len(sc.files)} files match the manifest",
                            table=table,
                            partition=part_name,
                        )
                    )

            q_rows, q_note = q.rows, None
            if not q.exists and d in pruned:
                # `quarantine prune` removed the rows on purpose and recorded how many.
                q_rows, q_note = int(pruned[d].get("rows", 0)), "pruned"
                raw_reasons.update(pruned[d].get("reasons_raw") or {})
            elif q.exists:
                counted, problems = reason_counts(q.path, [join(q.path, n) for n in q.files])
                raw_reasons.update(counted)
                for problem in problems:
                    result.add(
                        Check(
                            "quarantine_schema",
                            Status.FAIL,
                            f"quarantine: {problem}",
                            table=table,
                            partition=part_name,
                            action="quarantine files must carry _quarantine_reason; re-run silver",
                        )
                    )

            readable = b.readable and s.readable and q.readable
            diff = b.rows - (s.rows + q_rows)
            ok = readable and diff == 0
            conservation_rows.append(
                {
                    "table": table,
                    "ingest_dt": d,
                    "bronze": b.rows,
                    "silver": s.rows,
                    "quarantine": q_rows,
                    "difference": diff,
                    "ok": ok,
                    "note": q_note,
                }
            )
            if b.unknown:
                msg = f"{table}/{part_name}: cannot prove conservation: Bronze not found and no bronze_rows recorded in the manifests"
            elif not readable:
                msg = f"{table}/{part_name}: cannot prove conservation, a file does not open (bronze {b.rows}, silver {s.rows}, quarantine {q_rows} readable rows)"
            elif ok:
                msg = f"{table}/{part_name}: bronze {b.rows} = silver {s.rows} + quarantine {q_rows}"
            else:
                msg = (
                    f"{table}/{part_name}: bronze {b.rows} != silver {s.rows} + quarantine {q_rows} "
                    f"({'lost' if diff > 0 else 'extra'} {abs(diff)} rows)"
                )
                if diff > 0 and (emptied["quarantine"] or q_vanished):
                    how = "emptied by hand" if emptied["quarantine"] else "removed by hand"
                    msg += (
                        f": the quarantine partition was {how} (`ecomlake quarantine prune` would have recorded them)"
                    )
            result.add(
                Check(
                    "row_conservation",
                    Status.PASS if ok else Status.FAIL,
                    msg,
                    table=table,
                    partition=part_name,
                    observed={"bronze": b.rows, "silver": s.rows, "quarantine": q_rows, "difference": diff},
                    action=None
                    if ok
                    else _DELETED_ACTION.format(d=d)
                    if diff > 0 and (emptied["quarantine"] or q_vanished)
                    else f"compare the partitions with their manifests; re-run `ecomlake local silver --date {d}`",
                )
            )
            totals.update(bronze=b.rows, silver=s.rows, quarantine=q_rows)
            counted_dates.append(d)
            parts.append(
                {
                    "ingest_dt": d,
                    "bronze_rows": b.rows,
                    "silver_rows": s.rows,
                    "quarantine_rows": q_rows,
                    "conservation_ok": ok,
                    **({"note": q_note} if q_note else {}),
                }
            )

        s_rows, q_rows_t, b_rows = totals["silver"], totals["quarantine"], totals["bronze"]
        processed = s_rows + q_rows_t
        pass_rate = s_rows / processed if processed else None
        q_pct = 100.0 * q_rows_t / processed if processed else 0.0
        sla_status = _sla_status(pass_rate, sla)
        result.add(
            Check(
                "pass_rate_sla",
                sla_status,
                f"{table}: pass rate {fmt_pct(pass_rate * 100 if pass_rate is not None else None)} vs SLA {sla:.0%}"
                + ("" if processed else " (no rows processed)"),
                table=table,
                observed=pass_rate,
                threshold=sla,
                action=None
                if sla_status == Status.PASS
                else f"see top reasons below; `ecomlake quarantine inspect --table {table} --ingest-dt <D>`; fix upstream or recover",
            )
        )
        min_rows = settings.silver.min_rows(table)
        result.check(
            CheckName.MIN_ROWS,
            s_rows >= min_rows,
            f"{table}: {fmt_int(s_rows)} silver rows in the window (minimum {min_rows})",
            table=table,
            observed=s_rows,
            threshold=min_rows,
            action=f"check that Bronze has {table} data and that Silver ran for the window",
        )
        codes, families, unknown = split_counts(table, raw_reasons)
        if unknown:
            result.add(
                Check(
                    "reason_codes_known",
                    Status.FAIL,
                    f"{table}: codes not in the rule registry: {', '.join(f'{c} ({n})' for c, n in unknown.most_common())}",
                    table=table,
                    observed=sorted(unknown),
                    action="the models emit a code missing from ecomlake.rules; regenerate the dbt seed and fix the model",
                )
            )
        else:
            result.add(
                Check(
                    "reason_codes_known",
                    Status.PASS,
                    f"{table}: all {len(codes)} codes are in the registry",
                    table=table,
                )
            )
        new = sorted(c for c in codes if table in history and c not in history[table] and c not in unknown)
        if new:
            new_codes_all[table] = new
            result.add(
                Check(
                    "new_reason_codes",
                    Status.WARN,
                    f"{table}: reason codes never seen before: {', '.join(new)}",
                    table=table,
                    observed=new,
                    action="a new data-quality issue or schema change: review Bronze (runbook section 5, escalation)",
                )
            )
        result.table_metrics.append(
            {
                "table_name": table,
                "ingest_dts": counted_dates,
                "bronze_rows": b_rows,
                "silver_rows": s_rows,
                "quarantine_rows": q_rows_t,
                "total_processed": processed,
                "quarantine_pct": round(q_pct, 4),
                "pass_rate": round(pass_rate, 6) if pass_rate is not None else None,
                "sla": sla,
                "sla_status": sla_status.value,
                "min_table_rows": min_rows,
                "status": None,  # filled below, once every check of the table is in
                "reasons": dict(codes.most_common()),
                "families": {f: families[f] for f in rules.FAMILIES if families[f]},
                "unknown_codes": sorted(unknown),
                "new_codes": new,
                "conservation": {
                    "ok": all(p["conservation_ok"] for p in parts),
                    "bronze": b_rows,
                    "silver": s_rows,
                    "quarantine": q_rows_t,
                    "difference": b_rows - s_rows - q_rows_t,
                },
                "partitions": parts,
            }
        )

    total_s = sum(t["silver_rows"] for t in result.table_metrics)
    total_q = sum(t["quarantine_rows"] for t in result.table_metrics)
    overall_pct = 100.0 * total_q / (total_s + total_q) if total_s + total_q else 0.0
    limit = settings.silver.max_quarantine_pct
    result.check(
        "max_quarantine_pct",
        overall_pct <= limit,
        f"overall quarantine rate {overall_pct:.2f}% ({fmt_int(total_q)} of {fmt_int(total_s + total_q)} rows) vs limit {limit:.2f}%",
        observed=round(overall_pct, 4),
        threshold=limit,
        action="runbook section 5, High Quarantine Rate: `ecomlake quarantine summary`, fix upstream, reprocess",
    )
    for tm in result.table_metrics:
        tm["status"] = result.table_status(tm["table_name"]).value
    passing = sum(tm["status"] == "PASS" for tm in result.table_metrics)
    facts = [tm for tm in result.table_metrics if tm["table_name"] in FACT_TABLES]
    result.extra = {
        "quarantine_pct": round(overall_pct, 4),
        "max_quarantine_pct": limit,
        "totals": {
            "bronze_rows": sum(t["bronze_rows"] for t in result.table_metrics),
            "silver_rows": total_s,
            "quarantine_rows": total_q,
        },
        "tables_passing": passing,
        "tables_total": len(result.table_metrics),
        "fact_tables_passing": sum(tm["status"] == "PASS" for tm in facts),
        "fact_tables_total": len(facts),
        "gaps": gaps,
        "new_reason_codes": new_codes_all,
    }

    report = output_report or join(
        paths.reports_base_path, f"SILVER_QUALITY_{end.isoformat() if end is not None else run_id}.md"
    )
    result.parameters["output_report"] = report
    sections = _sections(result, conservation_rows, gaps, new_codes_all, history)
    rc, metrics_path, report_path = finish(
        result,
        metrics_dir=paths.metrics_base_path,
        report_path=report,
        sections=sections,
        enforce=enforce,
        settings=settings,
    )
    result.parameters["metrics_path"] = metrics_path
    if echo:
        _print(result, metrics_path, report_path, rc)
    return rc, result


# ------------------------------------------------------------------------------------- output


def _print(result: GateResult, metrics_path: str, report_path: str | None, rc: int) -> None:
    for tm in result.table_metrics:
        rate = tm["pass_rate"]
        click.echo(
            f"{tm['table_name']:<16} {tm['status']:<4}  bronze {fmt_int(tm['bronze_rows']):>11}  silver {fmt_int(tm['silver_rows']):>11}  "
            f"quarantine {fmt_int(tm['quarantine_rows']):>9} ({tm['quarantine_pct']:.2f}%)  "
            f"pass rate {fmt_pct(rate * 100 if rate is not None else None)} (SLA {tm['sla']:.0%})"
        )
    status = result.overall_status
    extra = result.extra
    click.echo(
        f"Silver gate: {status.value} ({extra['tables_passing']}/{extra['tables_total']} tables passing, "
        f"fact tables {extra['fact_tables_passing']}/{extra['fact_tables_total']}, overall quarantine "
        f"{extra['quarantine_pct']:.2f}% (limit {extra['max_quarantine_pct']:.2f}%), exit {rc})"
    )
    for c in result.problems[:10]:
        click.echo(f"  {c.status.value}: {c.message}")
    if len(result.problems) > 10:
        click.echo(f"  ... {len(result.problems) - 10} more in the report")
    click.echo(f"metrics: {metrics_path}")
    if report_path:
        click.echo(f"report:  {report_path}")


def _sections(
    result: GateResult, conservation: list[dict], gaps: list[dict], new_codes: dict, history: dict
) -> list[tuple[str, str]]:
    tms = result.table_metrics
    summary = md_table(
        ["Table", "Bronze", "Silver", "Quarantine", "Quarantine %", "Pass rate", "SLA", "Status"],
        [
            (
                t["table_name"],
                fmt_int(t["bronze_rows"]),
                fmt_int(t["silver_rows"]),
                fmt_int(t["quarantine_rows"]),
                fmt_pct(t["quarantine_pct"]),
                fmt_pct(t["pass_rate"] * 100 if t["pass_rate"] is not None else None),
                f"{t['sla']:.0%}",
                f"{Status(t['status']).emoji} {t['status']}",
            )
            for t in tms
        ],
    )
    e = result.extra
    total = e["totals"]
    summary += (
        f"\n\n**Tables passing: {e['tables_passing']}/{e['tables_total']}** "
        f"(fact tables: {e['fact_tables_passing']}/{e['fact_tables_total']})  \n"
        f"Overall quarantine: {fmt_int(total['quarantine_rows'])} of "
        f"{fmt_int(total['silver_rows'] + total['quarantine_rows'])} processed rows "
        f"({e['quarantine_pct']:.2f}%, limit {e['max_quarantine_pct']:.2f}%)"
    )
    reasons_rows = []
    for t in tms:
        q = t["quarantine_rows"] or 1
        for code, n in list(t["reasons"].items())[:5]:
            fam = rules.family_of(t["table_name"], code) or "UNKNOWN CODE"
            reasons_rows.append((t["table_name"], f"`{code}`", fam, fmt_int(n), fmt_pct(100.0 * n / q, 1)))
    reasons = (
        md_table(["Table", "Reason code", "Family", "Rows", "% of table quarantine"], reasons_rows)
        + "\n\nA row with several reasons counts under each of them."
        if reasons_rows
        else "No quarantined rows."
    )
    fam_names = list(rules.FAMILIES)
    families = md_table(
        ["Table", *fam_names], [(t["table_name"], *(fmt_int(t["families"].get(f, 0)) for f in fam_names)) for t in tms]
    )
    cons = (
        md_table(
            ["Table", "ingest_dt", "Bronze", "Silver", "Quarantine", "Difference", "OK"],
            [
                (
                    c["table"],
                    c["ingest_dt"],
                    fmt_int(c["bronze"]),
                    fmt_int(c["silver"]),
                    fmt_int(c["quarantine"]) + (" (pruned)" if c.get("note") else ""),
                    c["difference"],
                    "✅" if c["ok"] else "❌",
                )
                for c in conservation
            ],
        )
        if conservation
        else "No partitions in the window."
    )
    gaps_md = (
        md_table(["Table", "ingest_dt", "Finding"], [(g["table"], g["ingest_dt"], g["kind"]) for g in gaps])
        if gaps
        else "None."
    )
    if new_codes:
        new_md = "\n".join(f"- **{t}**: {', '.join(f'`{c}`' for c in codes)}" for t, codes in new_codes.items())
    elif history:
        new_md = "None: every code was seen in earlier runs."
    else:
        new_md = "No earlier silver_quality metrics: this run is the baseline."
    return [
        ("Summary", summary),
        ("Top Quarantine Reasons", reasons),
        ("Quarantine by Family", families),
        ("Row Conservation (bronze = silver + quarantine)", cons),
        ("Gaps", gaps_md),
        ("New Reason Codes", new_md),
    ]


__all__ = ["PartitionScan", "reason_counts", "scan_partition", "split_counts", "validate_silver"]
