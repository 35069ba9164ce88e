"""Commands that prove: checkpoint, proof, key, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from flightlog.api import VerifyReport
from flightlog.cli.context import (
    console,
    fail,
    line,
    open_ledger,
    open_local,
    plain,
    print_json,
    print_rows,
    progress_bar,
    reported_errors,
    state_of,
    styled,
)
from flightlog.config import Settings

if TYPE_CHECKING:
    from flightlog.client.tiles import FullCheck

proof_app = typer.Typer(
    help="Merkle proofs (RFC 9162).", no_args_is_help=True, rich_markup_mode=None
)
key_app = typer.Typer(help="The log's signing key.", no_args_is_help=True, rich_markup_mode=None)


def checkpoint(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print {note, tree_size, root}."),
) -> None:
    """Cut and print a signed checkpoint (C2SP tlog-checkpoint)."""
    with reported_errors(), open_ledger(ctx, write=True) as ledger:
        cp = ledger.checkpoint()
    if as_json:
        print_json(cp.to_wire())
        return
    typer.echo(plain(cp.note, keep_newlines=True), nl=False)


@proof_app.command("inclusion")
def proof_inclusion(
    ctx: typer.Context,
    index: int = typer.Argument(..., help="Ledger index."),
    size: int | None = typer.Option(
        None, "--size", help="Tree size (default: the latest checkpoint)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
) -> None:
    """Prove that an entry is in the log."""
    # Without --size the proof may cut the first checkpoint covering the entry: a write.
    with reported_errors(), open_ledger(ctx, write=size is None) as ledger:
        proof = ledger.inclusion_proof(index, size)
    doc = proof.to_wire()
    if as_json:
        print_json(doc)
        return
    print_rows(
        ("field", "value"),
        [
            ("leaf_hash", doc["leaf_hash"]),
            ("root", doc["root"]),
            ("proof", "\n".join(doc["proof"]) or "(empty)"),
        ],
        title=f"inclusion of entry {index} in a tree of {doc['tree_size']}",
        header=False,
    )
    if proof.checkpoint:
        typer.echo(plain(proof.checkpoint, keep_newlines=True), nl=False)


@proof_app.command("consistency")
def proof_consistency(
    ctx: typer.Context,
    first: int = typer.Argument(..., help="Smaller tree size."),
    second: int = typer.Argument(..., help="Larger tree size."),
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
) -> None:
    """Prove that a larger tree extends a smaller one (nothing rewritten)."""
    with reported_errors(), open_ledger(ctx) as ledger:
        doc = ledger.consistency_proof(first, second).to_wire()
    if as_json:
        print_json(doc)
        return
    print_rows(
        ("field", "value"),
        [
            ("first_root", doc["first_root"]),
            ("second_root", doc["second_root"]),
            ("proof", "\n".join(doc["proof"]) or "(empty)"),
        ],
        title=f"consistency {first} → {second}",
        header=False,
    )


@key_app.command("show")
def key_show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print {origin, verifier_key} as JSON."),
) -> None:
    """Print the verifier key (note format) that checks this log's checkpoints."""
    with reported_errors(), open_ledger(ctx) as ledger:
        vkey = ledger.verifier_key()
    if as_json:
        # A key name holds no '+' (signed-note format), so it is everything before the first.
        print_json({"origin": vkey.split("+", 1)[0], "verifier_key": vkey})
        return
    typer.echo(plain(vkey))


def verify(
    ctx: typer.Context,
    server: str | None = typer.Option(
        None,
        "--server",
        help="Check this Flightlog server (same as the global --server).",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    key: str | None = typer.Option(
        None,
        "--key",
        envvar="FLIGHTLOG_VERIFIER_KEY",
        help="With --server: the verifier key to trust.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Processes checking the log (default: up to 2 on large logs).",
    ),
    full: bool = typer.Option(
        False, "--full", help="With --server: check every entry and tile, not only samples."
    ),
) -> None:
    """Recompute and check the whole log; exit 1 naming the first problem."""
    st = state_of(ctx)
    if server:
        st.server = server
    if st.server:
        _verify_remote(ctx, key, as_json, full=full)
        return
    with reported_errors(), open_local(ctx, write=False) as fl, progress_bar("verifying") as step:
        report = fl.verify(progress=step, workers=workers)
    doc = VerifyReport(
        ok=report.ok,
        tree_size=report.tree_size,
        root=report.root if report.ok else None,
        entries_checked=report.entries_checked,
        details={
            "nodes_checked": report.nodes_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "erased": report.erased,
        },
        problem=None
        if report.problem is None
        else {
            "index": report.problem.index,
            "kind": report.problem.kind,
            "detail": report.problem.detail,
        },
    ).to_wire()
    if as_json:
        print_json(doc)
    elif report.problem is None:
        erased = f", {len(report.erased)} erased" if report.erased else ""
        console.print(
            line(
                styled("ok", "green"),
                f": {report.entries_checked} entries{erased}, {report.nodes_checked} nodes, "
                f"{report.checkpoints_checked} checkpoint"
                f"{'' if report.checkpoints_checked == 1 else 's'} verified; root {doc['root']}",
            )
        )
    if report.problem is not None:
        where = f"index {report.problem.index}: " if report.problem.index is not None else ""
        raise fail(f"verification failed at {where}{report.problem.kind}: {report.problem.detail}")


def _verify_remote(ctx: typer.Context, key: str | None, as_json: bool, *, full: bool) -> None:
    from flightlog.client.http import RemoteFlightlog
    from flightlog.client.witness import verify_remote

    st = state_of(ctx)
    assert st.server is not None
    home = Settings.from_env().home
    with reported_errors(), RemoteFlightlog(st.server, st.token) as client:
        report = verify_remote(client, pinned_key=key, state_dir=home)
    whole = _verify_tiles(st.server, st.token, report.tree_size, report.root) if full else None
    doc = VerifyReport(
        ok=True,
        tree_size=report.tree_size,
        root=report.root,
        entries_checked=report.entries_checked,
        details={
            "origin": report.origin,
            "previous_size": report.previous_size,
            "first_use": report.first_use,
            "full": None
            if whole is None
            else {"entries_checked": whole.entries_checked, "tiles_checked": whole.tiles_checked},
        },
    ).to_wire()
    if as_json:
        print_json(doc)
        return
    since = (
        "first use: key pinned"
        if report.first_use
        else f"consistent with the {report.previous_size}-entry checkpoint seen before"
    )
    console.print(
        line(
            styled("ok", "green"),
            f": {report.origin} at {report.tree_size} entries, {since}; "
            f"{report.entries_checked} entries spot-checked",
        )
    )
    if whole is not None:
        console.print(
            line(
                styled("ok", "green"),
                f": all {whole.entries_checked} entries and {whole.tiles_checked} tiles "
                "rebuild the signed root",
            )
        )


def _verify_tiles(server: str, token: str | None, size: int, root: bytes) -> FullCheck:
    """Check the whole log at ``size`` entries from its tiles against the verified ``root``."""
    from flightlog.client.tiles import TileClient, verify_tiles

    with (
        reported_errors(),
        TileClient(server, token) as tiles,
        progress_bar("checking tiles") as step,
    ):
        return verify_tiles(tiles, size, root, progress=step)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(checkpoint)
    app.add_typer(proof_app, name="proof")
    app.add_typer(key_app, name="key")
    app.command()(verify)
