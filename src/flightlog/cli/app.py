"""The ``flightlog`` command: the root Typer app and its global options."""

from __future__ import annotations

import typer

from flightlog import __version__
from flightlog.cli import (
    ledger_commands,
    lineage_commands,
    record_commands,
    server_commands,
    source_commands,
    trust_commands,
)
from flightlog.cli.context import CliState

app = typer.Typer(
    name="flightlog",
    help="The tamper-evident audit trail for continuous deployment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain Click help: Rich-formatted help loads a Markdown parser, a third of the
    # start-up time of `flightlog --help`.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flightlog {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="FLIGHTLOG_SERVER",
        help="Talk to this Flightlog server instead of the local store.",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="FLIGHTLOG_TOKEN",
        help="API token for --server.",
        show_default=False,
    ),
    version: bool = typer.Option(  # noqa: ARG001 - handled eagerly by its callback
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Record, query and prove the history of your deployments."""
    ctx.obj = CliState(server=server, token=token)


ledger_commands.register(app)
record_commands.register(ledger_commands.record_app)
trust_commands.register(app)
server_commands.register(app)
source_commands.register(app)
lineage_commands.register(app)


def main() -> None:
    """Entry point of the ``flightlog`` console script."""
    app()
