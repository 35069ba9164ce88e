"""The content-addressed blob store: exact bytes kept under their SHA-256, beside the ledger.

Webhook bodies live here today, test reports and scan files later. A blob is written
once and never changed: putting the same bytes again is a no-op, so a retried write
can never disagree with the first. The ledger commits to a blob by naming its digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from flightlog.errors import InputError, NotFound
from flightlog.ledger.entry import utc_now
from flightlog.store.engine import write_transaction
from flightlog.store.schema import metadata

__all__ = [
    "DEFAULT_MEDIA_TYPE",
    "Blob",
    "BlobStore",
    "blobs",
    "check_digest",
    "check_media_type",
    "write_blobs",
]

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)

_DIGEST = re.compile(r"[0-9a-f]{64}")
# RFC 6838 §4.2 restricted names: "type/subtype", parameters left out.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
DEFAULT_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Blob:
    """One stored blob: its digest, media type and exact bytes."""

    sha256: str
    media_type: str
    data: bytes
    created_at: str


def check_digest(value: str) -> str:
    """``value`` if it is a lower-case hex SHA-256, else InputError."""
    if not _DIGEST.fullmatch(value):
        raise InputError(f"{value[:80]!r} is not a SHA-256 digest (64 lower-case hex digits)")
    return value


def check_media_type(value: str) -> str:
    """``value``'s ``type/subtype`` in lower case (parameters dropped), else InputError."""
    kind = value.partition(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(kind):
        raise InputError(f"{value[:80]!r} is not a media type (type/subtype, RFC 6838)")
    return kind


class BlobStore:
    """Blobs in the ledger's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def put(self, data: bytes, media_type: str = DEFAULT_MEDIA_TYPE) -> str:
        """Store ``data`` (idempotently) and return its hex SHA-256."""
        [digest] = self.put_many([(data, media_type)])
        return digest

    def put_many(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        """Store several ``(data, media_type)`` blobs in one transaction; their digests."""
        with write_transaction(self.engine) as conn:
            return write_blobs(conn, items)

    def get(self, sha256: str) -> Blob:
        """The blob named ``sha256``; NotFound when there is none."""
        check_digest(sha256)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(blobs.c.media_type, blobs.c.data, blobs.c.created_at).where(
                    blobs.c.sha256 == sha256
                )
            ).first()
        if row is None:
            raise NotFound(f"no blob with SHA-256 {sha256}")
        return Blob(sha256, row.media_type, bytes(row.data), row.created_at)

    def exists(self, sha256: str) -> bool:
        """Whether a blob named ``sha256`` is stored."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(sa.literal(1)).where(blobs.c.sha256 == sha256)).first()
        return found is not None


def write_blobs(conn: sa.Connection, items: Sequence[tuple[bytes, str]]) -> list[str]:
    """Insert ``(data, media_type)`` blobs inside ``conn``'s transaction; their digests.

    The append path calls this in its own transaction, so events that name a blob and
    the blob itself commit together.
    """
    now = utc_now()
    rows: dict[str, dict[str, object]] = {}
    digests = []
    for data, media_type in items:
        digest = hashlib.sha256(data).hexdigest()
        digests.append(digest)
        rows.setdefault(
            digest,
            {
                "sha256": digest,
                "size": len(data),
                "media_type": media_type,
                "data": data,
                "created_at": now,
            },
        )
    if rows:
        # Only the dialect in use is loaded: an SQLite process never imports PostgreSQL's.
        if conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement: sa.Executable = sqlite_insert(blobs).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(blobs).on_conflict_do_nothing()
        conn.execute(statement, list(rows.values()))
    return digests
