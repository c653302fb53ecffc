"""Every `ecomlake ...` command shown in the README and docs/ names a real command and real flags.

A command example is checked the way `--help` would see it, without running anything: each word
after `ecomlake` walks down the command groups until it reaches a command, and every `--flag` on the
line must be one of that command's options (or of the root group, before the command). Examples
whose command path is shorter than a real command (`ecomlake quarantine`) or that write
placeholders (`<group> <command>`) are skipped; everything else must resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ecomlake.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    REPO / "dbt_duckdb" / "README.md",
    REPO / "benchmarks" / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
]
# Generated reports quote commands from other runs verbatim; the hand-written pages are the claims.
SKIP = {"PERFORMANCE.md", "PERFORMANCE_1M.md"}

_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_START = re.compile(r"(?:^|[\s;&|(`$])(?:\.venv/bin/)?ecomlake(?=\s)")


def _command_lines(text: str) -> list[str]:
    """Each `ecomlake ...` invocation in fenced blocks and inline code spans (one per line)."""
    chunks = list(_FENCE.findall(text))
    prose = _FENCE.sub("", text)
    chunks += _INLINE.findall(prose)
    out = []
    for chunk in chunks:
        for line in chunk.replace("\\\n", " ").splitlines():  # join shell continuation lines
            line = line.split(" #", 1)[0]  # trailing shell comment
            for m in _START.finditer(line):
                rest = line[m.end() :]
                rest = re.split(r"\s(?:&&|\|\||;|\|)\s|`", rest)[0]  # stop at the next shell command
                out.append("ecomlake" + rest.rstrip())
    return out


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        if path.name in SKIP or not path.exists():
            continue
        for line in _command_lines(path.read_text()):
            found.append((str(path.relative_to(REPO)), line))
    return found


EXAMPLES = _examples()


def _options(command: click.Command) -> set[str]:
    opts = {"--help", "-h"}
    for p in command.params:
        if isinstance(p, click.Option):
            opts.update(p.opts)
            opts.update(p.secondary_opts)
    return opts


def _flags(words: list[str]) -> list[str]:
    flags = []
    for w in words:
        for alt in w.strip("[]()").split("|"):
            alt = alt.strip("[]()")
            if alt.startswith("--"):
                flags.append(alt.split("=", 1)[0].rstrip(".,"))
    return flags


def test_the_docs_show_commands():
    assert len(EXAMPLES) > 40, EXAMPLES  # the parser finds the examples at all
    assert any("quarantine recover" in line for _, line in EXAMPLES)


@pytest.mark.parametrize(("doc", "line"), EXAMPLES, ids=[f"{d}:{line[:60]}" for d, line in EXAMPLES])
def test_doc_command_resolves_to_real_command_and_flags(doc, line):
    words = line.split()[1:]
    root_flags = []
    while words and words[0].startswith("--"):  # root options before the group
        root_flags.append(words.pop(0).split("=", 1)[0])
        if words and not words[0].startswith("-") and root_flags[-1] == "--config":
            words.pop(0)
    assert set(root_flags) <= _options(cli), f"{doc}: unknown root option in {line!r}"
    command: click.Command = cli
    path = []
    while isinstance(command, click.Group) and words:
        word = words[0].strip("[]")
        if word.startswith(("<", "-", "[")) or word in ("...", "…"):
            break
        sub = command.commands.get(word)
        assert sub is not None, f"{doc}: `ecomlake {' '.join([*path, word])}` is not a command (from {line!r})"
        path.append(word)
        words.pop(0)
        command = sub
    if isinstance(command, click.Group):
        pytest.skip(f"names a group, not a command: {line!r}")
    unknown = [f for f in _flags(words) if f not in _options(command)]
    assert not unknown, f"{doc}: `ecomlake {' '.join(path)}` has no option {unknown} (from {line!r})"
    shown = CliRunner().invoke(cli, [*path, "--help"])  # what a user's `--help` shows
    assert shown.exit_code == 0, shown.output
    for flag in _flags(words):
        assert flag in shown.output, f"{flag} is not in `ecomlake {' '.join(path)} --help`"
