"""Request bodies: media types and a size limit enforced while streaming."""

from __future__ import annotations

from fastapi import HTTPException, Request

from flightlog.errors import InputError, InputTooLarge


def media_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of ``accepted`` (charset UTF-8), else 415."""
    raw = request.headers.get("content-type", "")
    kind, _, params = raw.partition(";")
    kind = kind.strip().lower()
    if kind not in accepted:
        shown = kind or "none"
        raise HTTPException(
            415, f"content type {shown!r} is not accepted here; send one of {', '.join(accepted)}"
        )
    for param in params.split(";"):
        key, _, value = param.partition("=")
        # RFC 8259 §8.1: JSON exchanged between systems is UTF-8.
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise HTTPException(415, f"charset {value.strip()!r} is not accepted; send UTF-8")
    return kind


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) anything over ``limit`` bytes without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise InputError(f"Content-Length {declared[:40]!r} is not a number") from None
        if length > limit:
            raise InputTooLarge(f"request body of {length} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputTooLarge(f"request body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
