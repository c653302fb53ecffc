"""Rewrite a Bronze partition the way another exporter would have written it: other physical types.

`retype_partition()` takes a partition written by our generator (contract types) and rewrites its
files with another Arrow type for EVERY column (numbers as text, text as numbers, timestamps as real
TIMESTAMPs, dates as DATE, int32, decimals, dictionary-encoded and large strings, booleans as text
or int8), then fixes the manifest so the partition is still consistent. Rows whose value in some
column cannot be held by the new type (a 'not-a-date' the generator injected into a timestamp
column) go to a second file that keeps the contract's types: the partition's files then disagree
with each other on column types, which Silver must also accept (union by name).

Values convert the way Silver reads them (null tokens and surrounding spaces are what Silver
would clean anyway), so the retyped day must give exactly the Silver rows of the original day.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage
from ecomlake.contract import CONTRACT, LINEAGE_COLUMNS

NULL_TOKENS = ("", "none", "null", "n/a", "nan")
_STRING_FLAVOURS = (pa.large_string(), pa.dictionary(pa.int32(), pa.string()))
_INT_FLAVOURS = (pa.string(), pa.float64(), pa.int32())
_FLOAT_FLAVOURS = (pa.string(), pa.decimal128(18, 2))
_BOOL_FLAVOURS = (pa.string(), pa.int8())


def default_plan(table: str) -> dict[str, pa.DataType]:
    """Another physical type for every Bronze column of `table` (rotating through the flavours)."""
    t = CONTRACT[table]
    plan: dict[str, pa.DataType] = {}
    for i, c in enumerate(t.columns):
        if c.bronze == "string":
            if c.silver == "TIMESTAMP":
                plan[c.name] = pa.timestamp("us")
            elif c.silver == "DATE":
                plan[c.name] = pa.date32()
            elif c.silver.startswith("DECIMAL"):
                plan[c.name] = pa.float64()
            else:
                plan[c.name] = _STRING_FLAVOURS[i % len(_STRING_FLAVOURS)]
        elif c.bronze == "int64":
            plan[c.name] = _INT_FLAVOURS[i % len(_INT_FLAVOURS)]
        elif c.bronze == "float64":
            plan[c.name] = _FLOAT_FLAVOURS[i % len(_FLOAT_FLAVOURS)]
        elif c.bronze == "bool":
            plan[c.name] = _BOOL_FLAVOURS[i % len(_BOOL_FLAVOURS)]
    plan["ingestion_ts"] = pa.timestamp("us", tz="UTC")
    for i, name in enumerate(n for n in LINEAGE_COLUMNS if n != "ingestion_ts"):
        plan[name] = _STRING_FLAVOURS[i % len(_STRING_FLAVOURS)]
    return plan


def _token(v: str) -> bool:
    return v.strip().lower() in NULL_TOKENS


_CON = duckdb.connect()
_CON.execute("SET TimeZone = 'UTC'")


def _parse(v: str, sql_type: str):
    return _CON.execute(f"select try_cast(trim(?) as {sql_type})", [v]).fetchone()[0]


def _convert(value, to: pa.DataType) -> tuple[bool, object]:
    """(ok, converted) for one value; ok=False when `to` cannot hold it as Silver would read it."""
    if value is None:
        return True, None
    if isinstance(value, str):
        if pa.types.is_string(to) or pa.types.is_large_string(to) or pa.types.is_dictionary(to):
            return True, value
        if _token(value):
            return True, None  # Silver reads a null token as NULL: a null holds the same meaning
        if pa.types.is_timestamp(to):
            if to.tz:  # ingestion_ts: an ISO-8601 text with an offset
                parsed = _parse(value, "TIMESTAMPTZ")
                return parsed is not None, parsed
            parsed = _parse(value, "TIMESTAMP")
            return parsed is not None, parsed
        if pa.types.is_date(to):
            parsed = _parse(value, "DATE")
            return parsed is not None, parsed
        if pa.types.is_floating(to):
            parsed = _parse(value, "DOUBLE")
            return parsed is not None, parsed
        raise AssertionError(f"no conversion of text to {to}")
    if isinstance(value, bool):
        if pa.types.is_string(to):
            return True, "true" if value else "false"
        if pa.types.is_integer(to):
            return True, int(value)
        raise AssertionError(to)
    if isinstance(value, int):
        if pa.types.is_string(to):
            return True, str(value)
        if pa.types.is_floating(to):
            return True, float(value)
        if pa.types.is_int32(to):
            return -(2**31) <= value < 2**31, value
        raise AssertionError(to)
    if isinstance(value, float):
        if pa.types.is_string(to):
            return True, repr(value)
        if pa.types.is_decimal(to):
            d = Decimal(repr(value))
            return d == d.quantize(Decimal("0.01")), d.quantize(Decimal("0.01"))
        raise AssertionError(to)
    raise AssertionError(type(value))


def retype_table(tbl: pa.Table, plan: dict[str, pa.DataType]) -> tuple[pa.Table, pa.Table]:
    """(rows in the new types, rows that keep the original types) in their original order."""
    columns = {name: tbl.column(name).to_pylist() for name in plan if name in tbl.column_names}
    ok_rows: list[int] = []
    left_rows: list[int] = []
    converted: dict[str, list] = {name: [] for name in columns}
    for i in range(tbl.num_rows):
        row = {}
        good = True
        for name, values in columns.items():
            ok, v = _convert(values[i], plan[name])
            good = good and ok
            row[name] = v
        if good:
            ok_rows.append(i)
            for name, v in row.items():
                converted[name].append(v)
        else:
            left_rows.append(i)
    fields, arrays = [], []
    for f in tbl.schema:
        if f.name in converted:
            to = plan[f.name]
            if pa.types.is_dictionary(to):
                arr = pa.array(converted[f.name], pa.string()).dictionary_encode()
            else:
                arr = pa.array(converted[f.name], to)
            fields.append(pa.field(f.name, arr.type))
            arrays.append(arr)
        else:
            fields.append(f)
            arrays.append(tbl.column(f.name).take(pa.array(ok_rows, pa.int64())))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), tbl.take(pa.array(left_rows, pa.int64()))


def retype_partition(partition_dir: Path, table: str, plan: dict[str, pa.DataType] | None = None) -> dict:
    """Rewrite every part file of a Bronze partition with `plan`'s types (default: every column),
    leftovers in `<part>-leftover.parquet`, and rebuild the manifest. Returns what changed."""
    plan = plan or default_plan(table)
    moved = 0
    for f in sorted(partition_dir.glob("*.parquet")):
        tbl = pq.read_table(f)
        new, left = retype_table(tbl, plan)
        pq.write_table(new, f)
        if left.num_rows:
            pq.write_table(left, f.with_name(f.stem + "-leftover.parquet"))
            moved += left.num_rows
    manifest = storage.build_manifest(
        str(partition_dir), table=table, partition=partition_dir.name, run_id="retyped-by-another-exporter"
    )
    old = storage.read_manifest(str(partition_dir)) or {}
    for key in ("batch_id", "min_event_dt", "max_event_dt", "generator_version"):
        if key in old:
            manifest[key] = old[key]
    storage.write_json_atomic(str(partition_dir / storage.MANIFEST_NAME), manifest)
    return {"plan": {k: str(v) for k, v in plan.items()}, "leftover_rows": moved}


def retype_day(bronze_root: Path, day: str, tables: tuple[str, ...] | None = None) -> dict[str, dict]:
    out = {}
    for table in tables or tuple(CONTRACT):
        part = Path(storage.partition_path(str(bronze_root), table, day))
        if part.is_dir():
            out[table] = retype_partition(part, table)
    return out
