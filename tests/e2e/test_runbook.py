"""The operations runbook, sections 1 to 5, as a new user types it after `make demo`.

One fresh clone and one `make demo` (which builds the clone's own .venv) for the whole module; then
every runbook command that runs without cloud or Docker, in the runbook's order, in a shell with
the clone's environment activated. Where a command cannot run as written, the test runs it as
written and checks the failure the README's runbook section describes, then runs the README's
correction. Sample dates stand in for the runbook's example dates (2025-01-15, 2024-01-03).

Everything happens in one test function, so that the one clone is never built twice when pytest-xdist
spreads tests over workers; each command's outcome is collected and every mismatch is reported at
the end, with the command and its output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
D1, D2, D3 = "2023-01-01", "2023-01-02", "2023-01-03"  # the demo day, and the sample's last two days
STRIPPED = ("ECOM", "BRONZE_", "SILVER_", "ENRICHED_", "DIMS_", "GOLD_", "METRICS_", "REPORTS_", "PIPELINE_ENV")
STRIPPED += ("RUN_ID", "MAX_QUARANTINE", "DUCKDB_", "DBT_", "VIRTUAL_ENV")


class Shell:
    """Runs commands in the clone like an activated shell; collects every mismatch."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
        env["PATH"] = str(cwd / ".venv" / "bin") + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = str(cwd / ".venv")
        self.env = env
        self.failures: list[str] = []

    def __call__(
        self,
        cmd: str,
        rc: int | None = 0,
        out: tuple[str, ...] = (),
        err: tuple[str, ...] = (),
        absent: tuple[str, ...] = (),
        one_line_error: bool = False,
        timeout: int = 900,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["bash", "-c", cmd],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        problems = []
        if rc is not None and proc.returncode != rc:
            problems.append(f"exit {proc.returncode}, expected {rc}")
        problems += [f"stdout lacks {f!r}" for f in out if f not in proc.stdout]
        problems += [f"stderr lacks {f!r}" for f in err if f not in proc.stderr]
        problems += [f"output has {f!r}" for f in absent if f in proc.stdout + proc.stderr]
        if one_line_error and not (proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1):
            problems.append("stderr is not one 'error: ' line")
        if "Traceback" in proc.stderr and rc == 0:
            problems.append("a traceback")
        if problems:
            self.failures.append(
                f"$ {cmd}\n  "
                + "; ".join(problems)
                + f"\n  stdout: {proc.stdout[-1500:]}\n  stderr: {proc.stderr[-1500:]}"
            )
        return proc

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)


def readme_block(after: str) -> str:
    """The first fenced block after a line of the README that starts with `after`."""
    text = (REPO / "README.md").read_text()
    start = text.index(after)
    body = text[text.index("```", start) + 3 :]
    return body[body.index("\n") + 1 : body.index("```")]


@pytest.fixture(scope="module")
def sh(tmp_path_factory) -> Shell:
    dest = tmp_path_factory.mktemp("runbook") / "ecomlake"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    shell = Shell(dest)
    # The runbook's quick start on a fresh clone: unzip, then the demo (here `make demo`, which also
    # creates the clone's .venv from requirements.lock).
    if shutil.which("unzip"):
        shell("unzip samples/bronze_samples.zip -d samples/", out=("inflating: samples/bronze/orders",))
    shell(
        "make demo",
        out=("bronze (sample)", "48 partitions landed", "✅ Silver: 6/6 fact tables passing validation"),
        timeout=1800,
    )
    shell("ecomlake --help", out=("Usage",))
    assert not shell.failures, "\n\n".join(shell.failures)
    return shell


def test_the_runbook_after_make_demo(sh: Shell):
    jq = shutil.which("jq") is not None

    # ------------------------------------------------------------------ quick start
    sh(f"ls data/silver/base/orders/ingestion_dt={D1}", rc=2, err=("No such file",))  # as written
    sh(f"ls data/silver/base/orders/ingest_dt={D1}", out=("part-0000.parquet", "_manifest.json"))
    sh(f"ls data/silver/enriched/int_cart_attribution/cart_dt={D1}", out=("part-00000.parquet",))
    sh(f"cat docs/validation_reports/ENRICHED_QUALITY_{D1}.md", out=("Enriched Silver Quality Report",))
    if shutil.which("unzip"):  # after the demo, as written it asks; the correction overwrites
        sh("unzip samples/bronze_samples.zip -d samples/", rc=None, err=("replace samples/bronze/",))
        sh("unzip -o samples/bronze_samples.zip -d samples/")
    sh("cat data/bronze/_source.json", out=('"command": "ecomlake local demo-fast"',))

    # ------------------------------------------------------------------ 1. Bronze
    sh(f"ls -la data/bronze/orders/ingest_dt={D1}/", out=("part-0000.parquet", "_manifest.json", "_SUCCESS"))
    parquet = """python -c "
import pyarrow.parquet as pq
pf = pq.ParquetFile('data/bronze/orders/ingest_dt={d}/{name}')
print(f'Rows: {{pf.metadata.num_rows}}')
print(f'Schema: {{pf.schema_arrow}}')
" """
    sh(parquet.format(d=D1, name="part-0.parquet"), rc=1, err=("FileNotFoundError",))  # as written
    sh(parquet.format(d=D1, name="part-0000.parquet"), out=("Rows: 478", "Schema: order_id: string"))
    sh(f"cat data/bronze/orders/ingest_dt={D1}/_manifest.json", out=('"total_rows": 478',))
    # Manifest mismatch -> "Regenerate manifest" = bronze validate --rewrite-manifest.
    manifest = f"data/bronze/orders/ingest_dt={D1}/_manifest.json"
    m = json.loads((sh.cwd / manifest).read_text())
    m["total_rows"] += 7
    m["files"][0]["rows"] += 7
    (sh.cwd / manifest).write_text(json.dumps(m))
    validate_d1 = f"ecomlake bronze validate --bronze-path data/bronze --partition-date {D1}"
    sh(validate_d1, out=("Bronze gate FAIL", "part-0000.parquet has 485 rows, its footer says 478"))
    sh(
        f"{validate_d1} --rewrite-manifest",
        out=(f"manifest rewritten: orders/ingest_dt={D1}: 1 files, 478 rows", "Bronze gate PASS"),
    )

    # ------------------------------------------------------------------ 2. Dims
    sh("ls -la data/silver/dims/product_catalog/", out=(f"snapshot_dt={D1}",))
    sh("ls -la data/silver/dims/customer_snapshot/", out=(f"snapshot_dt={D1}",))
    sh("echo $SILVER_DIMS_PATH")
    sh("ecomlake dim run --run-date 2024-01-03", rc=2, one_line_error=True, absent=("bronze generate",))
    sh(f"ecomlake dim run --run-date {D2}", out=(f"snapshot {D2} published",))
    sh("ecomlake local dims", out=(f"== dims {D3} (1/1)", "Overall: PASS"))
    sh("ecomlake local silver", out=(f"== silver {D2} (1/2)", f"== silver {D3} (2/2)", f"{D3} published"))
    sh(
        "ecomlake local enriched",
        out=(f"== enriched {D2} (1/2)", f"== enriched {D3} (2/2)", f"{D3} is current"),
        absent=("gate FAILED",),
    )

    # ------------------------------------------------------------------ 3. Base Silver and dbt
    sh(
        "cd dbt_duckdb && dbt run --target local --full-refresh 2>&1 | tee dbt_run.log",
        out=("Completed successfully",),
    )
    sh.check((sh.cwd / "dbt_duckdb" / "dbt_run.log").is_file(), "dbt_run.log was not written")
    sh("cd dbt_duckdb && dbt run --select stg_orders --target local", out=("Completed successfully", "PASS=1"))
    sh("cd dbt_duckdb && dbt test", out=("Completed successfully",))
    quarantine = """python - <<'PY'
import polars as pl
df = pl.read_parquet('data/silver/base/quarantine/orders/{glob}.parquet')
print(df.head(10))
print(f'Quarantine rows: {{df.height}}')
print(df.group_by('_quarantine_reason').len())
PY"""
    sh(quarantine.format(glob="*"), rc=1, err=("ComputeError",))  # as written: the files are one level down
    sh(quarantine.format(glob="*/*"), out=("Quarantine rows: ", "_quarantine_reason"))
    sh("ecomlake silver validate --silver-path data/silver/base --env local", out=("Silver gate: PASS",))

    # ------------------------------------------------------------------ 4. Enriched
    sh("ecomlake enriched validate --enriched-path data/silver/enriched --env local", out=("PASS: 10/10",))
    sh(
        """python - <<'PY'
import polars as pl
df = pl.read_parquet('data/silver/enriched/int_customer_lifetime_value/*.parquet')
print(df.describe())

# Check for negative CLV
negatives = df.filter(pl.col('net_clv') < 0)
print(f'Negative CLV records: {negatives.height}')
PY""",
        out=("Negative CLV records: 0",),
    )
    if jq:
        sh("cat data/metrics/enriched_quality_*.json | jq .", out=('"overall_status"',))
    negative = """python - <<'PY'
import polars as pl
df = pl.read_parquet('data/silver/enriched/{table}/{glob}.parquet')
print(df.filter(pl.col('gross_revenue') < 0).select(['product_id', 'gross_revenue']))
PY"""
    sh(negative.format(table="int_customer_lifetime_value", glob="*"), rc=1, err=("ColumnNotFoundError",))
    sh(negative.format(table="int_product_performance", glob="*/*"), out=("shape: (0, 2)",))
    sh("ls src/transforms/customer_lifetime_value.py", rc=2)  # as written
    sh("ls src/ecomlake/transforms/customer_lifetime_value.py")
    pointer = (sh.cwd / "data/silver/enriched/_latest.json").read_text()
    sh(
        "ecomlake enriched run --ingest-dt 2024-01-03",
        rc=2,
        one_line_error=True,
        err=(
            "no Base Silver partition data/silver/base/orders/ingest_dt=2024-01-03",
            "`ecomlake local silver --date 2024-01-03`",
            "nothing was written",
        ),
        absent=("Exception", "bronze generate"),
    )
    sh.check((sh.cwd / "data/silver/enriched/_latest.json").read_text() == pointer, "a refused run moved _latest")
    sh.check(
        not list((sh.cwd / "data/silver/enriched").glob("*/ingest_dt=2024-01-03")), "a refused run wrote a partition"
    )
    sh(f"ecomlake enriched run --ingest-dt {D3}", out=("PASS: 10/10", f"{D3} is current"))

    # ------------------------------------------------------------------ 5. Quarantine
    sh(f"ls data/silver/base/quarantine/orders/ingest_dt={D1}/", out=("part-0000.parquet",))
    sh(
        "ecomlake silver validate --silver-path data/silver/base --quarantine-path data/silver/base/quarantine",
        out=("Silver gate: PASS",),
    )
    sh("""find data/silver/base/quarantine -name "*.parquet" -exec wc -l {} \\; | awk '{sum+=$1} END {print sum}'""")
    rows = sh(
        """python -c "import glob, pyarrow.parquet as pq; print(sum(pq.ParquetFile(f).metadata.num_rows """
        """for f in glob.glob('data/silver/base/quarantine/*/*/*.parquet')))" """
    ).stdout.strip()
    summary = sh("ecomlake quarantine summary", out=("total: ",)).stdout
    total = re.search(r"total: ([\d,]+) quarantined rows", summary)
    sh.check(bool(total) and total[1].replace(",", "") == rows, f"quarantine rows {rows!r} vs summary {summary!r}")
    inspect = """python - <<'PY'
import polars as pl

# Read quarantined orders
df = pl.read_parquet('data/silver/base/quarantine/orders/ingest_dt={d}/*.parquet')

# Group by failure reason
print(df.group_by('_quarantine_reason').agg([
    pl.{count}().alias('record_count'),
    pl.col('order_id').first().alias('example_order_id')
]))

# Export sample for analysis
df.head(100).write_csv('quarantine_sample.csv')
PY"""
    sh(inspect.format(d=D1, count="count"), rc=1, err=("pl.len()",))  # as written
    sh(inspect.format(d=D1, count="len"), out=("record_count", "example_order_id"))
    sh.check((sh.cwd / "quarantine_sample.csv").is_file(), "quarantine_sample.csv was not written")
    sh("ecomlake silver validate --silver-path data/silver/base --env local", out=("Silver gate: PASS",))
    if jq:
        pcts = sh(
            """cat data/metrics/silver_quality_*.json | jq '.table_metrics[] | select(.table_name=="orders") | .quarantine_pct'"""
        ).stdout.split()
        sh.check(bool(pcts) and all(0 <= float(p) < 100 for p in pcts), f"quarantine_pct values {pcts}")
    sh(
        """python - <<'PY'
import polars as pl
df = pl.read_parquet('data/silver/base/quarantine/orders/**/*.parquet')

# Most common failure reasons
reasons = df.group_by('_quarantine_reason').len().sort('len', descending=True)
print(reasons)
PY""",
        out=("_quarantine_reason", "len"),
    )

    # The runbook's alert, as written (with the metric in place of the undefined name): off by 100.
    as_written = """python - <<'PY'
import glob, json, os
MAX_QUARANTINE_RATE = float(os.getenv('MAX_QUARANTINE_RATE', '0.05'))  # 5%
quarantine_pct = json.load(open(max(glob.glob('data/metrics/silver_quality_*.json'), key=os.path.getmtime)))['quarantine_pct']
print('alarm' if quarantine_pct > MAX_QUARANTINE_RATE else 'quiet', f'{quarantine_pct:.2%}')
PY"""
    sh(as_written, out=("alarm",))  # a ~2.7% day raises the 5% alarm, and prints "267.xx%"
    sh(readme_block("The section 5 alert"), out=("within 5.00%",))  # the README's correction, verbatim

    # Weekly review: the summary JSON exists once written.
    if jq:
        sh("cat docs/validation_reports/quarantine_summary_2025W03.json | jq", err=("No such file",))  # as written
    sh(
        "ecomlake silver validate --silver-path data/silver/base --output-report docs/validation_reports/SILVER_QUALITY_2025_W03.md"
    )
    sh.check((sh.cwd / "docs/validation_reports/SILVER_QUALITY_2025_W03.md").is_file(), "weekly report missing")
    sh("ecomlake quarantine summary --output docs/validation_reports/quarantine_summary_2025W03.json")
    if jq:
        sh("cat docs/validation_reports/quarantine_summary_2025W03.json | jq", out=('"period"', '"by_family"'))
    sh(
        "ecomlake quarantine summary --since 7d",
        out=(f"since 2022-12-27 (7d before the newest quarantine partition, {D3})", "over 6 dates"),
    )

    # Cleanup as written: on files younger than a week it deletes nothing.
    cleanup = "find data/silver/base/quarantine -type f -mtime +7 -delete"
    sh(cleanup)
    sh(f"ls data/silver/base/quarantine/orders/ingest_dt={D1}/", out=("_manifest.json",))
    # A week later (the partition's files aged by hand), it empties the partition; the gate says so.
    sh(f"touch -d '10 days ago' data/silver/base/quarantine/orders/ingest_dt={D1}/*")
    sh(cleanup)
    gate_d1 = f"ecomlake silver validate --silver-path data/silver/base --env local --partition-date {D1}"
    sh(gate_d1, out=("Silver gate: FAIL", "was emptied outside the pipeline", "`ecomlake quarantine prune`"))
    sh("ecomlake quarantine prune --older-than 7d --dry-run", out=("would delete", "partitions"))
    # Reprocess (the runbook's "ecomlake local silver --date 2025-01-15", for a sample date) restores it.
    sh(f"ecomlake local silver --date {D1}", out=(f"{D1} published",))
    sh(gate_d1, out=("Silver gate: PASS",))

    # Manual recovery as written: the gate reports the hand-dropped file; the correction is recover.
    sh(
        f"""python - <<'PY'
import polars as pl

# Read quarantine
df = pl.read_parquet('data/silver/base/quarantine/orders/ingest_dt={D1}/*.parquet')

# Fix issue (example: fill nulls)
df_fixed = df.with_columns([
    pl.col('customer_id').fill_null('UNKNOWN')
]).drop(['_quarantine_reason', '_quarantine_timestamp'])

# Write to valid Silver path
df_fixed.write_parquet('data/silver/base/orders/ingest_dt={D1}/recovered.parquet')
PY"""
    )
    sh(gate_d1, out=("Silver gate: FAIL", "recovered.parquet: file not in the manifest"))
    sh(f"rm data/silver/base/orders/ingest_dt={D1}/recovered.parquet")
    sh(
        f"ecomlake quarantine recover --table orders --ingest-dt {D1} --fill customer_id=UNKNOWN",
        out=(f"orders ingest_dt={D1}: selected",),
    )
    sh(gate_d1, out=("Silver gate: PASS",))

    # Quick reference: the configuration keys, as config/config.yml names them.
    keys = sh(
        r"grep -nE '^\s+(ratio_epsilon|max_quarantine_pct|min_table_rows|sla_thresholds):' config/config.yml"
    ).stdout
    sh.check(all(k in keys for k in ("ratio_epsilon", "max_quarantine_pct", "min_table_rows", "sla_thresholds")), keys)

    # ------------------------------------------------------------------ 1. a corrupt file, last
    part = f"data/bronze/orders/ingest_dt={D2}/part-0000.parquet"
    data = (sh.cwd / part).read_bytes()
    (sh.cwd / part).write_bytes(data[: len(data) // 2])  # an interrupted upload
    validate_d2 = f"ecomlake bronze validate --bronze-path data/bronze --partition-date {D2}"
    sh(validate_d2, out=("Bronze gate FAIL", "part-0000.parquet does not start and end with PAR1"))
    sh(f"{validate_d2} --rewrite-manifest", out=("manifest NOT rewritten",))
    sh(f"rm data/bronze/orders/ingest_dt={D2}/part-0.parquet", rc=1, err=("No such file",))  # as written
    sh(f"rm {part}")
    # "Re-run ingestion for that partition": on the demo's lake, the demo lands it again.
    sh("ecomlake local demo-fast", out=("2 repaired", "✅ Silver: 6/6 fact tables passing validation"))
    sh("ecomlake bronze validate --bronze-path data/bronze", out=("Bronze gate PASS",))
    sh("git status --porcelain", absent=("dbt_run.log", "quarantine_sample.csv", "data/"))

    assert not sh.failures, f"{len(sh.failures)} runbook step(s) failed:\n\n" + "\n\n".join(sh.failures)
