"""The application port: the ``Ledger`` protocol and the frozen types that cross it.

The local service (:mod:`flightlog.service`) and the HTTP client
(:mod:`flightlog.client.http`) both implement :class:`Ledger`; the server serialises
these types with ``to_wire`` and the client reads them back with ``from_wire``, so
the CLI renders one shape whichever side answered. This module imports neither a web
framework nor a database driver.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from flightlog.errors import RemoteError

__all__ = [
    "AppendResult",
    "CheckpointInfo",
    "ConsistencyProof",
    "Entry",
    "EventFilter",
    "InclusionProof",
    "Leaf",
    "Ledger",
    "VerifyReport",
    "b64",
    "b64decode",
]


def b64(data: bytes) -> str:
    """Standard base64 text, as C2SP and RFC 9162 documents show hashes."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, what: str) -> bytes:
    """Bytes of a base64 member of a server answer; RemoteError naming ``what`` otherwise."""
    if not isinstance(text, str):
        raise RemoteError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise RemoteError(f"{what} is not valid base64") from None


def _int(doc: Mapping[str, Any], key: str, what: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RemoteError(f"{what}: {key!r} is not an integer")
    return value


def _str(doc: Mapping[str, Any], key: str, what: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise RemoteError(f"{what}: {key!r} is not a string")
    return value


def _object(doc: object, what: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise RemoteError(f"{what} is not a JSON object")
    return doc


@dataclass(frozen=True)
class AppendResult:
    """What an append acknowledges for one event."""

    index: int
    leaf_hash: bytes
    duplicate: bool


@dataclass(frozen=True)
class EventFilter:
    """Filters of ``flightlog log`` and ``GET /api/v1/events`` (all optional, ANDed)."""

    type: str | None = None
    service: str | None = None
    environment: str | None = None
    commit: str | None = None
    artifact: str | None = None
    ticket: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Leaf:
    """The committed fields of a ledger leaf (their RFC 8785 bytes are hashed)."""

    id: str
    source: str
    type: str
    time: str
    received_at: str
    payload_sha256: str

    def to_wire(self) -> dict[str, str]:
        """The leaf object."""
        return {name: getattr(self, name) for name in _leaf_fields()}

    @classmethod
    def from_wire(cls, doc: object, what: str = "leaf") -> Leaf:
        """Read a leaf object; RemoteError when a field is missing or not text."""
        obj = _object(doc, what)
        return cls(**{name: _str(obj, name, what) for name in _leaf_fields()})


def _leaf_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Leaf))


@dataclass(frozen=True)
class Entry:
    """One ledger entry: the event as received (None once erased), its refs and leaf."""

    index: int
    event: Mapping[str, Any] | None
    refs: tuple[tuple[str, str], ...]
    leaf: Leaf
    leaf_hash: bytes | None
    problems: tuple[str, ...] = ()
    """What does not match in the stored entry (a forged payload, say); empty when sound."""
    unreadable: bool = False
    """The payload is stored but cannot be shown (it is listed in ``problems``)."""

    @property
    def erased(self) -> bool:
        """Whether the payload was erased."""
        return self.event is None and not self.unreadable

    def to_wire(self) -> dict[str, Any]:
        """The show-document of ``GET /api/v1/events/{index}`` and ``show --json``."""
        return {
            "index": self.index,
            "event": self.event,
            "erased": self.erased,
            "refs": [[k, v] for k, v in self.refs],
            "leaf": self.leaf.to_wire(),
            "leaf_hash": b64(self.leaf_hash) if self.leaf_hash is not None else None,
            "problems": list(self.problems),
        }

    @classmethod
    def from_wire(cls, doc: object) -> Entry:
        """Read a show-document; RemoteError when it does not have that shape."""
        what = "entry"
        obj = _object(doc, what)
        index = _int(obj, "index", what)
        event = obj.get("event")
        if event is not None and not isinstance(event, Mapping):
            raise RemoteError(f"entry {index}: 'event' is neither an object nor null")
        refs = obj.get("refs")
        if not isinstance(refs, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(p, str) for p in r) for r in refs
        ):
            raise RemoteError(f"entry {index}: 'refs' is not a list of [kind, value] pairs")
        raw_hash = obj.get("leaf_hash")
        problems = obj.get("problems", [])
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            raise RemoteError(f"entry {index}: 'problems' is not a list of strings")
        return cls(
            index=index,
            event=event,
            refs=tuple((k, v) for k, v in refs),
            leaf=Leaf.from_wire(obj.get("leaf"), f"entry {index}: leaf"),
            leaf_hash=None
            if raw_hash is None
            else b64decode(raw_hash, f"entry {index}: leaf_hash"),
            problems=tuple(problems),
            unreadable=event is None and obj.get("erased") is False,
        )


@dataclass(frozen=True)
class CheckpointInfo:
    """A signed checkpoint note with its tree size and root hash."""

    note: str
    tree_size: int
    root: bytes

    def to_wire(self) -> dict[str, Any]:
        """The checkpoint document ``{note, tree_size, root}``."""
        return {"note": self.note, "tree_size": self.tree_size, "root": b64(self.root)}

    @classmethod
    def from_wire(cls, doc: object) -> CheckpointInfo:
        """Read a checkpoint document; RemoteError when it does not have that shape."""
        what = "checkpoint"
        obj = _object(doc, what)
        return cls(
            note=_str(obj, "note", what),
            tree_size=_int(obj, "tree_size", what),
            root=b64decode(obj.get("root"), "checkpoint root"),
        )


def _hashes(values: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(values, list):
        raise RemoteError(f"{what} is not a list of base64 hashes")
    return tuple(b64decode(v, what) for v in values)


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 9162 inclusion proof of one leaf in the tree of ``tree_size`` leaves."""

    index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes
    checkpoint: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The proof document, hashes in base64."""
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "proof": [b64(h) for h in self.proof],
            "root": b64(self.root),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_wire(cls, doc: object) -> InclusionProof:
        """Read an inclusion proof document; RemoteError when it does not have that shape."""
        what = "inclusion proof"
        obj = _object(doc, what)
        note = obj.get("checkpoint")
        return cls(
            index=_int(obj, "index", what),
            tree_size=_int(obj, "tree_size", what),
            leaf_hash=b64decode(obj.get("leaf_hash"), f"{what}: leaf_hash"),
            proof=_hashes(obj.get("proof"), f"{what}: proof"),
            root=b64decode(obj.get("root"), f"{what}: root"),
            checkpoint=note if isinstance(note, str) else None,
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 9162 consistency proof that tree ``second`` extends tree ``first``."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: tuple[bytes, ...]

    def to_wire(self) -> dict[str, Any]:
        """The proof document, hashes in base64."""
        return {
            "first": self.first,
            "second": self.second,
            "first_root": b64(self.first_root),
            "second_root": b64(self.second_root),
            "proof": [b64(h) for h in self.proof],
        }

    @classmethod
    def from_wire(cls, doc: object) -> ConsistencyProof:
        """Read a consistency proof document; RemoteError when it does not have that shape."""
        what = "consistency proof"
        obj = _object(doc, what)
        return cls(
            first=_int(obj, "first", what),
            second=_int(obj, "second", what),
            first_root=b64decode(obj.get("first_root"), f"{what}: first_root"),
            second_root=b64decode(obj.get("second_root"), f"{what}: second_root"),
            proof=_hashes(obj.get("proof"), f"{what}: proof"),
        )


def append_result_to_wire(result: AppendResult) -> dict[str, Any]:
    """The acknowledgement ``{index, leaf_hash, duplicate}`` of one appended event."""
    return {
        "index": result.index,
        "leaf_hash": b64(result.leaf_hash),
        "duplicate": result.duplicate,
    }


def append_result_from_wire(doc: object) -> AppendResult:
    """Read one acknowledgement; RemoteError when it does not have that shape."""
    what = "acknowledgement"
    obj = _object(doc, what)
    duplicate = obj.get("duplicate")
    if not isinstance(duplicate, bool):
        raise RemoteError(f"{what}: 'duplicate' is not a boolean")
    return AppendResult(
        index=_int(obj, "index", what),
        leaf_hash=b64decode(obj.get("leaf_hash"), f"{what}: leaf_hash"),
        duplicate=duplicate,
    )


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found, locally or through a server: ``problem`` names the first fault."""

    ok: bool
    tree_size: int
    root: bytes | None
    entries_checked: int
    details: Mapping[str, Any] = field(default_factory=dict)
    problem: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The ``verify --json`` document."""
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "entries_checked": self.entries_checked,
            **self.details,
            "root": b64(self.root) if self.root is not None else None,
            "problem": None if self.problem is None else dict(self.problem),
        }


@runtime_checkable
class Ledger(Protocol):
    """What the CLI asks of a ledger, local or behind a server."""

    def record_bytes(
        self, data: bytes, *, name: str, progress: Callable[[int, int], None] | None = None
    ) -> Sequence[AppendResult]:
        """Parse, validate and append events (one JSON event, an array or JSON Lines).

        ``progress(done, total)`` is called as events are acknowledged.
        """
        ...

    def show(self, index: int) -> Entry:
        """One entry."""
        ...

    def log(
        self,
        flt: EventFilter,
        *,
        after: int | None = None,
        limit: int = 100,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Entry]:
        """Entries matching ``flt`` between ``after`` and ``before``, oldest (or newest) first."""
        ...

    def checkpoint(self) -> CheckpointInfo:
        """Cut (or reuse) a signed checkpoint of the current tree."""
        ...

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``size`` (default: latest checkpoint)."""
        ...

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """Proof that the tree of ``second`` entries extends the tree of ``first``."""
        ...

    def verifier_key(self) -> str:
        """The verifier key that checks this log's checkpoints."""
        ...

    def blob(self, sha256: str) -> bytes:
        """The exact bytes the blob store holds under ``sha256`` (NotFound when absent)."""
        ...

    def put_blob(self, data: bytes, *, media_type: str) -> str:
        """Keep ``data`` in the blob store (idempotently); return its hex SHA-256."""
        ...

    def trace(
        self,
        target: str,
        *,
        at: datetime | None = None,
        deployment: str | None = None,
        artifact: str | None = None,
    ) -> dict[str, Any]:
        """What runs in ``ENV/SERVICE`` (now, at ``at``, or a named deployment) and its chain."""
        ...

    def diff(self, target: str, older: str, newer: str) -> dict[str, Any]:
        """Commits, authors, tickets and systems between two deployments of ``ENV/SERVICE``."""
        ...

    def suspects(
        self, environment: str, *, at: datetime, window_seconds: float, service: str | None = None
    ) -> dict[str, Any]:
        """Deployments to ``environment`` in the window before ``at``, ranked with reasons."""
        ...

    def search(self, text: str, *, limit: int = 50) -> dict[str, Any]:
        """Entries whose messages, titles, names, test names, CVE ids or tickets match."""
        ...

    def timeline(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service: str | None = None,
        environment: str | None = None,
        system: str | None = None,
        limit: int = 500,
    ) -> dict[str, Any]:
        """Every event between ``since`` and ``until`` in ledger order, filtered by where."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
