"""OpenLineage: every layer run and gate emits START then COMPLETE or FAIL, naming its inputs and
outputs by their lake paths, with the gate's checks as a data-quality facet; the events validate
against the OpenLineage specification's JSON Schemas; they go to files by default and also to an
HTTP endpoint when one is configured; failing to emit never changes a run's outcome."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from enriched_fixtures import DAYS, Lake, fill_small_lake
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ecomlake.config import load_settings
from ecomlake.dims.validate import validate_dims
from ecomlake.enriched.runner import run_enriched
from ecomlake.enriched.validate import validate_enriched
from ecomlake.errors import ConfigError, InputError
from ecomlake.transforms.schemas import TABLE_NAMES

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "openlineage"
D = DAYS[0]


def _registry() -> tuple[Registry, dict[str, dict]]:
    schemas = {p.stem: json.loads(p.read_text()) for p in SPEC.glob("*.json")}
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return registry, schemas


REGISTRY, SCHEMAS = _registry()


def validate_event(event: dict) -> None:
    """The run event against OpenLineage.json, then each facet against its own facet schema."""
    Draft202012Validator(SCHEMAS["OpenLineage"], registry=REGISTRY).validate(event)
    facets = [
        *event["run"].get("facets", {}).items(),
        *event["job"].get("facets", {}).items(),
        *(kv for d in event["inputs"] for kv in d.get("inputFacets", {}).items()),
        *(kv for d in event["outputs"] for kv in d.get("outputFacets", {}).items()),
    ]
    assert facets
    for key, facet in facets:
        schema_name = facet["_schemaURL"].rsplit("/", 1)[1].split(".json")[0]
        assert schema_name in SCHEMAS, f"facet {key}: no schema {schema_name} in {SPEC}"
        Draft202012Validator(SCHEMAS[schema_name], registry=REGISTRY).validate({key: facet})


def events(lake: Lake, run_id: str) -> list[dict]:
    path = lake.root / "lineage" / f"{run_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("lineage"))
    fill_small_lake(lake)
    return lake


def test_a_layer_run_and_its_gate_emit_start_and_complete_with_lake_paths_and_assertions(lake):
    result = run_enriched(lake.settings(), D, run_id="lin_ok")
    code, gate = validate_enriched(lake.settings(), D, run_id="lin_ok")
    got = events(lake, "lin_ok")
    for e in got:
        validate_event(e)
    assert [(e["job"]["name"], e["eventType"]) for e in got] == [
        ("enriched", "START"),
        ("enriched", "COMPLETE"),
        ("enriched_gate", "START"),
        ("enriched_gate", "COMPLETE" if gate.overall_status.value != "FAIL" else "FAIL"),
    ]
    start, complete = got[0], got[1]
    assert start["run"]["runId"] == complete["run"]["runId"] != got[2]["run"]["runId"]
    assert {e["job"]["namespace"] for e in got} == {"ecomlake"}
    inputs = {(d["namespace"], d["name"]) for d in complete["inputs"]}
    assert ("file", str(lake.silver / "orders")) in inputs
    assert ("file", str(lake.dims / "customer_snapshot")) in inputs
    outputs = {d["name"]: d.get("outputFacets", {}) for d in complete["outputs"]}
    assert set(outputs) == {str(lake.enriched / t) for t in TABLE_NAMES}
    for t in result.tables:
        assert outputs[str(lake.enriched / t.table)]["outputStatistics"]["rowCount"] == t.rows
    tags = {t["key"]: t["value"] for t in complete["run"]["facets"]["tags"]["tags"]}
    assert tags["ecomlake.run_id"] == "lin_ok"
    assert complete["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(D)
    # the gate: every check is an assertion on the dataset it judged
    judged = {d["name"]: d["inputFacets"]["dataQualityAssertions"]["assertions"] for d in got[3]["inputs"]}
    assert sum(len(a) for a in judged.values()) == len(gate.checks)
    clv = judged[str(lake.enriched / "int_customer_lifetime_value")]
    assert all({"assertion", "success"} <= set(a) for a in clv)
    assert code == 0


def test_a_run_that_fails_emits_fail_with_its_error(lake, monkeypatch):
    from ecomlake import storage

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "publish", full_disk)
    with pytest.raises(OSError):
        run_enriched(lake.settings(), D, run_id="lin_fail")
    got = events(lake, "lin_fail")
    for e in got:
        validate_event(e)
    assert [e["eventType"] for e in got] == ["START", "FAIL"]
    assert got[0]["eventTime"] < got[1]["eventTime"]  # each event carries the time it happened
    message = got[1]["run"]["facets"]["errorMessage"]
    assert message == {**message, "message": "[Errno 28] No space left on device", "programmingLanguage": "python"}
    assert got[1]["outputs"] == []


def test_a_refused_run_writes_nothing_not_even_lineage(lake):
    with pytest.raises(InputError):
        run_enriched(lake.settings(), "2030-01-01", run_id="lin_refused")  # no Base Silver for that day
    assert not (lake.root / "lineage" / "lin_refused.jsonl").exists()


def test_a_failing_gate_is_a_fail_event_whose_assertions_say_which_check_failed(lake):
    _, gate = validate_dims(lake.settings(), "2030-01-01", run_id="lin_gate_fail")
    assert gate.overall_status.value == "FAIL"
    got = events(lake, "lin_gate_fail")
    for e in got:
        validate_event(e)
    assert [(e["job"]["name"], e["eventType"]) for e in got] == [("dims_gate", "START"), ("dims_gate", "FAIL")]
    assertions = [a for d in got[1]["inputs"] for a in d["inputFacets"]["dataQualityAssertions"]["assertions"]]
    failed = [a for a in assertions if not a["success"]]
    assert failed and all(a["severity"] == "error" for a in failed)
    assert len(failed) == sum(c.status.value == "FAIL" for c in gate.checks)
    assert got[1]["run"]["facets"]["errorMessage"]["message"].startswith("gate FAIL: ")


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_events_are_also_posted_to_the_configured_http_endpoint(lake):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        _, gate = validate_dims(lake.settings(OPENLINEAGE_URL=url), D, run_id="lin_http")
    finally:
        server.shutdown()
        server.server_close()
    end = "FAIL" if gate.overall_status.value == "FAIL" else "COMPLETE"
    posted = [(path, e["eventType"], e["job"]["name"]) for path, e in _Receiver.received]
    assert posted == [("/api/v1/lineage", "START", "dims_gate"), ("/api/v1/lineage", end, "dims_gate")]
    assert [e for _, e in _Receiver.received] == events(lake, "lin_http")  # the same events as the file


def test_an_unreachable_endpoint_is_a_warning_and_the_run_goes_on(lake, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = lake.settings(OPENLINEAGE_URL=f"http://127.0.0.1:{port}")
    code, _ = validate_dims(settings, D, run_id="lin_down")
    assert code == validate_dims(lake.settings(LINEAGE_ENABLED="false"), D)[0]  # as without lineage
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning: lineage:")]
    assert len(warnings) == 2 and "dims_gate START event of run lin_down not sent (http)" in warnings[0]
    assert len(events(lake, "lin_down")) == 2  # the file still has both


def test_lineage_can_be_turned_off(lake):
    validate_dims(lake.settings(LINEAGE_ENABLED="false"), D, run_id="lin_off")
    assert not (lake.root / "lineage" / "lin_off.jsonl").exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "http://", "not a url"])
def test_a_malformed_endpoint_is_refused_at_load_naming_the_key(lake, url):
    with pytest.raises(ConfigError) as bad:
        load_settings(None, env={"OPENLINEAGE_URL": url})
    assert "lineage.url" in str(bad.value) and len(str(bad.value).splitlines()) == 1
