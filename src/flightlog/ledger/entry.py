"""Ledger entries: what an append takes, what it acknowledges, and the leaf it commits to.

The leaf is the RFC 8785 canonical JSON of ``{id, source, type, time, received_at,
payload_sha256}``; the payload itself is committed only by its digest, so it can be
erased later while every proof still verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from flightlog.api import AppendResult as AppendResult  # noqa: PLC0414 - re-exported
from flightlog.events.canonical import canonical_bytes
from flightlog.ledger.merkle import LEAF_PREFIX, leaf_hash
from flightlog.timestamps import utc_now as utc_now  # noqa: PLC0414 - re-exported for the store

LEAF_FIELDS = ("id", "source", "type", "time", "received_at", "payload_sha256")
_LEAF_TEMPLATE = '{"id":%s,"payload_sha256":%s,"received_at":%s,"source":%s,"time":%s,"type":%s}'
_quote: Callable[[str], str] = encode_basestring


@dataclass(frozen=True)
class PreparedEvent:
    """An event that passed validation, with everything the ledger needs to append it."""

    event: Mapping[str, Any]
    canonical: bytes  # RFC 8785 bytes of the event as received
    payload_sha256: str
    id: str
    source: str
    type: str
    time: str
    time_utc: str
    refs: tuple[tuple[str, str], ...]
    position: str


def payload_digest(canonical: bytes) -> str:
    """Lowercase hex SHA-256 of an event's canonical bytes."""
    return hashlib.sha256(canonical).hexdigest()


def leaf_object(
    *, id: str, source: str, type: str, time: str, received_at: str, payload_sha256: str
) -> dict[str, str]:
    """The object whose canonical bytes are the ledger leaf."""
    return {
        "id": id,
        "source": source,
        "type": type,
        "time": time,
        "received_at": received_at,
        "payload_sha256": payload_sha256,
    }


def leaf_bytes_of(
    id: str, source: str, type: str, time: str, received_at: str, payload_sha256: str
) -> bytes:
    """RFC 8785 canonical bytes of the leaf object made of these fields."""
    # Keys in RFC 8785 order. For pure-ASCII text, json's string quoting is exactly the
    # JCS one (RFC 8785 §3.2.2.2: same short escapes, lowercase \u00xx for other controls),
    # and code-point key order equals UTF-16 order; anything else takes the reference encoder.
    text = _LEAF_TEMPLATE % (
        _quote(id),
        _quote(payload_sha256),
        _quote(received_at),
        _quote(source),
        _quote(time),
        _quote(type),
    )
    if text.isascii():
        return text.encode("ascii")
    return canonical_bytes(
        leaf_object(
            id=id,
            source=source,
            type=type,
            time=time,
            received_at=received_at,
            payload_sha256=payload_sha256,
        )
    )


def leaf_hashes_of(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """Leaf hashes of many entries given as ``(_, id, source, type, time, received_at, digest, …)``.

    The same bytes as :func:`leaf_bytes_of`, computed a whole page at a time: the
    pure-ASCII check runs once over the page and the hashing stays in one comprehension.
    """
    q = _quote
    texts = [_LEAF_TEMPLATE % (q(r[1]), q(r[6]), q(r[5]), q(r[2]), q(r[4]), q(r[3])) for r in rows]
    sha256 = hashlib.sha256
    if "".join(texts).isascii():
        return [sha256(LEAF_PREFIX + t.encode("ascii")).digest() for t in texts]
    return [leaf_hash(leaf_bytes_of(r[1], r[2], r[3], r[4], r[5], r[6])) for r in rows]


def leaf_bytes(leaf: Mapping[str, str]) -> bytes:
    """RFC 8785 canonical bytes of a leaf object (all values are strings)."""
    return leaf_bytes_of(
        leaf["id"],
        leaf["source"],
        leaf["type"],
        leaf["time"],
        leaf["received_at"],
        leaf["payload_sha256"],
    )


def leaf_hash_of(leaf: Mapping[str, str]) -> bytes:
    """The RFC 9162 leaf hash of a leaf object."""
    return leaf_hash(leaf_bytes(leaf))
