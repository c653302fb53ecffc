"""What the lake itself says: which days each layer holds, where its Bronze came from, and what to
tell a user whose command names a day a layer does not have.

Decisions that depend on "is day D done?" read the partitions on disk (never run records under
the metrics path, which can be deleted or belong to another lake), so wiping a layer's root is
enough to make the next run rebuild it.
"""

from __future__ import annotations

from pathlib import Path

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.contract import DIM_SNAPSHOTS, FACT_TABLES
from ecomlake.errors import InputError

# Written at the Bronze root by whoever landed that Bronze (the demo), so that an error about a
# missing day can say where the rest came from instead of suggesting an unrelated source.
SOURCE_NAME = "_source.json"


def span(days: list[str]) -> str:
    """'2022-12-29 to 2023-01-01' (or the one day, or 'no days')."""
    if not days:
        return "no days"
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _dates(values: list[str]) -> list[str]:
    out = []
    for v in values:
        if len(v) == 10 and v[4] == "-" and v[7] == "-" and v.replace("-", "").isdigit():
            out.append(v)
    return sorted(out)


# ------------------------------------------------------------------------------------- Bronze


def bronze_days(settings: Settings, table: str = "orders") -> list[str]:
    return _dates(storage.list_partitions(settings.paths.bronze_base_path, table))


def bronze_source(settings: Settings) -> dict | None:
    """The record of who landed this lake's Bronze (``<bronze>/_source.json``), if any."""
    path = storage.join(settings.paths.bronze_base_path, SOURCE_NAME)
    if not storage.exists(path):
        return None
    try:
        data = storage.read_json(path)
    except (ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None


def bronze_holding(settings: Settings) -> str:
    """'data/bronze holds the demo sample, 2022-12-29 to 2023-01-03' (or 'data/bronze is empty')."""
    root = settings.paths.bronze_base_path
    have = bronze_days(settings)
    if not have:
        return f"{root} holds no Bronze"
    source = bronze_source(settings)
    what = f" {source.get('description')}," if source and source.get("description") else ""
    return f"{root} holds{what} {span(have)}"


def has_derived_data(settings: Settings) -> bool:
    """True when Silver or the dims already hold partitions: the lake was built from some Bronze."""
    silver = settings.paths.silver_base_path
    if any(storage.list_partitions(silver, t) for t in FACT_TABLES):
        return True
    dims = settings.paths.silver_dims_path
    return any(storage.list_partitions(dims, name, key="snapshot_dt") for name in DIM_SNAPSHOTS.values())


def missing_bronze_hint(settings: Settings, day: str | None = None) -> str:
    """What to do about missing Bronze, without ever pointing an existing lake at unrelated data.

    `ecomlake bronze generate` writes a synthetic world of its own: its customers and products are
    not in an existing lake's dims, so its rows would be quarantined (or worse, published) next to
    the lake's. It is only suggested for a lake that holds nothing yet.
    """
    root = settings.paths.bronze_base_path
    have = bronze_days(settings)
    source = bronze_source(settings)
    if source is not None:
        what = source.get("description") or source.get("source") or "landed Bronze"
        days = source.get("days") or have
        where = f"this lake's Bronze under {root} is {what} ({span(days)})"
        if day and days and day not in days:
            return f"{where}, which has no {day}: use one of its days"
        return f"{where}; land it again with `{source.get('command', 'ecomlake local demo-fast')}`"
    if have or has_derived_data(settings):
        sample = Path(settings.paths.samples_path) / "bronze_samples.zip"
        demo = (
            f"; if this is the demo's lake, `ecomlake local demo-fast` lands the sample Bronze in {root}"
            if sample.is_file() and not have
            else ""
        )
        held = f" (it holds {span(have)})" if have else ""
        return (
            f"land that Bronze under {root}{held} from the source that wrote this lake's other data{demo}; "
            "do not generate synthetic Bronze into this lake: its customers and products are not in the lake's dims"
        )
    return (
        f"land Bronze under {root} first: your export, the demo's sample (`ecomlake local demo-fast`), or "
        f"synthetic data for a new lake (`ecomlake bronze generate --start-date {day or 'YYYY-MM-DD'} --days 1 "
        f"--out {root}`)"
    )


# ------------------------------------------------------------------------------- Base Silver


def silver_days(settings: Settings) -> list[str]:
    """Days for which every fact table has a published Base Silver partition, oldest first."""
    root = settings.paths.silver_base_path
    sets = [set(_dates(storage.list_partitions(root, t))) for t in FACT_TABLES]
    return sorted(set.intersection(*sets)) if sets else []


def staged_silver_run(settings: Settings, day: str) -> str | None:
    """A staging-mode Silver run that holds D but was not promoted (SILVER_PUBLISH_MODE=staging)."""
    root = settings.paths.silver_base_path
    final = storage.partition_path(root, "orders", day).rstrip("/")
    staging = storage.join(root, storage.STAGING_DIR)
    for run_id in storage.listdir(staging):
        pending = storage.join(staging, run_id, "_pending.json")
        if not storage.exists(pending):
            continue
        try:
            data = storage.read_json(pending)
        except (ValueError, OSError):
            continue
        if any(str(p.get("final", "")).rstrip("/") == final for p in data.get("partitions", [])):
            return run_id
    return None


def require_silver_day(settings: Settings, day: str, layer: str = "enriched") -> None:
    """Refuse (exit 2) unless Base Silver holds D for every fact table; name the gap and the fix."""
    root = settings.paths.silver_base_path
    missing = [t for t in FACT_TABLES if day not in storage.list_partitions(root, t)]
    if not missing:
        return
    first = storage.partition_path(root, missing[0], day)
    more = f" (and {len(missing) - 1} more fact tables)" if len(missing) > 1 else ""
    have = silver_days(settings)
    held = f"Base Silver holds {span(have)}" if have else f"Base Silver under {root} is empty"
    staged = staged_silver_run(settings, day)
    if staged:
        fix = (
            f"it is staged by run {staged} but not promoted (SILVER_PUBLISH_MODE=staging): promote it with "
            f"`ecomlake promote silver --run-id {staged}`"
        )
    else:
        fix = f"build it with `ecomlake local silver --date {day}`"
        if day not in bronze_days(settings):
            fix += f", which needs Bronze for {day} first ({bronze_holding(settings)})"
    raise InputError(f"{layer}: no Base Silver partition {first}{more}; {held}; {fix}; nothing was written")


# ---------------------------------------------------------------------------------- Enriched


def enriched_days(settings: Settings) -> list[str]:
    """Run days Enriched holds: every snapshot table has a complete ``ingest_dt=D`` partition (data
    files and the `_SUCCESS` its publish writes last)."""
    from ecomlake.transforms.schemas import SPECS

    root = settings.paths.silver_enriched_path
    sets = []
    for name, spec in SPECS.items():
        if not spec.snapshot:
            continue
        days = set()
        for d in _dates(storage.list_partitions(root, name, spec.partition_key)):
            part = storage.partition_path(root, name, d, spec.partition_key)
            if storage.list_data_files(part) and storage.exists(storage.join(part, storage.SUCCESS_NAME)):
                days.add(d)
        sets.append(days)
    return sorted(set.intersection(*sets)) if sets else []


def enriched_tables_without_partitions(settings: Settings) -> list[str]:
    from ecomlake.transforms.schemas import SPECS

    root = settings.paths.silver_enriched_path
    return [name for name, spec in SPECS.items() if not storage.list_partitions(root, name, spec.partition_key)]


def enriched_days_to_build(settings: Settings) -> list[str]:
    """Days `ecomlake local enriched` builds without --date, decided from the partitions on disk.

    Every Base Silver day from the first one Enriched lacks, oldest first: incremental state and
    business-date partitions carry forward day by day, so once a day is missing every later day
    is rebuilt after it (a rebuilt earlier day rewrites business dates that later days also
    touched). A table with no partitions at all means every day. When nothing is missing, the
    newest day again (the runbook's re-run).
    """
    silver = silver_days(settings)
    if not silver:
        raise InputError(
            f"no complete Base Silver day under {settings.paths.silver_base_path}; run `ecomlake local silver` first"
        )
    if enriched_tables_without_partitions(settings):
        return silver
    built = set(enriched_days(settings))
    for i, d in enumerate(silver):
        if d not in built:
            return silver[i:]
    return [silver[-1]]


def missing_enriched_days(settings: Settings, as_of: str) -> list[str]:
    """Base Silver days up to `as_of` that Enriched has not built (what Gold would silently miss)."""
    if not storage.isdir(settings.paths.silver_base_path):
        return []  # Enriched without its Silver (e.g. copied elsewhere): nothing to compare against
    built = set(enriched_days(settings))
    return [d for d in silver_days(settings) if d <= as_of and d not in built]
