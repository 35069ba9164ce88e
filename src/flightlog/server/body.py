"""Requests: media types, a body size limit enforced while streaming, header and stall limits."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from flightlog.errors import InputError, InputTooLarge

MAX_HEADER_BYTES = 64 * 1024
"""The request line and headers together; anything larger is refused (400) unread."""

HTTP_LIMITS: dict[str, Any] = {
    # llhttp parses several times faster than h11 but bounds no header size: this
    # protocol adds the bound (flightlog.server.protocol).
    "http": "flightlog.server.protocol:BoundedHttpToolsProtocol",
    "timeout_keep_alive": 5,
}
"""uvicorn options that bound what one connection can make the server hold."""


def media_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of ``accepted`` (charset UTF-8), else 415."""
    return accepted_media_type(request.headers.get("content-type", ""), accepted)


def accepted_media_type(raw: str, accepted: tuple[str, ...]) -> str:
    """The media type of a ``Content-Type`` value if it is one of ``accepted`` (UTF-8), else 415."""
    kind, _, params = raw.partition(";")
    kind = kind.strip().lower()
    if kind not in accepted:
        shown = kind or "none"
        raise HTTPException(
            415, f"content type {shown!r} is not accepted here; send one of {', '.join(accepted)}"
        )
    if not params:
        return kind
    for param in params.split(";"):
        key, _, value = param.partition("=")
        # RFC 8259 §8.1: JSON exchanged between systems is UTF-8.
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise HTTPException(415, f"charset {value.strip()!r} is not accepted; send UTF-8")
    return kind


BODY_STALL_SECONDS = 30.0
"""A body that sends nothing for this long is abandoned (408): stalled uploads hold memory."""


async def read_body(request: Request, limit: int, stall: float | None = None) -> bytes:
    """Read the body, refusing (413) anything over ``limit`` bytes without buffering it.

    The body is read straight from the ASGI ``receive`` channel: the request's body must
    not have been read before (it is not cached on ``request`` either).
    """
    declared = request.headers.get("content-length")
    return await receive_body(request.receive, limit, declared, stall)


async def receive_body(
    receive: Receive, limit: int, declared: str | None, stall: float | None = None
) -> bytes:
    """Read a body from the ASGI channel; ``declared`` is its ``Content-Length`` header, if any.

    Over ``limit`` bytes (declared or streamed) is 413, a stall of ``stall`` seconds 408.
    """
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise InputError(f"Content-Length {declared[:40]!r} is not a number") from None
        if length > limit:
            raise InputTooLarge(f"request body of {length} bytes is over the {limit}-byte limit")
    stall = BODY_STALL_SECONDS if stall is None else stall
    chunks: list[bytes] = []
    size = 0
    try:
        # One timeout for the whole body, moved forward only while more chunks follow:
        # wait_for would start a task per chunk, and most bodies arrive in one message.
        async with asyncio.timeout(stall) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise InputTooLarge(f"request body is over the {limit}-byte limit")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                deadline.reschedule(asyncio.get_running_loop().time() + stall)
    except TimeoutError:
        raise HTTPException(408, f"the request body stalled for {stall:g} s") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
