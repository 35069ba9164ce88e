"""Commands that write and read events: validate, record, log, show, erase."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from flightlog.api import EventFilter, append_result_to_wire
from flightlog.cli.context import (
    console,
    current_actor,
    err_console,
    fail,
    line,
    open_ledger,
    open_local,
    plain,
    print_json,
    reported_errors,
    styled,
)
from flightlog.errors import FlightlogError, InputError, InputTooLarge

if TYPE_CHECKING:
    from flightlog.api import Entry

MAX_FILE_BYTES = 256 * 1024 * 1024

record_app = typer.Typer(
    help="Record evidence in the ledger.", no_args_is_help=True, rich_markup_mode=None
)


def _read_input(path: str) -> tuple[bytes, str]:
    """The bytes of FILE, or of standard input for ``-``; refuse oversized input."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        name = "<stdin>"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{path}: no such file")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise InputTooLarge(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
        data = p.read_bytes()
        name = path
    if len(data) > MAX_FILE_BYTES:
        raise InputTooLarge(f"{name}: larger than {MAX_FILE_BYTES:,} bytes")
    return data, name


@record_app.command("event")
def record_event(
    ctx: typer.Context,
    file: str = typer.Argument(
        ..., metavar="FILE|-", help="One JSON event, a JSON array, or JSON Lines."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Record CDEvents; prints the ledger index of each.

    All or nothing: one invalid event records none. (Through --server, uploads over
    10,000 events go as several batches, each all or nothing; re-sending is idempotent.)
    """
    with reported_errors():
        data, name = _read_input(file)
    with reported_errors(), open_ledger(ctx, write=True) as ledger:
        results = ledger.record_bytes(data, name=name)
    if as_json:
        print_json([append_result_to_wire(r) for r in results])
        return
    # Plain echo: a pipeline step records one event, and Rich would add to its start-up.
    for r in results:
        typer.echo(f"{r.index} (duplicate: already recorded)" if r.duplicate else str(r.index))


def validate(
    files: list[Path] = typer.Argument(..., help="Event files (JSON, JSON array or JSON Lines)."),
) -> None:
    """Check events against their schemas and size limit without recording them."""
    from flightlog.service import parse_and_prepare

    bad = 0
    for path in files:
        try:
            data, name = _read_input(str(path))
            docs = parse_and_prepare(data, name=name)
        except FlightlogError as exc:
            bad += 1
            console.print(line(styled("✗", "red"), " ", str(exc)), soft_wrap=True)
            continue
        console.print(
            line(
                styled("✓", "green"),
                " ",
                f"{path}: {len(docs)} valid event{'s' if len(docs) != 1 else ''}",
            )
        )
    if bad:
        raise fail(f"{bad} of {len(files)} file{'s' if len(files) != 1 else ''} invalid")


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{option}: {value!r} is not an ISO 8601 / RFC 3339 time") from None
    if moment.tzinfo is None:
        raise fail(f"{option}: {value!r} has no time zone; add Z or +HH:MM")
    return moment


def log(
    ctx: typer.Context,
    type_: str | None = typer.Option(None, "--type", help="Event type, with or without version."),
    service: str | None = typer.Option(None, "--service"),
    env: str | None = typer.Option(None, "--env", help="Environment id."),
    commit: str | None = typer.Option(None, "--commit"),
    artifact: str | None = typer.Option(None, "--artifact"),
    ticket: str | None = typer.Option(None, "--ticket"),
    actor: str | None = typer.Option(None, "--actor"),
    since: str | None = typer.Option(None, "--since", help="Event time at or after (RFC 3339)."),
    until: str | None = typer.Option(None, "--until", help="Event time before (RFC 3339)."),
    after: int | None = typer.Option(None, "--after", help="Only entries with a greater index."),
    limit: int = typer.Option(100, "--limit", min=1, max=10000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List recorded events, oldest first, filtered by their join keys."""
    flt = EventFilter(
        type=type_,
        service=service,
        environment=env,
        commit=commit,
        artifact=artifact,
        ticket=ticket,
        actor=actor,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    with reported_errors(), open_ledger(ctx) as ledger:
        entries = ledger.log(flt, after=after, limit=limit)
    if as_json:
        print_json([e.to_wire() for e in entries])
        return
    from rich.table import Table

    table = Table(
        "index",
        "time",
        "type",
        "subject",
        "refs",
        title=f"{len(entries)} event{'' if len(entries) == 1 else 's'}",
    )
    for e in entries:
        refs = ", ".join(f"{k}={v}" for k, v in e.refs[:4]) + (" …" if len(e.refs) > 4 else "")
        table.add_row(
            str(e.index), plain(e.leaf.time), plain(e.leaf.type), plain(_subject(e)), plain(refs)
        )
    console.print(table)


def _subject(entry: Entry) -> object:
    """The subject id of an entry's event, or ``(erased)``."""
    if entry.event is None:
        return "(erased)"
    subject = entry.event.get("subject")
    return subject.get("id", "(erased)") if isinstance(subject, dict) else "(erased)"


def show(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one entry: the event as received, its refs, leaf and leaf hash."""
    with reported_errors(), open_ledger(ctx) as ledger:
        entry = ledger.show(index)
    if as_json:
        print_json(entry.to_wire())
        return
    _render_entry(entry)


def _render_entry(entry: Entry) -> None:
    from rich.table import Table

    doc = entry.to_wire()
    table = Table(show_header=False, title=f"entry {entry.index}")
    for key, value in doc["leaf"].items():
        table.add_row(key, plain(value))
    table.add_row("leaf_hash", plain(doc["leaf_hash"]))
    table.add_row("refs", "\n".join(plain(f"{k}={v}") for k, v in entry.refs) or "-")
    table.add_row("payload", styled("erased", "yellow") if entry.erased else "present")
    console.print(table)
    for problem in entry.problems:
        err_console.print(line("warning: ", plain(problem)))
    if entry.event is not None:
        # JSON string escapes already render control characters as \u00XX; DEL, C1
        # and bidirectional controls are escaped on top.
        console.print(
            plain(json.dumps(entry.event, indent=2, ensure_ascii=False), keep_newlines=True)
        )


def erase(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index whose payload to erase."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the erasure event)."),
    actor: str | None = typer.Option(
        None, "--actor", help="Who erases (default: $FLIGHTLOG_ACTOR or $USER)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Erase a stored payload; an erasure event records who, what and why. Proofs still verify."""
    with reported_errors(), open_local(ctx, command="erase") as fl:
        result = fl.erase(index, reason=reason, actor=actor or current_actor())
    if as_json:
        print_json({"erased": index, "erasure_index": result.index})
        return
    console.print(f"erased the payload of entry {index}; erasure recorded at index {result.index}")


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(record_app, name="record")
    app.command()(validate)
    app.command()(log)
    app.command()(show)
    app.command()(erase)
