"""Tests of reading a request body: chunks, the size limit, disconnects and stalls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import HTTPException
from starlette.requests import ClientDisconnect, Request

from flightlog.errors import InputTooLarge
from flightlog.server.body import read_body


def _request(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]) -> Request:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(3600)
        return pending.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive)


def _chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


def test_chunks_are_joined() -> None:
    """A body sent in several messages comes back whole."""
    request = _request(_chunks(b'{"a"', b"", b":1}"), [])
    assert asyncio.run(read_body(request, 100)) == b'{"a":1}'


def test_one_message_body() -> None:
    """A body sent in one message comes back as it is."""
    request = _request(_chunks(b"[1,2]"), [(b"content-length", b"5")])
    assert asyncio.run(read_body(request, 5)) == b"[1,2]"


def test_over_the_limit_while_streaming() -> None:
    """A body without Content-Length is refused once it passes the limit."""
    request = _request(_chunks(b"x" * 6, b"y" * 6), [])
    with pytest.raises(InputTooLarge, match="over the 10-byte limit"):
        asyncio.run(read_body(request, 10))


def test_declared_length_over_the_limit() -> None:
    """A declared Content-Length over the limit is refused before reading."""
    request = _request([], [(b"content-length", b"11")])
    with pytest.raises(InputTooLarge, match="11 bytes is over the 10-byte limit"):
        asyncio.run(read_body(request, 10))


def test_disconnect_mid_body() -> None:
    """A client that goes away mid-upload is a ClientDisconnect."""
    request = _request([*_chunks(b"ab", b"cd")[:1], {"type": "http.disconnect"}], [])
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(request, 100))


def test_stall_between_chunks_is_408() -> None:
    """A body that stops arriving answers 408 after the stall time."""
    request = _request(_chunks(b"ab", b"cd")[:1], [])
    with pytest.raises(HTTPException) as caught:
        asyncio.run(read_body(request, 100, stall=0.05))
    assert caught.value.status_code == 408


def test_stall_before_the_first_chunk_is_408() -> None:
    """A request whose body never starts answers 408 after the stall time."""
    request = _request([], [])
    with pytest.raises(HTTPException) as caught:
        asyncio.run(read_body(request, 100, stall=0.05))
    assert caught.value.status_code == 408


def test_one_stalled_read_leaves_the_others_alone() -> None:
    """Reads share one watch: a stalled one gets 408, its neighbours finish, none stays cancelled."""

    async def read_slow() -> tuple[bytes, int]:
        # Three chunks 20 ms apart: each moves the 50 ms deadline forward.
        parts = iter([b"a", b"b"])

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(0.02)
            part = next(parts, None)
            if part is None:
                return {"type": "http.request", "body": b"c", "more_body": False}
            return {"type": "http.request", "body": part, "more_body": True}

        scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
        body = await read_body(Request(scope, receive), 100, stall=0.05)
        return body, _cancelling()

    async def read_stalled() -> tuple[int, int]:
        try:
            await read_body(_request([], []), 100, stall=0.05)
        except HTTPException as exc:
            return exc.status_code, _cancelling()
        return 0, _cancelling()

    async def main() -> tuple[object, ...]:
        return tuple(await asyncio.gather(read_slow(), read_stalled(), read_slow()))

    assert asyncio.run(main()) == ((b"abc", 0), (408, 0), (b"abc", 0))


def _cancelling() -> int:
    task = asyncio.current_task()
    assert task is not None
    return task.cancelling()
