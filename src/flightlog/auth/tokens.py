"""Scoped API tokens over the ``tokens`` table.

A token is ``fl_`` followed by 32 random bytes in URL-safe base64. Only its SHA-256
digest is stored, so a database dump discloses no usable secret; the secret is shown
once, when it is created. Scopes are ``ingest``, ``read`` and ``admin``; ``admin``
implies every other scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flightlog.errors import AuthError, ForbiddenError, InputError
from flightlog.files import write_private_file
from flightlog.timestamps import utc_seconds

if TYPE_CHECKING:
    from flightlog.store.tokens import TokenRow, TokenStore

TOKEN_PREFIX = "fl_"  # noqa: S105 - a public marker that makes leaked tokens greppable
SECRET_BYTES = 32
SCOPES: tuple[str, ...] = ("ingest", "read", "admin")
ADMIN_SCOPE = "admin"
FIRST_ADMIN_NAME = "admin"
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a token, never its secret."""

    name: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        """Whether the token was revoked."""
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        """Whether this token grants ``scope`` (``admin`` grants every scope)."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


def token_digest(secret: str) -> str:
    """Hex SHA-256 of a token secret, the only form in which tokens are stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Validate scopes and return them deduplicated in canonical order."""
    wanted = {s.strip().lower() for s in scopes}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InputError(
            f"unknown scope {', '.join(map(repr, unknown))}; expected one of {', '.join(SCOPES)}"
        )
    if not wanted:
        raise InputError(f"a token needs at least one scope ({', '.join(SCOPES)})")
    return tuple(s for s in SCOPES if s in wanted)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InputError(f"token name must be 1 to {MAX_NAME_LENGTH} printable characters")
    return name


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        scopes=tuple(row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_token(store: TokenStore, name: str, scopes: Iterable[str]) -> str:
    """Create a token named ``name`` with ``scopes`` and return its secret (shown once)."""
    name = _check_name(name)
    canonical = normalise_scopes(scopes)
    # Imported here: the CLI loads this module for its scopes without a database driver.
    from flightlog.store.tokens import TokenRow

    secret = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    store.insert(
        TokenRow(
            name=name,
            token_sha256=token_digest(secret),
            scopes=" ".join(canonical),
            created_at=utc_seconds(),
            revoked_at=None,
        )
    )
    return secret


def list_tokens(store: TokenStore) -> list[TokenInfo]:
    """Every token ever created (revoked ones included), in creation order."""
    return [_info(row) for row in store.all()]


def revoke_token(store: TokenStore, name: str) -> TokenInfo:
    """Revoke the token named ``name`` and return it; NotFound when there is none."""
    return _info(store.revoke(name, utc_seconds()))


def authenticate(store: TokenStore, secret: str | None) -> TokenInfo:
    """The token behind ``secret``; AuthError when it is missing, unknown or revoked."""
    if not secret:
        raise AuthError("missing bearer token")
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthError("invalid bearer token")
    digest = token_digest(secret)
    row = store.by_digest(digest)
    # Compare in constant time as well, so the answer never depends on how the
    # database matched the digest.
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        raise AuthError("invalid bearer token")
    info = _info(row)
    if info.revoked:
        raise AuthError("bearer token was revoked")
    return info


def require_scope(info: TokenInfo, scope: str) -> None:
    """Raise ForbiddenError unless ``info`` grants ``scope``."""
    if not info.allows(scope):
        raise ForbiddenError(f"token {info.name!r} lacks the {scope!r} scope")


def ensure_first_admin(store: TokenStore, path: Path) -> bool:
    """On a store without tokens, create ``admin`` and write its secret to ``path`` (0600).

    Returns whether a token was created. When several processes start at once, the
    unique token name lets exactly one of them win; the others leave the file alone.
    """
    if store.any():
        return False
    try:
        secret = create_token(store, FIRST_ADMIN_NAME, [ADMIN_SCOPE])
    except InputError:
        return False
    try:
        # A file left from an earlier store cannot hold a valid token (that store's
        # tokens table is gone), so it is replaced rather than kept.
        write_private_file(path, (secret + "\n").encode("utf-8"))
    except OSError:
        store.delete(FIRST_ADMIN_NAME)
        raise
    return True


class TokenCache:
    """A small time-bounded LRU of successful authentications, keyed by token digest.

    Ingest then costs one SELECT per token every ``ttl`` seconds instead of one per
    request; a revocation made by another process takes effect within ``ttl``.
    """

    def __init__(
        self,
        lookup: Callable[[str], TokenInfo],
        *,
        ttl: float = 5.0,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, TokenInfo]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, secret: str) -> TokenInfo | None:
        """The fresh cached authentication of ``secret``, without touching the database."""
        key = token_digest(secret)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]
        return None

    def authenticate(self, secret: str | None) -> TokenInfo:
        """Like :func:`authenticate`, answered from the cache while the entry is fresh."""
        if not secret:
            raise AuthError("missing bearer token")
        hit = self.cached(secret)
        if hit is not None:
            return hit
        key = token_digest(secret)
        now = self._clock()
        info = self._lookup(secret)
        with self._lock:
            self._entries[key] = (now + self._ttl, info)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return info

    def forget(self) -> None:
        """Drop every cached entry (after a revocation in this process)."""
        with self._lock:
            self._entries.clear()
