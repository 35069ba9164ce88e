"""Prometheus metrics: ingest counts, request latency, tree size, checkpoint age.

Each app owns its registry, so several apps in one process (tests) never collide.
With several worker processes every process serves its own numbers. Label values never
come from events: a type without a vendored schema counts as ``custom``, so a client
cannot grow the answer (or the server's memory) by inventing types or sources.
Serving them needs the ``read`` scope unless ``serve --public-metrics``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from flightlog.events.validation import known_types
from flightlog.service import Flightlog, PreparedEvent

CUSTOM_TYPE_LABEL = "custom"

if TYPE_CHECKING:
    from flightlog.server.state import ServerState


class Metrics:
    """The server's metric families, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_ingested = Counter(
            "flightlog_events_ingested",
            "Events newly recorded in the ledger (duplicates excluded), by CDEvents type.",
            ["type"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "flightlog_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self._types = frozenset(known_types())
        self._latency: dict[tuple[str, str], Histogram] = {}
        self._ingested: dict[str, Counter] = {}
        self.tree_size = Gauge(
            "flightlog_tree_size", "Number of leaves in the ledger.", registry=self.registry
        )
        self.checkpoint_age = Gauge(
            "flightlog_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was cut (-1 when none exists).",
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, seconds: float) -> None:
        """Record one request's duration under its route template and method."""
        # The labelled children are kept: labels() validates and locks on every call.
        child = self._latency.get((route, method))
        if child is None:
            child = self._latency[route, method] = self.request_seconds.labels(
                route=route, method=method
            )
        child.observe(seconds)

    def count_ingested(self, events: Iterable[PreparedEvent]) -> None:
        """Count newly recorded events by type (a bounded set of label values)."""
        for event in events:
            label = event.type if event.type in self._types else CUSTOM_TYPE_LABEL
            child = self._ingested.get(label)
            if child is None:
                child = self._ingested[label] = self.events_ingested.labels(type=label)
            child.inc()

    def refresh(self, service: Flightlog) -> None:
        """Read the ledger gauges from the store (called at scrape time)."""
        self.tree_size.set(service.tree_size())
        age = service.checkpoint_age_seconds()
        self.checkpoint_age.set(-1 if age is None else age)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition",
        }
    },
    summary="Prometheus metrics (read scope, unless served with --public-metrics)",
)
async def metrics_endpoint(request: Request) -> Response:
    """Serve the Prometheus text exposition format."""
    state: ServerState = request.app.state.server
    if not state.settings.public_metrics:
        # Imported here: auth needs the server state, whose module imports this one.
        from flightlog.server.auth import authorize

        await authorize(request, "read")
    await run_in_threadpool(state.metrics.refresh, state.flightlog)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
