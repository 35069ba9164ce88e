"""The question side: rebuild the lineage tables; trace, diff, suspects, search, timeline."""

from __future__ import annotations

import typer

from flightlog.cli.context import console, line, open_local, reported_errors, styled


def rebuild(ctx: typer.Context) -> None:
    """Recreate the lineage tables (deployments, changes, tests …) from the ledger alone."""
    from flightlog.cli.trust_commands import _progress

    with reported_errors(), open_local(ctx, command="rebuild") as fl, _progress() as bar:
        task = bar.add_task("rebuilding lineage", total=fl.tree_size())
        done = fl.rebuild_lineage(lambda n, total: bar.update(task, completed=n, total=total))
    console.print(line(styled("rebuilt", "bold green"), f" lineage from {done:,} entries"))


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(rebuild)
