"""The one command line: `exness up | server | engine | dbprocessor | poller | migrate`.

Each service runs alone against the configured REDIS_URL / DATABASE_URL (that is how
operators run them); `exness up` runs all four, starting embedded stores where no URL is
configured.
"""

from __future__ import annotations

import importlib

import typer

from exness.log import configure_logging
from exness.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    help="exness-py: a leveraged CFD trading platform. `exness up` runs all of it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Settings come from the environment; see README, "Configuration"."""


def load_settings(service: str) -> Settings:
    try:
        settings = get_settings()
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    configure_logging(service, settings.log_level, settings.log_format)
    return settings


def run_service(name: str) -> None:
    settings = load_settings(name)
    module = importlib.import_module(f"exness.services.{name}")
    try:
        module.main(settings)
    except SettingsError as error:  # a store URL the service needs is not set
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@app.command()
def up() -> None:
    """Run the whole platform: embedded stores where unset, migrations, the four services."""
    settings = load_settings("up")
    from exness.services.up import main as run_up

    raise typer.Exit(run_up(settings))


@app.command()
def server() -> None:
    """The HTTP API (SPEC §4) on PORT."""
    run_service("server")


@app.command()
def engine() -> None:
    """The trading engine: the single writer of balances, positions and prices."""
    run_service("engine")


@app.command()
def dbprocessor() -> None:
    """Writes the engine's DB operations and snapshots to PostgreSQL, in batches."""
    run_service("dbprocessor")


@app.command()
def poller() -> None:
    """Backpack bookTicker (or PRICE_FEED=sim) into price_stream."""
    run_service("poller")


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent) to DATABASE_URL and SNAPSHOT_URL."""
    settings = load_settings("migrate")
    if not settings.database_url:
        typer.echo("DATABASE_URL must be set to migrate", err=True)
        raise typer.Exit(2)
    import asyncio

    from exness.adapters.db.migrate import run_migrations

    asyncio.run(run_migrations(settings.database_url, settings.snapshot_url))
    typer.echo("migrations applied")


@app.command()
def reconcile() -> None:
    """Compare the main database with the engine's state (read-only); exit 1 on divergence.

    Run it when the platform is quiet: a trade in flight shows as a passing difference."""
    settings = load_settings("reconcile")
    try:
        stores = settings.stores()
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    import asyncio

    from exness.services.reconcile import reconcile as run_reconcile

    report = asyncio.run(run_reconcile(settings, stores))
    typer.echo(report.summary())
    raise typer.Exit(0 if report.ok else 1)


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets hidden) and exit."""
    settings = load_settings("settings")
    for name, value in settings.model_dump().items():
        typer.echo(f"{name.upper()}={'' if value is None else value}")


def main() -> None:
    app(prog_name="exness")


if __name__ == "__main__":
    main()
