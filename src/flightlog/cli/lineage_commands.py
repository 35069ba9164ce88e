"""The question side: rebuild the lineage tables; trace, diff, suspects, search, timeline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from flightlog.api import EventFilter
from flightlog.cli.context import (
    console,
    current_actor,
    fail,
    line,
    open_ledger,
    open_local,
    plain,
    print_json,
    print_rows,
    print_tree,
    progress_bar,
    reported_errors,
    styled,
)
from flightlog.errors import InputError, NotFound

if TYPE_CHECKING:
    from rich.tree import Tree

_WINDOW = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def rebuild(ctx: typer.Context) -> None:
    """Recreate the lineage tables (deployments, changes, tests …) from the ledger alone."""
    with (
        reported_errors(),
        open_local(ctx, command="rebuild") as fl,
        progress_bar("rebuilding lineage") as step,
    ):
        done = fl.rebuild_lineage(step)
    console.print(line(styled("rebuilt", "bold green"), f" lineage from {done:,} entries"))


@contextmanager
def _question_errors() -> Iterator[None]:
    try:
        yield
    except (NotFound, InputError) as exc:
        raise fail(str(exc), code=2) from None


def parse_time(value: str | None, option: str) -> datetime | None:
    """An RFC 3339 time, or exit 2 naming the option and the expected form."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{option}: {value!r} is not a time; use RFC 3339, e.g. 2026-11-09T00:12:00Z", code=2
        ) from None
    if moment.tzinfo is None:
        raise fail(f"{option}: {value!r} has no time zone; add Z or +HH:MM", code=2)
    return moment


def parse_window(value: str) -> float:
    """``30m``, ``6h``, ``2d`` or ``1w`` in seconds, or exit 2."""
    match = _WINDOW.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise fail(f"--window: {value!r} is not a duration such as 30m, 6h, 2d or 1w", code=2)
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _idx(doc: dict[str, Any] | None) -> str:
    return f"  #{doc['index']}" if doc and doc.get("index") is not None else ""


def _deployment_line(label: str, d: dict[str, Any] | None) -> str:
    if d is None:
        return f"{label}: none recorded"
    took = f", took {d['duration_seconds']:.0f}s" if d.get("duration_seconds") is not None else ""
    why = f" ({d['reason']})" if d.get("reason") else ""
    return (
        f"{label}: {d['version'] or d['artifact']} by {d['deployer'] or '?'} at {d['time']}, "
        f"{d['status']}{took}{why}{_idx(d)}"
    )


def _commits_branch(tree: Tree, commits: list[dict[str, Any]]) -> None:
    branch = tree.add(plain(f"commits ({len(commits)})"))
    for c in commits:
        tickets = f" [{', '.join(c['tickets'])}]" if c["tickets"] else ""
        systems = f" systems: {', '.join(c['systems'])}" if c["systems"] else ""
        node = branch.add(
            plain(
                f"{c['sha'][:10]} {c['author'] or '?'}: {c['message'] or ''}{tickets}{systems}{_idx(c)}"
            )
        )
        for pr in c["changes"]:
            reviews = ", ".join(f"{r['reviewer']} {r['verdict']}" for r in pr["reviews"]) or "none"
            node.add(
                plain(
                    f"{pr['id']} by {pr['author'] or '?'}: {pr['title'] or ''} — reviews: {reviews}{_idx(pr)}"
                )
            )


def render_trace(doc: dict[str, Any]) -> None:
    """The chain as a Rich tree, gaps first."""
    from rich.tree import Tree

    tree = Tree(plain(f"{doc['target']}: {doc['deployment']['version'] or doc['artifact']}"))
    if doc["gaps"]:
        gaps = tree.add(styled(f"gaps ({len(doc['gaps'])})", "bold red"))
        for g in doc["gaps"]:
            gaps.add(line(styled(g["code"], "red"), ": ", g["detail"]))
    else:
        tree.add(styled("no gaps", "bold green"))
    tree.add(plain(_deployment_line("deployed", doc["deployment"])))
    tree.add(plain(_deployment_line("before", doc["previous"])))
    if doc.get("brings_back"):
        tree.add(plain(_deployment_line("brings back", doc["brings_back"])))
    tree.add(plain(f"artifact: {doc['artifact']}"))
    for b in doc["builds"]:
        tree.add(
            plain(
                f"build: {b['pipeline_run'] or '?'} by {b['by'] or '?'} at {b['time']} {b['url'] or ''}{_idx(b)}"
            )
        )
    _commits_branch(tree, doc["commits"])
    tests = tree.add(plain(f"test runs ({len(doc['tests'])})"))
    for t in doc["tests"]:
        tests.add(
            plain(
                f"{t['outcome']}: {t['tests']} tests, {t['failures']} failed, {t['errors']} errors, "
                f"{t['skipped']} skipped in {t['environment'] or '?'}{_idx(t)}"
            )
        )
    scans = tree.add(plain(f"scans ({len(doc['scans'])})"))
    for s in doc["scans"]:
        counts = ", ".join(f"{v} {k}" for k, v in s["counts"].items())
        scans.add(plain(f"{s['tool']}: {counts}; worst: {s['worst'] or 'none'}{_idx(s)}"))
    approvals = tree.add(plain(f"approvals ({len(doc['approvals'])})"))
    for a in doc["approvals"]:
        verdict = "granted" if a["granted"] else "rejected"
        approvals.add(plain(f"{verdict} by {a['approver']} at {a['time']}{_idx(a)}"))
    if doc.get("proofs"):
        tree.add(
            plain(
                f"proofs: {len(doc['proofs'])} inclusion proofs against checkpoint of size {doc['checkpoint']['tree_size']}"
            )
        )
    print_tree(tree)


def _indices(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("index", "started_index") and isinstance(item, int):
                yield item
            else:
                yield from _indices(item)
    elif isinstance(value, list):
        for item in value:
            yield from _indices(item)


def trace(
    ctx: typer.Context,
    target: str = typer.Argument(
        ...,
        metavar="ENV/SERVICE",
        help="Where: an environment and a service, e.g. production/payments.",
    ),
    at: str | None = typer.Option(None, "--at", help="What ran at this time (RFC 3339)."),
    deployment: str | None = typer.Option(
        None, "--deployment", help="Deployment id, version or index."
    ),
    artifact: str | None = typer.Option(
        None, "--artifact", help="The latest deployment of this artifact."
    ),
    prove: bool = typer.Option(False, "--prove", help="Add inclusion proofs of every fact."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """What runs in ENV/SERVICE and the whole chain behind it, gaps called out."""
    moment = parse_time(at, "--at")
    with reported_errors(), _question_errors(), open_ledger(ctx) as ledger:
        doc = ledger.trace(target, at=moment, deployment=deployment, artifact=artifact)
        if prove:
            cp = ledger.checkpoint()
            doc["checkpoint"] = cp.to_wire()
            doc["proofs"] = [
                ledger.inclusion_proof(i, cp.tree_size).to_wire()
                for i in sorted(set(_indices(doc)))
            ]
    if as_json:
        print_json(doc)
        return
    render_trace(doc)


def diff(
    ctx: typer.Context,
    target: str = typer.Argument(
        ...,
        metavar="ENV/SERVICE",
        help="Where: an environment and a service, e.g. production/payments.",
    ),
    older: str = typer.Argument(
        ..., metavar="FROM", help="Version, deployment id or ledger index."
    ),
    newer: str = typer.Argument(..., metavar="TO", help="Version, deployment id or ledger index."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """The commits, authors, tickets and systems between two deployments."""
    with reported_errors(), _question_errors(), open_ledger(ctx) as ledger:
        doc = ledger.diff(target, older, newer)
    if as_json:
        print_json(doc)
        return
    from rich.tree import Tree

    tree = Tree(plain(f"{doc['target']}: {_deployment_line('from', doc['from'])}"))
    tree.add(plain(_deployment_line("to", doc["to"])))
    tree.add(plain(f"authors: {', '.join(doc['authors']) or 'none'}"))
    tree.add(plain(f"tickets: {', '.join(doc['tickets']) or 'none'}"))
    tree.add(plain(f"systems: {', '.join(doc['systems']) or 'none'}"))
    _commits_branch(tree, doc["commits"])
    print_tree(tree)


def suspects(
    ctx: typer.Context,
    env: str = typer.Option(..., "--env", help="Environment of the incident."),
    at: str = typer.Option(..., "--at", help="When the incident began (RFC 3339)."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    window: str = typer.Option("6h", "--window", help="How far back to look: 30m, 6h, 2d, 1w."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """The deployments before an incident, ranked, each with reasons, diff and rollback target."""
    moment = parse_time(at, "--at")
    assert moment is not None
    seconds = parse_window(window)
    with reported_errors(), _question_errors(), open_ledger(ctx) as ledger:
        doc = ledger.suspects(env, at=moment, window_seconds=seconds, service=service)
    if as_json:
        print_json(doc)
        return
    from rich.tree import Tree

    incident = doc["incident"]
    title = (
        f"incident {incident['id']}: {incident['title']}{_idx(incident)}"
        if incident
        else "no incident recorded at that time"
    )
    tree = Tree(plain(f"suspects in {doc['environment']} before {doc['at']} ({title})"))
    if not doc["suspects"]:
        tree.add(plain(f"no deployment in the {window} before"))
    for rank, s in enumerate(doc["suspects"], start=1):
        d = s["deployment"]
        node = tree.add(
            plain(
                f"{rank}. {d['service']} {d['version'] or d['artifact']} (score {s['score']}){_idx(d)}"
            )
        )
        for r in s["reasons"]:
            node.add(plain(f"+{r['points']} {r['code']}: {r['detail']}"))
        node.add(
            plain(
                f"diff: {len(s['diff']['commits'])} commits by {', '.join(s['diff']['authors']) or 'nobody'}; "
                f"tickets {', '.join(s['diff']['tickets']) or 'none'}"
            )
        )
        back = s["rollback_to"]
        node.add(
            plain(
                f"roll back to: {back['version'] or back['artifact']}{_idx(back)}"
                if back
                else "roll back to: no earlier good deployment"
            )
        )
    print_tree(tree)


def _items_table(title: str, items: list[dict[str, Any]]) -> None:
    print_rows(
        ("index", "time", "type", "summary"),
        [(str(i["index"]), i["time"], i["type"], i["summary"]) for i in items],
        title=title,
    )


def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Words to find (prefixes), e.g. CVE-2026 or PAY-120."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many hits."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """Full-text search over commit messages, titles, names, test names, CVE ids and tickets."""
    with reported_errors(), _question_errors(), open_ledger(ctx) as ledger:
        doc = ledger.search(text, limit=limit)
    if as_json:
        print_json(doc)
        return
    _items_table(f"{len(doc['results'])} matches for {plain(text)}", doc["results"])


def timeline(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="From this time (RFC 3339)."),
    until: str | None = typer.Option(None, "--until", help="Before this time (RFC 3339)."),
    service: str | None = typer.Option(None, "--service", help="Only this service."),
    env: str | None = typer.Option(None, "--env", help="Only this environment."),
    system: str | None = typer.Option(None, "--system", help="Only changes touching this system."),
    limit: int = typer.Option(500, "--limit", min=1, max=5000, help="At most this many events."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
) -> None:
    """Every event in a time range in ledger order, merged across sources."""
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start is not None and end is not None and start > end:
        raise fail(f"--since {since} is after --until {until}: nothing lies between", code=2)
    with reported_errors(), _question_errors(), open_ledger(ctx) as ledger:
        doc = ledger.timeline(
            since=start, until=end, service=service, environment=env, system=system, limit=limit
        )
    if as_json:
        print_json(doc)
        return
    _items_table(f"{len(doc['events'])} events", doc["events"])


def demo(
    ctx: typer.Context,
    start: str | None = typer.Option(
        None, "--start", help="When the history begins (RFC 3339; default: 8 days ago, 09:00Z)."
    ),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Record only into a ledger that holds no event yet."
    ),
    remove: bool = typer.Option(
        False,
        "--remove",
        help="Remove the demo data: delete a store that holds nothing else, or else erase "
        "the demo events' payloads (local store only).",
    ),
    yes: bool = typer.Option(False, "--yes", help="With --remove: delete without asking."),
    actor: str | None = typer.Option(
        None, "--actor", help="With --remove: who erases (default: $FLIGHTLOG_ACTOR or $USER)."
    ),
) -> None:
    """Record a realistic demo history: releases, reviews, tests, scans, approvals, an incident."""
    from datetime import UTC, timedelta

    if remove:
        if start is not None or if_empty:
            raise fail("--remove takes neither --start nor --if-empty", code=2)
        remove_demo(ctx, yes=yes, actor=actor or current_actor())
        return
    if yes or actor is not None:
        raise fail("--yes and --actor go with --remove", code=2)

    from flightlog.demo import demo_history

    moment = parse_time(start, "--start") or (datetime.now(UTC) - timedelta(days=8)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    batches = demo_history(moment, run=f"demo-{moment:%Y%m%d%H%M}")
    with reported_errors(), open_ledger(ctx, write=True) as ledger:
        if if_empty and ledger.log(EventFilter(), limit=1):
            console.print(
                line(styled("skipped", "bold"), " the demo: the ledger already holds events")
            )
            return
        added = 0
        for name, events in batches:
            data = "\n".join(json.dumps(e) for e in events).encode()
            added += sum(not r.duplicate for r in ledger.record_bytes(data, name=name))
    incident = next(
        e["context"]["timestamp"]
        for _, events in batches
        for e in events
        if e["context"]["type"].startswith("dev.cdevents.incident.")
    )
    console.print(
        line(
            styled("recorded", "bold green"),
            f" {added} demo events ({sum(len(e) for _, e in batches)} in the history); ask "
            f"`flightlog trace production/payments --at {incident}`, "
            f"`flightlog suspects --env production --at {incident} --window 2d`, "
            "`flightlog diff production/payments 1.4.0 1.6.0`, `flightlog search CVE-2026-4242`; "
            "remove the demo with `flightlog demo --remove`",
        ),
        soft_wrap=True,
    )


def remove_demo(ctx: typer.Context, *, yes: bool, actor: str) -> None:
    """``demo --remove``: delete an all-demo SQLite store, or erase the demo payloads."""
    with reported_errors(), open_local(ctx, write=False, command="demo --remove") as fl:
        census = fl.demo_census()
        if not census.demo:
            console.print(f"no demo data in the ledger ({census.size} entries); nothing to remove")
            return
        if census.all_demo:
            path = fl.store.sqlite_path()
            if path is not None and not yes:
                typer.confirm(
                    f"every one of the {census.size} entries is demo data: delete the store "
                    f"{plain(Path(path).resolve())} (with the API tokens, webhook sources and "
                    "blobs kept in it)? The signing key stays",
                    abort=True,
                    err=True,
                )
            removed = fl.delete_demo_store(census)
            console.print(
                line(
                    styled("deleted", "bold green"),
                    f" the store {Path(removed[0]).resolve()} ({census.size} demo entries"
                    f"{', with its -wal and -shm files' if len(removed) > 1 else ''}); "
                    f"the signing key at {fl.settings.key_path} stays",
                ),
                soft_wrap=True,
            )
            return
        results = fl.erase_demo(census, actor=actor)
    first, last = results[0].index, results[-1].index
    console.print(
        line(
            styled("erased", "bold green"),
            f" the payloads of {len(results)} demo entries, each by an erasure record "
            f"(indices {first}…{last}, by {actor}); {census.others} other entries are "
            "untouched, and every leaf and proof stays",
        ),
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(trace)
    app.command()(diff)
    app.command()(suspects)
    app.command()(search)
    app.command()(timeline)
    app.command()(rebuild)
    app.command()(demo)
