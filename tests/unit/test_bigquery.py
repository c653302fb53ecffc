"""`ecomlake gold load-bigquery`: the load job configurations themselves, and the requests the real
google-cloud-bigquery client sends for them.

No BigQuery emulator runs here: bqemulator (1.1 to 1.4) downloads DuckDB's spatial extension when
it starts, which fails offline. So the client is pointed (BIGQUERY_EMULATOR_HOST) at a small
recording HTTP server on 127.0.0.1 that answers like BigQuery's REST API. That proves what
ecomlake asks BigQuery to do (create the dataset and each missing table with its partitioning and
clustering, then one WRITE_TRUNCATE load per mart into `<mart>$YYYYMMDD` with that day's rows);
that BigQuery then replaces exactly that partition is BigQuery's documented behaviour, not proven here.
"""

from __future__ import annotations

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from cli_helpers import REPO, lake_env, run_cli

from ecomlake.config import load_settings
from ecomlake.gold import bigquery
from ecomlake.gold.runner import EXPORT_FILE, MARTS

DAYS = ("2023-01-01", "2023-01-02")


def test_partitioning_matches_each_marts_grain():
    for mart in MARTS:
        doc = yaml.safe_load((REPO / "dbt_duckdb" / "models" / "gold" / f"{mart}.yml").read_text())
        model = doc["models"][0]
        grain = model["config"]["meta"]["grain"] if "config" in model else model["meta"]["grain"]
        columns = [c["name"] for c in model["columns"]]
        date_col, cluster = bigquery.PARTITIONING[mart]
        assert date_col in columns, mart
        assert list(cluster) == [g for g in grain if g != date_col], mart


def _write_gold(root: Path) -> dict[str, int]:
    """A Gold root with every mart's export: 2 rows on 2023-01-01 and 1 on 2023-01-02 (hand-made)."""
    per_day = {}
    for mart in MARTS:
        date_col, cluster = bigquery.PARTITIONING[mart]
        import datetime as dt

        dates = [dt.date(2023, 1, 1), dt.date(2023, 1, 1), dt.date(2023, 1, 2)]
        cols = {date_col: pa.array(dates, pa.date32())}
        for i, c in enumerate(cluster):
            cols[c] = pa.array([f"{c}-a", f"{c}-b", f"{c}-a"]) if c != "product_id" else pa.array([1, 2, 1], pa.int64())
            del i
        cols["amount"] = pa.array([1.5, 2.5, 4.0])
        (root / mart).mkdir(parents=True)
        pq.write_table(pa.table(cols), root / mart / EXPORT_FILE)
        per_day[mart] = 2
    return per_day


def test_dry_run_prints_one_write_truncate_partition_load_per_mart(tmp_path):
    gold = tmp_path / "lake" / "gold"
    _write_gold(gold)
    env = lake_env(tmp_path / "lake")
    res = run_cli(
        ["gold", "load-bigquery", "--date", DAYS[0], "--project", "proj", "--dataset", "gold", "--dry-run"], env
    )
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    assert (plan["date"], plan["project"], plan["dataset"]) == (DAYS[0], "proj", "gold")
    assert [m["mart"] for m in plan["loads"]] == list(MARTS)
    for m in plan["loads"]:
        date_col, cluster = bigquery.PARTITIONING[m["mart"]]
        load = m["job_configuration"]["load"]
        assert m["destination"] == f"proj.gold.{m['mart']}$20230101"
        assert load["destinationTable"] == {
            "projectId": "proj",
            "datasetId": "gold",
            "tableId": f"{m['mart']}$20230101",
        }
        assert load["writeDisposition"] == "WRITE_TRUNCATE" and load["sourceFormat"] == "PARQUET"
        assert load["timePartitioning"] == {"type": "DAY", "field": date_col}
        assert load.get("clustering", {}).get("fields", []) == list(cluster)
        assert m["rows"] == 2  # only the date's rows: the day after is another partition
        table = m["create_table_if_absent"]
        assert table["timePartitioning"] == {"type": "DAY", "field": date_col}
        assert {"name": date_col, "type": "DATE", "mode": "NULLABLE"} in table["schema"]["fields"]


def test_without_a_project_or_gold_it_is_one_line_exit_2(tmp_path):
    env = lake_env(tmp_path / "lake")
    res = run_cli(["gold", "load-bigquery", "--date", DAYS[0], "--dataset", "gold", "--dry-run"], env)
    assert res.returncode == 2 and res.stderr.strip() == (
        "error: gold load-bigquery needs --project (or BIGQUERY_PROJECT / BIGQUERY_DATASET)"
    )
    res = run_cli(["gold", "load-bigquery", "--date", DAYS[0], "--project", "p", "--dataset", "gold", "--dry-run"], env)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: Gold mart fct_finance_revenue not found: ")
    assert "run `ecomlake gold run --date 2023-01-01` first" in res.stderr


class _Recorder(BaseHTTPRequestHandler):
    tables: ClassVar[set[str]] = set()
    log: ClassVar[list[tuple[str, str, dict | None, bytes]]] = []

    def log_message(self, *args):  # quiet
        pass

    def _json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.log.append(("GET", self.path, None, b""))
        m = re.search(r"/datasets/([^/]+)/tables/([^/?]+)", self.path)
        if m:
            if m.group(2) in self.tables:
                return self._json(
                    200, {"tableReference": {"projectId": "p", "datasetId": m.group(1), "tableId": m.group(2)}}
                )
            return self._json(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
        m = re.search(r"/jobs/([^/?]+)", self.path)
        if m:
            return self._json(
                200, {"jobReference": {"projectId": "p", "jobId": m.group(1)}, "status": {"state": "DONE"}}
            )
        return self._json(404, {"error": {"code": 404, "message": "Not found"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if "/upload/" in self.path:
            # multipart/related: the job resource (JSON), then the file
            boundary = re.search(r'boundary="?([^";]+)', self.headers["Content-Type"]).group(1).encode()
            parts = [p for p in body.split(b"--" + boundary) if p.strip(b"-\r\n")]
            meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
            data = parts[1].split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
            self.log.append(("LOAD", self.path, meta, data))
            job = {
                **meta,
                "jobReference": {"projectId": "p", "jobId": f"job{len(self.log)}"},
                "status": {"state": "DONE"},
            }
            return self._json(200, job)
        payload = json.loads(body or b"{}")
        self.log.append(("POST", self.path, payload, b""))
        if self.path.split("?")[0].endswith("/tables"):
            self.tables.add(payload["tableReference"]["tableId"])
        return self._json(200, payload)


@pytest.fixture
def recorder():
    _Recorder.tables = set()
    _Recorder.log = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder
    server.shutdown()


def test_the_client_creates_missing_tables_then_loads_each_day_with_write_truncate(tmp_path, recorder, monkeypatch):
    url, rec = recorder
    gold = tmp_path / "gold"
    _write_gold(gold)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", url)
    settings = load_settings(
        REPO / "config" / "config.yml", env={"GOLD_PATH": str(gold), "ECOM_WORK_PATH": str(tmp_path / "w")}
    )
    first = bigquery.load(settings, DAYS[0], "p", "gold")
    assert all(m.created for m in first.loads) and all(m.job_id for m in first.loads)
    created = [p for (verb, path, p, _) in rec.log if verb == "POST" and path.split("?")[0].endswith("/tables")]
    assert sorted(t["tableReference"]["tableId"] for t in created) == sorted(MARTS)
    for t in created:
        date_col, cluster = bigquery.PARTITIONING[t["tableReference"]["tableId"]]
        assert t["timePartitioning"] == {"type": "DAY", "field": date_col}
        assert t.get("clustering", {}).get("fields", []) == list(cluster)
    loads = [(p, data) for (verb, _, p, data) in rec.log if verb == "LOAD"]
    assert len(loads) == len(MARTS)
    for meta, data in loads:
        cfg = meta["configuration"]["load"]
        mart = cfg["destinationTable"]["tableId"].split("$")[0]
        assert cfg["destinationTable"]["tableId"] == f"{mart}$20230101"
        assert cfg["writeDisposition"] == "WRITE_TRUNCATE" and cfg["sourceFormat"] == "PARQUET"
        rows = pq.read_table(io.BytesIO(data))
        assert rows.num_rows == 2 and set(rows.column(bigquery.PARTITIONING[mart][0]).to_pylist()) == {
            __import__("datetime").date(2023, 1, 1)
        }
    # A rerun of the day: tables exist, the same partitions are truncated and loaded again (never appended).
    rec.log.clear()
    again = bigquery.load(settings, DAYS[0], "p", "gold")
    assert not any(m.created for m in again.loads)
    assert not [1 for (verb, path, _, _) in rec.log if verb == "POST" and path.split("?")[0].endswith("/tables")]
    reloads = [p["configuration"]["load"] for (verb, _, p, _) in rec.log if verb == "LOAD"]
    assert sorted(c["destinationTable"]["tableId"] for c in reloads) == sorted(f"{m}$20230101" for m in MARTS)
    assert {c["writeDisposition"] for c in reloads} == {"WRITE_TRUNCATE"}


def test_an_unreachable_bigquery_fails_after_the_configured_retries(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gold = tmp_path / "gold"
    _write_gold(gold)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    settings = load_settings(
        REPO / "config" / "config.yml",
        env={
            "GOLD_PATH": str(gold),
            "ECOM_WORK_PATH": str(tmp_path / "w"),
            "GCS_REQUEST_TIMEOUT_S": "1",
            "GCS_RETRIES": "1",
            "GCS_MAX_BACKOFF_S": "0",
        },
    )
    with pytest.raises(bigquery.BigQueryError, match=r"^BigQuery load into p\.gold failed: "):
        bigquery.load(settings, DAYS[0], "p", "gold")
    load_settings(REPO / "config" / "config.yml", env={})
