"""What every CLI command shares: which ledger to use, how to print, how to fail.

Everything printed is plain text: values from events, tokens or servers are never read
as Rich markup, and control characters in them are shown escaped, so no event can
crash the CLI or send escape sequences to the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import typer

from flightlog.config import Settings
from flightlog.errors import FlightlogError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from flightlog.api import Ledger
    from flightlog.service import Flightlog


class _LazyConsole:
    """A Rich console built on first use: commands that print nothing never load Rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            # soft_wrap: a line longer than the screen is left whole (piped output is
            # never wrapped).
            self._console = Console(
                stderr=self._stderr, markup=False, emoji=False, highlight=False, soft_wrap=True
            )
        return getattr(self._console, name)


console = cast("Console", _LazyConsole(stderr=False))
err_console = cast("Console", _LazyConsole(stderr=True))

# C0 controls, DEL and C1 controls, plus the bidirectional overrides that reorder text.
_UNSAFE = {
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}
_ESCAPES = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def plain(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text with every control character escaped (``\\x1b``, ``\\u202e``)."""
    text = str(value)
    if keep_newlines:
        return "\n".join(line.translate(_ESCAPES) for line in text.split("\n"))
    return text.translate(_ESCAPES)


def styled(text: str, style: str) -> Text:
    """A fixed word of ours in a style (never a value from outside)."""
    from rich.text import Text

    return Text(text, style=style)


def line(*parts: str | Text) -> Text:
    """One line from styled words and plain values (values are escaped)."""
    from rich.text import Text

    out = Text()
    for part in parts:
        out.append(part if isinstance(part, Text) else plain(part))
    return out


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
def open_ledger(ctx: typer.Context, *, write: bool = False) -> Iterator[Ledger]:
    """The ledger behind ``--server`` / ``FLIGHTLOG_SERVER``, or the local store.

    A local store opened to read (``write=False``) is neither migrated nor given a key.
    """
    st = state_of(ctx)
    if st.server:
        from flightlog.client.http import RemoteFlightlog

        remote = RemoteFlightlog(st.server, st.token)
        try:
            yield remote
        finally:
            remote.close()
        return
    with open_local(ctx, write=write) as local:
        yield local


@contextmanager
def open_local(
    ctx: typer.Context, *, write: bool = True, command: str | None = None
) -> Iterator[Flightlog]:
    """The local store only; with ``command`` given, refuse when ``--server`` is set."""
    st = state_of(ctx)
    if command is not None and st.server:
        raise fail(
            f"`flightlog {command}` works on the local store only and cannot go through "
            f"--server; run it where the store is (unset FLIGHTLOG_SERVER to use the local store)"
        )
    from flightlog.service import Flightlog

    settings = st.settings()
    local = Flightlog.open(settings) if write else Flightlog.open_for_reading(settings)
    try:
        yield local
    finally:
        local.close()


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar with a count and an ETA on a terminal; yields ``step(done, total)``."""
    if not sys.stderr.isatty():
        # Nothing to draw: a pipeline step does not pay for loading Rich.
        yield lambda _done, _total: None
        return
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
            table.add_row(*(Text(plain(cell, keep_newlines=True)) for cell in row))
        console.print(table)
        return
    for row in rows:
        sys.stdout.write("\t".join(plain(cell.replace("\n", ", ")) for cell in row) + "\n")


def print_tree(tree: Any) -> None:
    """A Rich tree; off a terminal drawn without a width, so no value is cut."""
    if console.is_terminal:
        console.print(tree)
        return
    from rich.console import Console

    wide = Console(
        file=sys.stdout,
        width=1_000_000,
        markup=False,
        emoji=False,
        highlight=False,
        color_system=None,
    )
    for text_line in wide.render_lines(tree, pad=False):
        sys.stdout.write("".join(segment.text for segment in text_line).rstrip() + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line naming the problem to stderr and return the exit to raise."""
    err_console.print(line(styled("error:", "bold red"), " ", message), soft_wrap=True)
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
    return os.environ.get("FLIGHTLOG_ACTOR") or os.environ.get("USER") or ""
