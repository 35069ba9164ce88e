"""The in-process ingest driver counts what it measures."""

from __future__ import annotations

from bench.asgi_ingest import Load, context_switches, run_once


def test_driver_counts_requests_commits_and_switches() -> None:
    """Every request is answered 201, each append transaction is counted once per round trip."""
    got = run_once(None, Load(requests=40, batch=0, concurrency=8, warmup=4))
    assert got.statuses == {201: 40}
    assert got.events == 40
    assert 1 <= got.commits <= 40
    assert got.requests_per_commit == 40 / got.commits
    assert got.switches >= 0
    assert got.switches_per_request == got.switches / 40


def test_context_switches_only_grow() -> None:
    """The process's context-switch count never goes down between two readings."""
    first = context_switches()
    assert context_switches() >= first > 0
