"""The one gate machinery every validator uses: checks, statuses, metrics JSON, Markdown, exit codes.

A validator builds a `GateResult` (its checks plus per-table metrics), then calls `finish()`,
which writes ``<metrics>/<gate>_<run_id>.json`` and the Markdown report and returns the exit code
of the runbook's table:

    0  PASS or WARN, and not enforcing
    1  FAIL with --env prod (or PIPELINE_ENV=prod), or FAIL with --enforce, in any environment
    2  the validator could not run (raised as EcomlakeError before a result exists)

Every metrics JSON and report names the config file the thresholds came from
(`config_source`), and a gate that evaluated no check at all FAILs: it validated nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ecomlake import __version__, ids
from ecomlake.storage import join, write_bytes_atomic, write_json_atomic

if TYPE_CHECKING:
    from ecomlake.config import Settings


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        return {"PASS": 0, "WARN": 1, "FAIL": 2}[self.value]

    @property
    def emoji(self) -> str:
        return {"PASS": "✅", "WARN": "⚠️", "FAIL": "❌"}[self.value]


def worst(statuses: Iterable[Status | str]) -> Status:
    result = Status.PASS
    for s in statuses:
        s = Status(s)
        if s.rank > result.rank:
            result = s
    return result


class CheckName:
    """Check names shared by every gate, so metrics, reports and alerts use one vocabulary.

    Partition-integrity checks apply to any layer that publishes manifests (Bronze, Silver, ...).
    """

    TABLE_PRESENT = "table_present"  # the table has at least one partition
    PARTITION_PRESENT = "partition_present"  # an expected partition (date in the window) exists
    PARTITION_NAME = "partition_name"  # a partition directory is named key=<valid value>
    SUCCESS_MARKER = "success_marker"  # _SUCCESS written last: the partition is complete
    MANIFEST_PRESENT = "manifest_present"
    MANIFEST_VALID = "manifest_valid"  # valid JSON with the fields a reader needs
    MANIFEST_ROWS = "manifest_rows_match"  # manifest total_rows / per-file rows equal the footers
    MANIFEST_FILE_PRESENT = "manifest_file_present"  # every file the manifest lists exists
    FILE_LISTED = "file_listed_in_manifest"  # every data file present is listed (no stray files)
    CHECKSUM = "checksum_match"
    PARQUET_MAGIC = "parquet_magic"  # starts and ends with PAR1 (not truncated)
    PARQUET_READABLE = "parquet_readable"  # the footer opens
    COLUMN_PRESENT = "column_present"  # schema drift: a contract column is missing
    COLUMN_TYPE = "column_type"  # schema drift: a column's type is incompatible
    UNEXPECTED_COLUMN = "unexpected_column"  # schema drift: a column the contract does not know
    MIN_ROWS = "min_table_rows"


@dataclass
class Check:
    """One verdict: what was checked, where, what was seen, against what, and what to do."""

    name: str
    status: Status
    message: str
    table: str | None = None
    partition: str | None = None
    observed: Any = None
    threshold: Any = None
    action: str | None = None  # recommended action when not PASS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class GateResult:
    gate: str  # bronze_quality | dims_quality | silver_quality | enriched_quality
    title: str  # report title
    run_id: str
    environment: str
    parameters: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    table_metrics: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # gate-specific top-level JSON fields
    config_source: str | None = None  # the config file the thresholds and checks came from
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def check(self, name: str, ok: bool, message: str, *, fail_status: Status = Status.FAIL, **kw: Any) -> Check:
        """Add a check that passes when `ok`, otherwise gets `fail_status`."""
        return self.add(Check(name, Status.PASS if ok else fail_status, message, **kw))

    @property
    def overall_status(self) -> Status:
        return worst(c.status for c in self.checks)

    def table_status(self, table: str) -> Status:
        return worst(c.status for c in self.checks if c.table == table)

    @property
    def problems(self) -> list[Check]:
        return sorted((c for c in self.checks if c.status != Status.PASS), key=lambda c: -c.status.rank)

    def to_dict(self) -> dict:
        return {
            "metadata": {
                "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "environment": self.environment,
                "metric_type": self.gate,
                "ecomlake_version": __version__,
                "config_source": self.config_source,
            },
            "validation_metadata": {
                "run_id": self.run_id,
                "validation_type": self.gate,
                "timestamp": self.started_at,
                "parameters": self.parameters,
            },
            **self.extra,
            "table_metrics": self.table_metrics,
            "checks": [c.to_dict() for c in self.checks],
            "summary": {
                "checks": len(self.checks),
                "passed": sum(c.status == Status.PASS for c in self.checks),
                "warned": sum(c.status == Status.WARN for c in self.checks),
                "failed": sum(c.status == Status.FAIL for c in self.checks),
            },
            "overall_status": self.overall_status.value,
        }


def exit_code(status: Status, environment: str, enforce: bool) -> int:
    if Status(status) == Status.FAIL and (enforce or environment == "prod"):
        return 1
    return 0


# ----------------------------------------------------------------------------------- Markdown


def md_escape(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(md_escape(v) for v in row) + " |")
    return "\n".join(lines)


def fmt_int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else ("-" if n is None else str(n))


def fmt_pct(x: Any, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}%"


def render_markdown(result: GateResult, sections: list[tuple[str, str]]) -> str:
    """Header, gate-specific sections, every non-passing check with its action, metadata."""
    status = result.overall_status
    out = [
        f"# {result.title}",
        "",
        f"**Last Updated:** {result.started_at.replace('T', ' ').replace('+00:00', ' UTC')}  ",
        f"**Run ID:** `{result.run_id}`  ",
        f"**Environment:** {result.environment}  ",
        f"**Config:** `{result.config_source or 'built-in defaults (no config file)'}`  ",
        f"**Overall Status:** {status.emoji} {status.value}",
        "",
    ]
    for heading, body in sections:
        out += [f"## {heading}", "", body.rstrip(), ""]
    problems = result.problems
    out += ["## Issues Detected", ""]
    if problems:
        out.append(
            md_table(
                ["Status", "Check", "Table", "Partition", "Finding", "Recommended action"],
                [
                    (
                        f"{c.status.emoji} {c.status.value}",
                        c.name,
                        c.table or "-",
                        c.partition or "-",
                        c.message,
                        c.action or "-",
                    )
                    for c in problems
                ],
            )
        )
    else:
        out.append(f"None: all {len(result.checks)} checks passed.")
    out += [
        "",
        "## Metadata",
        "",
        f"- Generated by: `ecomlake` {__version__} ({result.gate})",
        f"- Parameters: `{result.parameters}`",
        f"- Checks: {len(result.checks)} ({sum(c.status == Status.PASS for c in result.checks)} passed)",
        "",
        "<!-- AUTO-GENERATED - DO NOT EDIT -->",
        "",
    ]
    return "\n".join(out)


def finish(
    result: GateResult,
    *,
    metrics_dir: str,
    report_path: str | None,
    sections: list[tuple[str, str]],
    enforce: bool,
    settings: Settings | None = None,
) -> tuple[int, str, str | None]:
    """Write metrics JSON and Markdown, emit the gate's OpenLineage events (with `settings`);
    return (exit code, metrics path, report path)."""
    ids.run_id(result.run_id, "run id")  # it names the metrics file
    if report_path is not None:
        ids.user_path(report_path, "report path")
    if not result.checks:
        result.add(
            Check(
                "checks_evaluated",
                Status.FAIL,
                f"the {result.gate} gate evaluated no check at all, so nothing was validated",
                action="check the gate's inputs (tables, dates, paths) and the config it loaded "
                f"({result.config_source or 'no config file'})",
            )
        )
    metrics_path = join(metrics_dir, f"{result.gate}_{result.run_id}.json")
    write_json_atomic(metrics_path, result.to_dict())
    if report_path:
        write_bytes_atomic(report_path, render_markdown(result, sections).encode())
    if settings is not None:
        from ecomlake import lineage

        lineage.gate(settings, result)
    return exit_code(result.overall_status, result.environment, enforce), metrics_path, report_path
