"""Token rows: the SQL behind :mod:`flightlog.auth.tokens` (digests only, never secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from flightlog.errors import InputError, NotFound
from flightlog.store.engine import write_transaction
from flightlog.store.schema import tokens


@dataclass(frozen=True)
class TokenRow:
    """One row of the ``tokens`` table."""

    name: str
    token_sha256: str
    scopes: str
    created_at: str
    revoked_at: str | None


_COLUMNS = (
    tokens.c.name,
    tokens.c.token_sha256,
    tokens.c.scopes,
    tokens.c.created_at,
    tokens.c.revoked_at,
)


def _row(row: Any) -> TokenRow:  # a Row of _COLUMNS
    return TokenRow(
        name=str(row.name),
        token_sha256=str(row.token_sha256),
        scopes=str(row.scopes),
        created_at=str(row.created_at),
        revoked_at=None if row.revoked_at is None else str(row.revoked_at),
    )


class TokenStore:
    """The ``tokens`` table of one store."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def insert(self, row: TokenRow) -> None:
        """Add a token; InputError when its name is taken."""
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(
                    tokens.insert().values(
                        name=row.name,
                        token_sha256=row.token_sha256,
                        scopes=row.scopes,
                        created_at=row.created_at,
                        revoked_at=row.revoked_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise InputError(f"a token named {row.name!r} already exists") from exc

    def all(self) -> list[TokenRow]:
        """Every token, in creation order."""
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(sa.select(*_COLUMNS).order_by(tokens.c.id))]

    def by_digest(self, digest: str) -> TokenRow | None:
        """The token whose secret has this SHA-256, or None."""
        query = sa.select(*_COLUMNS).where(tokens.c.token_sha256 == digest)
        with self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _row(row)

    def revoke(self, name: str, revoked_at: str) -> TokenRow:
        """Mark ``name`` revoked at ``revoked_at`` unless it already is; NotFound if absent."""
        with write_transaction(self._engine) as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(tokens.c.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"no token named {name!r}")
            found = _row(row)
            if found.revoked_at is not None:
                return found
            conn.execute(tokens.update().where(tokens.c.name == name).values(revoked_at=revoked_at))
        return TokenRow(found.name, found.token_sha256, found.scopes, found.created_at, revoked_at)

    def any(self) -> bool:
        """Whether any token (even a revoked one) exists."""
        with self._engine.connect() as conn:
            return conn.execute(sa.select(tokens.c.id).limit(1)).first() is not None

    def delete(self, name: str) -> None:
        """Remove the token ``name`` (undoing a creation that could not be completed)."""
        with write_transaction(self._engine) as conn:
            conn.execute(tokens.delete().where(tokens.c.name == name))
