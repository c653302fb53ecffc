"""Enriched on Spark equals Enriched on DuckDB, row for row.

One generated lake (our generator, fixed seed, 3 days of 60 orders) gets Bronze -> dims -> Base
Silver once with the normal DuckDB path; two copies of it then get Enriched for each day, one with
`engine="duckdb"` and one with `engine="spark"` (local Spark, one session per test worker). Days 2
and 3 reuse the incremental state of the day before on both engines.

Compared: every Enriched table's rows (as sets keyed by the table's unique grain; money exactly,
to the cent; floats to a relative 1e-9, see FLOAT_REL_TOL), the written parquet schema (exactly
the spec's), the incremental states, and for each day the gate's exit code, verdict and metrics
JSON (modulo run ids, timestamps, durations and the lake's own paths).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import REPO, lake_env

from ecomlake.config import Settings, load_settings
from ecomlake.transforms.schemas import SPECS, TABLE_NAMES

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAYS = ["2023-01-01", "2023-01-02", "2023-01-03"]
ENGINES = ("duckdb", "spark")
# Float columns are ratios and averages of exact decimals and integers; both engines compute them
# in IEEE doubles, but Spark adds partial aggregates per partition in another order than DuckDB,
# which can change the last bits (about 1e-16 relative per operation). 1e-9 is far above that
# noise and far below any business meaning (the specs round ratios to 1e-4 at most).
FLOAT_REL_TOL = 1e-9


def _settings(root: Path) -> Settings:
    s = load_settings(REPO / "config" / "config.yml", env=lake_env(root))
    # A few hundred rows: one shuffle partition, and no whole-stage code generation or adaptive
    # re-planning, whose fixed cost per query dominates at this size (none changes a result).
    # They take effect when this worker's session starts.
    s.spark.shuffle_partitions = 1
    s.spark.conf = {"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"}
    return s


@pytest.fixture(scope="module")
def silver_lake(tmp_path_factory) -> Path:
    """Bronze, dims snapshots and Base Silver for DAYS (the DuckDB/dbt path). Read-only."""
    from ecomlake.bronze.generator import GeneratorOptions, generate
    from ecomlake.dims.snapshot import run_dims
    from ecomlake.silver.run import run_tables

    root = tmp_path_factory.mktemp("enriched_parity") / "silver_lake"
    settings = _settings(root)
    generate(settings, GeneratorOptions(start_date=DAYS[0], days=len(DAYS), orders_per_day=60, seed=11))
    for d in DAYS:
        run_dims(settings, d)
        run_tables(settings, d, "facts")
    return root


@pytest.fixture(scope="module")
def runs(silver_lake: Path) -> dict[str, dict[str, Any]]:
    """Enriched + gate for each day on each engine, each on its own copy of the lake."""
    from ecomlake.enriched.runner import run_enriched
    from ecomlake.enriched.validate import validate_enriched

    out: dict[str, dict[str, Any]] = {}
    for engine in ENGINES:
        root = silver_lake.parent / engine
        shutil.copytree(silver_lake, root)
        settings = _settings(root)
        days = []
        for d in DAYS:
            result = run_enriched(settings, d, engine=engine)
            code, gate = validate_enriched(settings, ingest_dt=d, run_id=result.run_id)
            metrics = json.loads((root / "metrics" / f"enriched_quality_{result.run_id}.json").read_text())
            days.append({"result": result, "code": code, "status": gate.overall_status.value, "metrics": metrics})
        out[engine] = {"root": root, "days": days}
    return out


def _files(root: Path, table: str) -> list[Path]:
    return sorted(p for p in (root / "silver" / "enriched" / table).glob("*=*/*.parquet"))


def _read(root: Path, table: str) -> pa.Table:
    files = _files(root, table)
    assert files, f"{table}: no parquet under {root}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent  # same cents, same scale
    return type(a) is type(b) and a == b


def _rows_by_grain(table: pa.Table, keys: list[str]) -> dict[tuple, dict]:
    rows = table.to_pylist()
    by_key = {tuple(r[k] for k in keys): r for r in rows}
    assert len(by_key) == len(rows), "grain is not unique"
    return by_key


def _check_table_rows_equal(runs, table):
    spec = SPECS[table]
    duck = _read(runs["duckdb"]["root"], table)
    spark = _read(runs["spark"]["root"], table)
    assert duck.num_rows > 0
    a, b = _rows_by_grain(duck, spec.sort_keys), _rows_by_grain(spark, spec.sort_keys)
    assert set(a) == set(b), f"{table}: grain keys differ: {sorted(set(a) ^ set(b), key=str)[:5]}"
    diffs = [
        (k, col, a[k][col], b[k][col])
        for k in a
        for col in spec.arrow_schema().names
        if not _same_value(a[k][col], b[k][col])
    ]
    assert diffs == [], diffs[:5]


def _check_written_schema_is_exactly_the_spec(runs, engine):
    for table in TABLE_NAMES:
        want = SPECS[table].arrow_schema()
        for f in _files(runs[engine]["root"], table):
            got = pq.read_schema(f)
            assert got.remove_metadata() == want.remove_metadata(), f"{engine} {f}"


def _check_money_columns_are_decimal_to_the_cent(runs):
    """The spec's money columns are decimal(p, 2) in the files of both engines (Spark's decimal
    arithmetic widens to decimal(38, 18) unless cast: conform casts)."""
    money = 0
    for table in TABLE_NAMES:
        for field in SPECS[table].arrow_schema():
            if pa.types.is_decimal(field.type):
                money += 1
                for engine in ENGINES:
                    got = pq.read_schema(_files(runs[engine]["root"], table)[0]).field(field.name).type
                    assert got.scale == 2, f"{engine} {table}.{field.name}: {got}"
    assert money >= 10


_RUN_ID = re.compile(r"enriched_\d{8}T\d{6}Z_[0-9a-f]+")
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
_VOLATILE = ("seconds", "duration", "elapsed", "written_at", "timestamp", "created_at")


def _normalized(value: Any, root: str) -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v, root) for k, v in value.items() if not any(w in k for w in _VOLATILE)}
    if isinstance(value, list):
        return [_normalized(v, root) for v in value]
    if isinstance(value, str):
        return _TS.sub("<ts>", _RUN_ID.sub("<run>", value.replace(root, "<lake>")))
    if isinstance(value, float):
        return round(value, 9)
    return value


def _check_gate_verdict_and_metrics_equal(runs, day):
    duck, spark = runs["duckdb"]["days"][day], runs["spark"]["days"][day]
    assert (duck["code"], duck["status"]) == (spark["code"], spark["status"]) == (0, "PASS")
    a = _normalized(duck["metrics"], str(runs["duckdb"]["root"]))
    b = _normalized(spark["metrics"], str(runs["spark"]["root"]))
    assert a == b
    assert a["table_metrics"] and all(m["row_count"] > 0 for m in a["table_metrics"])


def _check_incremental_days_reuse_state_and_match(runs):
    for engine in ENGINES:
        modes = [{k: v["mode"] for k, v in d["result"].states.items()} for d in runs[engine]["days"]]
        assert modes[0] == {"customer_orders": "full", "product_daily": "full"}
        assert modes[1] == modes[2] == {"customer_orders": "incremental", "product_daily": "incremental"}
    for name, keys in (("customer_orders", ["customer_id"]), ("product_daily", ["product_id", "dt"])):
        for d in DAYS:
            tables = [
                pq.read_table(runs[e]["root"] / "silver" / "enriched" / "_state" / name / f"ingest_dt={d}")
                for e in ENGINES
            ]
            assert tables[0].num_rows > 0
            assert tables[0].schema == tables[1].schema
            assert _rows_by_grain(tables[0], keys) == _rows_by_grain(tables[1], keys), f"{name} {d}"


def _check_run_record_names_the_engine(runs):
    for engine in ENGINES:
        result = runs[engine]["days"][-1]["result"]
        assert result.engine == engine
        record = json.loads(Path(result.record_path).read_text())
        assert record["engine"] == engine
        assert dt.date.fromisoformat(record["ingest_dt"]) == dt.date(2023, 1, 3)


def _check_spark_runs_leave_no_views_or_cached_frames(runs):
    """The session outlives a run: every temp view it registered and every frame it cached
    (`materialize`) is dropped by the context's close."""
    from ecomlake.spark import get_session

    session = get_session(_settings(runs["spark"]["root"]))
    leftover = [t.name for t in session.catalog.listTables() if t.isTemporary]
    assert [n for n in leftover if n.startswith(("_parquet", "_arrow", "_empty", "ibis_cache"))] == []
    assert not session.sparkContext._jsc.sc().getPersistentRDDs().nonEmpty()


def test_enriched_on_spark_equals_duckdb(runs):
    """Every check above, in one test so that pytest-xdist keeps it on one worker (one JVM and one
    fixture lake, not one per worker); every failing check is reported, not just the first."""
    checks: list[tuple[str, Any, tuple]] = [(f"rows of {t}", _check_table_rows_equal, (t,)) for t in TABLE_NAMES]
    checks += [(f"{e} schema", _check_written_schema_is_exactly_the_spec, (e,)) for e in ENGINES]
    checks += [("money to the cent", _check_money_columns_are_decimal_to_the_cent, ())]
    checks += [(f"gate of {DAYS[i]}", _check_gate_verdict_and_metrics_equal, (i,)) for i in range(len(DAYS))]
    checks += [
        ("incremental state", _check_incremental_days_reuse_state_and_match, ()),
        ("run record", _check_run_record_names_the_engine, ()),
        ("session left clean", _check_spark_runs_leave_no_views_or_cached_frames, ()),
    ]
    problems = []
    for name, check, args in checks:
        try:
            check(runs, *args)
        except AssertionError as exc:
            problems.append(f"{name}: {str(exc)[:2000]}")
    assert problems == [], "\n".join(problems)


def test_the_comparison_can_fail():
    """A cent, a float beyond the tolerance, a scale, a type or a key each make rows differ."""
    assert not _same_value(decimal.Decimal("38.74"), decimal.Decimal("38.75"))
    assert not _same_value(decimal.Decimal("1.0"), decimal.Decimal("1.00"))
    assert not _same_value(0.5781896533, 0.5780555556)
    assert _same_value(0.1 + 0.2, 0.3) and not _same_value(1, 1.0)
    table = pa.table({"k": [1, 1], "v": [1.0, 2.0]})
    with pytest.raises(AssertionError, match="grain is not unique"):
        _rows_by_grain(table, ["k"])
    metrics = {"run_id": "enriched_20261130T190139Z_5419", "seconds": 1.5, "path": "/x/lake/m.json", "n": 3}
    assert _normalized(metrics, "/x/lake") == {"run_id": "<run>", "path": "<lake>/m.json", "n": 3}
