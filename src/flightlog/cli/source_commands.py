"""``flightlog source add|list|remove`` (webhook sources) and ``flightlog blob get``."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from flightlog.cli.context import (
    console,
    err_console,
    fail,
    open_ledger,
    open_local,
    print_json,
    reported_errors,
    state_of,
)
from flightlog.errors import InputError

if TYPE_CHECKING:
    from flightlog.sources.webhook import WebhookSource

PUBLIC_URL_ENV = "FLIGHTLOG_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
MAX_SECRET = 256
MIN_SECRET = 16

source_app = typer.Typer(
    help="Forge webhook sources (GitHub, GitLab): their secrets and URLs.", no_args_is_help=True
)
blob_app = typer.Typer(help="The content-addressed blob store.", no_args_is_help=True)


def _forge(name: str) -> str:
    forge = name.strip().lower()
    forges = _forges()
    if forge not in forges:
        raise fail(f"unknown forge {name!r}: use {' or '.join(forges)}", code=2)
    return forge


def _check_secret(secret: str) -> str:
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise InputError("the secret must be printable text without spaces")
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InputError(f"the secret must be {MIN_SECRET} to {MAX_SECRET} characters long")
    return secret


def _forges() -> dict[str, WebhookSource]:
    """The forges the source registry knows, by name (imported on use: start-up cost)."""
    from flightlog.sources import webhook_sources

    return {source.name: source for source in webhook_sources()}


@source_app.command("add")
def source_add(
    ctx: typer.Context,
    forge: str = typer.Argument(..., help="github or gitlab."),
    secret: str | None = typer.Option(
        None,
        "--secret",
        help="Use this secret (e.g. a GitLab signing token whsec_…) instead of a new one.",
        show_default=False,
    ),
    url: str | None = typer.Option(
        None,
        "--url",
        envvar=PUBLIC_URL_ENV,
        help="The server's public base URL the forge will call.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the set-up as JSON."),
) -> None:
    """Create a webhook source; print its URL, its secret (once) and the events to tick."""
    name = _forge(forge)
    with reported_errors():
        chosen = _check_secret(secret) if secret is not None else secrets.token_urlsafe(32)
        with open_local(ctx) as service:
            row = service.webhook_sources.add(name, chosen)
    base = (url or state_of(ctx).server or DEFAULT_PUBLIC_URL).rstrip("/")
    hook_url = f"{base}/webhooks/{name}"
    events = list(_forges()[name].events_to_tick)
    if as_json:
        print_json(
            {
                "forge": name,
                "url": hook_url,
                "secret": chosen,
                "events": events,
                "created_at": row.created_at,
            }
        )
        return
    for line in _forges()[name].setup_text(hook_url, chosen):
        typer.echo(line)
    err_console.print(
        f"The {name} secret is shown this once; store it in the forge's webhook settings now.",
        highlight=False,
    )


@source_app.command("list")
def source_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the sources as JSON."),
) -> None:
    """List the configured webhook sources (never their secrets)."""
    with reported_errors(), open_local(ctx) as service:
        rows = service.webhook_sources.list()
    if as_json:
        print_json(
            [
                {"forge": r.forge, "path": f"/webhooks/{r.forge}", "created_at": r.created_at}
                for r in rows
            ]
        )
        return
    from rich.table import Table

    table = Table("forge", "path", "created")
    for r in rows:
        table.add_row(r.forge, f"/webhooks/{r.forge}", r.created_at)
    console.print(table)


@source_app.command("remove")
def source_remove(
    ctx: typer.Context,
    forge: str = typer.Argument(..., help="github or gitlab."),
) -> None:
    """Remove a webhook source; its deliveries are refused (401) from then on."""
    name = _forge(forge)
    with reported_errors(), open_local(ctx) as service:
        service.webhook_sources.remove(name)
    typer.echo(f"Removed the {name} source; servers refuse its deliveries within seconds.")


@blob_app.command("get")
def blob_get(
    ctx: typer.Context,
    sha256: str = typer.Argument(..., help="The blob's SHA-256 (64 hex digits)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the bytes to FILE instead of standard output."
    ),
) -> None:
    """Print (or write to a file) the exact bytes stored under SHA256."""
    from flightlog.store.blobs import check_digest

    with reported_errors():
        digest = check_digest(sha256.strip().lower())
        with open_ledger(ctx) as ledger:
            data = ledger.blob(digest)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    err_console.print(f"Wrote {len(data):,} bytes to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``source`` and ``blob`` groups to the root app."""
    app.add_typer(source_app, name="source")
    app.add_typer(blob_app, name="blob")
