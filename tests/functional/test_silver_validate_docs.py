"""docs/validation.md and docs/quarantine.md describe every check name and every flag the code has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from ecomlake.cli import quarantine as qcli
from ecomlake.cli import silver as scli
from ecomlake.quality.gate import CheckName

REPO = Path(__file__).resolve().parents[2]
VALIDATE_SRC = (REPO / "src" / "ecomlake" / "silver" / "validate.py").read_text()


def _check_names() -> set[str]:
    literal = set(re.findall(r'Check\(\s*"([a-z_]+)"', VALIDATE_SRC)) | set(
        re.findall(r'check\(\s*"([a-z_]+)"', VALIDATE_SRC)
    )
    shared = {getattr(CheckName, attr) for attr in re.findall(r"CheckName\.([A-Z_]+)", VALIDATE_SRC)}
    return literal | shared


def test_every_silver_check_is_documented():
    doc = (REPO / "docs" / "validation.md").read_text()
    names = _check_names()
    assert len(names) >= 15
    assert sorted(n for n in names if f"`{n}`" not in doc) == []


def _flags(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) and not p.hidden for o in p.opts if o.startswith("--")}


@pytest.mark.parametrize(
    "doc,commands",
    [
        ("validation.md", [scli.group.commands["validate"]]),
        ("quarantine.md", list(qcli.group.commands.values())),
    ],
)
def test_every_flag_is_documented(doc, commands):
    text = (REPO / "docs" / doc).read_text()
    missing = sorted(f for c in commands for f in _flags(c) if f not in text)
    assert missing == []
