"""The committed demo history (samples/dims_samples.zip) is built by the real pipeline from an earlier
contract; if the contract gains a column, `make demo` would publish days whose files disagree with the
new ones (readers that glob every day then fail). Rebuild it with `ecomlake sample dims`."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ecomlake.contract import CONTRACT, QUARANTINE_COLUMNS, silver_columns

ARCHIVE = Path(__file__).resolve().parents[2] / "samples" / "dims_samples.zip"
REBUILD = "samples/dims_samples.zip is stale: rebuild it with `ecomlake sample dims` and commit it"


def _schemas(prefix: str) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    with zipfile.ZipFile(ARCHIVE) as zf:
        for name in zf.namelist():
            m = re.fullmatch(rf"{prefix}/([a-z_]+)/ingest_dt=[0-9-]+/[^/]+\.parquet", name)
            if m:
                found.setdefault(m.group(1), []).append(pq.read_schema(io.BytesIO(zf.read(name))).names)
    return found


def test_silver_days_have_the_contract_columns():
    schemas = _schemas("silver/base")
    assert schemas, "no Silver days in the archive"
    for table, names in schemas.items():
        for got in names:
            assert got == [c for c, _ in silver_columns(table)], f"{table}: {REBUILD}"


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_quarantine_days_have_the_contract_columns(table):
    expected = [*CONTRACT[table].bronze_column_names, "ingest_dt", *QUARANTINE_COLUMNS]
    for got in _schemas("silver/base/quarantine").get(table, []):
        assert sorted(got) == sorted(expected), f"{table}: {REBUILD}"
