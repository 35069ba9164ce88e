"""``flightlog flush`` and ``flightlog init``: the pipeline side beyond ``record``.

``flush`` sends the steps spooled while the server was unavailable; ``init`` prints a
ready pipeline snippet for a CI system.
"""

from __future__ import annotations

import re
import sys

import typer

from flightlog.cli.context import (
    console,
    err_console,
    fail,
    line,
    open_ledger,
    print_json,
    reported_errors,
    state_of,
)


def flush(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print what was sent as JSON."),
) -> None:
    """Send the steps spooled while the server was unavailable (oldest first)."""
    from flightlog.client.spool import FlushReport, Spool

    st = state_of(ctx)
    spool = Spool.of_home(st.settings().home)
    waiting = spool.pending()
    if waiting and not st.server:
        raise fail(
            f"{len(waiting)} spooled step(s) in {spool.directory} wait for a server; "
            "set --server / FLIGHTLOG_SERVER (and FLIGHTLOG_TOKEN) to send them"
        )
    with reported_errors():
        if waiting:
            with open_ledger(ctx, write=True) as ledger:
                report = spool.flush(ledger)
        else:
            report = FlushReport()
    if as_json:
        print_json(
            {
                "sent": [{"file": p.name, "indexes": i} for p, i in report.sent],
                "rejected": [{"file": p.name, "reason": r} for p, r in report.rejected],
                "remaining": report.remaining,
                "error": None if report.stopped is None else str(report.stopped),
            }
        )
    else:
        events = sum(len(i) for _, i in report.sent)
        console.print(
            f"sent {len(report.sent)} spooled step(s) ({events} event(s)); "
            f"{report.remaining} waiting; {len(report.rejected)} refused",
            highlight=False,
            soft_wrap=True,
        )
    if report.busy:
        raise fail(f"another flightlog process is sending the spool in {spool.directory}")
    if report.stopped is not None:
        raise fail(f"{report.remaining} spooled step(s) still waiting: {report.stopped}")
    if report.rejected:
        for path, reason in report.rejected:
            err_console.print(line("refused: ", path.name, ": ", reason), soft_wrap=True)
        raise fail(
            f"the server refused {len(report.rejected)} spooled step(s); "
            f"they are kept in {spool.directory}/rejected with the reasons"
        )


# Names that go into a snippet's shell lines unquoted.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


def init(
    ci: str = typer.Argument(..., help="github-actions or gitlab-ci."),
    service: str = typer.Option("api", "--service", help="Service the pipeline deploys."),
    env: str = typer.Option("production", "--env", help="Environment it deploys to."),
) -> None:
    """Print a ready pipeline that records every step in Flightlog."""
    from flightlog import __version__
    from flightlog.pipeline.snippets import SNIPPETS, render

    template = SNIPPETS.get(ci)
    if template is None:
        raise fail(f"no snippet for {ci!r}; choose one of: {', '.join(SNIPPETS)}", code=2)
    for flag, value in (("--service", service), ("--env", env)):
        if not _NAME.fullmatch(value):
            raise fail(f"{flag} {value!r}: use letters, digits and . _ / - only", code=2)
    sys.stdout.write(render(template, version=__version__, service=service, environment=env))


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command("flush")(flush)
    app.command("init")(init)
