"""Which physical types Bronze may arrive in (ecomlake.bronze.coerce): same, castable, incompatible."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ecomlake.bronze.coerce import CASTABLE, INCOMPATIBLE, SAME, schema_drift, verdict
from ecomlake.contract import BOOL, CONTRACT, FLOAT64, INT64, STRING


@pytest.mark.parametrize(
    "arrived, contract, expected",
    [
        # lossless flavours of the contract's own kind: nothing to report
        (pa.string(), STRING, SAME),
        (pa.large_string(), STRING, SAME),
        (pa.dictionary(pa.int32(), pa.string()), STRING, SAME),
        (pa.null(), INT64, SAME),
        (pa.int32(), INT64, SAME),
        (pa.int8(), FLOAT64, SAME),
        (pa.float32(), FLOAT64, SAME),
        (pa.bool_(), BOOL, SAME),
        # another kind of value that Silver casts row by row: WARN
        (pa.float64(), STRING, CASTABLE),  # money declared as text, arriving as DOUBLE
        (pa.int64(), STRING, CASTABLE),
        (pa.timestamp("us"), STRING, CASTABLE),
        (pa.timestamp("ns", tz="UTC"), STRING, CASTABLE),
        (pa.date32(), STRING, CASTABLE),
        (pa.decimal128(18, 2), STRING, CASTABLE),
        (pa.bool_(), STRING, CASTABLE),
        (pa.binary(), STRING, CASTABLE),
        (pa.string(), INT64, CASTABLE),  # an integer arriving as text
        (pa.float64(), INT64, CASTABLE),
        (pa.uint64(), INT64, CASTABLE),  # values beyond int64 are quarantined
        (pa.decimal128(10, 0), INT64, CASTABLE),
        (pa.bool_(), INT64, CASTABLE),
        (pa.string(), FLOAT64, CASTABLE),
        (pa.decimal128(18, 2), FLOAT64, CASTABLE),
        (pa.uint64(), FLOAT64, CASTABLE),
        (pa.string(), BOOL, CASTABLE),
        (pa.int8(), BOOL, CASTABLE),
        (pa.dictionary(pa.int16(), pa.string()), INT64, CASTABLE),
        # never castable: FAIL, and Base Silver refuses the partition
        (pa.list_(pa.int64()), STRING, INCOMPATIBLE),
        (pa.struct([("a", pa.int64())]), INT64, INCOMPATIBLE),
        (pa.date32(), INT64, INCOMPATIBLE),
        (pa.timestamp("us"), FLOAT64, INCOMPATIBLE),
        (pa.float64(), BOOL, INCOMPATIBLE),
        (pa.binary(), INT64, INCOMPATIBLE),
    ],
)
def test_verdict(arrived, contract, expected):
    assert verdict(arrived, contract) == expected


def test_schema_drift_names_column_contract_type_and_arrived_type():
    schema = CONTRACT["orders"].bronze_schema()
    i = schema.get_field_index("payment_processing_fee")
    schema = schema.set(i, pa.field("payment_processing_fee", pa.float64()))
    j = schema.get_field_index("total_items")
    schema = schema.set(j, pa.field("total_items", pa.list_(pa.int64())))
    schema = schema.remove(schema.get_field_index("agent_id"))  # missing columns are not drift
    drift = {d.column: d for d in schema_drift("orders", schema)}
    assert set(drift) == {"payment_processing_fee", "total_items"}
    fee = drift["payment_processing_fee"]
    assert (fee.contract_type, fee.arrived_type, fee.verdict) == ("string", "double", CASTABLE)
    assert drift["total_items"].verdict == INCOMPATIBLE
