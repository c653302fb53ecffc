"""`ecomlake.ids` (identifiers that become path parts) and `storage.check_inside` (every delete stays
inside its layer root), on their own: each rule with the values it must accept and refuse."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from ecomlake import ids, storage
from ecomlake.contract import TABLES, parse_tables
from ecomlake.errors import InputError
from ecomlake.runs import new_run_id, parse_date, resolve_run_id

HOSTILE = ["../..", "..", ".", "/", "/etc", "", "..%2F..", "a/b", "a\\b", "x\x00y", "x\ny", " ", "_x", "-x"]


@pytest.mark.parametrize(
    "good", ["20260125T211945Z_3f9a", "enriched_20260125T211945Z_3f9a", "demo_x_enriched_2023-01-01", "r1", "a.b"]
)
def test_run_id_accepts_what_the_pipeline_makes(good):
    assert ids.run_id(good) == good


@pytest.mark.parametrize("bad", [*HOSTILE, "x" * 129, "a:b", "a b", "a*b", "é"])
def test_run_id_refuses_anything_else_in_one_line_naming_it(bad):
    with pytest.raises(InputError) as exc:
        ids.run_id(bad, "--run-id")
    assert exc.value.exit_code == 2
    assert exc.value.message.startswith(f"invalid --run-id {bad!r}: ")
    assert "\n" not in exc.value.message


def test_run_id_from_the_environment(monkeypatch):
    monkeypatch.setenv("RUN_ID", "scheduled__2023-01-01T00:00:00+00:00")
    assert new_run_id() == "scheduled__2023-01-01T0000000000"  # Airflow-style: ':' and '+' dropped
    for bad in ("../..", "/", "a/b", ".", "x\ny"):
        monkeypatch.setenv("RUN_ID", bad)
        with pytest.raises(InputError, match=r"^invalid environment variable RUN_ID=") as exc:
            new_run_id()
        assert repr(bad) in exc.value.message
    monkeypatch.setenv("RUN_ID", "")
    assert new_run_id("p_").startswith("p_")  # an empty variable counts as unset


def test_resolve_run_id_refuses_an_empty_string_instead_of_replacing_it(monkeypatch):
    monkeypatch.delenv("RUN_ID", raising=False)
    assert resolve_run_id(None, "x_").startswith("x_")
    assert resolve_run_id("r1") == "r1"
    with pytest.raises(InputError, match="invalid --run-id ''"):
        resolve_run_id("")


@pytest.mark.parametrize(
    "bad, why",
    [
        ("2023-13-01", "not a calendar date"),
        ("2023-02-30", "not a calendar date"),
        ("2023-02-29", "not a calendar date"),
        ("..", "expected YYYY-MM-DD"),
        ("", "expected YYYY-MM-DD"),
        ("2023-01-01/../..", "expected YYYY-MM-DD"),
        ("20230101", "expected YYYY-MM-DD"),  # fromisoformat accepts it; a path component must not vary
        ("2023-W01-1", "expected YYYY-MM-DD"),
        (" 2023-01-01", "expected YYYY-MM-DD"),
        ("2023-01-01\n", "expected YYYY-MM-DD"),
        (dt.datetime(2023, 1, 1, 5), "not a timestamp"),
    ],
)
def test_date_refuses_anything_but_a_calendar_date(bad, why):
    with pytest.raises(InputError) as exc:
        parse_date(bad, "--date")
    assert why in exc.value.message and exc.value.message.startswith("invalid --date ")
    assert "\n" not in exc.value.message


def test_date_accepts_dates():
    assert parse_date("2024-02-29") == dt.date(2024, 2, 29)
    assert parse_date(dt.date(2023, 1, 1)) == dt.date(2023, 1, 1)


@pytest.mark.parametrize("bad", ["../..", "", "a/b", "ORDERS", "orders ", "x\x00y"])
def test_table_must_be_a_known_name(bad):
    with pytest.raises(InputError, match="unknown table"):
        ids.table(bad, ["orders", "returns"])


@pytest.mark.parametrize("bad", ["", " ", ",", "../..", "orders,a/b"])
def test_tables_flag_refuses_empty_and_unknown(bad):
    with pytest.raises(InputError):
        parse_tables(bad)
    assert parse_tables(None) == list(TABLES)
    assert sorted(parse_tables("returns,orders,")) == ["orders", "returns"]


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "x\x00y", "x\ny"])
def test_component_refuses_what_is_not_one_path_part(bad):
    with pytest.raises(InputError):
        ids.component(bad, "partition")


@pytest.mark.parametrize(
    "value, kind",
    [("", "file"), ("  ", "file"), ("x\x00y", "file"), ("x\ny", "file"), (".", "file"), ("a/", "file"),
     ("", "directory"), ("/", "directory"), ("//", "directory"), ("x\ny", "directory")],
)  # fmt: skip
def test_user_path_refuses_empty_control_characters_dirs_and_root(value, kind):
    with pytest.raises(InputError):
        ids.user_path(value, "--output", kind=kind)


# ------------------------------------------------------------------------ storage containment


@pytest.fixture
def layer(tmp_path):
    root = tmp_path / "lake" / "silver"
    (root / "orders" / "ingest_dt=2023-01-01").mkdir(parents=True)
    (root / "orders" / "ingest_dt=2023-01-01" / "part-0000.parquet").write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.txt").write_text("keep")
    return root


def test_remove_tree_inside_the_root_works(layer):
    target = layer / "orders" / "ingest_dt=2023-01-01"
    storage.remove_tree(str(target), str(layer))
    assert not target.exists() and layer.is_dir()


@pytest.mark.parametrize(
    "rel",
    [
        "",  # the root itself
        "_staging/../..",  # the issue: a run id of ../.. joined into the staging path
        "_staging/..",
        "orders/../../outside",
        "..",
        "../outside",
    ],
)
def test_remove_tree_refuses_the_root_and_escapes(layer, rel):
    target = f"{layer}/{rel}" if rel else str(layer)
    with pytest.raises(storage.UnsafePathError) as exc:
        storage.remove_tree(target, str(layer))
    assert exc.value.exit_code == 2 and "nothing was changed" in exc.value.message
    assert (layer / "orders" / "ingest_dt=2023-01-01" / "part-0000.parquet").exists()
    assert (layer.parent.parent / "outside" / "keep.txt").exists()


def test_remove_tree_refuses_absolute_paths_elsewhere_and_sibling_prefixes(layer, tmp_path):
    for target in (str(tmp_path / "outside"), "/", "", str(layer) + "2/x", str(layer.parent)):
        with pytest.raises(storage.UnsafePathError):
            storage.remove_tree(target, str(layer))
    with pytest.raises(storage.UnsafePathError, match="filesystem root"):
        storage.remove_tree("/tmp/x", "/")
    assert (tmp_path / "outside" / "keep.txt").exists()


def test_remove_tree_does_not_follow_a_symlinked_parent_out_of_the_root(layer, tmp_path):
    os.symlink(tmp_path / "outside", layer / "link")
    with pytest.raises(storage.UnsafePathError):
        storage.remove_tree(str(layer / "link" / "keep.txt"), str(layer))
    storage.remove_tree(str(layer / "link"), str(layer))  # the link itself is inside: removed, not followed
    assert not (layer / "link").exists() and (tmp_path / "outside" / "keep.txt").exists()


def test_a_relative_root_with_dot_dot_is_fine(layer, tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    rel_root = "../lake/silver"
    storage.remove_tree(f"{rel_root}/orders/ingest_dt=2023-01-01", rel_root)
    assert not (layer / "orders" / "ingest_dt=2023-01-01").exists()


@pytest.mark.parametrize(
    "path, root, ok",
    [
        ("gs://b/lake/silver/_staging/r1", "gs://b/lake/silver", True),
        ("gs://b/lake/silver/_staging/../..", "gs://b/lake/silver", False),
        ("gs://b/lake/silver", "gs://b/lake/silver", False),
        ("gs://b/lake/silver/", "gs://b/lake/silver", False),
        ("gs://b/lake/silver2/x", "gs://b/lake/silver", False),
        ("gs://other/lake/silver/x", "gs://b/lake/silver", False),
        ("s3://b/lake/silver/x", "gs://b/lake/silver", False),
        ("/tmp/lake/silver/x", "gs://b/lake/silver", False),
        ("gs://b/x", "gs://b", True),
        ("gs://b/x", "gs://", False),
    ],
)
def test_check_inside_on_gs_urls_without_a_filesystem(path, root, ok):
    if ok:
        storage.check_inside(path, root)
    else:
        with pytest.raises(storage.UnsafePathError):
            storage.check_inside(path, root)


@pytest.mark.parametrize("bad", ["../..", "..", "/", "", "a/b", "x\x00y"])
def test_staging_paths_refuse_hostile_run_ids(layer, bad):
    with pytest.raises(InputError):
        storage.staging_root(str(layer), bad)
    with pytest.raises(InputError):
        storage.release_staging(str(layer), bad)
    assert (layer / "orders" / "ingest_dt=2023-01-01" / "part-0000.parquet").exists()


def test_recover_leaves_alone_what_is_not_a_run_staging_area(layer):
    odd = layer / "_staging" / "not a run"
    odd.mkdir(parents=True)
    actions = storage.recover(str(layer))
    assert odd.is_dir() and any("alone" in a for a in actions)


def test_a_journal_pointing_outside_its_roots_is_refused_and_nothing_moves(layer, tmp_path):
    run = layer / "_staging" / "r1"
    (run / "orders" / "x").mkdir(parents=True)
    outside = tmp_path / "outside"
    journal = {
        "run_id": "r1",
        "moves": [
            {"staged": str(run / "orders" / "x"), "final": str(outside), "old": f"{outside}.__old__r1", "root": None}
        ],
    }
    (run / "_journal.json").write_text(json.dumps(journal))
    with pytest.raises(storage.UnsafePathError):
        storage.recover(str(layer))
    assert (outside / "keep.txt").exists() and (run / "orders" / "x").is_dir()


def test_publish_refuses_a_final_outside_its_root(layer, tmp_path):
    storage.claim_staging(str(layer), "r2")
    staged = storage.staging_path(str(layer), "r2", "orders", "ingest_dt=2023-01-02")
    os.makedirs(staged)
    p = storage.Publish(staged, str(tmp_path / "outside"), "orders", "ingest_dt=2023-01-02")
    with pytest.raises(storage.UnsafePathError):
        storage.publish(str(layer), "r2", [p])
    assert (tmp_path / "outside" / "keep.txt").exists()
    storage.release_staging(str(layer), "r2")
