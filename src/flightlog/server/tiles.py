"""The log as a C2SP tlog-tiles log: ``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]``, entry bundles.

Paths, content types and caching follow tlog-tiles: a tile or bundle URL names bytes
that never change (a partial tile's ``.p/<W>`` is a prefix of the later full tile), so
they are cached for a year; the checkpoint changes and is cached for seconds. Reading
needs the ``read`` scope unless the server runs with ``--public-tiles``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from flightlog.errors import InputError
from flightlog.ledger.tiles import TileID, parse_entries_path, parse_tile_path
from flightlog.server.auth import BEARER_SECURITY, authorize
from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state

router = APIRouter(tags=["tlog-tiles"])

CHECKPOINT_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
CHECKPOINT_MAX_AGE = 5
IMMUTABLE_MAX_AGE = 31536000
PUBLIC_TILES_ATTR = "public_tiles"


def _public(request: Request) -> bool:
    return bool(getattr(request.app.state, PUBLIC_TILES_ATTR, False))


async def _guard(request: Request) -> str:
    """Demand the ``read`` scope unless tiles are public; return the cache visibility."""
    if _public(request):
        return "public"
    await authorize(request, "read")
    return "private"


def _bytes(data: bytes, visibility: str, max_age: int, *, immutable: bool) -> Response:
    control = f"{visibility}, max-age={max_age}" + (", immutable" if immutable else "")
    return Response(data, media_type=TILE_TYPE, headers={"Cache-Control": control})


def _parse(parse: Callable[[str], TileID], path: str) -> TileID:
    try:
        return parse(path)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


_OCTETS = {
    200: {"content": {TILE_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
    **problem_responses(400, 401, 403, 404, 503),
}


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (tlog-tiles; a C2SP signed note)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 503),
    },
    openapi_extra={"security": BEARER_SECURITY},
)
async def checkpoint(request: Request) -> Response:
    """The latest checkpoint note, cutting the first one if none exists yet."""
    visibility = await _guard(request)
    service = server_state(request).flightlog

    def latest() -> str:
        doc = service.latest_checkpoint() or service.checkpoint()
        return doc.note

    note = await run_in_threadpool(latest)
    return Response(
        note,
        media_type=CHECKPOINT_TYPE,
        headers={"Cache-Control": f"{visibility}, max-age={CHECKPOINT_MAX_AGE}"},
    )


@router.get(
    "/tile/entries/{path:path}",
    summary="An entry bundle: the RFC 8785 leaf bytes of up to 256 entries (tlog-tiles)",
    response_class=Response,
    responses=_OCTETS,
    openapi_extra={"security": BEARER_SECURITY},
)
async def entry_bundle(request: Request, path: str) -> Response:
    """Entry bundle ``<N>[.p/<W>]``: each leaf prefixed with its big-endian uint16 length."""
    visibility = await _guard(request)
    tile = _parse(parse_entries_path, path)
    store = server_state(request).flightlog.store
    data = await run_in_threadpool(store.entry_bundle, tile)
    return _bytes(data, visibility, IMMUTABLE_MAX_AGE, immutable=True)


@router.get(
    "/tile/{path:path}",
    summary="A Merkle tree tile: up to 256 hashes of one level (tlog-tiles)",
    response_class=Response,
    responses=_OCTETS,
    openapi_extra={"security": BEARER_SECURITY},
)
async def tile(request: Request, path: str) -> Response:
    """Tile ``<L>/<N>[.p/<W>]``: its hashes concatenated, 32 bytes each."""
    visibility = await _guard(request)
    parsed = _parse(parse_tile_path, path)
    store = server_state(request).flightlog.store
    data = await run_in_threadpool(store.tile, parsed)
    return _bytes(data, visibility, IMMUTABLE_MAX_AGE, immutable=True)
