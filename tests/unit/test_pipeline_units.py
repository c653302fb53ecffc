"""ecomlake.pipeline without running a layer: the step list, gate blocking, the quarantine-rate gate,
promote decisions, alerts, and the Airflow glue's reading of a run's context (no Airflow needed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ecomlake import pipeline
from ecomlake.config import load_settings
from ecomlake.errors import GateFailed, InputError

REPO = Path(__file__).resolve().parents[2]
D = "2023-01-01"


def _settings(tmp_path: Path, **env: str):
    base = {
        "METRICS_BASE_PATH": str(tmp_path / "metrics"),
        "BRONZE_BASE_PATH": str(tmp_path / "bronze"),
        "SILVER_BASE_PATH": str(tmp_path / "silver"),
        "SILVER_DIMS_PATH": str(tmp_path / "dims"),
        "SILVER_ENRICHED_PATH": str(tmp_path / "enriched"),
        "REPORTS_BASE_PATH": str(tmp_path / "reports"),
    }
    return load_settings(str(REPO / "config" / "config.yml"), env={**base, **env})


def test_the_day_is_one_ordered_list_split_between_the_two_dags():
    names = [s.name for s in pipeline.STEPS]
    assert names == [
        "wait_for_bronze_dims",
        "bronze_dims_gate",
        "dims_refresh",
        "dims_gate",
        "promote_dims_snapshot",
        "wait_for_bronze",
        "wait_for_dims",
        "bronze_gate",
        "base_silver",
        "silver_gate",
        "quarantine_rate_gate",
        "promote_silver_base",
        "enriched",
        "enriched_gate",
        "promote_enriched",
        "gold",
        "load_bigquery",
    ]
    assert [s.name for s in pipeline.steps(pipeline.DIMS_DAG)] == names[:5]
    assert [s.name for s in pipeline.steps(pipeline.DAY_DAG)] == names[5:]
    assert [s.name for s in pipeline.STEPS if s.kind == pipeline.PROMOTE] == [
        "promote_dims_snapshot",
        "promote_silver_base",
        "promote_enriched",
    ]
    assert [s.name for s in pipeline.steps(without=["gold", "load_bigquery"])][-1] == "promote_enriched"
    assert [s.name for s in pipeline.steps(pipeline.DAY_DAG, only=["gold", "enriched"])] == ["enriched", "gold"]
    with pytest.raises(InputError, match="unknown DAG 'ecom_x'"):
        pipeline.steps("ecom_x")
    with pytest.raises(InputError, match="unknown pipeline step 'nope'"):
        pipeline.steps(without=["nope"])


@pytest.mark.parametrize(
    ("env", "strict", "blocks"),
    [
        ("local", None, False),
        ("dev", None, False),
        ("prod", None, True),
        ("local", True, True),
        ("prod", False, False),
    ],
)
def test_which_environment_makes_a_layer_gate_blocking(tmp_path, env, strict, blocks):
    day = pipeline.Day(_settings(tmp_path, PIPELINE_ENV=env), D, "r1", strict=strict)
    assert day.blocking(pipeline.step("silver_gate")) is blocks
    assert day.blocking(pipeline.step("quarantine_rate_gate")) is True  # in every environment


def test_a_day_refuses_a_bad_date_or_run_id(tmp_path):
    with pytest.raises(InputError, match="invalid date"):
        pipeline.Day(_settings(tmp_path), "2023-02-30", "r1")
    with pytest.raises(InputError, match="invalid run id"):
        pipeline.Day(_settings(tmp_path), D, "../x")


def _silver_metrics(tmp_path: Path, run_id: str, pcts: dict[str, tuple[float, int]], status: str = "PASS") -> None:
    path = tmp_path / "metrics" / f"silver_quality_{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "metadata": {"metric_type": "silver_quality"},
                "validation_metadata": {"run_id": run_id, "parameters": {}},
                "table_metrics": [
                    {"table_name": t, "quarantine_pct": pct, "total_processed": n} for t, (pct, n) in pcts.items()
                ],
                "checks": [{"name": "x", "status": status, "message": "orders: pass rate 80.00% vs SLA 95%"}],
                "summary": {"checks": 1, "passed": int(status == "PASS"), "warned": 0, "failed": int(status == "FAIL")},
                "overall_status": status,
            }
        )
    )


def test_the_quarantine_rate_gate_reads_the_silver_metrics_and_names_each_table_over_the_limit(tmp_path):
    day = pipeline.Day(_settings(tmp_path), D, "r1")
    # 5.00% is the limit itself: it passes; returns had no rows that day: not judged.
    _silver_metrics(tmp_path, "r1_silver", {"orders": (5.0, 100), "order_items": (1.0, 80), "returns": (0.0, 0)})
    ok = pipeline.run_step(day, "quarantine_rate_gate")
    assert ok.status == "ok" and "every fact table within 5.00% (highest orders 5.00%)" in ok.message
    record = json.loads((tmp_path / "metrics" / "quarantine_rate_r1_silver.json").read_text())
    assert record["rates"] == {"orders": 0.05, "order_items": 0.01} and record["status"] == "PASS"

    _silver_metrics(
        tmp_path, "r1_silver", {"orders": (22.4138, 58), "order_items": (5.01, 100), "cart_items": (2.0, 9)}
    )
    with pytest.raises(GateFailed) as failed:
        pipeline.run_step(day, "quarantine_rate_gate")
    assert failed.value.exit_code == 1
    assert failed.value.message.startswith(
        "orders: Quarantine rate 22.41% exceeds 5.00%; order_items: Quarantine rate 5.01% exceeds 5.00% (MAX_QUARANTINE_RATE)"
    )
    record = json.loads((tmp_path / "metrics" / "quarantine_rate_r1_silver.json").read_text())
    assert record["status"] == "FAIL" and sorted(record["exceeded"]) == ["order_items", "orders"]

    # MAX_QUARANTINE_RATE is the runbook's fraction.
    loose = pipeline.Day(_settings(tmp_path, MAX_QUARANTINE_RATE="0.25"), D, "r1")
    assert pipeline.run_step(loose, "quarantine_rate_gate").status == "ok"
    with pytest.raises(InputError, match="no Silver gate metrics for run r2_silver"):
        pipeline.run_step(pipeline.Day(_settings(tmp_path), D, "r2"), "quarantine_rate_gate")


def test_a_promote_publishes_only_after_its_gate_passed(tmp_path):
    staging = _settings(tmp_path, SILVER_PUBLISH_MODE="staging")
    day = pipeline.Day(staging, D, "r1")
    with pytest.raises(InputError, match="the silver gate of run r1_silver has not run"):
        pipeline.run_step(day, "promote_silver_base")
    _silver_metrics(tmp_path, "r1_silver", {"orders": (30.0, 10)}, status="FAIL")
    with pytest.raises(GateFailed, match="the silver gate FAILED for run r1_silver: not promoted"):
        pipeline.run_step(day, "promote_silver_base")
    direct = pipeline.Day(_settings(tmp_path), D, "r1")
    done = pipeline.run_step(direct, "promote_silver_base")
    assert done.message.startswith("nothing to promote (SILVER_PUBLISH_MODE=direct: run r1_silver published")


def test_a_failed_gate_warns_outside_prod_and_blocks_in_prod(tmp_path):
    _silver_metrics(tmp_path, "r1_silver", {"orders": (30.0, 10)}, status="FAIL")
    step = pipeline.step("silver_gate")
    local = pipeline._judge(pipeline.Day(_settings(tmp_path), D, "r1"), step, "silver_quality", "r1_silver", None)
    assert local.status == "warn" and local.message.startswith("FAIL, not blocking (environment local)")
    prod = pipeline.Day(_settings(tmp_path, PIPELINE_ENV="prod"), D, "r1")
    with pytest.raises(GateFailed, match=r"silver_gate FAILED for 2023-01-01 \(orders: pass rate 80.00% vs SLA 95%\)"):
        pipeline._judge(prod, step, "silver_quality", "r1_silver", None)


def test_a_sensor_looks_for_every_success_marker_and_a_quiet_day_may_lack_returns(tmp_path):
    settings = _settings(tmp_path)
    day = pipeline.Day(settings, D, "r1")
    waiting = pipeline.run_step(day, "wait_for_bronze")
    assert waiting.status == "waiting" and waiting.message.endswith("(+3 more)")
    for t in ("orders", "order_items", "shopping_carts", "cart_items"):
        part = tmp_path / "bronze" / t / f"ingest_dt={D}"
        part.mkdir(parents=True)
        (part / "_SUCCESS").write_text("")
    assert pipeline.run_step(day, "wait_for_bronze").status == "ok"  # no returns partition: a quiet day
    (tmp_path / "bronze" / "returns" / f"ingest_dt={D}").mkdir(parents=True)  # being written: wait
    assert pipeline.missing_bronze(settings, ["returns"], D) == [
        str(tmp_path / "bronze" / "returns" / f"ingest_dt={D}" / "_SUCCESS")
    ]
    with pytest.raises(InputError, match=r"wait_for_bronze: missing .*returns/ingest_dt=2023-01-01/_SUCCESS"):
        pipeline.run_day(day, pipeline.steps(only=["wait_for_bronze"]))


def test_the_alert_names_the_task_and_the_failing_gates_summary(tmp_path):
    settings = _settings(tmp_path)
    run_id = "scheduled__2023-01-01T00:00:00+00:00"
    lake_run = pipeline.airflow_run_id(run_id)
    assert lake_run == "scheduled__2023-01-01T0000000000"
    _silver_metrics(tmp_path, f"{lake_run}_silver", {"orders": (30.0, 10)}, status="FAIL")
    path = pipeline.write_alert(
        settings,
        dag_id="ecom_silver_to_gold",
        task_id="silver_gate",
        date=D,
        run_id=run_id,
        error="AirflowFailException: silver_gate FAILED\nTraceback ...",
        try_number=1,
    )
    assert path == str(
        tmp_path
        / "metrics"
        / "alerts"
        / f"ecom_silver_to_gold__silver_gate__{D}__scheduled__2023-01-01T0000000000.json"
    )
    alert = json.loads(Path(path).read_text())
    assert alert["error"] == "AirflowFailException: silver_gate FAILED"  # the first line only
    assert (alert["dag_id"], alert["task_id"], alert["date"], alert["run_id"]) == (
        "ecom_silver_to_gold",
        "silver_gate",
        D,
        run_id,
    )
    assert alert["gate"]["status"] == "FAIL" and alert["gate"]["gate"] == "silver_quality"
    assert alert["gate"]["problems"][0]["message"] == "orders: pass rate 80.00% vs SLA 95%"
    sensor = json.loads(
        Path(
            pipeline.write_alert(
                settings, dag_id="ecom_dim_refresh", task_id="wait_for_bronze_dims", date=D, run_id="m1", error="x"
            )
        ).read_text()
    )
    assert sensor["gate"] is None and len(sensor["waiting_for"]) == 2


def test_an_airflow_run_reads_its_day_environment_and_strictness_from_its_context(tmp_path, monkeypatch):
    from ecomlake.airflow_dags import day_from_context

    for k, v in {"ECOM_CONFIG_PATH": str(REPO / "config" / "config.yml"), "PIPELINE_ENV": "local"}.items():
        monkeypatch.setenv(k, v)
    context = {
        "logical_date": dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        "run_id": "manual__2023-01-02T03:04:05+00:00",
        "params": {"environment": "prod", "strict": False},
    }
    day = day_from_context(context)
    assert (day.date, day.run_id, day.environment, day.strict) == (D, "manual__2023-01-02T0304050000", "prod", False)
    day = day_from_context({**context, "params": {"environment": None, "strict": None}})
    assert day.environment == "local" and day.strict is None


def test_dbt_target_and_log_paths_follow_the_runbooks_variables(tmp_path, monkeypatch):
    from ecomlake.silver.dbt_runner import run_paths

    settings = _settings(tmp_path, ECOM_WORK_PATH=str(tmp_path / "work"))
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    monkeypatch.delenv("DBT_LOG_PATH", raising=False)
    assert run_paths(settings, "r1") == (
        tmp_path / "work" / "dbt" / "r1" / "target",
        tmp_path / "work" / "dbt" / "r1" / "logs",
    )
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "t"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "l"))
    assert run_paths(settings, "r1") == (tmp_path / "t" / "r1", tmp_path / "l" / "r1")
