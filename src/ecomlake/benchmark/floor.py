"""The floor: DuckDB reading a stage's input bytes and writing them once as zstd parquet.

The parent lists the input files of each floor (`floor_inputs`); the child
(`python -m ecomlake.benchmark.floor SPEC.json`) opens DuckDB through `ecomlake.duck.connect`, so
it has the same memory limit, threads and spill directory as the stages (all from the
environment), and copies each input table to one parquet file. The time it reports covers the
copies only, not Python's start-up: that is the physical cost of the bytes, the stage's process
start-up is part of what the stage costs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ecomlake import storage
from ecomlake.contract import DIM_TABLES, FACT_TABLES, TABLES
from ecomlake.duck import scalar

# Floor name -> what it reads (shown in the report).
FLOORS = {
    "bronze_day": "Bronze partition of D, all eight tables",
    "dims_inputs": "Bronze customers and product_catalog of D, plus the previous dims snapshots",
    "silver_day": "Base Silver and quarantine partitions of D, all eight tables",
    "silver_as_of": "Base Silver fact tables known as of D (ingest_dt <= D), plus the dims snapshots of D",
    "enriched_all": "Every published Enriched table partition",
}


def _partition_files(root: str, table: str, value: str, key: str = "ingest_dt") -> list[str]:
    return sorted(storage.list_data_files(storage.partition_path(root, table, value, key)))


def _partitions(root: str, table: str, key: str) -> list[str]:
    if not storage.isdir(storage.join(root, table)):
        return []
    return storage.list_partitions(root, table, key=key)


def floor_inputs(name: str, env: dict[str, str], day: str) -> dict[str, list[str]]:
    """Input files of floor `name` for day D, grouped by table (one output file per group)."""
    from ecomlake.contract import DIM_SNAPSHOTS
    from ecomlake.dims.snapshot import SNAPSHOT_KEY

    bronze, silver = env["BRONZE_BASE_PATH"], env["SILVER_BASE_PATH"]
    quarantine = env.get("SILVER_QUARANTINE_PATH") or storage.join(silver, "quarantine")
    dims, enriched = env["SILVER_DIMS_PATH"], env["SILVER_ENRICHED_PATH"]
    groups: dict[str, list[str]] = {}

    def snapshot(dim: str, before: bool) -> None:
        snap = DIM_SNAPSHOTS[dim]
        dates = [d for d in _partitions(dims, snap, SNAPSHOT_KEY) if (d < day if before else d <= day)]
        if dates:
            groups[f"snapshot_{snap}_{dates[-1]}"] = _partition_files(dims, snap, dates[-1], SNAPSHOT_KEY)

    if name == "bronze_day":
        for t in TABLES:
            groups[f"bronze_{t}"] = _partition_files(bronze, t, day)
    elif name == "dims_inputs":
        for t in DIM_TABLES:
            groups[f"bronze_{t}"] = _partition_files(bronze, t, day)
            snapshot(t, before=True)
    elif name == "silver_day":
        for t in TABLES:
            groups[f"silver_{t}"] = _partition_files(silver, t, day)
            groups[f"quarantine_{t}"] = _partition_files(quarantine, t, day)
    elif name == "silver_as_of":
        for t in FACT_TABLES:
            groups[f"silver_{t}"] = [
                f for d in _partitions(silver, t, "ingest_dt") if d <= day for f in _partition_files(silver, t, d)
            ]
        for t in DIM_TABLES:
            snapshot(t, before=False)
    elif name == "enriched_all":
        from ecomlake.transforms.schemas import SPECS, TABLE_NAMES

        for t in TABLE_NAMES:
            key = SPECS[t].partition_key
            groups[f"enriched_{t}"] = [
                f for v in _partitions(enriched, t, key) for f in _partition_files(enriched, t, v, key)
            ]
    else:
        raise ValueError(f"unknown floor {name!r}")
    return {k: v for k, v in groups.items() if v}


def main(spec_path: str) -> None:
    from ecomlake.config import load_settings
    from ecomlake.duck import connect, sql_literal

    spec = json.loads(Path(spec_path).read_text())
    con = connect(load_settings())
    rows, per_table = 0, {}
    t0 = time.perf_counter()
    for name, files in spec["groups"].items():
        t1 = time.perf_counter()
        source = (
            "read_parquet(["
            + ", ".join(sql_literal(f) for f in files)
            + "], union_by_name = true, hive_partitioning = false)"
        )
        target = sql_literal(f"{spec['out_dir']}/{name}.parquet")
        n = scalar(con, f"COPY (SELECT * FROM {source}) TO {target} (FORMAT parquet, COMPRESSION zstd)")
        rows += int(n)
        per_table[name] = {"rows": int(n), "seconds": round(time.perf_counter() - t1, 4)}
    seconds = time.perf_counter() - t0
    with open(spec["result"], "w") as fh:
        json.dump({"seconds": round(seconds, 4), "rows": rows, "tables": per_table}, fh)


if __name__ == "__main__":
    main(sys.argv[1])
