"""The ``flightlog`` command: the root Typer app and its global options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from typer import core as typer_core
from typer._coercion import RuntimeParam, TypeDescriptor
from typer.core import TyperArgument, TyperOption

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
from flightlog.cli.pipeline_commands import register as register_pipeline_commands

if TYPE_CHECKING:
    from typer._click import Context
    from typer.core import _TyperParameter

_METAVARS = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float": "NUMBER"}
_METAVARS |= {"float range": "NUMBER", "Path": "PATH", "path": "PATH", "datetime": "TIME"}


def _option_metavar(self: TyperOption, ctx: Context) -> str | None:
    """A flag shows no value; another option its metavar, or TEXT, INTEGER … as click does."""
    if self.is_flag:
        return None
    if self.metavar:
        return self.metavar
    label = self.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[len("list[") : -1]
    return _METAVARS.get(label, f"[{label}]" if "|" in label else label.upper())


def _argument_metavar(self: TyperArgument, ctx: Context) -> str | None:  # noqa: ARG001 - the signature Typer calls
    """An argument's name (FILE…) already says what it takes."""
    return None


# Typer labels every parameter with its Python type (<bool>, <list[Path]>), which reads
# as noise in help pages; show what click shows instead.
setattr(TyperOption, "display_type_rich", _option_metavar)  # noqa: B010 - patching a method
setattr(TyperArgument, "display_type_rich", _argument_metavar)  # noqa: B010 - patching a method

_build_runtime_param: Callable[[TypeDescriptor], RuntimeParam] = getattr(  # noqa: B009
    typer_core, "build_runtime_param"
)  # not exported by typer.core, which calls it by this name


@dataclass(frozen=True)
class _PlainValue(RuntimeParam):
    """Text, flags and whole numbers in range, taken as given without loading pydantic.

    Typer coerces every value through a pydantic TypeAdapter, whose import costs more than
    a question's own work. A ``str`` given as text, a ``bool`` given as a bool, or an
    ``int`` given as digits (or as its default) within its ``min``/``max``, comes out of
    that adapter unchanged (or as ``int(value)``); every other value, and every error
    message, still goes through it.
    """

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        if self.annotation is str and isinstance(value, str):
            return value
        if self.annotation is bool and isinstance(value, bool):
            return value
        if self.annotation is int and not isinstance(value, bool):
            number = value if isinstance(value, int) else _digits(value)
            info = self.parameter_info
            if (
                number is not None
                and (info.min is None or info.min <= number)
                and (info.max is None or number <= info.max)
            ):
                return number
        full = _build_runtime_param(self.descriptor)
        return full._coerce_value(value, param=param, ctx=ctx)


def _digits(value: object) -> int | None:
    """``value`` as a number when it is plain ASCII digits, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    """Text, flags and whole numbers skip pydantic; anything else is Typer's own coercion."""
    info = descriptor.parameter_info
    if (
        descriptor.annotation in (str, int, bool)
        and descriptor.file_annotation is None
        and info.parser is None
        and not info.clamp
    ):
        return _PlainValue(
            parameter_info=info, annotation=descriptor.annotation, descriptor=descriptor
        )
    return _build_runtime_param(descriptor)


setattr(typer_core, "build_runtime_param", _runtime_param)  # noqa: B010 - the name Typer calls

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
register_pipeline_commands(app)
trust_commands.register(app)
server_commands.register(app)
source_commands.register(app)
lineage_commands.register(app)


def main() -> None:
    """Entry point of the ``flightlog`` console script."""
    app()
