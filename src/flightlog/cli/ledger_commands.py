"""Commands that write and read events: validate, record, log, show, erase."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    print_rows,
    progress_bar,
    reported_errors,
    styled,
)
from flightlog.errors import FlightlogError, InputError, InputTooLarge, PartiallyRecorded

if TYPE_CHECKING:
    from flightlog.api import AppendResult, Entry

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

    All or nothing: one invalid event records none. Through --server, uploads over 10,000
    events go as several batches, validated whole before anything is sent; should the
    server refuse a later batch, the indices already recorded are printed before the
    error (re-sending is idempotent).
    """
    from flightlog.events.canonical import parse_events
    from flightlog.events.refs import convention_warnings

    with reported_errors():
        data, name = _read_input(file)
    partial: PartiallyRecorded | None = None
    results: Sequence[AppendResult]
    with (
        reported_errors(),
        open_ledger(ctx, write=True) as ledger,
        progress_bar("recording") as step,
    ):
        _warn(
            w
            for d in parse_events(data, name=name)
            for w in convention_warnings(d.value, position=d.position)
        )
        try:
            results = ledger.record_bytes(data, name=name, progress=step)
        except PartiallyRecorded as exc:
            partial, results = exc, exc.results
    if as_json:
        print_json([append_result_to_wire(r) for r in results])
    else:
        # Plain echo: a pipeline step records one event, and Rich would add to its start-up.
        for r in results:
            typer.echo(f"{r.index} (duplicate: already recorded)" if r.duplicate else str(r.index))
    if partial is not None:
        raise fail(
            f"{partial.cause}; the {len(results)} events before it were recorded "
            "(indices printed above), the rest were not"
        )


def _warn(warnings: Iterable[str]) -> None:
    """Print each warning as one line on stderr."""
    for warning in warnings:
        err_console.print(line("warning: ", warning), soft_wrap=True)


def validate(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE...", help="Event files (JSON, JSON array or JSON Lines)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print [{file, ok, events, error, warnings}] as JSON."
    ),
) -> None:
    """Check events against their schemas and size limit without recording them."""
    from flightlog.events.refs import convention_warnings
    from flightlog.service import parse_and_prepare

    reports: list[dict[str, Any]] = []
    for path in files:
        report: dict[str, Any] = {
            "file": str(path),
            "ok": True,
            "events": 0,
            "error": None,
            "warnings": [],
        }
        try:
            data, name = _read_input(str(path))
            docs = parse_and_prepare(data, name=name)
            report["events"] = len(docs)
            report["warnings"] = [
                w for d in docs for w in convention_warnings(d.event, position=d.position)
            ]
        except FlightlogError as exc:
            report.update(ok=False, error=str(exc))
        reports.append(report)
    bad = sum(not r["ok"] for r in reports)
    if as_json:
        print_json(reports)
    else:
        for r in reports:
            _warn(r["warnings"])
            if r["ok"]:
                n = r["events"]
                text = f"{r['file']}: {n} valid event{'s' if n != 1 else ''}"
                console.print(line(styled("✓", "green"), " ", text))
            else:
                console.print(line(styled("✗", "red"), " ", r["error"]), soft_wrap=True)
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
    type_: str | None = typer.Option(
        None, "--type", help="Event type, with or without version (e.g. service.deployed)."
    ),
    service: str | None = typer.Option(None, "--service", help="Service name."),
    env: str | None = typer.Option(None, "--env", help="Environment id."),
    commit: str | None = typer.Option(None, "--commit", help="Commit SHA."),
    artifact: str | None = typer.Option(
        None, "--artifact", help="Artifact id (package URL or OCI digest)."
    ),
    ticket: str | None = typer.Option(None, "--ticket", help="Ticket key, e.g. PAY-123."),
    actor: str | None = typer.Option(None, "--actor", help="Who acted (author, deployer …)."),
    since: str | None = typer.Option(None, "--since", help="Event time at or after (RFC 3339)."),
    until: str | None = typer.Option(None, "--until", help="Event time before (RFC 3339)."),
    after: int | None = typer.Option(
        None, "--after", help="Only entries with a greater index (the next page, oldest first)."
    ),
    before: int | None = typer.Option(
        None,
        "--before",
        help="Only entries with a smaller index (the next page with --reverse or --last).",
    ),
    limit: int = typer.Option(
        100, "--limit", min=1, max=10000, help="At most this many entries per page."
    ),
    last: int | None = typer.Option(
        None,
        "--last",
        min=1,
        max=10000,
        help="The newest N entries (shown oldest first unless --reverse).",
    ),
    reverse: bool = typer.Option(False, "--reverse", help="Newest first."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {events, next_cursor}, as GET /api/v1/events does."
    ),
) -> None:
    """List recorded events, oldest first, filtered by their join keys.

    Not on a terminal, each entry is one tab-separated line (index, time, type,
    subject, refs) with nothing cut, so the output can be piped to grep.
    """
    newest_first = reverse or last is not None
    if after is not None and newest_first:
        raise fail("--after pages oldest first; with --reverse or --last page with --before", 2)
    if before is not None and not newest_first:
        raise fail("--before pages newest first; add --reverse or --last", 2)
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
    size = last if last is not None else limit
    with reported_errors(), open_ledger(ctx) as ledger:
        entries = ledger.log(
            flt, after=after, before=before, limit=size + 1, newest_first=newest_first
        )
    entries, more = entries[:size], len(entries) > size
    # The cursor is the index of the last entry of the page in paging order, as the API's.
    next_cursor = str(entries[-1].index) if more else None
    if last is not None and not reverse:
        entries.reverse()
    if as_json:
        print_json({"events": [e.to_wire() for e in entries], "next_cursor": next_cursor})
    else:
        print_rows(
            ("index", "time", "type", "subject", "refs"),
            (
                (
                    str(e.index),
                    e.leaf.time,
                    e.leaf.type,
                    str(_subject(e)),
                    ", ".join(f"{k}={v}" for k, v in e.refs),
                )
                for e in entries
            ),
            title=f"{len(entries)} event{'' if len(entries) == 1 else 's'}",
        )
    if next_cursor is not None:
        flag = "--before" if newest_first else "--after"
        err_console.print(f"more entries match: add {flag} {next_cursor} for the next page")


def _subject(entry: Entry) -> object:
    """The subject id of an entry's event, or ``(erased)``."""
    if entry.event is None:
        return "(erased)"
    subject = entry.event.get("subject")
    return subject.get("id", "(erased)") if isinstance(subject, dict) else "(erased)"


def show(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index."),
    as_json: bool = typer.Option(False, "--json", help="Print the entry as JSON."),
) -> None:
    """Show one entry: the event as received, its refs, leaf and leaf hash."""
    with reported_errors(), open_ledger(ctx) as ledger:
        entry = ledger.show(index)
    if as_json:
        print_json(entry.to_wire())
        return
    _render_entry(entry)


def _render_entry(entry: Entry) -> None:
    doc = entry.to_wire()
    rows = [(key, str(value)) for key, value in doc["leaf"].items()]
    rows.append(("leaf_hash", str(doc["leaf_hash"])))
    rows.append(("refs", "\n".join(f"{k}={v}" for k, v in entry.refs) or "-"))
    rows.append(("payload", "erased" if entry.erased else "present"))
    print_rows(("field", "value"), rows, title=f"entry {entry.index}", header=False)
    for problem in entry.problems:
        err_console.print(line("warning: ", plain(problem)))
    if entry.event is not None:
        # JSON string escapes already render control characters as \u00XX; DEL, C1
        # and bidirectional controls are escaped on top.
        text = json.dumps(entry.event, indent=2, ensure_ascii=False)
        if console.is_terminal:
            console.print(plain(text, keep_newlines=True))
        else:
            sys.stdout.write(plain(text, keep_newlines=True) + "\n")


def erase(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index whose payload to erase."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the erasure event)."),
    actor: str | None = typer.Option(
        None, "--actor", help="Who erases (default: $FLIGHTLOG_ACTOR or $USER)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {erased, erasure_index} as JSON."),
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
