"""`ecomlake local`: Run layers on the local default paths (the runbook's no-Docker helpers)."""

from __future__ import annotations

import click


@click.group(name="local", help="Run layers on the local default paths (the runbook's no-Docker helpers).")
def group() -> None:
    pass
