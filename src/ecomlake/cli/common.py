"""Shared CLI plumbing: settings from the root --config, common flags, one-line output.

Flags that become parts of paths (dates, run ids) are checked by their callbacks while the command
line is parsed, before the command does anything (`ecomlake.ids`); the API checks them again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ecomlake import ids
from ecomlake.config import Settings, load_settings

# One-line notes for the user, printed by `ecomlake.cli.main.main` after a command that ran.
NOTES: list[str] = []


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from the root `--config` (or ECOM_CONFIG_PATH), the environment, then `overrides`.

    `overrides` are dotted keys, e.g. ``{"paths.bronze_base_path": "data/bronze"}``; None is ignored.
    Notes (on stderr, after the command's output) when the packaged default config was used.
    """
    root = ctx.find_root()
    config_path = (root.obj or {}).get("config_path")
    settings = load_settings(config_path, overrides=overrides)
    if settings.source_kind == "packaged":
        NOTES.append(
            f"no config/config.yml in this directory; used the packaged default {settings.source} "
            "(pass --config or set ECOM_CONFIG_PATH to choose another)"
        )
    return settings


def _flag(param: click.Parameter) -> str:
    return max(param.opts, key=len) if param.opts else str(param.name)


def date_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback: a date flag must be exactly YYYY-MM-DD and a real date (exit 2 before anything runs)."""
    return None if value is None else ids.date(value, _flag(param)).isoformat()


def run_id_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback: a --run-id must be a valid run id (exit 2 before anything runs)."""
    return None if value is None else ids.run_id(value, _flag(param))


def output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback: an output file path must not be empty, hold control characters or name a directory."""
    return None if value is None else ids.user_path(value, _flag(param))


def output_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback: an output directory must not be empty, hold control characters or be the filesystem root."""
    return None if value is None else ids.user_path(value, _flag(param), kind="directory")


def env_option(f: Callable) -> Callable:
    return click.option(
        "--env",
        "environment",
        type=click.Choice(["local", "dev", "prod"]),
        default=None,
        help="Environment (default: PIPELINE_ENV, then config). A FAIL exits 1 in prod.",
    )(f)


def enforce_option(f: Callable) -> Callable:
    return click.option(
        "--enforce",
        "--enforce-quality",
        "enforce",
        is_flag=True,
        default=False,
        help="Exit 1 on FAIL in any environment (blocks the pipeline).",
    )(f)


def report_option(default_help: str) -> Callable:
    def deco(f: Callable) -> Callable:
        return click.option(
            "--output-report",
            "output_report",
            default=None,
            callback=output_file,
            help=f"Markdown report path (default: {default_help}).",
        )(f)

    return deco


def run_id_option(f: Callable) -> Callable:
    return click.option(
        "--run-id", default=None, callback=run_id_value, help="Run id (default: RUN_ID, else a UTC timestamp)."
    )(f)


def echo_step(name: str, message: str, ok: bool = True) -> None:
    """The one-line summary a step prints when it ends."""
    mark = click.style("ok", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {name}: {message}")


def passthrough(f: Callable) -> Callable:
    """Keep the wrapped command's return value as its exit code."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        rc = f(*args, **kwargs)
        if rc:
            raise SystemExit(rc)

    return wrapper
