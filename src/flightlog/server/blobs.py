"""``/api/v1/blobs``: keep a report's exact bytes (ingest scope) and serve them back (read)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from flightlog.auth.tokens import TokenInfo
from flightlog.server.auth import require
from flightlog.server.body import read_body
from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state
from flightlog.store.blobs import DEFAULT_MEDIA_TYPE, BlobStore, check_media_type
from flightlog.wire import BLOB, BLOBS

router = APIRouter(prefix="/api/v1")


def _put(store: BlobStore, data: bytes, media_type: str) -> tuple[str, bool]:
    """Store ``data``; its digest and whether it was new."""
    fresh = not store.exists(hashlib.sha256(data).hexdigest())
    return store.put(data, media_type), fresh


@router.post(
    BLOBS,
    tags=["ingest"],
    status_code=201,
    summary="Keep a report's exact bytes, content-addressed by SHA-256",
    responses={
        200: {"description": "Already kept (idempotent)"},
        **problem_responses(400, 401, 403, 413),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_blob(
    request: Request, _token: TokenInfo = Depends(require("ingest"))
) -> JSONResponse:
    """Store the body under its SHA-256 with its Content-Type; answer the digest and size."""
    state = server_state(request)
    media_type = check_media_type(request.headers.get("content-type") or DEFAULT_MEDIA_TYPE)
    data = await read_body(request, state.settings.max_report_bytes)
    digest, fresh = await run_in_threadpool(_put, state.flightlog.blobs, data, media_type)
    return JSONResponse(
        {"sha256": digest, "size": len(data), "media_type": media_type},
        status_code=201 if fresh else 200,
        headers={"Location": f"/api/v1/blobs/{digest}"},
    )


@router.get(
    BLOB,
    tags=["query"],
    summary="The exact bytes of a stored blob (webhook body, report, scan file)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The blob"},
        **problem_responses(400, 401, 403, 404),
    },
)
async def get_blob(
    request: Request,
    sha256: str = Path(description="Lower-case hex SHA-256 of the blob"),
    _token: TokenInfo = Depends(require("read")),
) -> Response:
    """Return the blob's bytes with the media type it was stored with."""
    blob = await run_in_threadpool(server_state(request).flightlog.blobs.get, sha256)
    return Response(
        blob.data,
        media_type=blob.media_type,
        headers={"Digest": f"sha-256={blob.sha256}", "Cache-Control": "immutable"},
    )
