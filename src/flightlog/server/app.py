"""The FastAPI application: wires the service, the group writer, tokens and routers."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from flightlog import __version__
from flightlog.api import CheckpointInfo
from flightlog.auth.tokens import TokenCache, authenticate, ensure_first_admin
from flightlog.config import Settings
from flightlog.server import blobs, health, ingest, lineage, metrics, query, tiles, webhooks
from flightlog.server.fastpath import FastIngestAPI
from flightlog.server.logging import RequestContextMiddleware, configure_logging
from flightlog.server.metrics import Metrics
from flightlog.server.problems import install_problem_handlers
from flightlog.server.state import ServerState
from flightlog.server.writer import CommitLock, GroupWriter
from flightlog.service import Flightlog

DEFAULT_CHECKPOINT_INTERVAL = 60.0
CHECKPOINT_INTERVAL_ENV = "FLIGHTLOG_CHECKPOINT_INTERVAL"
PUBLIC_TILES_ENV = "FLIGHTLOG_PUBLIC_TILES"
PREPARE_PROCESSES_ENV = "FLIGHTLOG_PREPARE_PROCESSES"

log = structlog.get_logger("flightlog.server")


def cut_if_grown(service: Flightlog) -> CheckpointInfo | None:
    """Cut a checkpoint when the tree grew past the latest one; return it, else None."""
    latest = service.latest_checkpoint()
    if latest is not None and service.tree_size() <= latest.tree_size:
        return None
    return service.checkpoint()


async def _checkpoint_loop(service: Flightlog, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            cut = await run_in_threadpool(cut_if_grown, service)
        except Exception:
            # The next tick retries; a failing store also shows on /readyz.
            log.exception("checkpoint_failed")
            continue
        if cut is not None:
            log.info("checkpoint_cut", tree_size=cut.tree_size)


def commit_lock(service: Flightlog) -> CommitLock | None:
    """The lock file the writers of an SQLite file take turns on; None for other stores."""
    url = service.store.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return CommitLock(Path(f"{url.database}.commit-lock"))


async def start_prepare_pool(processes: int) -> ProcessPoolExecutor | None:
    """Start ``processes`` batch prepare processes (none for 0) and wait until they run."""
    if processes <= 0:
        return None
    # Spawned, not forked: the server has threads (the writer, the thread pool) by now.
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=ingest.start_prepare_process,
    )
    # The first batch should not wait for the processes to start and import the code.
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, os.getpid) for _ in range(processes)))
    return pool


def create_app(
    settings: Settings,
    *,
    flightlog: Flightlog | None = None,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    writer_max_events: int = 2000,
    writer_max_wait: float = 0.002,
    public_tiles: bool = False,
    prepare_processes: int = 0,
) -> FastAPI:
    """Build the HTTP API over ``flightlog`` (opened from ``settings`` when not given)."""
    configure_logging()
    app_metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service: Flightlog = (
            flightlog
            if flightlog is not None
            else await run_in_threadpool(Flightlog.open, settings)
        )
        try:
            token_path = settings.admin_token_path
            if await run_in_threadpool(ensure_first_admin, service.tokens, token_path):
                log.info("first_admin_token_created", path=str(token_path))
            lock = commit_lock(service)
            writer = GroupWriter(
                service.record_groups,
                max_events=writer_max_events,
                max_wait=writer_max_wait,
                lock=lock,
            )
            pool = await start_prepare_pool(prepare_processes)
            app.state.server = ServerState(
                settings=settings,
                flightlog=service,
                writer=writer,
                metrics=app_metrics,
                token_cache=TokenCache(partial(authenticate, service.tokens)),
                prepare_pool=pool,
            )
            writer.start()
            ticker = asyncio.create_task(_checkpoint_loop(service, checkpoint_interval))
            try:
                with ingest.collector_tuned():
                    yield
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                await writer.stop()
                if pool is not None:
                    await run_in_threadpool(pool.shutdown, wait=True, cancel_futures=True)
                if lock is not None:
                    lock.close()
                try:
                    await run_in_threadpool(cut_if_grown, service)
                except Exception:
                    log.exception("final_checkpoint_failed")
        finally:
            if flightlog is None:
                await run_in_threadpool(service.close)

    app = FastIngestAPI(
        title="Flightlog",
        version=__version__,
        summary="The tamper-evident audit trail for continuous deployment.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, observe=app_metrics.observe_request)
    for module in (ingest, query, health, metrics, tiles, webhooks, blobs, lineage):
        app.include_router(module.router)
    setattr(app.state, tiles.PUBLIC_TILES_ATTR, public_tiles)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: each worker builds its app from the environment."""
    interval = float(os.environ.get(CHECKPOINT_INTERVAL_ENV, DEFAULT_CHECKPOINT_INTERVAL))
    public = os.environ.get(PUBLIC_TILES_ENV, "") == "1"
    processes = int(os.environ.get(PREPARE_PROCESSES_ENV, "0"))
    return create_app(
        Settings.from_env(),
        checkpoint_interval=interval,
        public_tiles=public,
        prepare_processes=processes,
    )
