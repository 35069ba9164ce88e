"""Bearer-token authentication (RFC 6750) as FastAPI dependencies, one per scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flightlog.auth.tokens import TokenInfo, require_scope
from flightlog.errors import AuthError
from flightlog.server.state import server_state

# auto_error=False: a missing or non-Bearer header becomes our own 401 problem
# (with the WWW-Authenticate challenge) instead of FastAPI's default answer.
bearer = HTTPBearer(auto_error=False, description="A Flightlog API token (`fl_…`).")


def require(scope: str) -> Callable[..., object]:
    """A dependency that authenticates the bearer token and demands ``scope``."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> TokenInfo:
        if credentials is None:
            raise AuthError("missing bearer token")
        cache = server_state(request).token_cache
        # A fresh cache hit is a dict lookup; only a miss goes to the database (in a thread).
        info = cache.cached(credentials.credentials)
        if info is None:
            info = await run_in_threadpool(cache.authenticate, credentials.credentials)
        require_scope(info, scope)
        return info

    dependency.__name__ = f"require_{scope}"
    return dependency
