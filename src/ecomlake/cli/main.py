"""Entry point: `ecomlake [--config PATH] <group> <command> ...`."""

from __future__ import annotations

import os
import sys
import traceback

import click

from ecomlake import __version__
from ecomlake.errors import EcomlakeError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--config",
    "config_path",
    default=None,
    envvar="ECOM_CONFIG_PATH",
    help="Config file (default: ECOM_CONFIG_PATH, then ./config/config.yml, then the packaged default).",
)
@click.version_option(__version__, prog_name="ecomlake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """ecomlake: Bronze -> dims -> Base Silver -> Enriched -> Gold, with a quality gate after every layer.

    \b
    Quick start:
      ecomlake local demo-fast                 # sample Bronze, one day end to end, all gates
      ecomlake run --date 2023-01-02           # the daily pipeline: every step, gate and promote
      ecomlake bronze generate --start-date 2023-01-01 --days 3 --out data/bronze
      ecomlake bronze validate --bronze-path data/bronze --partition-date 2023-01-02
    """
    from ecomlake.ids import run_id_from_env

    run_id_from_env()  # a RUN_ID that could reach outside the lake stops every command (exit 2)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def _register() -> None:
    from ecomlake.cli import bench, bronze, dim, enriched, gold, local, promote, quarantine, sample, silver

    for module in (bronze, dim, silver, enriched, promote, quarantine, gold, local, sample, bench):
        cli.add_command(module.group)
    cli.add_command(__import__("ecomlake.cli.report", fromlist=["command"]).command)  # `ecomlake report`
    cli.add_command(__import__("ecomlake.cli.run", fromlist=["command"]).command)  # `ecomlake run`


_register()


def main(argv: list[str] | None = None) -> None:
    from ecomlake.cli.common import NOTES

    NOTES.clear()
    try:
        try:
            cli.main(args=argv, prog_name="ecomlake", standalone_mode=False)
        except SystemExit as done:
            if done.code in (0, 1, None):  # the command ran (0: PASS/WARN, 1: a gate FAILed)
                _print_notes(NOTES)
            raise
        _print_notes(NOTES)
    except EcomlakeError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(2)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the operator, the traceback on request
        if os.environ.get("ECOMLAKE_DEBUG"):
            traceback.print_exc()
        from ecomlake import gcs

        if gcs.is_gcs_failure(exc) or _caused_by_gcs(exc):  # GCS unreachable, refused, or no credentials
            click.echo(f"error: {gcs.translate(_gcs_cause(exc)).message}", err=True)
            sys.exit(2)
        import duckdb

        # DuckDB's messages run over several lines (a list of "possible solutions"): keep the first.
        first = (str(exc).strip().splitlines() or [""])[0]
        if isinstance(exc, duckdb.OutOfMemoryException):
            click.echo(
                f"error: DuckDB ran out of memory ({first}); raise DUCKDB_MEMORY_LIMIT (the budget of one "
                "process: DuckDB gets 75% of it), lower DUCKDB_THREADS, or free disk under "
                "DUCKDB_TEMP_DIRECTORY, where DuckDB spills",
                err=True,
            )
            sys.exit(2)
        click.echo(
            f"error: unexpected {type(exc).__name__}: {first} (set ECOMLAKE_DEBUG=1 for the traceback)", err=True
        )
        sys.exit(2)
    sys.exit(0)


def _gcs_cause(exc: BaseException) -> BaseException:
    from ecomlake import gcs

    seen: BaseException | None = exc
    while seen is not None:
        if gcs.is_gcs_failure(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _caused_by_gcs(exc: BaseException) -> bool:
    """DuckDB and dbt wrap what gcsfs raised while they read gs:// through it."""
    from ecomlake import gcs

    return _gcs_cause(exc) is not exc or (
        bool(gcs.emulator_host() or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
        and "gs://" in str(exc)
        and any(w in str(exc) for w in ("Forbidden", "Credentials", "Cannot connect", "ClientConnector"))
    )


def _print_notes(notes: list[str]) -> None:
    """Notes gathered while the command ran (e.g. which config file it used), after its own output,
    so that an error stays the one line on stderr."""
    for note in dict.fromkeys(notes):
        click.echo(f"note: {note}", err=True)


if __name__ == "__main__":
    main()
