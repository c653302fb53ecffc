"""`ecomlake quarantine recover`: repair quarantined rows, re-validate them, publish those that pass.

1. Select rows of quarantine partition D (`--reason CODE`, `--where "<boolean SQL over raw columns>"`).
2. Apply `--fill col=value` where the raw value is NULL or a null token ('', 'none', 'null', 'n/a', 'nan').
3. Re-validate them with the same dbt models as Base Silver (`ecomlake.silver.run.revalidate`).
4. Publish Silver D (its files + one file of recovered rows) and quarantine D (the rest, with the
   still-failing rows' new reasons) in ONE `storage.publish` call: both partitions change or neither.

Exactly once: a key already in Silver D is never published again (revalidate keeps it quarantined
as `duplicate_<pk>_published`, and a last check here refuses to publish a key Silver D already
has), moved rows leave quarantine in the same publish that adds them to
Silver, and an interrupted publish is finished by the next run (`storage.recover`) before it
selects anything. Each run is recorded in ``<metrics>/quarantine_recover_<run_id>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomlake import lineage, locks, rules, storage
from ecomlake.config import Settings
from ecomlake.contract import CONTRACT
from ecomlake.contract import table as contract_table
from ecomlake.errors import EcomlakeError, InputError
from ecomlake.quarantine import (
    META_COLUMNS,
    NULL_TOKENS,
    REASON,
    RUN_ID,
    TIMESTAMP,
    ledger,
    read_files,
    require_quarantine_root,
)
from ecomlake.quarantine.inspect import check_reason
from ecomlake.runs import parse_date, resolve_run_id, utc_now_iso

if TYPE_CHECKING:
    import duckdb

Revalidate = Callable[[Settings, str, str, pa.Table, str], tuple[pa.Table, pa.Table]]
ROW = "__recover_row"


# ------------------------------------------------------------------------------- --where


def _walk(node: Any, allowed: set[str], problems: list[str]) -> None:
    if isinstance(node, dict):
        cls = node.get("class")
        if cls == "SUBQUERY" or "subquery" in node:
            problems.append("subqueries are not allowed")
            return
        if cls == "COLUMN_REF":
            name = node.get("column_names", [""])[-1]
            if name.lower() not in allowed:
                problems.append(f"unknown column {name!r}")
        if cls == "WINDOW":
            problems.append("window functions are not allowed")
        for v in node.values():
            _walk(v, allowed, problems)
    elif isinstance(node, list):
        for v in node:
            _walk(v, allowed, problems)


def check_where(con: duckdb.DuckDBPyConnection, where: str, columns: list[str]) -> str:
    """Accept only one boolean expression over the quarantine columns; return the SELECT that applies it."""
    text = where.strip()
    if not text:
        raise InputError('--where is empty: pass a boolean expression such as "customer_id IS NULL"')
    query = f"SELECT * FROM q WHERE ({text})"
    try:
        statements = con.extract_statements(query)
    except Exception as exc:
        raise InputError(f"--where does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise InputError("--where must be one boolean expression, not several statements")
    from ecomlake.duck import scalar

    ast = json.loads(scalar(con, "SELECT json_serialize_sql(?)", [query]))
    if ast.get("error") or len(ast.get("statements", [])) != 1:
        raise InputError(f"--where is not a boolean expression: {ast.get('error_message', 'not a single SELECT')}")
    node = ast["statements"][0]["node"]
    shape_ok = (
        node.get("type") == "SELECT_NODE"
        and (node.get("from_table") or {}).get("table_name") == "q"
        and [e.get("class") for e in node.get("select_list", [])] == ["STAR"]
        and not node.get("group_expressions")
        and not node.get("having")
        and not node.get("qualify")
        and not node.get("modifiers")
        and not (node.get("cte_map") or {}).get("map")
        and node.get("where_clause")
    )
    if not shape_ok:
        raise InputError(
            "--where must be a single boolean expression over the quarantine columns (no clauses after it)"
        )
    problems: list[str] = []
    _walk(node["where_clause"], {c.lower() for c in columns}, problems)
    if problems:
        raise InputError(f"--where rejected: {problems[0]} (allowed columns: {', '.join(columns)})")
    return query


def select_rows(settings: Settings, data: pa.Table, where: str | None, reason: str | None) -> pa.Array:
    """Boolean mask of the rows to recover."""
    mask = pa.array([True] * data.num_rows, pa.bool_())
    if reason:
        distinct = [v for v in pc.unique(data.column(REASON)).to_pylist() if reason in rules.split_reasons(v)]
        mask = pc.and_(mask, pc.fill_null(pc.is_in(data.column(REASON), pa.array(distinct, pa.string())), False))
    if where:
        from ecomlake.duck import connect

        con = connect(settings)
        try:
            columns = list(data.column_names)
            query = check_where(con, where, columns)
            con.execute("SET enable_external_access = false")  # a predicate never touches files
            con.register("q", data.append_column(ROW, pa.array(range(data.num_rows), pa.int64())))
            try:
                hits = {r[0] for r in con.execute(query.replace("SELECT *", f"SELECT {ROW}", 1)).fetchall()}
            except Exception as exc:
                raise InputError(f"--where failed: {str(exc).splitlines()[0]}") from None
        finally:
            con.close()
        mask = pc.and_(mask, pa.array([i in hits for i in range(data.num_rows)], pa.bool_()))
    return mask


# -------------------------------------------------------------------------------- --fill


def parse_fills(fills: list[str] | dict[str, str] | None, table: str) -> dict[str, str]:
    if not fills:
        return {}
    pairs = fills.items() if isinstance(fills, dict) else [_split_fill(f) for f in fills]
    allowed = CONTRACT[table].bronze_column_names
    out = {}
    for col, value in pairs:
        if col not in allowed:
            raise InputError(f"--fill {col}=...: {table} has no raw column {col!r} (columns: {', '.join(allowed)})")
        out[col] = value
    return out


def _split_fill(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise InputError(f"--fill {text!r}: expected column=value, e.g. --fill customer_id=UNKNOWN")
    col, value = text.split("=", 1)
    return col.strip(), value


def _typed(value: str, typ: pa.DataType, column: str) -> str | int | float | bool:
    try:
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return value
        if pa.types.is_integer(typ):
            return int(value)
        if pa.types.is_floating(typ):
            return float(value)
        if pa.types.is_boolean(typ):
            low = value.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(value)
    except ValueError:
        raise InputError(f"--fill {column}={value!r}: not a valid {typ} value") from None
    raise InputError(f"--fill {column}: cannot fill a column of type {typ}")


def apply_fills(rows: pa.Table, fills: dict[str, str]) -> tuple[pa.Table, int]:
    """Replace NULLs and null tokens by the fill value; returns (rows, cells changed)."""
    changed = 0
    for col, value in fills.items():
        if col not in rows.column_names:
            continue
        idx = rows.column_names.index(col)
        arr = rows.column(col)
        typ = arr.type
        fill = _typed(value, typ, col)
        values = arr.to_pylist()
        new = []
        for v in values:
            empty = v is None or (isinstance(v, str) and v.strip().lower() in NULL_TOKENS)
            changed += empty
            new.append(fill if empty else v)
        rows = rows.set_column(idx, rows.schema.field(idx), pa.array(new, typ))
    return rows, changed


# ------------------------------------------------------------------------------- helpers


def _norm_key(values: Iterable[Any]) -> tuple[str | None, ...]:
    return tuple(None if v is None else str(v).strip() for v in values)


def _keys(tbl: pa.Table, pk: tuple[str, ...]) -> list[tuple]:
    if tbl.num_rows == 0:
        return []
    cols = [tbl.column(k).to_pylist() for k in pk]
    return [_norm_key(vals) for vals in zip(*cols, strict=False)]


def _load_revalidate() -> Revalidate:
    try:
        from ecomlake.silver.run import revalidate
    except ImportError:
        raise EcomlakeError(
            "Base Silver re-validation (ecomlake.silver.run.revalidate) is not available in this build"
        ) from None
    return revalidate


def _stage_copy(src: str, dst: str) -> None:
    """Put an existing live file into staging (a hard link when possible: no bytes copied)."""
    if storage.is_remote(src):
        fs, s = storage.fs_for(src)
        _, d = storage.fs_for(dst)
        fs.copy(s, d)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_parquet(tbl: pa.Table, path: str) -> None:
    if storage.is_remote(path):
        fs, p = storage.fs_for(path)
        with fs.open(p, "wb") as fh:
            pq.write_table(tbl, fh, compression="zstd")
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pq.write_table(tbl, path, compression="zstd")


def _conform(tbl: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    missing = [n for n in schema.names if n not in tbl.column_names]
    if missing:
        raise EcomlakeError(f"re-validated {what} rows lack columns {missing}; nothing was published")
    try:
        return tbl.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EcomlakeError(
            f"re-validated {what} rows do not match the partition schema ({exc}); nothing was published"
        ) from None


# --------------------------------------------------------------------------------- recover


@lineage.emits("recover")
def recover_quarantine(
    settings: Settings,
    *,
    table: str,
    ingest_dt: str,
    fills: list[str] | dict[str, str] | None = None,
    where: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    revalidate: Revalidate | None = None,
) -> dict:
    d = parse_date(ingest_dt, "--ingest-dt").isoformat()
    t = contract_table(table)
    run_id = resolve_run_id(run_id)
    check_reason(table, reason)
    fill_map = parse_fills(fills, table)
    silver_root, qroot = settings.paths.silver_base_path, settings.paths.quarantine_path
    part = f"ingest_dt={d}"
    s_dir = storage.partition_path(silver_root, table, d)
    q_dir = storage.partition_path(qroot, table, d)
    record: dict[str, Any] = {
        "run_id": run_id,
        "table": table,
        "ingest_dt": d,
        "fills": fill_map,
        "where": where,
        "reason": reason,
        "dry_run": dry_run,
        "config_source": settings.source,
        "started_at": utc_now_iso(),
        "selected": 0,
        "moved": 0,
        "kept": 0,
        "already_published": 0,
        "still_failing_reasons": {},
        "published": False,
    }
    require_quarantine_root(settings)  # before claim_staging, which would create a mistyped root
    claimed = in_publish = False
    lease = None
    if not dry_run:
        # One writer per Silver date: a silver run or another recover of D fails at once, naming us.
        lease = locks.acquire(silver_root, "silver", d, run_id, locks.timeout_of(settings))
    try:
        if not dry_run:
            storage.claim_staging(silver_root, run_id)  # also finishes an interrupted earlier publish
            claimed = True
        q_files = storage.partition_files(q_dir) if storage.isdir(q_dir) else []
        data = read_files(q_files) if q_files else None
        s_files = storage.partition_files(s_dir) if storage.isdir(s_dir) else []
        s_before = sum(storage.parquet_num_rows(f) for f in s_files)
        q_before = data.num_rows if data is not None else 0
        record.update(silver_rows_before=s_before, quarantine_rows_before=q_before)
        if data is None or data.num_rows == 0:
            record.update(
                message=f"nothing to recover: quarantine {table}/{part} is empty or absent",
                silver_rows_after=s_before,
                quarantine_rows_after=q_before,
            )
            return _finish(settings, record)
        if REASON not in data.column_names:
            raise InputError(f"{q_dir}: quarantine files have no {REASON} column")
        mask = select_rows(settings, data, where, reason)
        selected = data.filter(mask)
        rest = data.filter(pc.invert(mask))
        record["selected"] = selected.num_rows
        if selected.num_rows == 0:
            record.update(
                message="no quarantined row matches the selection",
                silver_rows_after=s_before,
                quarantine_rows_after=q_before,
                kept=0,
            )
            return _finish(settings, record)

        repaired, cells = apply_fills(selected, fill_map)
        record["cells_filled"] = cells
        source_hashes = ledger.row_hashes(selected, table)  # how a rerun of D finds these rows again

        # Keys already in Silver D: revalidate flags them as published duplicates; checked again below.
        silver_keys = set(_keys(read_files(s_files, list(t.primary_key)), t.primary_key)) if s_files else set()
        raw = repaired.select([c for c in repaired.column_names if c not in META_COLUMNS])
        if raw.num_rows:
            passing, failing = (revalidate or _load_revalidate())(settings, table, d, raw, run_id)
        else:
            passing, failing = None, None
        n_pass = passing.num_rows if passing is not None else 0
        n_fail = failing.num_rows if failing is not None else 0
        if n_pass + n_fail != raw.num_rows:
            raise EcomlakeError(
                f"re-validation returned {n_pass} passing + {n_fail} failing rows for {raw.num_rows} "
                "input rows; nothing was published"
            )
        if n_pass:
            pk_pass = _keys(passing, t.primary_key)
            clash = [k for k in pk_pass if k in silver_keys]
            if clash or len(set(pk_pass)) != len(pk_pass):
                raise EcomlakeError(
                    f"re-validation would publish duplicate keys into {table}/{part} "
                    f"(e.g. {clash[:1] or pk_pass[:1]}); nothing was published"
                )

        # The new quarantine partition: untouched rows plus the rows that still fail.
        q_schema = data.schema
        parts_q = [rest]
        if n_fail:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            f = failing
            if "ingest_dt" not in f.column_names:
                f = f.append_column("ingest_dt", pa.array([dt.date.fromisoformat(d)] * n_fail, pa.date32()))
            ts_type = q_schema.field(TIMESTAMP).type if TIMESTAMP in q_schema.names else pa.timestamp("us")
            ts = pa.array([now] * n_fail, pa.timestamp("us"))
            if getattr(ts_type, "tz", None):
                ts = pc.assume_timezone(ts, "UTC")
            f = f.drop_columns([c for c in (TIMESTAMP, RUN_ID) if c in f.column_names])
            f = f.append_column(TIMESTAMP, ts).append_column(RUN_ID, pa.array([run_id] * n_fail, pa.string()))
            f = _conform(f, q_schema, "still-failing")
            parts_q.append(f)
            published_code = rules.published_duplicate_code(table)
            for r in f.column(REASON).to_pylist():
                record["already_published"] += published_code in rules.split_reasons(r)
                for code in rules.split_reasons(r):
                    record["still_failing_reasons"][code] = record["still_failing_reasons"].get(code, 0) + 1
        new_q = pa.concat_tables(parts_q)
        kept_sources = _match_kept(table, repaired, source_hashes, parts_q[1] if n_fail else None)
        record.update(
            moved=n_pass, kept=n_fail, silver_rows_after=s_before + n_pass, quarantine_rows_after=new_q.num_rows
        )
        if new_q.num_rows + n_pass != q_before:
            raise EcomlakeError(
                f"row accounting failed: {q_before} quarantined != {n_pass} moved + {new_q.num_rows} kept; "
                "nothing was published"
            )

        # A rerun that would only rewrite the same rows is skipped, so recovering twice changes nothing.
        reasons_before = sorted(selected.column(REASON).to_pylist())
        reasons_after = sorted(failing.column(REASON).to_pylist() if n_fail else [])
        changed_q = n_pass > 0 or cells > 0 or reasons_before != reasons_after
        if dry_run or not changed_q:
            record["message"] = (
                "dry run: nothing changed"
                if dry_run
                else "nothing changed: the selected rows still fail with the same reasons"
            )
            if not dry_run:
                record.update(silver_rows_after=s_before, quarantine_rows_after=q_before)
            return _finish(settings, record)

        publishes = []
        if n_pass:
            staged_s = storage.staging_path(silver_root, run_id, table, part)
            storage.makedirs(staged_s)
            for f in s_files:
                _stage_copy(f, storage.join(staged_s, f.rsplit("/", 1)[-1]))
            s_schema = _silver_schema(s_files)
            rec = _conform(passing, s_schema, "passing") if s_schema is not None else passing
            storage.fault("while_writing")
            _write_parquet(rec, storage.join(staged_s, f"part-recovered-{run_id}.parquet"))
            publishes.append(
                storage.Publish(
                    staged_s,
                    s_dir,
                    table,
                    part,
                    expected_rows=s_before + n_pass,
                    extra={**_carried(s_dir), "recovered": {"run_id": run_id, "rows": n_pass}},
                )
            )
        staged_q = storage.staging_path(silver_root, run_id, f"_quarantine/{table}", part)
        storage.makedirs(staged_q)
        _write_parquet(new_q, storage.join(staged_q, "part-0000.parquet"))
        publishes.append(
            storage.Publish(
                staged_q,
                q_dir,
                table,
                part,
                expected_rows=new_q.num_rows,
                extra={**_carried(q_dir), "recovered": {"run_id": run_id, "rows": n_pass}},
                root=qroot,
            )
        )
        # The ledger entry goes into the same journal: it exists exactly when the recovery happened.
        kept_counter = Counter(kept_sources)
        moved_sources = []
        for h in source_hashes:
            if kept_counter[h]:
                kept_counter[h] -= 1
            else:
                moved_sources.append(h)
        entry = {
            "run_id": run_id,
            "recovered_at": utc_now_iso(),
            "moved": n_pass,
            "kept": n_fail,
            "fills": fill_map,
            "where": where,
            "reason": reason,
        }
        kept_tbl = parts_q[1].append_column(ledger.SOURCE, pa.array(kept_sources, pa.string())) if n_fail else None
        silver_rows = rec if n_pass else _empty_silver(s_files, passing)
        publishes.append(ledger.stage(settings, run_id, table, d, entry, silver_rows, moved_sources, kept_tbl))
        in_publish = True  # from here a crash must leave staging (and any journal) to storage.recover
        storage.publish(silver_root, run_id, publishes)  # one call: Silver, quarantine and ledger together
        in_publish = False
        record["published"] = True
        record["recovery_ledger"] = ledger.ledger_dir(settings, table, d)
        if t.kind != "fact" and n_pass:
            record["dims_refreshed"] = _refresh_dims(settings, d, run_id)
        return _finish(settings, record)
    finally:
        if claimed and not in_publish:
            storage.release_staging(silver_root, run_id)
        if lease is not None:
            lease.release()


def _match_kept(table: str, repaired: pa.Table, sources: list[str], kept: pa.Table | None) -> list[str]:
    """The source hash of each still-failing row (re-validation returns them without their origin).

    A failing row keeps the repaired raw values, so it is matched to the repaired row with the same
    Bronze columns; rows identical after repair are interchangeable, so a multiset match is exact.
    """
    if kept is None or kept.num_rows == 0:
        return []
    by_repaired: dict[str, list[str]] = {}
    for h_rep, h_src in zip(ledger.row_hashes(repaired, table), sources, strict=True):
        by_repaired.setdefault(h_rep, []).append(h_src)
    out = []
    for h in ledger.row_hashes(kept.select([c for c in repaired.column_names if c in kept.column_names]), table):
        candidates = by_repaired.get(h)
        if not candidates:
            raise EcomlakeError(
                f"{table}: a still-failing row does not match any selected row after re-validation; "
                "nothing was published"
            )
        out.append(candidates.pop())
    return out


def _empty_silver(s_files: list[str], passing: pa.Table | None) -> pa.Table:
    schema = _silver_schema(s_files)
    if schema is not None:
        return schema.empty_table()
    return passing.schema.empty_table() if passing is not None else pa.table({})


def _refresh_dims(settings: Settings, day: str, run_id: str) -> list[str]:
    """Rebuild the dims snapshots from D through the newest one, so recovered customers/products
    reach snapshot(D) and every later snapshot (each is the previous one plus that day's changes)."""
    from ecomlake.contract import DIM_TABLES
    from ecomlake.dims.snapshot import publish_snapshots, snapshot_dates

    dates = sorted({x for dim in DIM_TABLES for x in snapshot_dates(settings, dim) if x >= day})
    if not dates:
        return []
    direct = settings.model_copy(deep=True)
    direct.publish.dims_publish_mode = "direct"  # each snapshot feeds the next: no gate in between
    for x in dates:
        publish_snapshots(direct, x, f"{run_id}_dims_{x.replace('-', '')}")
    return dates


def _carried(partition_dir: str) -> dict:
    """Fields the original publish added to the manifest (layer, bronze_rows), kept across a recover."""
    try:
        old = storage.read_manifest(partition_dir) or {}
    except InputError:
        return {}
    standard = {
        "schema_version",
        "table",
        "partition",
        "run_id",
        "created_at",
        "files",
        "total_rows",
        "recovered",
        "recoveries",
    }
    return {k: v for k, v in old.items() if k not in standard}


def _silver_schema(files: list[str]) -> pa.Schema | None:
    if not files:
        return None
    f = files[0]
    if storage.is_remote(f):
        fs, p = storage.fs_for(f)
        with fs.open(p, "rb") as fh:
            return pq.ParquetFile(fh).schema_arrow
    return pq.ParquetFile(f).schema_arrow


def _finish(settings: Settings, record: dict) -> dict:
    record["finished_at"] = utc_now_iso()
    if not record["dry_run"]:
        path = storage.join(settings.paths.metrics_base_path, f"quarantine_recover_{record['run_id']}.json")
        storage.write_json_atomic(path, record)
        record["ledger"] = path
    return record
