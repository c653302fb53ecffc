"""`ecomlake bronze generate`: the synthetic upstream source that writes a Bronze lake.

For each day: simulate the shop (`gen_world`), add dirty rows and harmless dirt (`gen_defects`),
then write every table's partition `<out>/<table>/ingest_dt=D/` atomically (temp dir, then rename):
`part-NNNN.parquet` files with the contract's exact Arrow schema plus lineage columns, a
`_defects.json` ledger of what was injected, `_manifest.json`, and `_SUCCESS` last.

Same arguments and seed give identical parquet bytes, ledgers and manifests (except the
manifest's `created_at`, unless `fixed_created_at`): nothing in the rows comes from the clock;
batch_id and ingestion_ts derive from the seed and the day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecomlake import __version__, ids, storage
from ecomlake.bronze import gen_defects
from ecomlake.bronze.gen_defects import Injector, TableBatch
from ecomlake.bronze.gen_world import World
from ecomlake.config import Settings
from ecomlake.contract import CONTRACT, PARTITION_KEY, TABLES
from ecomlake.errors import InputError
from ecomlake.runs import parse_date, utc_now_iso

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

GENERATOR_VERSION = f"ecomlake-gen/1.0 (ecomlake {__version__})"
LEDGER_NAME = "_defects.json"
FILE_FAULT_KINDS = ("truncated_parquet", "missing_manifest", "manifest_row_mismatch", "dropped_required_column")
DEFAULT_HISTORY_DAYS = 365
PARQUET_COMPRESSION = "zstd"


@dataclass
class GeneratorOptions:
    start_date: str | dt.date
    days: int = 1
    orders_per_day: int = 5000
    seed: int = 7
    defect_rate: float = 0.03
    file_faults: str | list[str] = ""
    history_start: str | dt.date | None = None  # default: DEFAULT_HISTORY_DAYS before start_date
    fixed_created_at: bool = False  # manifest created_at = the partition's ingestion_ts


@dataclass(frozen=True)
class FileFault:
    table: str
    kind: str
    day: dt.date


@dataclass
class GenerateResult:
    out: str
    days: list[dt.date]
    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        per_table = ", ".join(f"{t}={self.rows.get(t, 0):,}" for t in TABLES)
        span = f"{self.days[0]}..{self.days[-1]}" if len(self.days) > 1 else f"{self.days[0]}"
        return (
            f"bronze generate: {len(self.days)} day(s) {span} -> {self.out}: {per_table}; "
            f"{self.total_rows:,} rows in {self.seconds:.1f}s ({self.rows_per_second:,.0f} rows/s, "
            f"peak RSS {self.peak_rss_mb:,.0f} MB)"
        )


# ------------------------------------------------------------------------------------ identity


def canonical_key_json(table: str, key: dict) -> str:
    return json.dumps({**key, "_table": table}, sort_keys=True, separators=(",", ":"))


def event_id(table: str, key: dict) -> str:
    """'evt_' + sha256 of the canonical JSON of the primary key and table name (reference version)."""
    return "evt_" + hashlib.sha256(canonical_key_json(table, key).encode()).hexdigest()


def event_ids(table: str, keys: pa.Table) -> pa.Array:
    """Vectorised `event_id` for every row of `keys` (the table's primary-key columns)."""
    if keys.num_rows == 0:
        return pa.array([], pa.string())
    names = sorted([*keys.column_names, "_table"])
    parts: list = ["{"]
    for i, name in enumerate(names):
        parts.append(("," if i else "") + json.dumps(name) + ":")
        if name == "_table":
            parts.append(json.dumps(table))
            continue
        col = keys.column(name).combine_chunks()
        if pa.types.is_integer(col.type):
            parts.append(pc.cast(col, pa.string()))
        else:
            escaped = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
            parts += ['"', escaped, '"']
    parts.append("}")
    text = pc.binary_join_element_wise(*parts, "")
    if len(text) < 20_000:
        return pa.array(["evt_" + hashlib.sha256(s.encode()).hexdigest() for s in text.to_pylist()], pa.string())
    # DuckDB hashes a big column in native code, on two threads; insertion order is preserved.
    con = _hash_connection()
    con.register("keys_json", pa.table({"s": text}))
    try:
        out = con.sql("SELECT 'evt_' || sha256(s) AS e FROM keys_json").to_arrow_table()
    finally:
        con.unregister("keys_json")
    return out.column("e").combine_chunks()


_HASH_CON: list = []


def _hash_connection():
    if not _HASH_CON:
        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute("SET preserve_insertion_order = true")
        _HASH_CON.append(con)
    return _HASH_CON[0]


def _partition_token(seed: int, day: dt.date) -> str:
    return hashlib.sha256(f"ecomlake-bronze:{seed}:{day.isoformat()}".encode()).hexdigest()


def batch_id_for(seed: int, day: dt.date) -> str:
    return f"batch_{day:%Y%m%d}_{_partition_token(seed, day)[:12]}"


def ingestion_time(seed: int, day: dt.date) -> dt.datetime:
    """When the day's export landed: on the ingest date itself, late in the evening (UTC)."""
    seconds = int(_partition_token(seed, day)[12:20], 16) % 3600
    return dt.datetime(day.year, day.month, day.day, 23, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------ options


def parse_file_faults(spec: str | list[str] | None, days: list[dt.date]) -> list[FileFault]:
    """`KIND` or `TABLE:KIND@DATE`, comma separated; a bare KIND means orders on the last day."""
    if not spec:
        return []
    items = spec if isinstance(spec, list) else spec.split(",")
    faults: list[FileFault] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        table, rest = ("orders", item)
        if ":" in rest:
            table, rest = (p.strip() for p in rest.split(":", 1))
        day = days[-1]
        if "@" in rest:
            rest, when = (p.strip() for p in rest.split("@", 1))
            day = parse_date(when, "--file-faults date")
        if rest not in FILE_FAULT_KINDS:
            raise InputError(
                f"unknown file fault {rest!r} in --file-faults {item!r} (known: {', '.join(FILE_FAULT_KINDS)})"
            )
        if table not in CONTRACT:
            raise InputError(f"unknown table {table!r} in --file-faults {item!r} (known: {', '.join(TABLES)})")
        if day not in days:
            raise InputError(f"--file-faults {item!r}: {day} is outside the generated days {days[0]}..{days[-1]}")
        faults.append(FileFault(table, rest, day))
    return faults


def _resolve(opts: GeneratorOptions) -> tuple[list[dt.date], dt.date, list[FileFault]]:
    start = parse_date(opts.start_date, "--start-date")
    if opts.days < 1:
        raise InputError(f"--days must be at least 1, got {opts.days}")
    if opts.orders_per_day < 1:
        raise InputError(f"--orders-per-day must be at least 1, got {opts.orders_per_day}")
    if not 0 <= opts.defect_rate <= 0.5:
        raise InputError(f"--defect-rate must be between 0 and 0.5, got {opts.defect_rate}")
    days = [start + dt.timedelta(days=i) for i in range(opts.days)]
    if opts.history_start is None:
        history = start - dt.timedelta(days=DEFAULT_HISTORY_DAYS)
    else:
        history = parse_date(opts.history_start, "--history-start")
        if history > start:
            raise InputError(f"--history-start {history} is after --start-date {start}; pick an earlier date")
    return days, history, parse_file_faults(opts.file_faults, days)


# ---------------------------------------------------------------------------------- generate


class _ProductLookup:
    """Catalogue attributes by product id, for dirty order lines moved to another product."""

    def __init__(self, world: World):
        self.world = world

    @property
    def n_products(self) -> int:
        return len(self.world.catalog)

    def __call__(self, product_ids: np.ndarray) -> dict:
        from ecomlake.bronze.gen_arrow import take
        from ecomlake.bronze.gen_world import _CATEGORIES

        cat = self.world.catalog
        idx = np.asarray(product_ids, dtype=np.int64) - 1
        return {
            "product_name": take(cat.name, idx),
            "category": take(_CATEGORIES, cat.category[idx]),
            "unit_price": pa.array(cat.price_c[idx] / 100.0),
            "cost_price": pa.array(cat.cost_c[idx] / 100.0),
        }


def generate(
    settings: Settings, opts: GeneratorOptions, out: str | None = None, progress: bool = False
) -> GenerateResult:
    """Write `opts.days` days of Bronze under `out` (default: settings.paths.bronze_base_path)."""
    days, history, faults = _resolve(opts)
    out = ids.user_path(settings.paths.bronze_base_path if out is None else out, "--out", kind="directory")
    max_rows = settings.bronze.max_part_file_rows
    result = GenerateResult(out=out, days=days, rows=dict.fromkeys(TABLES, 0))
    started = time.perf_counter()
    world = World(seed=opts.seed, start=days[0], history_start=history, orders_per_day=opts.orders_per_day)
    pool: dict = {}
    bar = _Progress(progress, len(days))
    try:
        for i, day in enumerate(days):
            bar.start_day(day, 1 + len(TABLES))
            clean = world.simulate_day(day, first_day=(i == 0))
            bar.advance()
            rng = np.random.default_rng(np.random.SeedSequence([opts.seed % (1 << 63), day.toordinal(), 2, 20231]))
            injector = Injector(opts.defect_rate, rng, day, pool, _ProductLookup(world))
            for table in TABLES:
                batch = injector.apply(table, clean[table])
                day_faults = [f for f in faults if f.table == table and f.day == day]
                counts = write_partition(
                    out,
                    table,
                    day,
                    batch,
                    seed=opts.seed,
                    defect_rate=opts.defect_rate,
                    max_rows=max_rows,
                    faults=day_faults,
                    fixed_created_at=opts.fixed_created_at,
                )
                result.rows[table] += batch.data.num_rows
                for kind, n in counts.items():
                    result.defects[kind] = result.defects.get(kind, 0) + n
                bar.advance()
            pool = injector.next_pool
            del clean
    finally:
        bar.close()
    result.seconds = time.perf_counter() - started
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if progress:
        import click

        click.echo(result.summary())
    return result


class _Progress:
    """A rich progress bar per day (silent when not asked for)."""

    def __init__(self, enabled: bool, n_days: int):
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.progress.start()

    def start_day(self, day: dt.date, steps: int) -> None:
        if self.progress:
            self.task = self.progress.add_task(f"bronze {day}", total=steps)

    def advance(self) -> None:
        if self.progress and self.task is not None:
            self.progress.advance(self.task)

    def close(self) -> None:
        if self.progress:
            self.progress.stop()


# ------------------------------------------------------------------------------------- write


def _lineage_table(table: str, batch: TableBatch, seed: int, day: dt.date) -> pa.Table:
    """The partition's rows with batch_id, ingestion_ts and event_id (source_file is per file)."""
    n = batch.data.num_rows
    base = ingestion_time(seed, day)
    # Offsets are whole hours (older conflicting copies); most rows have none.
    hours = batch.ts_offset_s // 3600
    stamps = pa.array([(base - dt.timedelta(hours=h)).isoformat() for h in range(int(hours.max(initial=0)) + 1)])
    ingestion_ts = stamps.take(pa.array(hours.astype(np.int64)))
    eids = event_ids(table, batch.event_key)
    data = batch.data
    data = data.append_column("batch_id", pa.array([batch_id_for(seed, day)] * n, pa.string()))
    data = data.append_column("ingestion_ts", ingestion_ts)
    data = data.append_column("event_id", eids)
    return data, eids, ingestion_ts


def _event_dt_range(table: str, data: pa.Table) -> tuple[str | None, str | None]:
    col = CONTRACT[table].event_date_column
    if not col or data.num_rows == 0:
        return None, None
    head = pc.utf8_slice_codeunits(data.column(col), 0, 10)
    parsed = pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True)
    mm = pc.min_max(parsed).as_py()
    fmt = lambda v: v.date().isoformat() if v is not None else None  # noqa: E731
    return fmt(mm["min"]), fmt(mm["max"])


def write_partition(
    out: str,
    table: str,
    day: dt.date,
    batch: TableBatch,
    *,
    seed: int,
    defect_rate: float,
    max_rows: int,
    faults: Sequence[FileFault] = (),
    fixed_created_at: bool = False,
) -> dict[str, int]:
    """Write one partition atomically; returns the ledger's defect counts."""
    partition = storage.partition_name(day.isoformat(), PARTITION_KEY)
    data, eids, ingestion_ts = _lineage_table(table, batch, seed, day)
    schema = CONTRACT[table].bronze_schema()
    fault_kinds = {f.kind for f in faults}
    remote = storage.is_remote(out)
    table_dir = storage.join(out, table)
    final = storage.join(table_dir, partition)
    if remote:
        scratch = tempfile.mkdtemp(prefix="ecomlake-bronze-")
        tmp = os.path.join(scratch, partition)
    else:
        os.makedirs(table_dir, exist_ok=True)
        _remove_stale(table_dir, partition)
        tmp = os.path.join(table_dir, f"_tmp.{partition}.{os.getpid()}")
    os.makedirs(tmp)
    written: list[str] = []
    try:
        n = data.num_rows
        n_files = max(1, math.ceil(n / max_rows))
        entries = []
        file_faults: list[dict[str, Any]] = []
        for i in range(n_files):
            name = f"part-{i:04d}.parquet"
            chunk = data.slice(i * max_rows, max_rows)
            chunk = chunk.append_column(
                "source_file", pa.array([f"{table}/{partition}/{name}"] * chunk.num_rows, pa.string())
            )
            chunk = chunk.cast(schema)
            if i == 0 and "dropped_required_column" in fault_kinds:
                dropped = _droppable_column(table)
                chunk = chunk.drop_columns([dropped])
                file_faults.append({"kind": "dropped_required_column", "file": name, "column": dropped})
            path = os.path.join(tmp, name)
            pq.write_table(
                chunk,
                path,
                compression=PARQUET_COMPRESSION,
                row_group_size=min(max_rows, 1 << 20),
                use_dictionary=_dictionary_columns(table, chunk.column_names),
            )
            entries.append({"path": name, "rows": chunk.num_rows, "sha256": storage.sha256_file(path)})
            written.append(name)
        if "truncated_parquet" in fault_kinds:
            name = entries[0]["path"]
            path = os.path.join(tmp, name)
            size = os.path.getsize(path)
            keep = max(8, size * 2 // 3) if size > 16 else size // 2
            with open(path, "r+b") as fh:
                fh.truncate(keep)
            file_faults.append(
                {"kind": "truncated_parquet", "file": name, "original_bytes": size, "truncated_bytes": keep}
            )

        total = sum(e["rows"] for e in entries)
        min_dt, max_dt = _event_dt_range(table, batch.data)
        manifest = {
            "schema_version": storage.MANIFEST_SCHEMA_VERSION,
            "table": table,
            "partition": partition,
            "batch_id": batch_id_for(seed, day),
            "created_at": ingestion_time(seed, day).isoformat() if fixed_created_at else utc_now_iso(),
            "files": entries,
            "total_rows": total,
            "min_event_dt": min_dt,
            "max_event_dt": max_dt,
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
        }
        if "manifest_row_mismatch" in fault_kinds:
            lie = 7
            manifest["files"] = [dict(e) for e in entries]
            manifest["files"][0]["rows"] += lie
            manifest["total_rows"] = total + lie
            file_faults.append(
                {
                    "kind": "manifest_row_mismatch",
                    "file": storage.MANIFEST_NAME,
                    "manifest_rows": total + lie,
                    "actual_rows": total,
                }
            )
        if "missing_manifest" in fault_kinds:
            file_faults.append({"kind": "missing_manifest", "file": storage.MANIFEST_NAME})

        ledger = build_ledger(table, partition, seed, defect_rate, batch, eids, ingestion_ts, file_faults)
        _write_text(os.path.join(tmp, LEDGER_NAME), ledger_json(ledger))
        written.append(LEDGER_NAME)
        if "missing_manifest" not in fault_kinds:
            _write_text(os.path.join(tmp, storage.MANIFEST_NAME), json.dumps(manifest, indent=2) + "\n")
            written.append(storage.MANIFEST_NAME)
        _write_text(os.path.join(tmp, storage.SUCCESS_NAME), "")  # last: the partition is complete
        written.append(storage.SUCCESS_NAME)

        if remote:
            _upload(tmp, final, written)
        else:
            _swap(tmp, final)
        return ledger["counts"]
    finally:
        if remote:
            shutil.rmtree(scratch, ignore_errors=True)
        elif os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(table_dir: str, partition: str) -> None:
    """Remove temp dirs that crashed runs left behind (never those of a run still alive)."""
    for stale in list(Path(table_dir).glob(f"_tmp.{partition}.*")) + list(Path(table_dir).glob(f"_old.{partition}.*")):
        try:
            pid = int(stale.name.rsplit(".", 1)[1])
            if pid != os.getpid():
                os.kill(pid, 0)
                continue  # its owner is alive
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        storage.remove_tree(str(stale), table_dir)


def _dictionary_columns(table: str, names: list[str]) -> list[str]:
    """Dictionary-encode the repetitive columns only; keys, hashes and timestamps never repeat."""
    t = CONTRACT[table]
    unique = {"event_id", *t.primary_key, *(c.name for c in t.columns if c.silver == "TIMESTAMP")}
    return [n for n in names if n not in unique]


def _droppable_column(table: str) -> str:
    t = CONTRACT[table]
    required = [c for c in t.required_columns if c not in t.primary_key]
    return (required or list(t.primary_key))[0]


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _swap(tmp: str, final: str) -> None:
    """Replace the live partition by the finished temp dir (a rename on the same filesystem)."""
    old = None
    if os.path.isdir(final):
        old = f"{os.path.dirname(final)}/_old.{os.path.basename(final)}.{os.getpid()}"
        os.rename(final, old)
    os.rename(tmp, final)
    if old:
        storage.remove_tree(old, os.path.dirname(final))


def _upload(local_dir: str, final: str, names: list[str]) -> None:
    """Object stores have no rename: replace the prefix, uploading `_SUCCESS` last."""
    fs, path = storage.fs_for(final)
    if fs.exists(path):
        fs.rm(path, recursive=True)
    for name in names:
        fs.put_file(os.path.join(local_dir, name), f"{path}/{name}")
    fs.invalidate_cache()


def build_ledger(
    table: str,
    partition: str,
    seed: int,
    defect_rate: float,
    batch: TableBatch,
    eids: pa.Array,
    ingestion_ts: pa.Array,
    file_faults: list[dict],
) -> dict:
    rows = np.array([r[0] for r in batch.ledger_rows], dtype=np.int64)
    keys = batch.event_key.take(pa.array(rows)).to_pylist() if len(rows) else []
    ev = eids.take(pa.array(rows)).to_pylist() if len(rows) else []
    ts = ingestion_ts.take(pa.array(rows)).to_pylist() if len(rows) else []
    row_defects = []
    counts: dict[str, int] = {}
    for (_row, kind, column, code), key, e, t in zip(batch.ledger_rows, keys, ev, ts, strict=False):
        row_defects.append(
            {
                "event_id": e,
                "key": key,
                "ingestion_ts": t,
                "kind": kind,
                "column": column,
                "family": gen_defects.family_of(table, code),
                "code": code,
            }
        )
        counts[kind] = counts.get(kind, 0) + 1
    return {
        "table": table,
        "partition": partition,
        "seed": seed,
        "defect_rate": defect_rate,
        "generator_version": GENERATOR_VERSION,
        "row_defects": row_defects,
        "file_faults": file_faults,
        "counts": dict(sorted(counts.items())),
    }


def ledger_json(ledger: dict) -> str:
    """Readable and fast: header fields indented, one compact line per row defect."""
    head = {k: v for k, v in ledger.items() if k != "row_defects"}
    rows = ",\n  ".join(json.dumps(r, separators=(", ", ": ")) for r in ledger["row_defects"])
    body = json.dumps(head, indent=1)
    return body[:-2] + ',\n "row_defects": [' + ("\n  " + rows + "\n " if rows else "") + "]\n}\n"


def read_ledger(partition_dir: str) -> dict:
    """The ground-truth ledger of a generated partition."""
    return storage.read_json(storage.join(partition_dir, LEDGER_NAME))


__all__ = [
    "FILE_FAULT_KINDS",
    "GENERATOR_VERSION",
    "LEDGER_NAME",
    "FileFault",
    "GenerateResult",
    "GeneratorOptions",
    "batch_id_for",
    "event_id",
    "event_ids",
    "generate",
    "ingestion_time",
    "ledger_json",
    "parse_file_faults",
    "read_ledger",
    "write_partition",
]
