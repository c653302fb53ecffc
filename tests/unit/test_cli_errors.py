"""What the CLI prints when a command fails in a way it did not plan for: one line, exit 2."""

import click
import duckdb
import pytest

from ecomlake.cli import main as cli_main

DUCKDB_OOM = (
    "Out of Memory Error: could not allocate block of size 256.0 KiB (1.3 GiB/1.3 GiB used)\n\n"
    "Possible solutions:\n* Reducing the number of threads (SET threads=X)\n"
)


def _run_failing(monkeypatch, capsys, exc: Exception) -> tuple[int, str]:
    def explode() -> None:
        raise exc

    monkeypatch.setitem(cli_main.cli.commands, "explode-for-test", click.Command("explode-for-test", callback=explode))
    monkeypatch.delenv("ECOMLAKE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as done:
        cli_main.main(["explode-for-test"])
    return done.value.code, capsys.readouterr().err


def test_duckdb_out_of_memory_names_the_settings_to_change(monkeypatch, capsys):
    code, err = _run_failing(monkeypatch, capsys, duckdb.OutOfMemoryException(DUCKDB_OOM))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(
        "error: DuckDB ran out of memory (Out of Memory Error: could not allocate block of size 256.0 KiB "
        "(1.3 GiB/1.3 GiB used)); raise DUCKDB_MEMORY_LIMIT"
    )
    assert "DUCKDB_THREADS" in err and "DUCKDB_TEMP_DIRECTORY" in err and "Possible solutions" not in err


def test_an_unexpected_error_is_one_line(monkeypatch, capsys):
    code, err = _run_failing(monkeypatch, capsys, RuntimeError("first line\nsecond line"))
    assert code == 2
    assert err == "error: unexpected RuntimeError: first line (set ECOMLAKE_DEBUG=1 for the traceback)\n"
