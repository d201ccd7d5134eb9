"""The one command line: `exness up | server | engine | dbprocessor | poller | migrate`."""

from __future__ import annotations

import sys

import typer

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


def load_settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets hidden) and exit."""
    settings = load_settings()
    for name, value in settings.model_dump().items():
        typer.echo(f"{name.upper()}={'' if value is None else value}")


def main() -> None:
    app(prog_name="exness")


if __name__ == "__main__":
    sys.exit(main())
