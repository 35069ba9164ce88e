"""Commands of the server side: ``serve`` and ``token create|list|revoke``."""

from __future__ import annotations

import dataclasses
import os

import typer
import uvicorn
from rich.table import Table

from flightlog.auth.tokens import (
    SCOPES,
    create_token,
    ensure_first_admin,
    list_tokens,
    revoke_token,
)
from flightlog.cli.context import (
    console,
    err_console,
    fail,
    open_local,
    print_json,
    reported_errors,
)
from flightlog.config import DEFAULT_ORIGIN, Settings
from flightlog.server.app import CHECKPOINT_INTERVAL_ENV, create_app
from flightlog.server.body import HTTP_LIMITS
from flightlog.server.logging import uvicorn_log_config
from flightlog.service import Flightlog
from flightlog.store.engine import parse_database_url

token_app = typer.Typer(help="Manage API tokens (stored hashed; shown once).", no_args_is_help=True)


def is_sqlite_url(url: str) -> bool:
    """Whether a database URL names an SQLite store."""
    return parse_database_url(url).get_backend_name() == "sqlite"


def server_url(host: str, port: int) -> str:
    """The URL clients use to reach ``host``:``port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (PostgreSQL only)."),
    checkpoint_interval: float = typer.Option(
        60.0, "--checkpoint-interval", min=0.1, help="Seconds between automatic checkpoints."
    ),
    public_metrics: bool = typer.Option(
        False, "--public-metrics", help="Serve /metrics without a token (default: read scope)."
    ),
) -> None:
    """Run the HTTP API on the store named by FLIGHTLOG_DATABASE_URL."""
    settings = Settings.from_env()
    if public_metrics:
        settings = dataclasses.replace(settings, public_metrics=True)
        os.environ["FLIGHTLOG_PUBLIC_METRICS"] = "1"
    with reported_errors():
        sqlite = is_sqlite_url(settings.database_url)
    if workers > 1 and sqlite:
        raise fail(
            "--workers > 1 needs PostgreSQL: an SQLite file has one writer. Set "
            "FLIGHTLOG_DATABASE_URL=postgresql+psycopg://… or run with --workers 1.",
            code=2,
        )
    # Migrate, load the key and create the first admin token once, before any worker
    # starts, so workers never race on them.
    with reported_errors():
        service = Flightlog.open(settings)
        try:
            service.check_key()
            created = ensure_first_admin(service.engine, settings.admin_token_path)
        finally:
            service.close()
    # Plain echo: a URL or path wrapped at the terminal width cannot be copied.
    typer.echo(f"Flightlog serving on {server_url(host, port)}")
    if settings.origin == DEFAULT_ORIGIN:
        typer.echo(
            f"warning: the log uses the default origin {DEFAULT_ORIGIN}; set FLIGHTLOG_ORIGIN "
            "to a name of your own so clients can tell this log from others",
            err=True,
        )
    token_path = settings.admin_token_path
    if created:
        typer.echo(f"First admin token written to {token_path} (mode 0600)")
    elif token_path.exists():
        typer.echo(f"Admin token file: {token_path}")
    if workers == 1:
        uvicorn.run(
            create_app(settings, checkpoint_interval=checkpoint_interval),
            host=host,
            port=port,
            access_log=False,
            log_config=uvicorn_log_config(),
            **HTTP_LIMITS,
        )
        return
    os.environ[CHECKPOINT_INTERVAL_ENV] = str(checkpoint_interval)
    uvicorn.run(
        "flightlog.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=uvicorn_log_config(),
        **HTTP_LIMITS,
    )


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="A unique name for the token."),
    scopes: list[str] = typer.Option(
        ..., "--scope", help=f"Scope to grant ({', '.join(SCOPES)}); repeatable."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    with reported_errors(), open_local(ctx) as service:
        secret = create_token(service.engine, name, scopes)
        info = next(t for t in list_tokens(service.engine) if t.name == name.strip())
    if as_json:
        print_json({"token": secret, "name": info.name, "scopes": list(info.scopes)})
        return
    typer.echo(secret)
    err_console.print(
        f"Token {info.name!r} ({' '.join(info.scopes)}): store it now; it is not shown again.",
        highlight=False,
    )


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """List tokens (names, scopes, dates; never secrets)."""
    with reported_errors(), open_local(ctx) as service:
        infos = list_tokens(service.engine)
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "scopes": list(t.scopes),
                    "created_at": t.created_at,
                    "revoked_at": t.revoked_at,
                }
                for t in infos
            ]
        )
        return
    table = Table("name", "scopes", "created", "revoked")
    for t in infos:
        table.add_row(t.name, " ".join(t.scopes), t.created_at, t.revoked_at or "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the token to revoke."),
) -> None:
    """Revoke a token; servers stop accepting it within a few seconds."""
    with reported_errors(), open_local(ctx) as service:
        info = revoke_token(service.engine, name)
    typer.echo(f"Token {info.name!r} revoked at {info.revoked_at}")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``token`` group to the root app."""
    app.command("serve")(serve)
    app.add_typer(token_app, name="token")
