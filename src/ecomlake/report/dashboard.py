"""Build the dashboard: find the window, read the metrics, render the page, write it atomically."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ecomlake import storage
from ecomlake.config import Settings
from ecomlake.errors import InputError
from ecomlake.report.collect import Lake, collect

DEFAULT_SINCE = "14d"
INDEX_NAME = "index.html"


def parse_since(value: str | int) -> int:
    """'14d' -> 14, '2w' -> 14, '14' -> 14 (days, at least 1)."""
    m = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", str(value).lower())
    if not m or int(m.group(1)) < 1:
        raise InputError(f"invalid --since {value!r}: expected a duration such as 14d or 2w (at least one day)")
    n = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
    if n > 3660:
        raise InputError(f"invalid --since {value!r}: at most 3660 days")
    return n


@dataclass
class Window:
    """The days shown: `days` days ending at the newest date in the metrics (not today)."""

    since: str
    days: int
    start: str  # first day of the requested window
    end: str  # the newest date found in the metrics
    first_data: str  # the oldest date in the metrics that falls in the window
    shown: list[str] = field(default_factory=list)  # every day from first_data to end

    @property
    def description(self) -> str:
        text = f"{self.days} days ({self.start} to {self.end}), counted back from the newest date in the metrics ({self.end})"
        if self.first_data > self.start:
            text += f"; the metrics start on {self.first_data}, so earlier days are not shown"
        return text


@dataclass
class DashboardResult:
    path: str
    window: Window
    lake: Lake
    bad_files: list[tuple[str, str]]
    failing_days: list[str]


def make_window(lake: Lake, since: str | int) -> Window | None:
    days = parse_since(since)
    dates = lake.dates
    if not dates:
        return None
    end = dt.date.fromisoformat(dates[-1])
    start = end - dt.timedelta(days=days - 1)
    first = max(dt.date.fromisoformat(next(d for d in dates if d >= start.isoformat())), start)
    shown = [(first + dt.timedelta(days=i)).isoformat() for i in range((end - first).days + 1)]
    return Window(str(since), days, start.isoformat(), end.isoformat(), first.isoformat(), shown)


def default_output(settings: Settings) -> str:
    return storage.join(settings.paths.reports_base_path, INDEX_NAME)


def build_dashboard(
    settings: Settings,
    since: str | int = DEFAULT_SINCE,
    output: str | None = None,
    *,
    generated_at: dt.datetime | None = None,
) -> DashboardResult:
    """Read `<metrics>/*.json`, render the window, write `output` (default `<reports>/index.html`).

    Raises InputError (exit 2) when the metrics directory is missing or holds no dated metrics.
    Malformed files do not stop it: they are listed in `result.bad_files` and on the page.
    """
    from ecomlake.report.render import render

    parse_since(since)  # a bad --since is reported before anything is read
    metrics_dir = settings.paths.metrics_base_path
    if not storage.isdir(metrics_dir):
        raise InputError(
            f"metrics directory not found: {metrics_dir} (run a pipeline or a gate first, e.g. "
            "`ecomlake local demo-fast`, or point METRICS_BASE_PATH at the lake's metrics)"
        )
    lake = collect(metrics_dir, settings.paths.reports_base_path)
    window = make_window(lake, since)
    if window is None:
        detail = f"{len(lake.files)} metrics files, {len(lake.bad_files)} unreadable"
        if lake.bad_files:
            detail += f" (first: {lake.bad_files[0][0]}: {lake.bad_files[0][1]})"
        raise InputError(
            f"no metrics with a date in {metrics_dir} ({detail}); run a gate first, e.g. `ecomlake local demo-fast`"
        )
    out = output or default_output(settings)
    html = render(
        lake,
        window,
        settings,
        link=_linker(out),
        generated_at=generated_at or dt.datetime.now(dt.UTC),
    )
    try:
        if not storage.is_remote(out):
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        storage.write_bytes_atomic(out, html.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot write the dashboard to {out}: {exc.strerror or exc} (pass --output PATH)") from None
    failing = sorted({k[2] for k, c in lake.cells.items() if c.status == "FAIL" and k[2] in window.shown})
    return DashboardResult(out, window, lake, list(lake.bad_files), failing)


def _linker(output: str) -> Callable[[str], str | None]:
    """A function that turns a report path into a link relative to the page (None when it is not there)."""
    base = os.path.dirname(os.path.abspath(output)) if not storage.is_remote(output) else None

    def link(path: str) -> str | None:
        if not storage.exists(path):
            return None
        if base is None or storage.is_remote(path):
            return path
        return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")

    return link
