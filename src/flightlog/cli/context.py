"""What every CLI command shares: where the ledger is, and how to report errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from flightlog.config import Settings
from flightlog.errors import FlightlogError

if TYPE_CHECKING:
    from flightlog.cli.remote import RemoteFlightlog
    from flightlog.service import Flightlog

# soft_wrap: a line longer than the screen is left whole (piped output is never wrapped).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Global options: a server to talk to, or (by default) the local store."""

    server: str | None = None
    token: str | None = None

    def settings(self) -> Settings:
        """Settings of the local store, from the environment."""
        return Settings.from_env()


def state_of(ctx: typer.Context) -> CliState:
    """The :class:`CliState` the root callback stored."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


@contextmanager
def open_backend(ctx: typer.Context) -> Iterator[Flightlog | RemoteFlightlog]:
    """The local ledger, or a remote server when ``--server`` / ``FLIGHTLOG_SERVER`` is set."""
    st = state_of(ctx)
    if st.server:
        from flightlog.cli.remote import RemoteFlightlog

        remote = RemoteFlightlog(st.server, st.token)
        try:
            yield remote
        finally:
            remote.close()
        return
    from flightlog.service import Flightlog

    local = Flightlog.open(st.settings())
    try:
        yield local
    finally:
        local.close()


@contextmanager
def open_local(ctx: typer.Context) -> Iterator[Flightlog]:
    """The local ledger only (commands that need the store itself)."""
    from flightlog.service import Flightlog

    local = Flightlog.open(state_of(ctx).settings())
    try:
        yield local
    finally:
        local.close()


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar with a count and an ETA on a terminal; yields ``step(done, total)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
        # Redraw often so the bar moves in the first second, not only after a chunk.
        refresh_per_second=10,
        speed_estimate_period=5.0,
    ) as bar:
        task = bar.add_task(description, total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield step


def print_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    header: bool = True,
) -> None:
    """A table on a terminal; elsewhere one tab-separated line per row, no value cut."""
    if console.is_terminal:
        from rich.table import Table
        from rich.text import Text

        table = Table(*columns, title=title, show_header=header)
        for column in table.columns:
            column.overflow = "fold"
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
        return
    for row in rows:
        line = "\t".join(cell.replace("\t", " ").replace("\n", ", ") for cell in row)
        sys.stdout.write(line + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line naming the problem to stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn domain errors into one clear line on stderr and exit status 1."""
    try:
        yield
    except FlightlogError as exc:
        raise fail(str(exc)) from None


def print_json(data: Any) -> None:
    """Machine-readable output: compact, stable key order, one document."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def current_actor() -> str:
    """Who runs this command, for records such as erasures."""
    return os.environ.get("FLIGHTLOG_ACTOR") or os.environ.get("USER") or "unknown"
