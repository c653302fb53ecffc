"""The DAGs with real Airflow 3.3: they parse, they follow `ecomlake.pipeline`, and `dag.test()` of a
generated day behaves like `ecomlake run` (clean day, rerun, high defect rate, missing Bronze)."""

from __future__ import annotations

import itertools
import json
import sys

import pyarrow.parquet as pq
import pytest
from conftest import BIN, DAY, REPO, base_env, copy_lake, dag_test, generate_bronze, rows, run

from ecomlake import pipeline

pytestmark = pytest.mark.slow

INSPECT = r"""
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    order, task = [], next(t for t in dag.tasks if not t.upstream_task_ids)
    while task is not None:
        order.append(task.task_id)
        nxt = sorted(task.downstream_task_ids)
        task = dag.get_task(nxt[0]) if nxt else None
    out["dags"][dag_id] = {
        "order": order,
        "edges": sorted((t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "timetable": type(dag.timetable).__name__,
        "summary": getattr(dag.timetable, "expression", None),
        "params": {k: dag.params[k] for k in dag.params},
        "tasks": {
            t.task_id: {
                "type": type(t).__name__,
                "mode": getattr(t, "mode", None),
                "timeout": getattr(t, "timeout", None),
                "poke_interval": getattr(t, "poke_interval", None),
                "retries": t.retries,
                "retry_delay": t.retry_delay.total_seconds(),
                "callback": bool(t.on_failure_callback),
            }
            for t in dag.tasks
        },
    }
print("RESULT " + json.dumps(out, default=str))
"""


def _inspect(home, **env) -> dict:
    r = run([sys.executable, "-c", INSPECT], base_env(home, **env))
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, r.stdout[-2000:] + r.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])


def test_dags_parse_without_errors_and_are_the_pipelines_steps(airflow_home):
    got = _inspect(airflow_home)
    assert got["import_errors"] == {}
    assert sorted(got["dags"]) == ["ecom_dim_refresh", "ecom_silver_to_gold"]
    for dag_id, dag in got["dags"].items():
        names = [s.name for s in pipeline.steps(dag_id)]
        assert dag["order"] == names  # one task per step, chained in the pipeline's order
        assert dag["edges"] == sorted([a, b] for a, b in itertools.pairwise(names))
        assert dag["catchup"] is False and dag["max_active_runs"] == 1
        assert dag["timetable"] == "CronDataIntervalTimetable" and dag["summary"] == "0 0 * * *"  # @daily
        assert dag["params"] == {"environment": None, "strict": None}
        for s in pipeline.steps(dag_id):
            task = dag["tasks"][s.name]
            assert task["callback"], s.name  # every task writes an alert when it fails
            if s.kind == pipeline.SENSOR:
                assert task["type"] == "PythonSensor" and task["mode"] == "reschedule"
                assert (task["timeout"], task["poke_interval"], task["retries"]) == (21600, 300, 0)
            else:
                assert task["type"] == "PythonOperator"
                assert task["retries"] == 0  # local: from config orchestration.retries
    assert got["dags"]["ecom_dim_refresh"]["order"][-1] == "promote_dims_snapshot"
    assert got["dags"]["ecom_silver_to_gold"]["order"][:2] == ["wait_for_bronze", "wait_for_dims"]
    # Retries per environment of the process that parses the DAGs; gates and sensors never retry.
    prod = _inspect(airflow_home, PIPELINE_ENV="prod", SENSOR_TIMEOUT_SECONDS="60", SENSOR_POKE_INTERVAL_SECONDS="7")
    tasks = prod["dags"]["ecom_silver_to_gold"]["tasks"]
    assert (tasks["base_silver"]["retries"], tasks["base_silver"]["retry_delay"]) == (2, 600.0)
    assert tasks["silver_gate"]["retries"] == 0 and tasks["quarantine_rate_gate"]["retries"] == 0
    assert (tasks["wait_for_bronze"]["timeout"], tasks["wait_for_bronze"]["poke_interval"]) == (60, 7)


def test_a_broken_dag_file_is_an_import_error(airflow_home, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    for f in (REPO / "airflow" / "dags").glob("*.py"):
        (dags / f.name).write_text(f.read_text())
    (dags / "ecom_broken.py").write_text("from ecomlake.airflow_dags import build_dag\n\ndag = build_dag('nope')\n")
    got = _inspect(airflow_home, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    assert list(got["import_errors"]) == [str(dags / "ecom_broken.py")]
    assert "unknown DAG 'nope'" in got["import_errors"][str(dags / "ecom_broken.py")]


def _all(result: dict, state: str) -> None:
    assert result["state"] == state, dict(result["tasks"].items())
    bad = {t: s for t, s in result["tasks"].items() if s != "success"}
    assert not bad, bad


def run_ids(lake) -> set[str]:
    """The `_run_id`s in the day's Silver orders partition: which run wrote what readers see."""
    part = lake / "silver" / "base" / "orders" / f"ingest_dt={DAY}"
    files = [f for f in part.glob("*.parquet") if not f.name.startswith("_")]
    return {r for f in files for r in pq.read_table(f, columns=["_run_id"]).column(0).to_pylist()}


def readme_airflow_commands() -> list[str]:
    """The `eval` and `airflow ...` lines of the README's laptop block, as typed (comments dropped)."""
    text = (REPO / "README.md").read_text()
    start = text.index("On a laptop, without Docker")
    body = text[text.index("```", start) + 3 :]
    block = body[body.index("\n") + 1 : body.index("```")]
    lines = [ln.split("  #", 1)[0].strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln.startswith(("eval ", "airflow "))]


def test_a_clean_day_in_airflow_is_the_lake_ecomlake_run_builds_and_a_rerun_changes_nothing(airflow_home, tmp_path):
    source = tmp_path / "source"
    generate_bronze(source)
    a = copy_lake(source, tmp_path / "airflow_lake")
    b = copy_lake(source, tmp_path / "cli_lake")

    # The README's commands, as typed, in a shell on lake A: the environment from `make airflow-env`
    # (this module's AIRFLOW_HOME), no import errors, the dims DAG then the day DAG for the day
    # (`airflow dags test` exits 1 when a task fails), then clearing the Silver gate (confirmed).
    commands = readme_airflow_commands()
    assert commands == [
        'eval "$(make -s airflow-env)"',
        "airflow dags list-import-errors",
        f"airflow dags test ecom_dim_refresh {DAY}",
        f"airflow dags test ecom_silver_to_gold {DAY}",
        "airflow tasks clear ecom_silver_to_gold -t silver_gate",
    ]
    script = " && ".join(("echo y | " + c) if c.startswith("airflow tasks clear") else c for c in commands)
    shell = run(["bash", "-c", script], base_env(airflow_home, a), cwd=REPO, timeout=900)
    assert shell.returncode == 0, shell.stdout[-3000:] + shell.stderr[-3000:]
    assert "No data found" in shell.stdout  # no import errors
    assert "ecom_silver_to_gold.silver_gate" in shell.stdout  # the task instance it cleared
    built = {layer: rows(a, layer) for layer in ("silver", "quarantine", "enriched")}
    assert built["silver"] and any(built["enriched"].values())
    first = run_ids(a)

    # A rerun of the same day in Airflow (dag.test(), a new run on the same lake): every task green,
    # the partitions rewritten by the new run (not skipped), and the same rows (not appended).
    day = dag_test(airflow_home, a, "ecom_silver_to_gold")
    _all(day, "success")
    assert set(day["tasks"]) == {s.name for s in pipeline.steps(pipeline.DAY_DAG)}
    second = run_ids(a)
    assert len(first) == len(second) == 1 and first != second, (first, second)
    for layer, got in built.items():
        assert rows(a, layer) == got, f"{layer} changed on a rerun of the same day"
    assert json.loads((a / "silver" / "enriched" / "_latest.json").read_text())["ingest_dt"] == DAY
    assert (a / "gold" / "ecomlake.duckdb").exists()

    # The same Bronze through `ecomlake run`: the same lake.
    cli = run([str(BIN / "ecomlake"), "run", "--date", DAY], base_env(tmp_path / "unused", b))
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    assert cli.stdout.count("[ok] ") == len(pipeline.STEPS) + 1
    for layer, got in built.items():
        assert got == rows(b, layer), layer


def test_a_high_defect_day_fails_at_the_quarantine_rate_gate_and_nothing_is_promoted(airflow_home, tmp_path):
    lake = tmp_path / "lake"
    generate_bronze(lake, defect_rate=0.3)
    staging = {"SILVER_PUBLISH_MODE": "staging"}
    _all(dag_test(airflow_home, lake, "ecom_dim_refresh", **staging), "success")
    day = dag_test(airflow_home, lake, "ecom_silver_to_gold", **staging)
    assert day["state"] == "failed"
    names = [s.name for s in pipeline.steps(pipeline.DAY_DAG)]
    cut = names.index("quarantine_rate_gate")
    assert [day["tasks"][n] for n in names[:cut]] == ["success"] * cut  # the Silver gate only warned (local)
    assert day["tasks"]["quarantine_rate_gate"] == "failed"
    assert {day["tasks"][n] for n in names[cut + 1 :]} == {"upstream_failed"}
    assert "orders: Quarantine rate 22.41% exceeds 5.00%" in day["log"]
    # Nothing promoted: readers see no Silver for the day, the staged run waits, no Enriched at all.
    assert not (lake / "silver" / "base" / "orders" / f"ingest_dt={DAY}").exists()
    staged = list((lake / "silver" / "base" / "_staging").glob("*_silver/_pending.json"))
    assert len(staged) == 1
    assert not (lake / "silver" / "enriched").exists() and not (lake / "gold").exists()
    # The failure callback wrote the structured alert, with the failing gate's summary.
    (alert_file,) = (lake / "metrics" / "alerts").glob("ecom_silver_to_gold__quarantine_rate_gate__*.json")
    alert = json.loads(alert_file.read_text())
    assert alert["dag_id"] == "ecom_silver_to_gold" and alert["task_id"] == "quarantine_rate_gate"
    assert alert["date"] == DAY and alert["run_id"] == day["run_id"]
    assert alert["gate"]["gate"] == "quarantine_rate" and alert["gate"]["status"] == "FAIL"
    assert "orders: Quarantine rate 22.41% exceeds 5.00%" in [p["message"] for p in alert["gate"]["problems"]]
    assert alert["error"].startswith("AirflowFailException: orders: Quarantine rate 22.41% exceeds 5.00%")


def test_a_missing_bronze_partition_times_the_sensor_out_cleanly(airflow_home, tmp_path):
    lake = tmp_path / "lake"
    result = dag_test(
        airflow_home, lake, "ecom_dim_refresh", SENSOR_TIMEOUT_SECONDS="2", SENSOR_POKE_INTERVAL_SECONDS="1"
    )
    assert result["state"] == "failed"
    assert result["tasks"]["wait_for_bronze_dims"] == "failed"
    assert {s for t, s in result["tasks"].items() if t != "wait_for_bronze_dims"} == {"upstream_failed"}
    assert "Sensor has timed out" in result["log"]
    (alert_file,) = (lake / "metrics" / "alerts").glob("ecom_dim_refresh__wait_for_bronze_dims__*.json")
    alert = json.loads(alert_file.read_text())
    assert alert["error"].startswith("AirflowSensorTimeout: Sensor has timed out")
    assert alert["waiting_for"] == [
        str(lake / "bronze" / t / f"ingest_dt={DAY}" / "_SUCCESS") for t in ("customers", "product_catalog")
    ]
    assert alert["gate"] is None
    assert not (lake / "silver").exists()  # nothing ran
