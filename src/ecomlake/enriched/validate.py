"""The Enriched quality gate (`ecomlake enriched validate`), on the shared gate machinery.

It validates EVERY partition a run wrote (from the run record `enriched_run_<run_id>.json`; with
no record, the partitions for D; with no date either, D is the newest snapshot date, and with no
snapshot at all, the newest partition of each table):
- presence and `min_table_rows` per table, schema against the declared output schema;
- key uniqueness per grain and non-null grain keys, null rates of key fields;
- sanity checks (non-negative columns, rates within [0, 1]) from config; an entry is a column
  name (every table that has it) or `table.column`;
- semantic checks from config (violation predicates, parsed safely, see `safe_expr`);
- null-partition rows (`<key>=__null__`) FAIL;
- reconciliation against Base Silver known as of D: order counts per order_dt for
  int_shipping_economics and int_regional_financials, orders and gross revenue to the cent for
  int_daily_business_metrics, sum(net_clv) for int_customer_lifetime_value, and agreement of
  int_attributed_purchases and int_cart_attribution on every converted pair;
- row deltas against the previous partition (reported, not judged).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from ecomlake import ids, storage
from ecomlake.config import Settings
from ecomlake.contract import DIM_SNAPSHOTS, GUEST_PREFIX
from ecomlake.duck import connect, scalar, sql_literal
from ecomlake.enriched.inputs import Context
from ecomlake.enriched.runner import load_run_record
from ecomlake.enriched.safe_expr import compile_check
from ecomlake.errors import ConfigError, InputError
from ecomlake.quality.gate import Check, GateResult, Status, finish, fmt_int, md_table
from ecomlake.runs import new_run_id, parse_date
from ecomlake.transforms.schemas import NULL_PARTITION, SPECS, TABLE_NAMES, TableSpec

GATE = "enriched_quality"


@dataclass
class TableCheck:
    spec: TableSpec
    partitions: list[str]  # labels (values) to validate
    files: dict[str, list[str]] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def _placeholders(settings: Settings) -> dict[str, float]:
    v = settings.enriched_validation
    return {
        "ratio_epsilon": v.ratio_epsilon,
        "currency_tolerance": v.currency_tolerance,
        "attribution_tolerance_hours": settings.enriched.attribution_tolerance_hours,
    }


def compile_checks(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """{table: [(name, sql)]} for every configured semantic check; ConfigError on any unsafe one."""
    out: dict[str, list[tuple[str, str]]] = {}
    values = _placeholders(settings)
    for table, checks in settings.enriched_validation.semantic_checks.items():
        if table not in SPECS:
            raise ConfigError(
                f"enriched_validation.semantic_checks: unknown table {table!r} (known: {', '.join(SPECS)})"
            )
        cols = set(SPECS[table].column_names)
        out[table] = [
            (c.name, compile_check(c.expr, cols, values, f"enriched_validation.semantic_checks.{table}.{c.name}"))
            for c in checks
        ]
    return out


def sanity_columns(settings: Settings, spec: TableSpec) -> dict[str, list[str]]:
    """{kind: [columns of this table]} from the sanity lists (`col` or `table.col` entries)."""
    out: dict[str, list[str]] = {}
    for kind, entries in settings.enriched_validation.sanity_checks.items():
        cols = []
        for entry in entries:
            table, _, col = entry.rpartition(".")
            if table and table not in SPECS:
                raise ConfigError(f"enriched_validation.sanity_checks.{kind}: unknown table in {entry!r}")
            if table and col not in SPECS[table].column_names:
                raise ConfigError(f"enriched_validation.sanity_checks.{kind}: {table} has no column {col!r}")
            if (not table or table == spec.name) and col in spec.column_names and col not in cols:
                cols.append(col)
        out[kind] = cols
    return out


def _partition_dirs(settings: Settings, record: dict | None, spec: TableSpec, label: str) -> str:
    root = settings.paths.silver_enriched_path
    if record and record.get("status") == "pending" and record.get("staging_root"):
        staged = storage.join(record["staging_root"], spec.name, f"{spec.partition_key}={label}")
        if storage.isdir(staged):
            return staged
    return storage.partition_path(root, spec.name, label, spec.partition_key)


def _resolve_partitions(settings: Settings, record: dict | None, d: dt.date | None) -> dict[str, list[str]]:
    root = settings.paths.silver_enriched_path
    out: dict[str, list[str]] = {}
    for name in TABLE_NAMES:
        spec = SPECS[name]
        if record is not None:
            out[name] = list(record.get("tables", {}).get(name, {}).get("partitions", []))
            continue
        existing = storage.list_partitions(root, name, spec.partition_key)
        if d is not None:
            out[name] = [d.isoformat()] if d.isoformat() in existing else []
        else:
            dated = [p for p in existing if p != NULL_PARTITION]
            out[name] = ([max(dated)] if dated else []) + ([NULL_PARTITION] if NULL_PARTITION in existing else [])
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _files_sql(files: list[str]) -> str:
    return "read_parquet([" + ", ".join(sql_literal(f) for f in files) + "], union_by_name = true)"


# issue(table, check, problems, ok_msg, action): records one reconciliation check
Issue = Callable[[str, str, list[str], str, str], None]


class _Validator:
    def __init__(self, settings: Settings, record: dict | None, d: dt.date | None, result: GateResult):
        self.settings = settings
        self.record = record
        self.d = d
        self.result = result
        self.con = connect(settings)
        self.semantic = compile_checks(settings)
        self.views: dict[str, bool] = {}

    def close(self) -> None:
        self.con.close()

    def scalar(self, sql: str) -> Any:
        return scalar(self.con, sql)

    # ------------------------------------------------------------------ per table
    def table(self, spec: TableSpec, labels: list[str]) -> dict:
        s = self.settings
        name = spec.name
        min_rows = s.enriched_validation.min_table_rows.get(name, 1)
        m: dict[str, Any] = {
            "table_name": name,
            "partition_key": spec.partition_key,
            "partitions": labels,
            "row_count": 0,
            "min_rows": min_rows,
            "partition_details": [],
            "null_rates": {},
            "sanity_issues": [],
            "semantic_issues": [],
            "reconciliation_issues": [],
            "schema_issues": [],
            "notes": [],
        }
        add = self.result.add
        files: list[str] = []
        existing = storage.list_partitions(s.paths.silver_enriched_path, name, spec.partition_key)
        for label in labels:
            pdir = _partition_dirs(s, self.record, spec, label)
            pfiles = storage.partition_files(pdir)
            part = f"{spec.partition_key}={label}"
            if not pfiles:
                m["notes"].append(f"missing_partition:{label}")
                add(
                    Check(
                        "partition_present",
                        Status.FAIL,
                        f"{name}/{part}: written by the run but not found",
                        table=name,
                        partition=part,
                        action="rerun `ecomlake enriched run` for this date",
                    )
                )
                continue
            rows = sum(storage.parquet_num_rows(f) for f in pfiles)
            files += pfiles
            dated = [p for p in existing if p != NULL_PARTITION and p < label]
            prior = max(dated) if dated and label != NULL_PARTITION else None
            prior_rows = None
            if prior:
                prior_rows = sum(
                    storage.parquet_num_rows(f)
                    for f in storage.partition_files(
                        storage.partition_path(s.paths.silver_enriched_path, name, prior, spec.partition_key)
                    )
                )
            delta = round((rows - prior_rows) / prior_rows * 100, 2) if prior_rows else None
            m["partition_details"].append(
                {
                    "partition": label,
                    "rows": rows,
                    "files": len(pfiles),
                    "prior_partition": prior,
                    "prior_row_count": prior_rows,
                    "row_delta_pct": delta,
                }
            )
            m["row_count"] += rows
            if label == NULL_PARTITION:
                add(
                    Check(
                        "null_partition",
                        Status.FAIL,
                        f"{name}: {rows} row(s) have a null {spec.partition_key}",
                        table=name,
                        partition=part,
                        observed=rows,
                        threshold=0,
                        action=f"find the Silver rows with a null business date behind {name} and repair them",
                    )
                )
            # Schema drift: every file must carry exactly the declared columns and types.
            want = spec.arrow_schema()
            for f in pfiles:
                got = pq.read_schema(f) if not storage.is_remote(f) else None
                if got is not None and not got.remove_metadata().equals(want):
                    diff = sorted(set(map(str, got)) ^ set(map(str, want)))
                    m["schema_issues"].append(f"{f.rsplit('/', 1)[-1]} in {part}: {'; '.join(diff)[:300]}")
        if m["schema_issues"]:
            add(
                Check(
                    "schema",
                    Status.FAIL,
                    f"{name}: {len(m['schema_issues'])} file(s) differ from the declared schema",
                    table=name,
                    observed=m["schema_issues"][:3],
                    action="rerun the enriched run; never edit files by hand",
                )
            )
        deltas = [p["row_delta_pct"] for p in m["partition_details"] if p["row_delta_pct"] is not None]
        m["row_delta_pct"] = deltas[-1] if deltas else None
        add(
            Check(
                "min_table_rows",
                Status.PASS if m["row_count"] >= min_rows else Status.FAIL,
                f"{name}: {m['row_count']} row(s) in {len(labels)} partition(s) (min {min_rows})",
                table=name,
                observed=m["row_count"],
                threshold=min_rows,
                action="check that Base Silver has data for this date and rerun the enriched run",
            )
        )
        if not files or m["schema_issues"]:
            return m
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW v AS SELECT * FROM {_files_sql(files)}")
        total = m["row_count"]
        # Grain: unique and non-null.
        grain = ", ".join(_q(c) for c in spec.grain)
        dups = self.scalar(f"SELECT count(*) FROM (SELECT {grain} FROM v GROUP BY ALL HAVING count(*) > 1)")
        null_keys = self.scalar("SELECT count(*) FROM v WHERE " + " OR ".join(f"{_q(c)} IS NULL" for c in spec.grain))
        m["duplicate_keys"], m["null_grain_keys"] = dups, null_keys
        add(
            Check(
                "key_unique",
                Status.PASS if dups == 0 else Status.FAIL,
                f"{name}: {dups} duplicated ({', '.join(spec.grain)}) key(s)",
                table=name,
                observed=dups,
                threshold=0,
                action="a transform fans out: check its joins against one-row-per-key inputs",
            )
        )
        add(
            Check(
                "key_not_null",
                Status.PASS if null_keys == 0 else Status.FAIL,
                f"{name}: {null_keys} row(s) with a null grain key",
                table=name,
                observed=null_keys,
                threshold=0,
            )
        )
        for col in spec.key_fields:
            n = self.scalar(f"SELECT count(*) FROM v WHERE {_q(col)} IS NULL")
            m["null_rates"][col] = round(n / total, 6) if total else 0.0
        # Sanity.
        sanity = sanity_columns(s, spec)
        for col in sanity.get("non_negative", []):
            n = self.scalar(f"SELECT count(*) FROM v WHERE {_q(col)} < 0")
            if n:
                m["sanity_issues"].append(f"{col}: {n} negative")
        for col in sanity.get("rate_0_1", []):
            n = self.scalar(f"SELECT count(*) FROM v WHERE {_q(col)} < 0 OR {_q(col)} > 1")
            if n:
                m["sanity_issues"].append(f"{col}: {n} outside_0_1")
        add(
            Check(
                "sanity",
                Status.PASS if not m["sanity_issues"] else Status.FAIL,
                f"{name}: " + ("; ".join(m["sanity_issues"]) or "all sanity checks pass"),
                table=name,
                observed=m["sanity_issues"] or None,
                action="trace the rows back to Base Silver (see runbook section 4)",
            )
        )
        # Semantic.
        for check_name, sql in self.semantic.get(name, []):
            try:
                n = self.scalar(f"SELECT count(*) FROM v WHERE ({sql})")
            except Exception as exc:  # a type error in a configured check: report it, do not crash
                m["semantic_issues"].append(f"{check_name}: failed_to_evaluate ({type(exc).__name__})")
                continue
            if n:
                m["semantic_issues"].append(f"{check_name}: {n} rows")
        add(
            Check(
                "semantic",
                Status.PASS if not m["semantic_issues"] else Status.FAIL,
                f"{name}: "
                + ("; ".join(m["semantic_issues"]) or f"{len(self.semantic.get(name, []))} semantic check(s) pass"),
                table=name,
                observed=m["semantic_issues"] or None,
                action="see runbook section 4 for each semantic check",
            )
        )
        return m

    # ------------------------------------------------------------------ reconciliation with Base Silver
    def day(self) -> dt.date:
        """The validated date: reconciliation runs only for one (validate_enriched checks first)."""
        if self.d is None:
            raise RuntimeError("reconciliation with Base Silver needs the validated date")
        return self.d

    def silver_ctx(self) -> Context:
        return Context(settings=self.settings, ingest_dt=self.day())

    def silver_files(self, table: str, since: dt.date | None) -> list[str]:
        ctx = self.silver_ctx()
        lo = since - dt.timedelta(days=ctx.skew_days) if since else None
        return ctx.files(table, lo=lo)

    def _dated(self, labels: list[str]) -> list[dt.date]:
        return sorted(dt.date.fromisoformat(x) for x in labels if x != NULL_PARTITION)

    def _enriched_sql(self, spec: TableSpec, labels: list[str]) -> str | None:
        files = []
        for label in labels:
            files += storage.partition_files(_partition_dirs(self.settings, self.record, spec, label))
        return _files_sql(files) if files else None

    def _built_labels(self, spec: TableSpec) -> list[str]:
        """Partitions of `spec` that exist (published, or staged by the run being validated)."""
        live = storage.list_partitions(self.settings.paths.silver_enriched_path, spec.name, spec.partition_key)
        return live + list(((self.record or {}).get("tables", {}).get(spec.name) or {}).get("partitions", []))

    def reconcile(self, parts: dict[str, list[str]], metrics: dict[str, dict]) -> None:
        add = self.result.add

        def issue(table: str, check: str, problems: list[str], ok_msg: str, action: str) -> None:
            metrics[table]["reconciliation_issues"] += problems
            add(
                Check(
                    check,
                    Status.FAIL if problems else Status.PASS,
                    f"{table}: " + ("; ".join(problems[:5]) or ok_msg),
                    table=table,
                    observed=len(problems),
                    threshold=0,
                    action=action,
                )
            )

        for name in ("int_shipping_economics", "int_regional_financials", "int_daily_business_metrics"):
            dates = self._dated(parts.get(name, []))
            src = self._enriched_sql(SPECS[name], [d.isoformat() for d in dates])
            if not dates or src is None:
                continue
            files = self.silver_files("orders", min(dates))
            inlist = ", ".join(f"DATE '{d}'" for d in dates)
            silver = {}
            if files:
                for d, n, g in self.con.execute(
                    f"SELECT order_dt, count(*), sum(gross_total) FROM {_files_sql(files)} "
                    f"WHERE order_dt IN ({inlist}) GROUP BY 1"
                ).fetchall():
                    silver[d] = (n, g or decimal.Decimal("0.00"))
            key = SPECS[name].partition_key
            if name == "int_daily_business_metrics":
                got = {
                    d: (n, g)
                    for d, n, g in self.con.execute(f"SELECT {key}, orders_count, gross_revenue FROM {src}").fetchall()
                }
                problems = []
                for d in dates:
                    want = silver.get(d, (0, decimal.Decimal("0.00")))
                    have = got.get(d)
                    if have is None or have[0] != want[0] or decimal.Decimal(have[1]) != decimal.Decimal(want[1]):
                        problems.append(f"{d}: enriched orders/gross {have} != Silver {want}")
                issue(
                    name,
                    "reconcile_daily_revenue",
                    problems,
                    f"orders_count and gross_revenue equal Base Silver to the cent on {len(dates)} day(s)",
                    "rerun the enriched run for this date; if it persists, compare the orders of that day",
                )
            else:
                got = dict(self.con.execute(f"SELECT {key}, count(*) FROM {src} GROUP BY 1").fetchall())
                problems = [
                    f"{d}: {got.get(d, 0)} rows != {silver.get(d, (0,))[0]} Silver orders"
                    for d in dates
                    if got.get(d, 0) != silver.get(d, (0,))[0]
                ]
                issue(
                    name,
                    "reconcile_order_rows",
                    problems,
                    f"one row per valid Silver order on {len(dates)} order date(s)",
                    "rerun the enriched run for this date; a transform dropped or duplicated orders",
                )
        self._reconcile_clv(parts, issue)
        self._reconcile_attribution(parts, issue)

    def _reconcile_clv(self, parts: dict[str, list[str]], issue: Issue) -> None:
        name = "int_customer_lifetime_value"
        day = self.day().isoformat()
        if day not in parts.get(name, []):
            return
        src = self._enriched_sql(SPECS[name], [day])
        if src is None:
            return
        got = self.scalar(f"SELECT coalesce(sum(net_clv), 0) FROM {src}")
        snap_dt = (self.record or {}).get("snapshot_dates", {}).get(DIM_SNAPSHOTS["customers"])
        # The snapshot the run used (from its record); without a record, the latest on or before D.
        ctx = Context(settings=self.settings, ingest_dt=self.day(), allow_older_dims=True)
        if snap_dt is None:
            snap_dt = ctx.snapshot_date("customers").isoformat()
        snap_files = storage.partition_files(
            storage.partition_path(
                self.settings.paths.silver_dims_path, DIM_SNAPSHOTS["customers"], snap_dt, "snapshot_dt"
            )
        )
        cust = (
            f"(SELECT DISTINCT customer_id FROM {_files_sql(snap_files)} WHERE customer_id NOT LIKE '{GUEST_PREFIX}%')"
        )
        total = decimal.Decimal("0")
        for table, col in (("orders", "net_total"), ("returns", "refunded_amount")):
            files = ctx.files(table)
            if files:
                v = self.scalar(f"SELECT coalesce(sum({col}), 0) FROM {_files_sql(files)} WHERE customer_id IN {cust}")
                total += decimal.Decimal(v) * (1 if table == "orders" else -1)
        problems = (
            []
            if decimal.Decimal(got) == total
            else [f"sum(net_clv) {got} != Silver net_total - refunded_amount {total}"]
        )
        issue(
            name,
            "reconcile_clv",
            problems,
            f"sum(net_clv) = {total} equals Base Silver",
            "a customer's orders or returns were missed or double counted: rebuild the state (delete _state) and rerun",
        )

    def _reconcile_attribution(self, parts: dict[str, list[str]], issue: Issue) -> None:
        carts, orders = SPECS["int_cart_attribution"], SPECS["int_attributed_purchases"]
        c_labels = [x for x in parts.get(carts.name, []) if x != NULL_PARTITION]
        o_labels = [x for x in parts.get(orders.name, []) if x != NULL_PARTITION]
        if not c_labels and not o_labels:
            return
        converted = "cart_status = 'converted'"
        cart_problems = [
            f"cart {c} converted by order {o}, but that order has cart {have}"
            for c, o, have in self._disagreements(
                carts,
                c_labels,
                ("cart_id", "order_id", "order_date", converted),
                orders,
                ("order_id", "cart_id", "TRUE"),
            )
        ]
        order_problems = [
            f"order {o} recovered from cart {c}, but that cart is converted by {have}"
            for o, c, have in self._disagreements(
                orders,
                o_labels,
                ("order_id", "cart_id", "cart_created_at", "is_recovered"),
                carts,
                ("cart_id", "order_id", converted),
            )
        ]
        for name, problems in ((carts.name, cart_problems), (orders.name, order_problems)):
            issue(
                name,
                "attribution_agreement",
                problems,
                "int_attributed_purchases and int_cart_attribution agree on every converted pair",
                "the two attribution tables disagree: rerun the enriched run for this date",
            )

    def _disagreements(
        self,
        spec: TableSpec,
        labels: list[str],
        mine: tuple[str, str, str, str],
        other: TableSpec,
        theirs: tuple[str, str, str],
    ) -> list[tuple[Any, Any, Any]]:
        """(key, partner, what `other` holds for the partner) for each pair of `spec`'s `labels` that
        `other` does not confirm. `mine` = (key, partner column, partner's timestamp, which rows pair);
        `theirs` = (partner key, column that must equal key, which rows count). In SQL: a day has
        millions of pairs and usually no disagreement."""
        src = self._enriched_sql(spec, labels)
        if src is None:
            return []
        key, partner, when, which = mine
        # Only pairs whose partner's partition was ever built can be compared (a first run
        # rebuilds the tolerance window, not the days before it).
        built = self._dated([x for x in self._built_labels(other) if x != NULL_PARTITION])
        if not built:
            return []
        inlist = ", ".join(f"DATE '{d}'" for d in sorted(set(built)))
        pairs = (
            f"SELECT {key} AS k, {partner} AS p, CAST({when} AS DATE) AS pdt FROM {src} "
            f"WHERE {which} AND CAST({when} AS DATE) IN ({inlist})"
        )
        dates = [r[0].isoformat() for r in self.con.execute(f"SELECT DISTINCT pdt FROM ({pairs})").fetchall()]
        other_src = self._enriched_sql(other, sorted(dates))
        p_key, p_col, p_which = theirs
        # The partner's row, if it counts (none when its partition has no files): its p_col must be
        # this pair's key.
        partner_rows = (
            f"(SELECT {p_key} AS pk, {p_col} AS v FROM {other_src} WHERE {p_which})"
            if other_src
            else "(SELECT NULL AS pk, NULL AS v WHERE FALSE)"
        )
        return self.con.execute(
            f"SELECT x.k, x.p, o.v FROM ({pairs}) x LEFT JOIN {partner_rows} o ON o.pk = x.p "
            "WHERE o.v IS DISTINCT FROM x.k ORDER BY x.k, x.p"
        ).fetchall()


def _summary(result: GateResult) -> str:
    rows = []
    for m in result.table_metrics:
        status = result.table_status(m["table_name"])
        rows.append(
            (
                m["table_name"],
                m["partition_key"],
                ", ".join(m["partitions"][:6]) + (" ..." if len(m["partitions"]) > 6 else "") or "-",
                fmt_int(m["row_count"]),
                fmt_int(m["min_rows"]),
                "-" if m.get("row_delta_pct") is None else f"{m['row_delta_pct']:+.2f}%",
                f"{status.emoji} {status.value}",
                ", ".join(m["notes"]) or "-",
            )
        )
    return md_table(["Table", "Partition", "Values", "Rows", "Min Rows", "Δ vs prior", "Status", "Notes"], rows)


def _details(result: GateResult) -> str:
    out = []
    for m in result.table_metrics:
        out.append(f"### {m['table_name']}\n")
        if m["null_rates"]:
            out.append(md_table(["Key field", "Null %"], [(k, f"{v * 100:.2f}%") for k, v in m["null_rates"].items()]))
        for label, key in (
            ("Sanity Issues", "sanity_issues"),
            ("Semantic Issues", "semantic_issues"),
            ("Reconciliation Issues", "reconciliation_issues"),
            ("Schema Issues", "schema_issues"),
        ):
            if m.get(key):
                out.append(f"\n**{label}:** " + "; ".join(m[key][:10]))
        out.append("")
    return "\n".join(out)


def _check_config_loaded(settings: Settings, result: GateResult) -> None:
    """A gate that loaded no semantic or sanity checks would PASS while checking no business rule: FAIL."""
    semantic = sum(len(v) for v in settings.enriched_validation.semantic_checks.values())
    sanity = sum(len(v) for v in settings.enriched_validation.sanity_checks.values())
    source = settings.source or "no config file (built-in defaults)"
    missing = [what for what, n in (("semantic_checks", semantic), ("sanity_checks", sanity)) if n == 0]
    result.add(
        Check(
            "config_checks_loaded",
            Status.FAIL if missing else Status.PASS,
            f"no enriched_validation.{' or '.join(missing)} loaded from {source}: the gate would check no business rule"
            if missing
            else f"{semantic} semantic checks and {sanity} sanity entries loaded from {source}",
            observed={"semantic_checks": semantic, "sanity_checks": sanity, "config_source": settings.source},
            action="run with the project's config (--config config/config.yml or ECOM_CONFIG_PATH), "
            "or add the checks to your config file"
            if missing
            else None,
        )
    )


def _older_dims_check(result: GateResult, record: dict | None, d: dt.date | None) -> None:
    """A run started with --allow-older-dims read a snapshot other than D's: say so in the report."""
    if not record or d is None:
        return
    older = {k: v for k, v in (record.get("snapshot_dates") or {}).items() if v != d.isoformat()}
    if older:
        used = ", ".join(f"{k} {v}" for k, v in sorted(older.items()))
        result.add(
            Check(
                "dims_snapshot_of_d",
                Status.WARN,
                f"run {record.get('run_id')} used older dims snapshots ({used}) for {d} (--allow-older-dims)",
                observed=older,
                threshold=d.isoformat(),
                action=f"build the dims for {d} (`ecomlake local dims --date {d}`) and rerun Enriched for {d}",
            )
        )


def validate_enriched(
    settings: Settings,
    ingest_dt: str | dt.date | None = None,
    enforce: bool = False,
    output_report: str | None = None,
    run_id: str | None = None,
) -> tuple[int, GateResult]:
    """Validate the partitions a run wrote; returns (exit code, GateResult). Exit 2 raises."""
    d = parse_date(ingest_dt, "--ingest-dt") if ingest_dt is not None else None
    if run_id is not None:
        ids.run_id(run_id)
    if output_report is not None:
        ids.user_path(output_report, "--output-report")
    root = settings.paths.silver_enriched_path
    if not storage.isdir(root):
        raise InputError(
            f"enriched path not found: {root} (run `ecomlake enriched run --ingest-dt D` first, or pass --enriched-path)"
        )
    compile_checks(settings)  # an unsafe or malformed check stops the gate before anything is read
    storage.settle(root)  # a publish killed after its commit is finished before we judge it
    record = load_run_record(settings, run_id=run_id, ingest_dt=d)
    if run_id and record is None and d is None:
        raise InputError(
            f"no run record enriched_run_{run_id}.json under {settings.paths.metrics_base_path}; pass --ingest-dt"
        )
    if record is not None and d is None:
        d = dt.date.fromisoformat(record["ingest_dt"])
    if d is None:  # no date and no run record: the newest snapshot date stands for the run
        dated = [p for p in storage.list_partitions(root, "int_customer_lifetime_value") if p != NULL_PARTITION]
        d = dt.date.fromisoformat(max(dated)) if dated else None
    gate_run_id = run_id or (record or {}).get("run_id") or new_run_id("enriched_")
    result = GateResult(
        gate=GATE,
        title="Enriched Silver Quality Report",
        run_id=gate_run_id,
        environment=settings.environment,
        config_source=settings.source,
        parameters={
            "enriched_path": root,
            "ingest_dt": d.isoformat() if d else None,
            "validated_run": (record or {}).get("run_id"),
            "enforce": enforce,
        },
    )
    _check_config_loaded(settings, result)
    _older_dims_check(result, record, d)
    parts = _resolve_partitions(settings, record, d)
    v = _Validator(settings, record, d, result)
    try:
        metrics = {}
        for name in TABLE_NAMES:
            metrics[name] = v.table(SPECS[name], parts[name])
        if d is not None:
            v.reconcile(parts, metrics)
        else:
            for m in metrics.values():
                m["notes"].append("reconciliation_skipped:no_date")
    finally:
        v.close()
    for name in TABLE_NAMES:
        metrics[name]["status"] = result.table_status(name).value
        result.table_metrics.append(metrics[name])
    result.extra["enriched_run"] = {"run_id": (record or {}).get("run_id"), "record_found": record is not None}
    label = d.isoformat() if d else gate_run_id
    report = output_report or storage.join(settings.paths.reports_base_path, f"ENRICHED_QUALITY_{label}.md")
    code, _, _ = finish(
        result,
        metrics_dir=settings.paths.metrics_base_path,
        report_path=report,
        sections=[("Summary", _summary(result)), ("Schema & Null Rates", _details(result))],
        enforce=enforce,
        settings=settings,
    )
    result.extra["report_path"] = report
    return code, result
