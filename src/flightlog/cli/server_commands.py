"""Commands of the server side: ``serve``, ``migrate`` and ``token create|list|revoke``.

The server, the database driver and uvicorn are imported inside the commands that use
them, so ``flightlog --help`` and the pipeline-side commands start fast.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from typing import Any

import typer

from flightlog.auth.tokens import SCOPES
from flightlog.cli.context import (
    err_console,
    fail,
    open_local,
    plain,
    print_json,
    print_rows,
    reported_errors,
)
from flightlog.config import DEFAULT_ORIGIN, Settings

# uvicorn's default backlog: connections wait here until the server accepts them.
LISTEN_BACKLOG = 2048

token_app = typer.Typer(
    help="Manage API tokens (stored hashed; shown once).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def is_in_memory_sqlite(url: str) -> bool:
    """Whether a database URL names an SQLite database that lives in one process only."""
    from flightlog.store.engine import parse_database_url

    parsed = parse_database_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def default_origin_warning(settings: Settings) -> str | None:
    """A warning when the log signs under the default origin, which other logs share."""
    if settings.origin != DEFAULT_ORIGIN:
        return None
    return (
        f"warning: this log signs its checkpoints as the default origin {DEFAULT_ORIGIN!r}; "
        "set FLIGHTLOG_ORIGIN to a name of your own (e.g. audit.example.com/log) so "
        "clients can tell your log from others"
    )


def server_url(host: str, port: int) -> str:
    """The URL clients use to reach ``host``:``port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(
        8080, "--port", min=1, max=65535, help="TCP port (make run takes PORT=)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (they share the database's one writer lock)."
    ),
    checkpoint_interval: float = typer.Option(
        60.0, "--checkpoint-interval", min=0.1, help="Seconds between automatic checkpoints."
    ),
    public_tiles: bool = typer.Option(
        False, "--public-tiles", help="Serve /checkpoint and /tile/… without a token."
    ),
    public_metrics: bool = typer.Option(
        False, "--public-metrics", help="Serve /metrics without a token (default: read scope)."
    ),
    prepare_processes: int = typer.Option(
        0,
        "--prepare-processes",
        min=0,
        help="Processes per worker that validate big batches while the writer appends.",
    ),
) -> None:
    """Run the HTTP API on the store named by FLIGHTLOG_DATABASE_URL."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from flightlog.auth.tokens import ensure_first_admin
    from flightlog.server.app import (
        CHECKPOINT_INTERVAL_ENV,
        PREPARE_PROCESSES_ENV,
        PUBLIC_TILES_ENV,
        create_app,
    )
    from flightlog.server.body import HTTP_LIMITS
    from flightlog.server.logging import uvicorn_log_config
    from flightlog.service import Flightlog

    with reported_errors():
        settings = Settings.from_env()
    if public_metrics:
        settings = dataclasses.replace(settings, public_metrics=True)
        os.environ["FLIGHTLOG_PUBLIC_METRICS"] = "1"
    with reported_errors():
        in_memory = is_in_memory_sqlite(settings.database_url)
    if workers > 1 and in_memory:
        raise fail(
            "--workers > 1 needs a database the workers share: an in-memory SQLite "
            "database lives in one process. Name a file or run with --workers 1.",
            code=2,
        )
    # A port in use fails before the store is touched.
    sock = listen(host, port)
    # Migrate, load the key and create the first admin token once, before any worker
    # starts, so workers never race on them.
    with reported_errors():
        service = Flightlog.open(settings)
        try:
            service.check_key()
            created = ensure_first_admin(service.tokens, settings.admin_token_path)
        finally:
            service.close()
    warning = default_origin_warning(settings)
    if warning is not None:
        typer.echo(warning, err=True)
    # Printed only once the port is ours: a URL shown is a URL that answers.
    # Plain echo: a URL or path wrapped at the terminal width cannot be copied.
    typer.echo(f"Flightlog serving on {server_url(host, port)}")
    token_path = settings.admin_token_path
    if created:
        typer.echo(f"First admin token written to {token_path} (mode 0600)")
    elif token_path.exists():
        typer.echo(f"Admin token file: {token_path}")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": uvicorn_log_config(),
        **HTTP_LIMITS,
    }
    if workers == 1:
        config = uvicorn.Config(
            create_app(
                settings,
                checkpoint_interval=checkpoint_interval,
                public_tiles=public_tiles,
                prepare_processes=prepare_processes,
            ),
            **common,
        )
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:
            raise typer.Exit(3)
        return
    os.environ[CHECKPOINT_INTERVAL_ENV] = str(checkpoint_interval)
    os.environ[PUBLIC_TILES_ENV] = "1" if public_tiles else "0"
    os.environ[PREPARE_PROCESSES_ENV] = str(prepare_processes)
    config = uvicorn.Config(
        "flightlog.server.app:app_from_env", factory=True, workers=workers, **common
    )
    Multiprocess(config, sockets=[sock]).run()


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``; a port in use fails with one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on {host} is already in use; choose another with --port "
                f"(e.g. --port {port + 1 if port < 65535 else 8081})",
                code=2,
            ) from None
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=2) from None
    # Worker processes inherit the listening socket.
    sock.set_inheritable(True)
    return sock


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
    from flightlog.auth.tokens import create_token, list_tokens

    with reported_errors(), open_local(ctx, command="token create") as service:
        secret = create_token(service.tokens, name, scopes)
        info = next(t for t in list_tokens(service.tokens) if t.name == name.strip())
    if as_json:
        print_json({"token": secret, "name": info.name, "scopes": list(info.scopes)})
        return
    typer.echo(secret)
    err_console.print(
        plain(
            f"Token {info.name!r} ({' '.join(info.scopes)}): store it now; it is not shown again."
        )
    )


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """List tokens (names, scopes, dates; never secrets)."""
    from flightlog.auth.tokens import list_tokens

    with reported_errors(), open_local(ctx, write=False, command="token list") as service:
        infos = list_tokens(service.tokens)
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
    print_rows(
        ("name", "scopes", "created", "revoked"),
        [(t.name, " ".join(t.scopes), t.created_at, t.revoked_at or "") for t in infos],
    )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the token to revoke."),
) -> None:
    """Revoke a token; servers stop accepting it within a few seconds."""
    from flightlog.auth.tokens import revoke_token

    with reported_errors(), open_local(ctx, command="token revoke") as service:
        info = revoke_token(service.tokens, name)
    typer.echo(plain(f"Token {info.name!r} revoked at {info.revoked_at}"))


def migrate(ctx: typer.Context) -> None:
    """Create the store or bring its schema up to date, and create the signing key if absent."""
    with reported_errors(), open_local(ctx, command="migrate") as service:
        size = service.tree_size()
    typer.echo(f"the store is up to date ({size} entries)")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``migrate`` and the ``token`` group to the root app."""
    app.command("serve")(serve)
    app.command("migrate")(migrate)
    app.add_typer(token_app, name="token")
