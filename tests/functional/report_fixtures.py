"""Helpers for the dashboard tests: read the page's data-* hooks, plant a bad day, render in Chromium,
and build a generated week once per test session (shared by the xdist workers through a file lock).
"""

from __future__ import annotations

import fcntl
import json
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake import storage

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = (
    "Chromium is not installed at /usr/bin/chromium (Debian package `chromium`; `make test` installs it when "
    "apt-get is usable), so the page cannot be rendered in a real browser here"
)


class Page(HTMLParser):
    """Every element's data-* attributes, the text of the page and its external references."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[dict[str, str]]] = {}
        self.refs: list[str] = []
        self.tags: dict[str, int] = {}
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = {k: v or "" for k, v in attrs}
        for k, v in a.items():
            if k.startswith("data-"):
                self.data.setdefault(k, []).append(a)
            if k in ("src", "href") or (tag == "link" and k == "href"):
                self.refs.append(v)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def cells(self) -> dict[tuple[str, str, str], str]:
        """(layer, table, day) -> status of every verdict cell that has one."""
        out = {}
        for a in self.data.get("data-cell", []):
            layer, table, day = a["data-cell"].split("|")
            out[(layer, table, day)] = a.get("data-status", "")
        return out

    def rates(self) -> dict[tuple[str, str], tuple[float, str]]:
        """(table, day) -> (quarantine rate as a fraction, 'over' or 'ok') of every bar in the rate charts."""
        out = {}
        for a in self.data.get("data-rate", []):
            table, day, rate, over = a["data-rate"].split("|")
            out[(table, day)] = (float(rate), over)
        return out

    def conservation(self) -> dict[tuple[str, str], dict[str, str]]:
        out = {}
        for a in self.data.get("data-cons", []):
            table, day = a["data-cons"].split("|")
            out[(table, day)] = a
        return out

    def all_text(self) -> str:
        return " ".join(self.text)


def plant_bad_day(bronze_root: Path, day: str, fraction: float = 0.5) -> int:
    """An upstream export gone wrong: `fraction` of the day's orders get an order_date that does not cast.

    The manifest is resealed (rows, sha256), so the Bronze gate still passes and the damage shows up where it
    would in production: Base Silver quarantines those orders (cast_failed_order_date) and their lines
    (invalid_order_fk). Returns the number of orders spoiled.
    """
    pdir = bronze_root / "orders" / f"ingest_dt={day}"
    spoiled = 0
    for f in sorted(pdir.glob("part-*.parquet")):
        t = pq.read_table(f)
        k = int(t.num_rows * fraction)
        values = t.column("order_date").to_pylist()
        values[:k] = ["31/13/2023"] * k
        i = t.schema.get_field_index("order_date")
        pq.write_table(t.set_column(i, t.schema.field(i), pa.array(values, pa.string())), f)
        spoiled += k
    manifest_path = pdir / storage.MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] = [storage.file_entry(str(pdir / entry["path"]), str(pdir)) for entry in manifest["files"]]
    manifest["total_rows"] = sum(entry["rows"] for entry in manifest["files"])
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return spoiled


def build_once(shared_root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """Build `shared_root/name` once for every xdist worker of this test session (the others wait for it)."""
    target = shared_root / name
    done = shared_root / f"{name}.done"
    shared_root.mkdir(parents=True, exist_ok=True)
    with open(shared_root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                build(target)
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def chromium(page: Path, out_dir: Path, *mode: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with a throw-away profile, logging console messages to stderr."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={out_dir / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--window-size=1400,2400",
        *mode,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def console_messages(stderr: str) -> list[str]:
    """Chromium logs every console message (errors, CSP violations, failed loads) as a ':CONSOLE' line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
