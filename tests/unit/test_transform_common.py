"""Pure helpers of the transforms: date spreading and the region parser."""

import datetime as dt

import ibis
import pyarrow as pa

from ecomlake.transforms.common import date_range, spread
from ecomlake.transforms.regional_financials import region_of


def test_spread_covers_both_directions_and_caps():
    d = dt.date(2023, 1, 10)
    assert spread([d], 2, 2) == set(date_range(dt.date(2023, 1, 8), dt.date(2023, 1, 12)))
    assert spread([d, None], 0, 30, cap=dt.date(2023, 1, 11)) == {d, dt.date(2023, 1, 11)}
    assert spread([d], 0, 5, cap=dt.date(2023, 1, 1)) == {d}  # a cap before the date keeps the date itself
    assert spread([], 1, 1) == set()


def test_region_of_address():
    addresses = [
        "822 Lincoln Blvd, Indianapolis, IN 46289",
        "4692 Spring Ave, New York, NY 10080-1234",
        "Hauptstr. 1, 10115 Berlin, Germany",
        "PSC 1234, Box 5678, APO AE 09204",
        "somewhere",
        None,
    ]
    t = ibis.memtable(pa.table({"a": pa.array(addresses, pa.string())}))
    con = ibis.duckdb.connect()
    got = con.to_pyarrow(t.select(r=region_of(t.a))).column("r").to_pylist()
    assert got == ["US-IN", "US-NY", "EU-DE", "US-AE", None, None]
