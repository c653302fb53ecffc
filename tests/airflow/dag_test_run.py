"""Run one DAG with `dag.test()` in this process; print the run's state and every task's state.

    python tests/airflow/dag_test_run.py ecom_silver_to_gold 2023-01-01 ['{"strict": true}']

Run by the tests in a subprocess whose environment names AIRFLOW_HOME (a migrated SQLite DB), the
DAGs folder and the lake's paths. The last line is `RESULT {json}`.
"""

import datetime as dt
import json
import os
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.utils.session import create_session

dag_id, day = sys.argv[1], sys.argv[2]
conf = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
# Airflow 3.3's DagBag no longer takes include_examples: examples follow AIRFLOW__CORE__LOAD_EXAMPLES.
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
if bag.import_errors:
    print("RESULT " + json.dumps({"import_errors": {k: str(v) for k, v in bag.import_errors.items()}}))
    sys.exit(0)
dag = bag.get_dag(dag_id)
run = dag.test(logical_date=dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC), run_conf=conf)
with create_session() as session:
    states = {ti.task_id: (str(ti.state) if ti.state else None) for ti in run.get_task_instances(session=session)}
print("RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": states}))
