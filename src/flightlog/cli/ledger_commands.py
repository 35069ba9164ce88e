"""Commands that write and read events: validate, record, log, show, erase."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from flightlog.cli.context import (
    console,
    current_actor,
    fail,
    open_backend,
    open_local,
    print_json,
    progress_bar,
    reported_errors,
)
from flightlog.errors import FlightlogError, InputError, InputTooLarge, PartiallyRecorded
from flightlog.events.canonical import parse_events
from flightlog.events.validation import validate_event
from flightlog.service import EventFilter

MAX_FILE_BYTES = 256 * 1024 * 1024

record_app = typer.Typer(help="Record evidence in the ledger.", no_args_is_help=True)


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

    All or nothing: one invalid event records none. Through --server, the whole input is
    validated before anything is sent; uploads over 10,000 events then go as several
    batches, and should the server refuse a later one, the indices already recorded are
    printed before the error (re-sending is idempotent).
    """
    with reported_errors():
        data, name = _read_input(file)
    partial: PartiallyRecorded | None = None
    with reported_errors(), open_backend(ctx) as backend:
        from flightlog.service import Flightlog

        if isinstance(backend, Flightlog):
            results = [
                {"index": r.index, "leaf_hash": _b64(r.leaf_hash), "duplicate": r.duplicate}
                for r in backend.record(backend.parse_and_validate(data, name=name))
            ]
        else:
            with progress_bar("recording") as step:
                try:
                    results = backend.record(data, name=name, progress=step)
                except PartiallyRecorded as exc:
                    partial, results = exc, [dict(r) for r in exc.results]
    if as_json:
        print_json(results)
    else:
        for r in results:
            note = " (duplicate: already recorded)" if r["duplicate"] else ""
            console.print(f"{r['index']}{note}", highlight=False)
    if partial is not None:
        raise fail(
            f"{partial.cause}; the {len(results)} events before it were recorded "
            "(indices printed above), the rest were not"
        )


def _b64(data: bytes) -> str:
    from flightlog.service import b64

    return b64(data)


def validate(
    files: list[Path] = typer.Argument(..., help="Event files (JSON, JSON array or JSON Lines)."),
) -> None:
    """Check events against their schemas without recording them."""
    bad = 0
    for path in files:
        try:
            data, name = _read_input(str(path))
            docs = parse_events(data, name=name)
            for doc in docs:
                validate_event(doc.value, position=doc.position)
        except FlightlogError as exc:
            bad += 1
            console.print(f"[red]✗[/] {exc}", highlight=False, soft_wrap=True)
            continue
        console.print(
            f"[green]✓[/] {path}: {len(docs)} valid event{'s' if len(docs) != 1 else ''}",
            highlight=False,
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
    with reported_errors(), open_backend(ctx) as backend:
        docs = backend.log(flt, after=after, limit=limit)
    if as_json:
        print_json(docs)
        return
    table = Table(
        "index",
        "time",
        "type",
        "subject",
        "refs",
        title=f"{len(docs)} event{'' if len(docs) == 1 else 's'}",
    )
    for d in docs:
        leaf = d["leaf"]
        subject = (
            (d["event"] or {}).get("subject", {}).get("id", "(erased)")
            if d["event"]
            else "(erased)"
        )
        refs = ", ".join(f"{k}={v}" for k, v in d["refs"][:4]) + (
            " …" if len(d["refs"]) > 4 else ""
        )
        table.add_row(str(d["index"]), leaf["time"], leaf["type"], str(subject), refs)
    console.print(table)


def show(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one entry: the event as received, its refs, leaf and leaf hash."""
    with reported_errors(), open_backend(ctx) as backend:
        doc = backend.show(index)
    if as_json:
        print_json(doc)
        return
    _render_entry(doc)


def _render_entry(doc: dict[str, Any]) -> None:
    table = Table(show_header=False, title=f"entry {doc['index']}")
    for key, value in doc["leaf"].items():
        table.add_row(key, str(value))
    table.add_row("leaf_hash", str(doc["leaf_hash"]))
    table.add_row("refs", "\n".join(f"{k}={v}" for k, v in doc["refs"]) or "-")
    table.add_row("payload", "[yellow]erased[/]" if doc["erased"] else "present")
    console.print(table)
    if doc["event"] is not None:
        console.print_json(data=doc["event"])


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
    with reported_errors(), open_local(ctx) as fl:
        result = fl.erase(index, reason=reason, actor=actor or current_actor())
    if as_json:
        print_json({"erased": index, "erasure_index": result.index})
        return
    console.print(
        f"erased the payload of entry {index}; erasure recorded at index {result.index}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(record_app, name="record")
    app.command()(validate)
    app.command()(log)
    app.command()(show)
    app.command()(erase)
