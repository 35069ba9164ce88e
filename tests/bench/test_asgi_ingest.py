"""The in-process ingest driver counts what it measures."""

from __future__ import annotations

from bench.asgi_ingest import Load, run_once


def test_driver_counts_requests_and_commits() -> None:
    """Every request is answered 201 and recorded; commits are between one and one each."""
    got = run_once(None, Load(requests=40, batch=0, concurrency=8, warmup=4))
    assert got.statuses == {201: 40}
    assert got.events == 40
    assert 1 <= got.commits <= 40


def test_driver_runs_batches_through_prepare_processes() -> None:
    """Batches big enough for the prepare process are all recorded; its CPU is counted."""
    got = run_once(None, Load(requests=3, batch=200, concurrency=2, warmup=2, prepare_processes=1))
    assert got.statuses == {201: 3}
    assert got.events == 600
