"""Bronze profile (`ecomlake bronze profile`): what the raw data looks like, column by column.

Per table: schema per partition (from the parquet footers) and schema drift across partitions;
per column (DuckDB over the readable files): null %, null-token % ('None', 'null', 'N/A', '' in
string columns, counted separately from real nulls), distinct count, min/max and the top values of
low-cardinality columns; flags for mostly-null columns, duplicate primary keys and columns that
differ from the contract. Writes a Markdown profile and a JSON schema map
``{_meta: {generated_at, bronze_path}, schemas: {table: {"ingest_dt=D": {column: arrow_type}}}}``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import click
import duckdb
import pyarrow as pa

from ecomlake import contract, ids, storage
from ecomlake.bronze.validate import compatible_type, read_footer
from ecomlake.config import Settings
from ecomlake.duck import connect, one, sql_literal
from ecomlake.errors import InputError
from ecomlake.quality.gate import fmt_int, md_table
from ecomlake.runs import utc_now_iso

KEY = contract.PARTITION_KEY
NULL_TOKENS = ("none", "null", "n/a", "")  # compared after trim + lower-case
LOW_CARDINALITY = 20  # top values are listed for columns with at most this many values
MOSTLY_NULL_PCT = 50.0
TOP_N = 5
FILE_COL = "_ecomlake_source_path"  # added by read_parquet so dimension keys can be grouped by partition


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _short(value: object, width: int = 40) -> str:
    if value is None:
        return "-"
    s = str(value)
    return s if len(s) <= width else s[: width - 1] + "…"


@dataclass
class ColumnProfile:
    name: str
    type: str
    contract_type: str | None
    non_null: int = 0
    nulls: int = 0
    null_tokens: int | None = None  # string columns only
    distinct: int = 0
    min: str | None = None
    max: str | None = None
    top: list[tuple[str | None, int]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def to_dict(self, rows: int) -> dict:
        return {
            "column": self.name,
            "type": self.type,
            "contract_type": self.contract_type,
            "null_pct": round(100.0 * self.nulls / rows, 4) if rows else None,
            "null_token_pct": (round(100.0 * self.null_tokens / rows, 4) if rows else None)
            if self.null_tokens is not None
            else None,
            "distinct": self.distinct,
            "min": self.min,
            "max": self.max,
            "top_values": [{"value": v, "count": n} for v, n in self.top],
            "flags": self.flags,
        }


@dataclass
class TableProfile:
    table: str
    partitions: dict[str, dict[str, str]] = field(default_factory=dict)  # ingest_dt=D -> column -> type
    partition_rows: dict[str, int] = field(default_factory=dict)
    arrow_types: dict[str, pa.DataType] = field(default_factory=dict)  # type string -> pyarrow type
    files: int = 0
    unreadable: list[str] = field(default_factory=list)
    rows: int = 0  # rows in the footers of the readable files
    profiled_rows: int = 0  # rows the column statistics cover (max_rows sampling)
    columns: list[ColumnProfile] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    duplicate_keys: int | None = None
    changed_keys: int | None = None  # dimensions: keys with change records on more than one day

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "partitions": len(self.partitions),
            "files": self.files,
            "rows": self.rows,
            "profiled_rows": self.profiled_rows,
            "unreadable_files": self.unreadable,
            "duplicate_primary_keys": self.duplicate_keys,
            "keys_updated_across_partitions": self.changed_keys,
            "schema_drift": self.drift,
            "flags": self.flags,
            "columns": [c.to_dict(self.profiled_rows) for c in self.columns],
        }


def _schemas(root: str, table: str, tp: TableProfile) -> list[str]:
    """Fill the per-partition schema map; return the readable files."""
    readable: list[str] = []
    for value in storage.list_partitions(root, table, KEY):
        part = storage.partition_name(value, KEY)
        pdir = storage.join(root, table, part)
        cols: dict[str, str] = {}
        rows = 0
        for path in storage.partition_files(pdir):
            tp.files += 1
            rel = f"{table}/{part}/{path.rsplit('/', 1)[-1]}"
            try:
                if not storage.has_parquet_magic(path):
                    raise ValueError("no PAR1 magic bytes")
                meta = read_footer(path)
            except Exception:  # the Bronze gate reports why; the profile only notes the file
                tp.unreadable.append(rel)
                continue
            readable.append(path)
            rows += meta.num_rows
            for f in meta.schema.to_arrow_schema():
                t = str(f.type)
                tp.arrow_types.setdefault(t, f.type)
                if f.name in cols and cols[f.name] != t and t not in cols[f.name].split(" | "):
                    cols[f.name] = f"{cols[f.name]} | {t}"  # files of one partition disagree
                else:
                    cols.setdefault(f.name, t)
        tp.partitions[part] = cols
        tp.partition_rows[part] = rows
        tp.rows += rows
    return readable


def _drift(table: str, tp: TableProfile) -> None:
    """Columns whose type or presence changes across partitions, and differences from the contract."""
    tbl = contract.CONTRACT[table]
    expected = tbl.bronze_schema()
    parts = list(tp.partitions)
    types: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for part, cols in tp.partitions.items():
        for col, t in cols.items():
            types[col][t].append(part)
    for col, by_type in types.items():
        present = {p for ps in by_type.values() for p in ps}
        missing_in = [p for p in parts if p not in present]
        if len(by_type) > 1:
            tp.drift.append({"column": col, "change": "type", "types": dict(by_type.items())})
            tp.flags.append(f"schema drift: {col} changes type across partitions ({', '.join(by_type)})")
        if missing_in:
            tp.drift.append({"column": col, "change": "presence", "missing_in": missing_in})
            tp.flags.append(f"schema drift: {col} is missing in {len(missing_in)} of {len(parts)} partitions")
        idx = expected.get_field_index(col)
        if idx < 0:
            tp.flags.append(f"unexpected column {col} (not in the contract)")
        else:
            want = expected.field(idx).type
            bad = [t for t in by_type if not all(compatible_type(tp.arrow_types[x], want) for x in t.split(" | "))]
            if bad:
                tp.flags.append(f"{col} is {', '.join(bad)} but the contract says {want}")
    for f in expected:
        if parts and f.name not in types:
            tp.flags.append(f"contract column {f.name} is missing from every partition")


def _profile_columns(
    con: duckdb.DuckDBPyConnection, table: str, tp: TableProfile, files: list[str], max_rows: int
) -> None:
    if not files:
        return
    src = (
        f"read_parquet([{', '.join(sql_literal(f) for f in files)}], union_by_name = true, "
        f"hive_partitioning = false, filename = {sql_literal(FILE_COL)})"
    )
    limit = f" LIMIT {int(max_rows)}" if max_rows else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE src AS SELECT * FROM {src}{limit}")
    described = con.execute("DESCRIBE src").fetchall()
    cols = [(r[0], r[1]) for r in described if r[0] != FILE_COL]
    scalar = {c: t for c, t in cols if not any(k in t for k in ("[]", "STRUCT", "MAP", "UNION"))}
    aggs = ["count(*)"]
    for c, t in cols:
        qc = _q(c)
        aggs.append(f"count({qc})")
        if c in scalar:
            aggs += [f"count(DISTINCT {qc})", f"min({qc})::VARCHAR", f"max({qc})::VARCHAR"]
        if t == "VARCHAR":
            tokens = ", ".join(sql_literal(x) for x in NULL_TOKENS)
            aggs.append(f"count(*) FILTER (WHERE lower(trim({qc})) IN ({tokens}))")
    row = one(con, f"SELECT {', '.join(aggs)} FROM src")
    it = iter(row)
    tp.profiled_rows = next(it)
    expected = contract.CONTRACT[table].bronze_schema()
    arrow_types: dict[str, list[str]] = defaultdict(list)  # every type a column has in the footers
    for cols_ in tp.partitions.values():
        for c, types in cols_.items():
            for t in types.split(" | "):
                if t not in arrow_types[c]:
                    arrow_types[c].append(t)
    for c, t in cols:
        idx = expected.get_field_index(c)
        cp = ColumnProfile(c, " | ".join(arrow_types[c]) or t, str(expected.field(idx).type) if idx >= 0 else None)
        cp.non_null = next(it)
        cp.nulls = tp.profiled_rows - cp.non_null
        if c in scalar:
            cp.distinct, cp.min, cp.max = next(it), next(it), next(it)
        if t == "VARCHAR":
            cp.null_tokens = next(it)
        tp.columns.append(cp)

    for cp in tp.columns:
        # Top values only say something when values repeat (an id column has none worth listing).
        if cp.name in scalar and 0 < cp.distinct <= LOW_CARDINALITY and cp.distinct < cp.non_null:
            cp.top = [
                (v, n)
                for v, n in con.execute(
                    f"SELECT {_q(cp.name)}::VARCHAR AS v, count(*) AS n FROM src WHERE {_q(cp.name)} IS NOT NULL "
                    f"GROUP BY 1 ORDER BY n DESC, v LIMIT {TOP_N}"
                ).fetchall()
            ]
        if tp.profiled_rows:
            missing_pct = 100.0 * (cp.nulls + (cp.null_tokens or 0)) / tp.profiled_rows
            if missing_pct > MOSTLY_NULL_PCT:
                cp.flags.append("mostly_null")
                tp.flags.append(f"{cp.name} is {missing_pct:.1f}% null or null tokens (> {MOSTLY_NULL_PCT:.0f}%)")
        if cp.contract_type is None:
            cp.flags.append("unexpected")

    pk = [c for c in contract.CONTRACT[table].primary_key if c in scalar]
    if pk and len(pk) == len(contract.CONTRACT[table].primary_key):
        keys = ", ".join(_q(c) for c in pk)
        not_null = " AND ".join(f"{_q(c)} IS NOT NULL" for c in pk)
        # Dimension rows are change records: the same key on two days is an update, not a duplicate,
        # so dimensions are checked within a partition; facts across the whole table (re-sent rows).
        is_dim = contract.CONTRACT[table].kind == "dim"
        part_key = f", regexp_extract({_q(FILE_COL)}, '{KEY}=([^/]+)', 1) AS _part" if is_dim else ""
        dup_keys, dup_rows = one(
            con,
            f"SELECT count(*), coalesce(sum(n - 1), 0) FROM (SELECT {keys}{part_key}, count(*) AS n FROM src "
            f"WHERE {not_null} GROUP BY ALL HAVING count(*) > 1)",
        )
        tp.duplicate_keys = int(dup_keys)
        scope = "within one partition" if is_dim else "across partitions"
        if dup_keys:
            for cp in tp.columns:
                if cp.name in pk:
                    cp.flags.append("duplicate_pk")
            tp.flags.append(
                f"duplicate primary key ({', '.join(pk)}) {scope}: {dup_keys:,} keys repeated, "
                f"{int(dup_rows):,} extra rows"
            )
        if is_dim:
            tp.changed_keys = one(
                con,
                f"SELECT count(*) FROM (SELECT {keys} FROM src WHERE {not_null} GROUP BY ALL "
                f"HAVING count(DISTINCT regexp_extract({_q(FILE_COL)}, '{KEY}=([^/]+)', 1)) > 1)",
            )[0]
    con.execute("DROP TABLE src")


def profile_bronze(
    settings: Settings,
    *,
    tables: str | list[str] | None = None,
    output: str | None = "docs/data/BRONZE_PROFILE_REPORT.md",
    schema_json: str | None = "docs/data/BRONZE_SCHEMA_MAP.json",
    max_rows: int = 0,
    echo: bool = True,
) -> dict:
    """Profile every table; write the Markdown profile and the JSON schema map; return the profile."""
    table_names = contract.parse_tables(",".join(tables) if isinstance(tables, list) else tables)
    if output is not None:
        ids.user_path(output, "--output")
    if schema_json is not None:
        ids.user_path(schema_json, "--schema-json")
    root = settings.paths.bronze_base_path
    if not storage.isdir(root):
        from ecomlake.lake import missing_bronze_hint

        raise InputError(
            f"bronze path not found: {root} (pass --bronze-path or set BRONZE_BASE_PATH, or "
            f"{missing_bronze_hint(settings)})"
        )
    if max_rows < 0:
        raise InputError(f"--max-rows must be >= 0, got {max_rows}")
    generated_at = utc_now_iso()
    profiles: list[TableProfile] = []
    con = connect(settings)
    try:
        for t in table_names:
            tp = TableProfile(t)
            files = _schemas(root, t, tp)
            if not tp.partitions:
                tp.flags.append(f"no {KEY}= partitions")
            if tp.unreadable:
                tp.flags.append(f"{len(tp.unreadable)} unreadable file(s) left out: {', '.join(tp.unreadable[:5])}")
            _drift(t, tp)
            try:
                _profile_columns(con, t, tp, files, max_rows)
            except Exception as exc:  # keep profiling the other tables; the flag says what went wrong
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                tp.flags.append(f"column statistics failed: {first}")
            profiles.append(tp)
            if echo:
                click.echo(
                    f"{t}: {len(tp.partitions)} partitions, {tp.files} files, {tp.rows:,} rows, "
                    f"{len(tp.columns)} columns, {len(tp.flags)} flags"
                )
    finally:
        con.close()

    result = {
        "_meta": {
            "generated_at": generated_at,
            "bronze_path": root,
            "tables": table_names,
            "max_rows": max_rows,
            "config_source": settings.source,
        },
        "schemas": {tp.table: tp.partitions for tp in profiles},
    }
    if schema_json:
        storage.write_json_atomic(schema_json, result)
    if output:
        storage.write_bytes_atomic(output, _markdown(profiles, root, generated_at, max_rows, settings.source).encode())
    if echo:
        click.echo(
            f"Bronze profile: {len(profiles)} tables, {sum(len(p.flags) for p in profiles)} flags; "
            f"report {output or '-'}; schema map {schema_json or '-'}"
        )
    return {**result, "profiles": [tp.to_dict() for tp in profiles]}


def _markdown(
    profiles: list[TableProfile], root: str, generated_at: str, max_rows: int, config_source: str | None = None
) -> str:
    out = [
        "# Bronze Profile Report",
        "",
        f"**Generated:** {generated_at.replace('T', ' ').replace('+00:00', ' UTC')}  ",
        f"**Bronze path:** `{root}`  ",
        f"**Config:** `{config_source or 'built-in defaults (no config file)'}`  ",
        f"**Rows profiled per table:** {'all' if not max_rows else f'first {max_rows:,}'}",
        "",
        "## Overview",
        "",
        md_table(
            ["Table", "Partitions", "Files", "Rows", "Columns", "Duplicate PKs", "Flags"],
            [
                (
                    tp.table,
                    len(tp.partitions),
                    tp.files,
                    fmt_int(tp.rows),
                    len(tp.columns),
                    fmt_int(tp.duplicate_keys),
                    len(tp.flags),
                )
                for tp in profiles
            ],
        ),
        "",
        "## Flags",
        "",
    ]
    flags = [(tp.table, f) for tp in profiles for f in tp.flags]
    out += [f"- **{t}**: {f}" for t, f in flags] or ["None."]
    out += ["", "## Schema Drift Across Partitions", ""]
    drift_rows = []
    for tp in profiles:
        for d in tp.drift:
            if d["change"] == "type":
                detail = "; ".join(f"{t} in {len(ps)} partition(s) ({ps[0]}…)" for t, ps in d["types"].items())
            else:
                detail = f"missing in {len(d['missing_in'])} partition(s): {', '.join(d['missing_in'][:5])}"
            drift_rows.append((tp.table, d["column"], d["change"], detail))
    out.append(
        md_table(["Table", "Column", "Change", "Detail"], drift_rows)
        if drift_rows
        else "None: every column keeps its type and presence in every partition."
    )
    for tp in profiles:
        out += ["", f"## {tp.table}", ""]
        if not tp.partitions:
            out.append("No partitions.")
            continue
        counts = list(tp.partition_rows.values())
        parts = list(tp.partition_rows)
        out.append(
            f"{len(parts)} partitions ({parts[0]} … {parts[-1]}), {tp.files} files, {tp.rows:,} rows; "
            f"rows per partition min {min(counts):,}, avg {sum(counts) / len(counts):,.0f}, max {max(counts):,}; "
            f"{tp.profiled_rows:,} rows profiled"
            + (
                f"; {tp.changed_keys:,} keys have change records on more than one day (updates, not duplicates)."
                if tp.changed_keys is not None
                else "."
            )
        )
        out.append("")
        out.append(
            md_table(
                [
                    "Column",
                    "Type",
                    "Contract",
                    "Null %",
                    "Null tokens %",
                    "Distinct",
                    "Min",
                    "Max",
                    "Top values",
                    "Flags",
                ],
                [
                    (
                        cp.name,
                        cp.type,
                        cp.contract_type or "(not in contract)",
                        f"{100.0 * cp.nulls / tp.profiled_rows:.2f}" if tp.profiled_rows else "-",
                        (f"{100.0 * cp.null_tokens / tp.profiled_rows:.2f}" if tp.profiled_rows else "-")
                        if cp.null_tokens is not None
                        else "n/a",
                        fmt_int(cp.distinct),
                        _short(cp.min),
                        _short(cp.max),
                        ", ".join(f"{_short(v, 20)} ({n:,})" for v, n in cp.top) or "-",
                        ", ".join(cp.flags) or "-",
                    )
                    for cp in tp.columns
                ],
            )
        )
    out += ["", "<!-- AUTO-GENERATED by `ecomlake bronze profile` - DO NOT EDIT -->", ""]
    return "\n".join(out)
