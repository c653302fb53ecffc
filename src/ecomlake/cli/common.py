"""Shared CLI plumbing: settings from the root --config, common flags, one-line output."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ecomlake.config import Settings, load_settings


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from the root `--config` (or ECOM_CONFIG_PATH), the environment, then `overrides`.

    `overrides` are dotted keys, e.g. ``{"paths.bronze_base_path": "data/bronze"}``; None is ignored.
    """
    root = ctx.find_root()
    config_path = (root.obj or {}).get("config_path")
    return load_settings(config_path, overrides=overrides)


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
            type=click.Path(dir_okay=False),
            default=None,
            help=f"Markdown report path (default: {default_help}).",
        )(f)

    return deco


def run_id_option(f: Callable) -> Callable:
    return click.option("--run-id", default=None, help="Run id (default: RUN_ID, else a UTC timestamp).")(f)


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
