"""Build `samples/bronze_samples.zip`: a small, complete Bronze lake for the demo.

`unzip samples/bronze_samples.zip -d samples/` gives `samples/bronze/<table>/ingest_dt=.../`.
The archive is byte-for-byte reproducible: fixed seed, manifests stamped from the data rather
than the clock, sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ecomlake import ids
from ecomlake.config import Settings
from ecomlake.runs import parse_date

if TYPE_CHECKING:
    # The generator pulls in pandas (about 0.5 s): every `ecomlake` command imports this module
    # for the `sample package` defaults, so it is imported only when a sample is built.
    from ecomlake.bronze.generator import GenerateResult

ZIP_ROOT = "bronze"
ZIP_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
DEFAULT_OUTPUT = "samples/bronze_samples.zip"


# The demo processes 2023-01-01: three days of history before it and two after, so that carts of
# the demo day can still convert (48 h attribution window) and returns reference earlier orders.
class _Defaults(TypedDict):
    start_date: str
    days: int
    orders_per_day: int
    seed: int
    defect_rate: float


DEFAULTS: _Defaults = {"start_date": "2022-12-29", "days": 6, "orders_per_day": 400, "seed": 7, "defect_rate": 0.03}


@dataclass
class SampleResult:
    output: Path
    entries: int
    size_bytes: int
    generated: GenerateResult


def package_bronze(
    output: str | os.PathLike = DEFAULT_OUTPUT,
    *,
    start_date: str = DEFAULTS["start_date"],
    days: int = DEFAULTS["days"],
    orders_per_day: int = DEFAULTS["orders_per_day"],
    seed: int = DEFAULTS["seed"],
    defect_rate: float = DEFAULTS["defect_rate"],
    progress: bool = False,
) -> SampleResult:
    """Generate a Bronze lake in a temp dir and zip it under `bronze/`, deterministically."""
    parse_date(start_date, "--start-date")
    ids.user_path(str(output), "--output")
    # Default settings, not the user's config: a changed part-file size must not change the sample.
    settings = Settings()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ecomlake-sample-") as tmp:
        root = Path(tmp) / ZIP_ROOT
        from ecomlake.bronze.generator import GeneratorOptions, generate

        opts = GeneratorOptions(
            start_date=start_date,
            days=days,
            orders_per_day=orders_per_day,
            seed=seed,
            defect_rate=defect_rate,
            fixed_created_at=True,
        )
        generated = generate(settings, opts, out=str(root), progress=progress)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        partial = output.with_name(output.name + ".partial")
        with zipfile.ZipFile(partial, "w") as zf:
            for path in files:
                info = zipfile.ZipInfo(f"{ZIP_ROOT}/{path.relative_to(root).as_posix()}", date_time=ZIP_TIMESTAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.create_system = 3  # unix, so the permissions above apply on every platform
                zf.writestr(info, path.read_bytes(), compresslevel=9)
        os.replace(partial, output)
    return SampleResult(output=output, entries=len(files), size_bytes=output.stat().st_size, generated=generated)
