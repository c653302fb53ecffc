"""`ecomlake sample`: Sample data: package the demo's Bronze and dims archives."""

from __future__ import annotations

import click

from ecomlake.bronze.gen_sample import DEFAULT_OUTPUT, DEFAULTS
from ecomlake.cli.common import date_value, output_file


@click.group(name="sample", help="Sample data: package the demo's Bronze and dims archives.")
def group() -> None:
    pass


@group.command("package")
@click.option(
    "--start-date",
    callback=date_value,
    default=DEFAULTS["start_date"],
    show_default=True,
    help="First ingest_dt of the sample.",
)
@click.option("--days", type=click.IntRange(min=1), default=DEFAULTS["days"], show_default=True, help="Number of days.")
@click.option(
    "--orders-per-day",
    type=click.IntRange(min=1),
    default=DEFAULTS["orders_per_day"],
    show_default=True,
    help="Average orders per day.",
)
@click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True, help="Random seed.")
@click.option(
    "--defect-rate",
    type=click.FloatRange(0, 0.5),
    default=DEFAULTS["defect_rate"],
    show_default=True,
    help="Fraction of extra dirty rows, so the demo's quarantine has work to do.",
)
@click.option(
    "--output",
    callback=output_file,
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Zip file to write (entries under bronze/).",
)
def package_cmd(start_date, days, orders_per_day, seed, defect_rate, output):
    """Build the demo's Bronze sample archive: a small generated lake, zipped under bronze/.

    The archive is reproducible byte for byte. Rebuild the committed samples/bronze_samples.zip with:

    \b
      ecomlake sample package

    and unpack it for the demo with `unzip samples/bronze_samples.zip -d samples/`
    (which gives samples/bronze/<table>/ingest_dt=YYYY-MM-DD/).
    """
    from ecomlake.bronze.gen_sample import package_bronze

    result = package_bronze(
        output,
        start_date=start_date,
        days=days,
        orders_per_day=orders_per_day,
        seed=seed,
        defect_rate=defect_rate,
        progress=True,
    )
    click.echo(
        f"sample package: wrote {result.output} ({result.entries} files, "
        f"{result.size_bytes / 1e6:.2f} MB, {result.generated.total_rows:,} rows)"
    )


@group.command("dims")
@click.option(
    "--bronze-zip",
    callback=output_file,
    default="samples/bronze_samples.zip",
    show_default=True,
    help="Bronze sample archive to build from.",
)
@click.option("--date", "date", callback=date_value, default="2023-01-01", show_default=True, help="Demo date.")
@click.option(
    "--output",
    callback=output_file,
    default="samples/dims_samples.zip",
    show_default=True,
    help="Archive to write (entries under dims/ and silver/base/).",
)
@click.pass_context
def dims_cmd(ctx, bronze_zip, date, output):
    """Build the demo's pre-cooked history: dims snapshots up to the date and the Silver days before it.

    It runs the real pipeline (`dim run` for every sample day up to DATE, Base Silver for the days
    before it) in a scratch lake and zips the result, so `ecomlake local demo-fast` only processes
    DATE. Rebuild the committed archive with:

    \b
      ecomlake sample dims
    """
    from ecomlake.cli.common import settings_from
    from ecomlake.demo import build_history_sample

    settings = settings_from(ctx)
    path, n = build_history_sample(settings, bronze_zip=bronze_zip, output=output, demo_date=date, echo=click.echo)
    click.echo(f"sample dims: wrote {path} ({n} files)")
