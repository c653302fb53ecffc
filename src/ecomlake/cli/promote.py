"""`ecomlake promote dims|silver|enriched --run-id R`: publish a staging-mode run after its gate."""

from __future__ import annotations

import click

from ecomlake.cli.common import echo_step, run_id_value, settings_from


@click.group(name="promote", help="Publish a staging-mode run (<LAYER>_PUBLISH_MODE=staging) after its gate passed.")
def group() -> None:
    pass


def promote_and_echo(ctx: click.Context, layer: str, run_id: str) -> None:
    from ecomlake.promote import promote

    result = promote(settings_from(ctx), layer, run_id)
    echo_step(f"{layer} promote", result.message)


def _command(layer: str, env_var: str) -> click.Command:
    @click.command(name=layer)
    @click.option("--run-id", required=True, callback=run_id_value, help="The staging-mode run to publish.")
    @click.pass_context
    def cmd(ctx: click.Context, run_id: str) -> None:
        promote_and_echo(ctx, layer, run_id)

    cmd.help = (
        f"Publish the {layer} partitions run R staged ({env_var}=staging), under the {layer} lease. "
        "Promoting a run twice is a no-op that says so."
    )
    return cmd


for _layer, _var in (
    ("dims", "DIMS_PUBLISH_MODE"),
    ("silver", "SILVER_PUBLISH_MODE"),
    ("enriched", "ENRICHED_PUBLISH_MODE"),
):
    group.add_command(_command(_layer, _var))
