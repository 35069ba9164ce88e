"""The built-in HTTP load generator: keep-alive connections POSTing bodies for a bounded time.

``bench/server.py`` (when ``wrk`` is missing) and ``bench/webhooks.py`` drive ``flightlog
serve`` with it. Each of ``clients`` connections sends one request, waits for the
answer, and sends the next, until the phase's time is up; :class:`Load` is what they saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from rich.progress import Progress

from bench.results import percentile

Request = tuple[bytes, int] | tuple[bytes, int, Mapping[str, str]]
"""One request to send: its body, the events it carries, and headers of its own (optional)."""


@dataclass
class Load:
    """What the clients saw during one load phase."""

    seconds: float = 0.0
    requests: int = 0
    events: int = 0  # acknowledged events
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    p50: float | None = None  # given by wrk, which reports percentiles, not samples
    p99: float | None = None
    cpu: float | None = None  # CPU seconds the server's processes used during the phase

    @property
    def cpu_per_request(self) -> float | None:
        """Server CPU seconds per request, when measured."""
        return self.cpu / self.requests if self.cpu is not None and self.requests else None

    @property
    def rate(self) -> float:
        """Acknowledged events per second."""
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, q: int) -> float:
        """The ``q``-th latency percentile in seconds (50 or 99 when wrk measured)."""
        given = self.p50 if q == 50 else self.p99 if q == 99 else None
        if given is not None:
            return given
        return percentile(self.latencies, q) if self.latencies else float("inf")


class Http11:
    """One keep-alive HTTP/1.1 connection that POSTs and reads ``Content-Length`` answers.

    The load generator speaks HTTP itself: on this machine an ``httpx.AsyncClient`` with
    64 concurrent requests delivered under 2% of what the no-op server answers to plain
    asyncio streams, so it would have measured the client, not the server (the server
    section reports the httpx figure next to this one).
    """

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self._host, self._port = host, port
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one POST (``headers`` added to the connection's own); status and body."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) if headers else ""
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._head}{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        writer.write(request + body)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)
        }
        if "content-length" not in fields:
            raise ValueError(f"answer without Content-Length: {head[0]}")
        payload = await reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, payload

    async def close(self) -> None:
        """Close the connection (a later post reconnects)."""
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def drive(
    base: str,
    path: str,
    *,
    body: Callable[[], Request],
    clients: int,
    seconds: float,
    headers: Mapping[str, str],
    progress: Progress | None = None,
    label: str = "",
) -> Load:
    """POST ``body()`` to ``base + path`` from ``clients`` connections for ``seconds``."""
    load = Load()
    url = httpx.URL(base)
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        conn = Http11(url.host, url.port or 80, headers)
        try:
            while time.perf_counter() < deadline:
                data, count, *own = body()
                t0 = time.perf_counter()
                try:
                    status, answer = await conn.post(path, data, own[0] if own else None)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    load.errors += 1
                    load.first_error = load.first_error or repr(exc)
                    await conn.close()
                    continue
                load.latencies.append(time.perf_counter() - t0)
                load.requests += 1
                if status in (200, 201):
                    load.events += count
                else:
                    load.errors += 1
                    load.first_error = load.first_error or f"{status} {answer[:200]!r}"
        finally:
            await conn.close()

    async def ticker() -> None:
        if progress is None:
            return
        task = progress.add_task(label, total=seconds)
        while (now := time.perf_counter()) < deadline:
            progress.update(task, completed=now - started)
            await asyncio.sleep(0.25)
        progress.update(task, completed=seconds)

    await asyncio.gather(ticker(), *(client() for _ in range(clients)))
    load.seconds = time.perf_counter() - started
    return load
