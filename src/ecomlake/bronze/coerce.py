"""Which physical types Bronze may arrive in, per contract type, and what the lake does with them.

Exporters we did not write use other physical types than our contract for the same column: a
money column declared as text arrives as DOUBLE, an integer as a string, a timestamp as a real
TIMESTAMP, an int64 as int32, strings dictionary-encoded or as large_string. Silver accepts all of
that: the generated ``int_<table>__bronze`` models cast every column to the contract's Bronze type
(macro ``bronze_coerced`` in ``dbt_duckdb/macros/bronze.sql``), a value that does not cast is
quarantined with its ``cast_failed_<column>`` code, and the Bronze gate reports the drift as a
WARN. A type that can never cast (a list, a struct, a date where a number belongs) is refused:
the gate FAILs and Base Silver stops before dbt with a one-line error.

Three verdicts for an arrived type against the contract's type:

- ``same``: the contract's type or a lossless flavour of it (any string encoding for string, a
  narrower integer for int64, float32 or an integer for float64, the all-null type). No report.
- ``castable``: another kind of value that Silver casts per row (the matrix below). WARN.
- ``incompatible``: FAIL.

The SQL side (``bronze_coerced``) implements the same matrix on DuckDB types; a functional test
runs every castable pair through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ecomlake import contract

SAME = "same"
CASTABLE = "castable"
INCOMPATIBLE = "incompatible"

# Kinds of arrived values a contract Bronze type accepts (besides its own kind), cast per row.
ACCEPTS: dict[str, frozenset[str]] = {
    contract.STRING: frozenset(
        {"string", "integer", "float", "decimal", "bool", "date", "timestamp", "time", "binary"}
    ),
    contract.INT64: frozenset({"integer", "float", "decimal", "string", "bool"}),
    contract.FLOAT64: frozenset({"integer", "float", "decimal", "string"}),
    contract.BOOL: frozenset({"bool", "integer", "string"}),
}


def kind(t: pa.DataType) -> str:
    """The kind of value an Arrow type holds: string, integer, float, decimal, bool, date,
    timestamp, time, binary, null, or nested/other (never castable)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_nested(t):
        return "nested"
    return "other"


def verdict(actual: pa.DataType, bronze: str) -> str:
    """`same`, `castable` or `incompatible` for a column of Arrow type `actual` whose contract
    Bronze type is `bronze` (contract.STRING / INT64 / FLOAT64 / BOOL)."""
    k = kind(actual)
    if k == "null":
        return SAME
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if bronze == contract.STRING and k == "string":
        return SAME
    if bronze == contract.INT64 and k == "integer" and not pa.types.is_uint64(actual):
        return SAME
    if bronze == contract.FLOAT64 and (k == "float" or (k == "integer" and not pa.types.is_uint64(actual))):
        return SAME
    if bronze == contract.BOOL and k == "bool":
        return SAME
    return CASTABLE if k in ACCEPTS[bronze] else INCOMPATIBLE


@dataclass(frozen=True)
class Drift:
    column: str
    contract_type: str  # the contract's Bronze (Arrow) type name
    arrived_type: str  # the Arrow type as found in the file
    verdict: str  # castable | incompatible


def schema_drift(table: str, schema: pa.Schema) -> list[Drift]:
    """Columns of one file whose type is not the contract's (missing and extra columns are not drift)."""
    t = contract.CONTRACT[table]
    out = []
    for f in t.bronze_schema():
        idx = schema.get_field_index(f.name)
        if idx < 0:
            continue
        bronze = t.column(f.name).bronze if f.name in t.column_names else contract.STRING
        arrived = schema.field(idx).type
        v = verdict(arrived, bronze)
        if v != SAME:
            out.append(Drift(f.name, str(f.type), str(arrived), v))
    return out
