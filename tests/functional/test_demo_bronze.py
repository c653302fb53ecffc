"""The demo's Bronze lands where every layer command reads Bronze, and no error about missing Bronze
points an existing lake at unrelated data (issue 17, section 2).

The "sample" here is a tiny generated lake (seed 5), the "unrelated" Bronze another seed: what the
demo does with samples/bronze_samples.zip, at a size that takes a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecomlake.bronze.generator import GeneratorOptions, generate
from ecomlake.config import load_settings
from ecomlake.demo import land_sample_bronze
from ecomlake.errors import InputError
from ecomlake.lake import SOURCE_NAME, bronze_source, missing_bronze_hint
from ecomlake.silver.run import check_bronze

REPO = Path(__file__).resolve().parents[2]


def _generate(out: Path, seed: int, start: str = "2023-01-01", days: int = 2) -> None:
    generate(
        load_settings(env={}),
        GeneratorOptions(start_date=start, days=days, orders_per_day=15, seed=seed, defect_rate=0.0),
        out=str(out),
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample") / "bronze"
    _generate(root, seed=5)
    return root


def _settings(tmp: Path, **extra: str):
    env = {
        "BRONZE_BASE_PATH": str(tmp / "data" / "bronze"),
        "SILVER_BASE_PATH": str(tmp / "data" / "silver" / "base"),
        "SILVER_DIMS_PATH": str(tmp / "data" / "silver" / "dims"),
        "METRICS_BASE_PATH": str(tmp / "data" / "metrics"),
        "ECOM_SAMPLES_PATH": str(tmp / "samples"),
        **extra,
    }
    return load_settings(REPO / "config" / "config.yml", env=env)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_sample_lands_in_the_lakes_bronze_root_once(sample, tmp_path):
    s = _settings(tmp_path)
    counts = land_sample_bronze(s, str(sample), "demo_a")
    target = tmp_path / "data" / "bronze"
    assert counts == {"landed": 16, "kept": 0, "repaired": 0}  # 8 tables x 2 days
    landed = {k: v for k, v in _tree(target).items() if k != SOURCE_NAME}
    assert landed == _tree(sample)  # byte for byte: data, manifests, _SUCCESS, ledgers
    assert not (target / "_staging").exists()
    source = bronze_source(s)
    assert source["days"] == ["2023-01-01", "2023-01-02"] and source["command"] == "ecomlake local demo-fast"
    # Again: nothing to do.
    assert land_sample_bronze(s, str(sample), "demo_b") == {"landed": 0, "kept": 16, "repaired": 0}
    # A sample partition damaged by hand (the runbook's "delete the corrupt file") is landed again.
    part = target / "orders" / "ingest_dt=2023-01-02"
    next(part.glob("part-*.parquet")).unlink()
    assert land_sample_bronze(s, str(sample), "demo_c") == {"landed": 0, "kept": 15, "repaired": 1}
    assert _tree(part) == _tree(sample / "orders" / "ingest_dt=2023-01-02")


@pytest.mark.parametrize("kind", ["other batch", "other day"])
def test_unrelated_bronze_stops_the_demo_before_anything_is_written(sample, tmp_path, kind):
    s = _settings(tmp_path)
    target = tmp_path / "data" / "bronze"
    if kind == "other batch":  # the same days from another source (another seed)
        _generate(target, seed=9)
    else:  # the sample's own days are absent, another day is there
        _generate(target, seed=5, start="2023-01-05", days=1)
    before = _tree(target)
    with pytest.raises(InputError) as exc:
        land_sample_bronze(s, str(sample), "demo_x")
    msg = exc.value.message
    assert "already holds Bronze that is not the demo sample" in msg and "will not mix" in msg
    assert ("ingest_dt=2023-01-01" in msg) if kind == "other batch" else ("ingest_dt=2023-01-05" in msg)
    assert _tree(target) == before and not (target / SOURCE_NAME).exists()


def test_missing_bronze_hints_never_point_an_existing_lake_at_generated_data(sample, tmp_path):
    # A new, empty lake: generating synthetic Bronze is a fine suggestion.
    fresh = _settings(tmp_path / "fresh")
    assert "`ecomlake bronze generate --start-date 2023-01-03" in missing_bronze_hint(fresh, "2023-01-03")
    # A lake that already has Silver (built from Bronze that is not under its Bronze root).
    built = tmp_path / "built"
    (built / "data" / "silver" / "base" / "orders" / "ingest_dt=2023-01-01").mkdir(parents=True)
    (built / "samples").mkdir()
    shutil.copy2(REPO / "samples" / "bronze_samples.zip", built / "samples" / "bronze_samples.zip")
    hint = missing_bronze_hint(_settings(built), "2023-01-01")
    assert "bronze generate" not in hint and "do not generate" in hint
    assert "`ecomlake local demo-fast` lands the sample Bronze" in hint
    # The demo's lake: the hint names where its Bronze came from and which days it has.
    demo = _settings(tmp_path / "demo")
    land_sample_bronze(demo, str(sample), "demo_h")
    with pytest.raises(InputError) as exc:
        check_bronze(demo, ("orders", "order_items"), "2024-01-03")
    msg = exc.value.message
    assert "bronze generate" not in msg
    assert "the demo sample" in msg and "2023-01-01 to 2023-01-02" in msg and "has no 2024-01-03" in msg


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECOM", "BRONZE_", "SILVER_", "PIPELINE_ENV"))}
    env["ECOM_CONFIG_PATH"] = str(REPO / "config" / "config.yml")
    return subprocess.run(
        [sys.executable, "-m", "ecomlake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_missing_bronze_errors_in_an_existing_lake_suggest_no_generator(tmp_path):
    (tmp_path / "data" / "silver" / "dims" / "customer_snapshot" / "snapshot_dt=2023-01-01").mkdir(parents=True)
    for argv in (["local", "dims"], ["local", "silver"], ["bronze", "validate"], ["bronze", "profile"]):
        proc = _cli(*argv, cwd=tmp_path)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "bronze generate" not in proc.stderr, (argv, proc.stderr)
        assert "data/bronze" in proc.stderr
