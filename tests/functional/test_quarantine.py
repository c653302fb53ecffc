"""`ecomlake quarantine summary | inspect | prune` on hand-made quarantine partitions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import silver_fixtures as sf

from ecomlake.errors import InputError
from ecomlake.quarantine.inspect import inspect_quarantine
from ecomlake.quarantine.prune import prune_quarantine
from ecomlake.quarantine.recover import select_rows
from ecomlake.quarantine.summary import period_name, quarantine_summary
from ecomlake.silver.validate import validate_silver

D1, D2 = "2025-01-13", "2025-01-14"  # both in ISO week 2025-W03


@pytest.fixture(scope="module")
def qlake(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("quarantine")
    s = sf.settings_for(base)
    sf.make_day(s, "orders", D1, 18, ["null_customer_id|invalid_customer_fk", "negative_gross_total"])
    sf.make_day(s, "orders", D2, 16, ["null_customer_id|invalid_customer_fk"] * 3 + ["duplicate_order_id"], start=100)
    sf.make_day(s, "returns", D2, 9, ["invalid_order_fk"])
    # Give the quarantined orders of D2 the raw values their reasons describe.
    return base


def test_summary_counts_by_table_date_reason_family(qlake, tmp_path):
    s = sf.settings_for(qlake)
    s.paths.reports_base_path = str(tmp_path / "reports")
    summary = quarantine_summary(s, run_id="t")
    assert summary["period"] == "2025W03"
    assert summary["by_table"] == {"orders": 6, "returns": 1}
    orders = next(t for t in summary["tables"] if t["table_name"] == "orders")
    assert [(d["ingest_dt"], d["rows"], d["silver_rows"]) for d in orders["dates"]] == [(D1, 2, 18), (D2, 4, 16)]
    assert orders["dates"][1]["change_vs_previous"] == 2 and orders["dates"][1]["change_pct_vs_previous"] == 100.0
    assert orders["dates"][0]["quarantine_pct"] == 10.0 and orders["dates"][1]["quarantine_pct"] == 20.0
    assert orders["reasons"] == {
        "null_customer_id": 4,
        "invalid_customer_fk": 4,
        "negative_gross_total": 1,
        "duplicate_order_id": 1,
    }
    assert orders["families"] == {
        "null_primary_key": 4,
        "invalid_foreign_key": 4,
        "out_of_range": 1,
        "duplicate_primary_key": 1,
    }
    assert orders["trend"] == "up"
    top = orders["top_examples"][0]
    assert top["code"] in ("null_customer_id", "invalid_customer_fk") and top["examples"] == [
        "ORD-18",
        "ORD-116",
        "ORD-117",
    ]
    assert summary["by_family"]["invalid_foreign_key"] == 5
    json_path = Path(summary["output"]["json"])
    assert json_path == tmp_path / "reports" / "quarantine_summary_2025W03.json"
    assert json.loads(json_path.read_text())["total_rows"] == 7
    md = json_path.with_suffix(".md").read_text()
    assert "# Quarantine Summary 2025W03" in md and "`negative_gross_total`" in md


def test_summary_filters_and_cli(qlake, tmp_path):
    s = sf.settings_for(qlake)
    s.paths.reports_base_path = str(tmp_path)
    only = quarantine_summary(s, table="returns", since=D2, output=str(tmp_path / "r.json"))
    assert only["by_table"] == {"returns": 1} and only["period"] == "2025W03"
    later = quarantine_summary(s, since="2025-01-14", output=str(tmp_path / "later.json"))
    assert later["by_table"] == {"orders": 4, "returns": 1}
    today = dt.date(2025, 1, 15)
    assert quarantine_summary(s, since="1d", today=today, output=str(tmp_path / "x.json"))["ingest_dts"] == [D2]
    r = sf.run_cli(["quarantine", "summary", "--table", "orders", "--output", str(tmp_path / "cli.json")], qlake)
    assert r.returncode == 0, r.stderr
    assert "orders" in r.stdout and "total: 6 quarantined rows over 2 dates" in r.stdout
    assert json.loads((tmp_path / "cli.json").read_text())["by_table"] == {"orders": 6}
    bad = sf.run_cli(["quarantine", "summary", "--since", "last week"], qlake)
    assert bad.returncode == 2 and "invalid --since" in bad.stderr


def test_period_names():
    assert period_name(["2025-01-13", "2025-01-19"]) == "2025W03"
    assert period_name(["2025-01-12", "2025-01-13"]) == "2025-01-12_2025-01-13"
    assert period_name([]) == "empty"


def test_inspect_shows_keys_reasons_and_offending_values(qlake):
    s = sf.settings_for(qlake)
    res = inspect_quarantine(s, table="orders", ingest_dt=D1)
    assert (res["total_rows"], res["matching_rows"], res["shown"]) == (2, 2, 2)
    first = res["rows"][0]
    assert first["key"] == {"order_id": "ORD-18"}
    assert first["reasons"] == ["null_customer_id", "invalid_customer_fk"]
    assert first["values"] == {"customer_id": "CUST-18"}
    neg = inspect_quarantine(s, table="orders", ingest_dt=D1, reason="negative_gross_total")
    assert neg["matching_rows"] == 1 and neg["rows"][0]["values"] == {"gross_total": 20.0}
    dup = inspect_quarantine(s, table="orders", ingest_dt=D2, reason="duplicate_order_id", limit=5)
    assert set(dup["rows"][0]["values"]) == {"order_id", "ingestion_ts"}
    assert inspect_quarantine(s, table="orders", ingest_dt=D2, limit=1)["shown"] == 1
    r = sf.run_cli(["quarantine", "inspect", "--table", "orders", "--ingest-dt", D1, "--json"], qlake)
    assert r.returncode == 0 and json.loads(r.stdout)["matching_rows"] == 2
    text = sf.run_cli(
        ["quarantine", "inspect", "--table", "orders", "--ingest-dt", D1, "--reason", "negative_gross_total"], qlake
    )
    assert "order_id=ORD-19  reasons=negative_gross_total" in text.stdout and "gross_total=20.0" in text.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--table", "nope", "--ingest-dt", D1], "unknown table 'nope'"),
        (["--table", "orders", "--ingest-dt", "2025-02-30"], "invalid --ingest-dt"),
        (["--table", "orders", "--ingest-dt", "2020-01-01"], "no quarantine partition for orders on 2020-01-01"),
        (["--table", "orders", "--ingest-dt", D1, "--reason", "no_such_code"], "unknown reason code 'no_such_code'"),
    ],
)
def test_inspect_errors_exit_2(qlake, args, needle):
    r = sf.run_cli(["quarantine", "inspect", *args], qlake)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


# ------------------------------------------------------------------------------------- --where


@pytest.fixture(scope="module")
def qrows(qlake):
    from ecomlake.quarantine import read_partition

    return read_partition(sf.settings_for(qlake).paths.quarantine_path, "orders", D2)


@pytest.mark.parametrize(
    "where,expected",
    [
        ("_quarantine_reason LIKE '%null_customer_id%'", 3),
        ("order_id IN ('ORD-116', 'ORD-117')", 2),
        ("lower(order_channel) = 'web' AND gross_total > 10", 4),
        ("order_id = 'nope'", 0),
    ],
)
def test_where_selects_rows(qlake, qrows, where, expected):
    mask = select_rows(sf.settings_for(qlake), qrows, where, None)
    assert sum(mask.to_pylist()) == expected


def test_where_and_reason_combine(qlake, qrows):
    mask = select_rows(sf.settings_for(qlake), qrows, "order_id <> 'ORD-116'", "null_customer_id")
    assert sum(mask.to_pylist()) == 2


@pytest.mark.parametrize(
    "where,needle",
    [
        ("1=1); DROP TABLE q; SELECT (1", "not several statements"),
        ("order_id IN (SELECT order_id FROM q)", "subqueries are not allowed"),
        ("EXISTS (SELECT * FROM read_csv('/etc/passwd'))", "subqueries are not allowed"),
        ("secret_column = 1", "unknown column 'secret_column'"),
        ("1=1) GROUP BY (order_id", "single boolean expression"),
        ("1=1) UNION SELECT * FROM q WHERE (1=1", "single boolean expression"),
        ("order_id = ", "does not parse"),
        ("   ", "empty"),
    ],
)
def test_where_rejects_anything_but_a_predicate(qlake, qrows, where, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(")):
        select_rows(sf.settings_for(qlake), qrows, where, None)


# ------------------------------------------------------------------------------------- prune


@pytest.fixture
def aged(tmp_path) -> tuple[Path, dict]:
    """Quarantine partitions 40, 10, 7 and 2 days old (relative to today, UTC)."""
    s = sf.settings_for(tmp_path)
    today = dt.datetime.now(dt.UTC).date()
    days = {age: (today - dt.timedelta(days=age)).isoformat() for age in (40, 10, 7, 2)}
    for i, (age, d) in enumerate(days.items()):
        sf.make_day(s, "orders", d, 5, ["negative_gross_total"] * (age // 5 + 1), start=i * 100)
    return tmp_path, days


def qdirs(base: Path) -> list[str]:
    return sorted(p.name.split("=")[1] for p in (base / "silver" / "quarantine" / "orders").glob("ingest_dt=*"))


def test_prune_dry_run_deletes_nothing(aged):
    base, days = aged
    r = sf.run_cli(["quarantine", "prune", "--older-than", "7d", "--dry-run"], base)
    assert r.returncode == 0, r.stderr
    assert f"would delete {base}/silver/quarantine/orders/ingest_dt={days[40]} (9 rows)" in r.stdout
    assert "would delete 2 partitions" in r.stdout
    assert qdirs(base) == sorted(days.values())
    assert not (base / "silver" / "quarantine" / "orders" / "_pruned.json").exists()


def test_prune_deletes_only_what_is_older_than_the_limit(aged):
    base, days = aged
    r = sf.run_cli(["quarantine", "prune", "--older-than", "7d"], base)
    assert r.returncode == 0, r.stderr
    assert qdirs(base) == sorted([days[7], days[2]])  # exactly 7 days old is not older than 7 days
    assert "deleted 2 partitions (12 rows)" in r.stdout
    # Silver and Bronze are untouched, and the gate still proves conservation for the pruned dates.
    s = sf.settings_for(base)
    _rc, result = validate_silver(s, tables="orders", echo=False)
    cons = {c.partition: c for c in result.checks if c.name == "row_conservation"}
    assert all(c.status.value == "PASS" for c in cons.values()), [c.message for c in cons.values()]
    assert cons[f"ingest_dt={days[40]}"].observed == {"bronze": 14, "silver": 5, "quarantine": 9, "difference": 0}
    assert result.table_metrics[0]["reasons"]["negative_gross_total"] == 9 + 3 + 2 + 1


def test_prune_retention_per_environment(aged):
    base, days = aged
    local = sf.run_cli(["quarantine", "prune"], base)
    assert local.returncode == 2 and "pass --older-than" in local.stderr
    assert len(local.stderr.strip().splitlines()) == 1
    dev = sf.run_cli(["quarantine", "prune", "--env", "dev", "--dry-run"], base)  # dev keeps 7 days
    assert dev.returncode == 0 and "would delete 2 partitions" in dev.stdout
    s = sf.settings_for(base, environment="prod")  # prod keeps 30 days
    r = prune_quarantine(s, run_id="p")
    assert [p["ingest_dt"] for p in r["pruned"]] == [days[40]]
    assert json.loads((base / "metrics" / "quarantine_prune_p.json").read_text())["rows_pruned"] == 9
    with pytest.raises(InputError, match="invalid --older-than"):
        prune_quarantine(s, older_than="a week")
