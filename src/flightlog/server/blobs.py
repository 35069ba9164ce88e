"""``GET /api/v1/blobs/{sha256}``: the exact bytes the blob store holds under a digest."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from flightlog.auth.tokens import TokenInfo
from flightlog.server.auth import require
from flightlog.server.problems import problem_responses
from flightlog.server.state import server_state
from flightlog.wire import BLOB

router = APIRouter(prefix="/api/v1", tags=["query"])


@router.get(
    BLOB,
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
