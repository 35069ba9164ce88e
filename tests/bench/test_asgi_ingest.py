"""The in-process ingest driver counts what it measures."""

from __future__ import annotations

from bench.asgi_ingest import Load, run_once


def test_driver_counts_requests_and_commits() -> None:
    """Every request is answered 201 and recorded; commits are between one and one each."""
    got = run_once(None, Load(requests=40, batch=0, concurrency=8, warmup=4))
    assert got.statuses == {201: 40}
    assert got.events == 40
    assert 1 <= got.commits <= 40
