"""Read the metrics JSON the gates and runs write, into one tolerant model of the lake's history.

Every file under the metrics directory is read on its own: a file that is not valid JSON, or not
the shape its name promises, is recorded in `Lake.bad_files` (the page and stderr name it) and the
others still count. Fields are read defensively (`.get`, type checks), so older or partial files
contribute what they have instead of breaking the page.

Dates are always the data's dates (ingest_dt, snapshot_dt, run date), never the wall clock: a lake
is often looked at long after the days it holds. When several files speak about the same table and
day (a day re-run, a gate re-run by hand), the newest file wins and the cell says how many there were.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ecomlake import rules, storage
from ecomlake.contract import DIM_SNAPSHOTS, TABLES

# The metrics files the gates and runs write, by name prefix (the kind is the prefix without its '_').
PREFIXES = (
    "bronze_quality_",
    "dims_quality_",
    "silver_quality_",
    "enriched_quality_",
    "silver_run_",
    "enriched_run_",
    "gold_run_",
    "demo_summary_",
)
LAYERS = ("Bronze", "Dims", "Silver", "Enriched", "Gold")
OVERALL = "(whole gate)"
STATUSES = ("PASS", "WARN", "FAIL")
_RANK = {"PASS": 0, "WARN": 1, "FAIL": 2}
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


# ------------------------------------------------------------------------------------ helpers


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _date(x: Any) -> str | None:
    """'2023-01-05', 'ingest_dt=2023-01-05' or a timestamp -> '2023-01-05'; anything else -> None."""
    if not isinstance(x, str):
        return None
    m = _DATE.search(x)
    return m.group(1) if m else None


def _status(x: Any) -> str | None:
    s = str(x).upper() if isinstance(x, str) else None
    return s if s in _RANK else None


def worst(statuses: Iterable[str | None]) -> str | None:
    found = [s for s in statuses if s in _RANK]
    return max(found, key=_RANK.__getitem__) if found else None


def sla_status(pass_rate: float | None, sla: float | None) -> str | None:
    """The Silver gate's rule: PASS at or above the SLA, WARN from 90% of it, FAIL below."""
    if pass_rate is None or sla is None:
        return None
    if pass_rate >= sla:
        return "PASS"
    return "WARN" if pass_rate >= 0.9 * sla else "FAIL"


# ------------------------------------------------------------------------------------- model


@dataclass
class Cell:
    """The verdict of one layer/table on one day, from the newest file that gave one."""

    status: str
    file: str
    written_at: str
    note: str = ""
    problems: list[str] = field(default_factory=list)
    files: int = 1  # how many files gave a verdict for this cell


@dataclass
class DayCounts:
    """Bronze = Silver + Quarantine for one table and ingest_dt."""

    table: str
    day: str
    bronze: int | None
    silver: int
    quarantine: int
    ok: bool | None  # None: Bronze not known
    source: str  # "gate" (counted on disk by the Silver gate) or "ledger" (what the run recorded)
    file: str
    written_at: str

    @property
    def processed(self) -> int:
        return self.silver + self.quarantine

    @property
    def rate(self) -> float | None:
        """Quarantine rate as a fraction of processed rows (the gate's quarantine_pct / 100)."""
        return self.quarantine / self.processed if self.processed else None

    @property
    def difference(self) -> int | None:
        return None if self.bronze is None else self.bronze - self.processed


@dataclass
class Reasons:
    table: str
    day: str
    codes: dict[str, int]
    file: str
    written_at: str
    priority: int  # a one-day gate (1) is preferred to a run ledger (0)


@dataclass
class Run:
    kind: str
    run_id: str
    day: str
    written_at: str
    status: str
    stages: list[tuple[str, float]]
    seconds: float | None
    rows: int | None
    rows_what: str
    file: str

    @property
    def rows_per_second(self) -> float | None:
        if self.rows is None or not self.seconds:
            return None
        return self.rows / self.seconds


@dataclass
class Finding:
    layer: str
    table: str
    day: str
    status: str
    check: str
    message: str
    action: str
    file: str


@dataclass
class Lake:
    metrics_dir: str
    files: list[str] = field(default_factory=list)
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    undated: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)  # (layer, table, day)
    counts: dict[tuple[str, str], DayCounts] = field(default_factory=dict)  # (table, day)
    reasons: dict[tuple[str, str], Reasons] = field(default_factory=dict)  # (table, day)
    gate_new_codes: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    runs: list[Run] = field(default_factory=list)
    findings: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)  # (layer, day), newest gate file
    _finding_stamp: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    reports: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # day -> label -> path

    @property
    def dates(self) -> list[str]:
        days = {k[2] for k in self.cells} | {k[1] for k in self.counts} | {r.day for r in self.runs}
        return sorted(days)

    # -------------------------------------------------------------------------- merging

    def put_cell(self, layer: str, table: str, day: str, cell: Cell) -> None:
        key = (layer, table, day)
        old = self.cells.get(key)
        if old is None:
            self.cells[key] = cell
            return
        newer = (cell.written_at, cell.file) > (old.written_at, old.file)
        keep = cell if newer else old
        keep.files = old.files + 1
        self.cells[key] = keep

    def put_counts(self, c: DayCounts) -> None:
        key = (c.table, c.day)
        old = self.counts.get(key)
        rank = (c.source == "gate", c.written_at, c.file)
        if old is None or rank > (old.source == "gate", old.written_at, old.file):
            self.counts[key] = c

    def put_reasons(self, r: Reasons) -> None:
        key = (r.table, r.day)
        old = self.reasons.get(key)
        if old is None or (r.priority, r.written_at, r.file) > (old.priority, old.written_at, old.file):
            self.reasons[key] = r

    def put_findings(self, layer: str, day: str, stamp: tuple[str, str], found: list[Finding]) -> None:
        key = (layer, day)
        if key not in self._finding_stamp or stamp > self._finding_stamp[key]:
            self._finding_stamp[key] = stamp
            self.findings[key] = found


# ------------------------------------------------------------------------------------ reading


def kind_of(name: str) -> str | None:
    if not name.endswith(".json"):
        return None
    return next((p[:-1] for p in PREFIXES if name.startswith(p)), None)


def _written_at(doc: dict) -> str:
    for value in (
        _d(doc.get("metadata")).get("written_at"),
        doc.get("written_at"),
        doc.get("finished_at"),
        doc.get("created_at"),
        doc.get("started_at"),
        _d(doc.get("validation_metadata")).get("timestamp"),
    ):
        if isinstance(value, str) and value:
            return value
    return ""


def collect(metrics_dir: str, reports_dir: str | None = None) -> Lake:
    """Read every metrics file under `metrics_dir` (not recursive) into a `Lake`."""
    lake = Lake(metrics_dir=metrics_dir)
    for name in storage.listdir(metrics_dir):
        kind = kind_of(name)
        if kind is None:
            continue
        path = storage.join(metrics_dir, name)
        lake.files.append(name)
        try:
            doc = json.loads(storage.read_bytes(path))
        except (OSError, UnicodeDecodeError) as exc:
            lake.bad_files.append((name, f"cannot read: {exc}"))
            continue
        except json.JSONDecodeError as exc:
            lake.bad_files.append((name, f"not valid JSON ({exc})"))
            continue
        if not isinstance(doc, dict):
            lake.bad_files.append((name, f"expected a JSON object, found {type(doc).__name__}"))
            continue
        try:
            dated = _READERS[kind](lake, name, doc)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a shape we do not know
            lake.bad_files.append((name, f"unexpected shape for {kind}: {type(exc).__name__}: {exc}"))
            continue
        if not dated:
            lake.undated.append(name)
    if reports_dir:
        _scan_reports(lake, reports_dir)
    return lake


def _report_ref(lake: Lake, day: str | None, label: str, path: Any) -> None:
    if day and isinstance(path, str) and path.endswith(".md"):
        lake.reports[day].setdefault(label, path)


_REPORT_NAME = re.compile(r"^(BRONZE|DIMS|SILVER|ENRICHED)_QUALITY_(\d{4}-\d{2}-\d{2})\.md$")


def _scan_reports(lake: Lake, reports_dir: str) -> None:
    """The per-day Markdown reports the gates wrote under their default names."""
    for name in storage.listdir(reports_dir):
        m = _REPORT_NAME.match(name)
        if m:
            lake.reports[m.group(2)][m.group(1).title()] = storage.join(reports_dir, name)


def _problems(checks: list[dict], limit: int = 3) -> list[str]:
    bad = sorted((c for c in checks if _status(c.get("status")) in ("WARN", "FAIL")), key=lambda c: -_RANK[c["status"]])
    return [f"{c['status']} {c.get('name', '?')}: {c.get('message', '')}" for c in bad[:limit]]


def _findings(layer: str, day: str, checks: list[dict], file: str) -> list[Finding]:
    out = []
    for c in checks:
        s = _status(c.get("status"))
        if s in ("WARN", "FAIL"):
            out.append(
                Finding(
                    layer=layer,
                    table=str(c.get("table") or "-"),
                    day=day,
                    status=s,
                    check=str(c.get("name") or "?"),
                    message=str(c.get("message") or ""),
                    action=str(c.get("action") or ""),
                    file=file,
                )
            )
    return sorted(out, key=lambda f: -_RANK[f.status])


def _checks(doc: dict) -> list[dict]:
    return [c for c in _l(doc.get("checks")) if isinstance(c, dict)]


def _checks_for(checks: list[dict], table: str, day: str | None = None) -> list[dict]:
    out = []
    for c in checks:
        if c.get("table") != table:
            continue
        if day is not None and _date(c.get("partition")) not in (None, day):
            continue
        out.append(c)
    return out


# --------------------------------------------------------------------------------- per kind


def _read_bronze(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    checks = _checks(doc)
    params = _d(_d(doc.get("validation_metadata")).get("parameters"))
    by_day: dict[str, list[str]] = defaultdict(list)  # day -> the table verdicts this file gives
    for p in _l(doc.get("partitions")):
        if not isinstance(p, dict):
            continue
        table, day = p.get("table_name"), _date(p.get("partition"))
        if not isinstance(table, str) or not day:
            continue
        status = _status(p.get("status")) or worst(c.get("status") for c in _checks_for(checks, table, day))
        if status is None:
            continue
        by_day[day].append(status)
        problems = [f"{status} {x}" for x in _l(p.get("findings")) if isinstance(x, str)][:3]
        note = "partition missing" if p.get("present") is False else f"{_int(p.get('rows')) or 0:,} rows"
        lake.put_cell("Bronze", table, day, Cell(status, name, at, note, problems))
    day = _date(params.get("partition_date"))
    if not by_day and day and not params.get("lookback_days"):
        # Older files without per-partition results: one day per file, the table verdicts of that day.
        for tm in _l(doc.get("table_metrics")):
            if isinstance(tm, dict) and isinstance(tm.get("table_name"), str) and (status := _status(tm.get("status"))):
                t = tm["table_name"]
                by_day[day].append(status)
                lake.put_cell("Bronze", t, day, Cell(status, name, at, "", _problems(_checks_for(checks, t))))
    for day, statuses in by_day.items():
        if len(by_day) == 1:
            status, note, day_checks = (
                _status(doc.get("overall_status")) or worst(statuses),
                "the gate's overall verdict",
                checks,
            )
        else:
            day_checks = [c for c in checks if _date(c.get("partition")) == day]
            status, note = worst(statuses), f"from a {len(by_day)}-day gate run: this day's partitions"
        if status:
            lake.put_cell("Bronze", OVERALL, day, Cell(status, name, at, note, _problems(day_checks)))
            lake.put_findings("Bronze", day, (at, name), _findings("Bronze", day, day_checks, name))
    if len(by_day) == 1:
        _report_ref(lake, next(iter(by_day)), "Bronze", params.get("output_report"))
    return bool(by_day)


def _read_dims(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    checks = _checks(doc)
    params = _d(_d(doc.get("validation_metadata")).get("parameters"))
    day = _date(params.get("run_date"))
    tms = [tm for tm in _l(doc.get("table_metrics")) if isinstance(tm, dict)]
    if not day:
        day = next((_date(tm.get("snapshot_dt")) for tm in tms if _date(tm.get("snapshot_dt"))), None)
    if not day:
        return False
    tables = [tm["table_name"] for tm in tms if isinstance(tm.get("table_name"), str)]
    tables += sorted({c["table"] for c in checks if isinstance(c.get("table"), str)} - set(tables))
    for t in tables:
        tcs = _checks_for(checks, t)
        tm = next((x for x in tms if x.get("table_name") == t), {})
        status = _status(tm.get("status")) or worst(c.get("status") for c in tcs)
        if status:
            rows = _int(tm.get("rows"))
            lake.put_cell(
                "Dims", t, day, Cell(status, name, at, f"{rows:,} rows" if rows is not None else "", _problems(tcs))
            )
    overall = _status(doc.get("overall_status")) or worst(c.get("status") for c in checks)
    if overall:
        lake.put_cell("Dims", OVERALL, day, Cell(overall, name, at, "the gate's overall verdict", _problems(checks)))
        lake.put_findings("Dims", day, (at, name), _findings("Dims", day, checks, name))
    return True


def _read_silver_quality(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    checks = _checks(doc)
    params = _d(_d(doc.get("validation_metadata")).get("parameters"))
    tms = [tm for tm in _l(doc.get("table_metrics")) if isinstance(tm, dict) and isinstance(tm.get("table_name"), str)]
    # The days this file covers: every partition of every table.
    days: set[str] = set()
    for tm in tms:
        for p in _l(tm.get("partitions")):
            if isinstance(p, dict) and (d := _date(p.get("ingest_dt"))):
                days.add(d)
        days.update(d for d in map(_date, _l(tm.get("ingest_dts"))) if d)
    if not days and (partition_day := _date(params.get("partition_date"))) and not params.get("lookback_days"):
        days.add(partition_day)
    one_day = len(days) == 1
    for tm in tms:
        t = tm["table_name"]
        tcs = _checks_for(checks, t)
        sla = _num(tm.get("sla"))
        for p in _l(tm.get("partitions")):
            day = _date(p.get("ingest_dt")) if isinstance(p, dict) else None
            if not day:
                continue
            s, q, b = _int(p.get("silver_rows")), _int(p.get("quarantine_rows")), _int(p.get("bronze_rows"))
            if s is not None and q is not None:
                ok = p.get("conservation_ok") if isinstance(p.get("conservation_ok"), bool) else None
                lake.put_counts(DayCounts(t, day, b, s, q, ok, "gate", name, at))
            if not one_day:
                # A window of several days: this day's partition checks and this day's pass rate vs SLA.
                day_checks = [c for c in tcs if _date(c.get("partition")) == day]
                rate = s / (s + q) if s is not None and q is not None and s + q else None
                status = worst([c.get("status") for c in day_checks] + [sla_status(rate, sla)])
                note = f"from a {len(days)}-day gate run: this day's partition checks and pass rate vs SLA"
                if status:
                    lake.put_cell("Silver", t, day, Cell(status, name, at, note, _problems(day_checks)))
        if one_day:
            day = next(iter(days))
            status = _status(tm.get("status")) or worst(c.get("status") for c in tcs)
            if status:
                lake.put_cell(
                    "Silver", t, day, Cell(status, name, at, "the gate's verdict for this table", _problems(tcs))
                )
            codes = {k: v for k, v in _d(tm.get("reasons")).items() if isinstance(k, str) and _int(v)}
            if "reasons" in tm:
                lake.put_reasons(Reasons(t, day, codes, name, at, priority=1))
            lake.gate_new_codes[(t, day)].update(c for c in _l(tm.get("new_codes")) if isinstance(c, str))
    if one_day:
        day = next(iter(days))
        overall = _status(doc.get("overall_status"))
        if overall:
            lake.put_cell(
                "Silver", OVERALL, day, Cell(overall, name, at, "the gate's overall verdict", _problems(checks))
            )
        lake.put_findings("Silver", day, (at, name), _findings("Silver", day, checks, name))
        _report_ref(lake, day, "Silver", params.get("output_report"))
    else:
        for day in days:
            day_checks = [c for c in checks if _date(c.get("partition")) == day]
            lake.put_findings("Silver", day, (at, name), _findings("Silver", day, day_checks, name))
    return bool(days)


def _read_enriched_quality(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    checks = _checks(doc)
    params = _d(_d(doc.get("validation_metadata")).get("parameters"))
    day = _date(params.get("ingest_dt"))
    if not day:
        return False
    for tm in _l(doc.get("table_metrics")):
        if not isinstance(tm, dict) or not isinstance(tm.get("table_name"), str):
            continue
        t = tm["table_name"]
        tcs = _checks_for(checks, t)
        status = _status(tm.get("status")) or worst(c.get("status") for c in tcs)
        rows = _int(tm.get("row_count"))
        if status:
            note = f"{rows:,} rows in the partitions the run wrote" if rows is not None else ""
            lake.put_cell("Enriched", t, day, Cell(status, name, at, note, _problems(tcs)))
    overall = _status(doc.get("overall_status")) or worst(c.get("status") for c in checks)
    if overall:
        lake.put_cell(
            "Enriched", OVERALL, day, Cell(overall, name, at, "the gate's overall verdict", _problems(checks))
        )
        lake.put_findings("Enriched", day, (at, name), _findings("Enriched", day, checks, name))
    _report_ref(lake, day, "Enriched", doc.get("report_path"))
    return True


def _read_silver_run(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    day = _date(doc.get("ingest_dt"))
    if not day:
        return False
    bronze_total = 0
    for t, rec in _d(doc.get("tables")).items():
        if not isinstance(rec, dict):
            continue
        s, q, b = _int(rec.get("silver_rows")), _int(rec.get("quarantine_rows")), _int(rec.get("bronze_rows"))
        d = _date(rec.get("ingest_dt")) or day
        if s is not None and q is not None:
            lake.put_counts(DayCounts(t, d, b, s, q, None if b is None else b == s + q, "ledger", name, at))
        if isinstance(rec.get("reasons"), dict):
            codes = {k: v for k, v in rec["reasons"].items() if isinstance(k, str) and _int(v)}
            lake.put_reasons(Reasons(t, d, codes, name, at, priority=0))
        bronze_total += b or 0
    seconds = _d(doc.get("seconds"))
    stages = [(k, float(v)) for k, v in seconds.items() if _num(v) is not None]
    dbt = _d(doc.get("dbt"))
    group = doc.get("group") if isinstance(doc.get("group"), str) else ""
    status = "PASS" if dbt.get("success", True) and not _int(dbt.get("tests_failed")) else "FAIL"
    lake.runs.append(
        Run(
            kind=f"Base Silver ({group})" if group else "Base Silver",
            run_id=str(doc.get("run_id") or name),
            day=day,
            written_at=at,
            status=status,
            stages=stages,
            seconds=round(sum(v for _, v in stages), 3) if stages else None,
            rows=bronze_total or None,
            rows_what="Bronze rows read",
            file=name,
        )
    )
    return True


def _read_enriched_run(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    day = _date(doc.get("ingest_dt"))
    if not day:
        return False
    tables = {t: r for t, r in _d(doc.get("tables")).items() if isinstance(r, dict)}
    stages = [(t, float(r["seconds"])) for t, r in tables.items() if _num(r.get("seconds")) is not None]
    total = _num(doc.get("seconds"))
    if total is not None and stages and total > sum(v for _, v in stages):
        stages.append(("state, checks and publish", round(total - sum(v for _, v in stages), 3)))
    rows = sum(_int(r.get("rows")) or 0 for r in tables.values())
    status = str(doc.get("status") or "")
    lake.runs.append(
        Run(
            kind="Enriched",
            run_id=str(doc.get("run_id") or name),
            day=day,
            written_at=at,
            status="FAIL" if status in ("failed", "error") else "PASS",
            stages=stages,
            seconds=total if total is not None else (sum(v for _, v in stages) if stages else None),
            rows=rows or None,
            rows_what="rows written (10 tables)",
            file=name,
        )
    )
    return True


def _read_gold_run(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    day = _date(doc.get("as_of"))
    if not day:
        return False
    dbt = _d(doc.get("dbt"))
    failed = _int(doc.get("tests_failed")) or _int(dbt.get("tests_failed")) or 0
    passed = _int(doc.get("tests_passed")) or _int(dbt.get("tests_passed"))
    ok = dbt.get("success", True) is not False and not failed and doc.get("status", "published") == "published"
    status = "PASS" if ok else "FAIL"
    marts = {k: v for k, v in _d(doc.get("marts")).items() if _int(v) is not None}
    note = f"{len(marts)} marts" + (f", {passed} dbt tests passed" if passed is not None else "")
    if failed:
        note += f", {failed} failed"
    errors = [str(e) for e in _l(dbt.get("errors"))[:2]] + [str(e) for e in _l(dbt.get("failed_tests"))[:2]]
    lake.put_cell("Gold", "marts (dbt build + tests)", day, Cell(status, name, at, note, errors))
    seconds = _num(doc.get("seconds"))
    lake.runs.append(
        Run(
            kind="Gold",
            run_id=str(doc.get("run_id") or name),
            day=day,
            written_at=at,
            status=status,
            stages=[("dbt build (marts + tests)", seconds)] if seconds is not None else [],
            seconds=seconds,
            rows=sum(marts.values()) or None,
            rows_what="mart rows",
            file=name,
        )
    )
    return True


def _read_demo_summary(lake: Lake, name: str, doc: dict) -> bool:
    at = _written_at(doc)
    day = _date(doc.get("demo_date"))
    if not day:
        return False
    stages = [
        (str(s.get("stage")), float(s["seconds"]))
        for s in _l(doc.get("stages"))
        if isinstance(s, dict) and _num(s.get("seconds")) is not None
    ]
    ok = all(_status(doc.get(k)) in (None, "PASS", "WARN") for k in ("silver_status", "enriched_status"))
    ok = ok and not _int(doc.get("dbt_tests_failed"))
    lake.runs.append(
        Run(
            kind="Demo (all stages)",
            run_id=str(doc.get("run_id") or name),
            day=day,
            written_at=at,
            status="PASS" if ok else "FAIL",
            stages=stages,
            seconds=_num(doc.get("seconds")),
            rows=None,
            rows_what="",
            file=name,
        )
    )
    for label, path in _d(doc.get("reports")).items():
        _report_ref(lake, day, str(label).title(), path)
    return True


_READERS = {
    "bronze_quality": _read_bronze,
    "dims_quality": _read_dims,
    "silver_quality": _read_silver_quality,
    "enriched_quality": _read_enriched_quality,
    "silver_run": _read_silver_run,
    "enriched_run": _read_enriched_run,
    "gold_run": _read_gold_run,
    "demo_summary": _read_demo_summary,
}


# --------------------------------------------------------------------------------- ordering


def table_order(layer: str, tables: Iterable[str]) -> list[str]:
    """Rows of a layer: the whole gate first, then the contract's (or the run's) order."""
    known: tuple[str, ...] = ()
    if layer in ("Bronze", "Silver"):
        known = TABLES
    elif layer == "Dims":
        known = tuple(DIM_SNAPSHOTS.values())
    elif layer == "Enriched":
        from ecomlake.transforms.schemas import TABLE_NAMES

        known = TABLE_NAMES
    tables = set(tables)
    head = [OVERALL] if OVERALL in tables else []
    return head + [t for t in known if t in tables] + sorted(tables - set(known) - {OVERALL})


def family_of(table: str, code: str) -> str:
    return rules.family_of(table, code) or "unknown"
