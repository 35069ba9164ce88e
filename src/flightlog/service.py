"""The application service: the one place the CLI and the HTTP API call into.

It wires the pure core (event validation, leaf building, Merkle proofs, signed notes)
to a store and a signing key, and implements the :class:`flightlog.api.Ledger` port:
its methods return the frozen types of :mod:`flightlog.api`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flightlog.api import (
    AppendResult,
    CheckpointInfo,
    ConsistencyProof,
    Entry,
    EventFilter,
    InclusionProof,
    Leaf,
    b64,
)
from flightlog.config import Settings
from flightlog.errors import (
    ConflictError,
    EventInvalid,
    InputError,
    KeyFileError,
    NotFound,
    StoreError,
    UnknownName,
)
from flightlog.events.canonical import (
    MAX_DEPTH,
    ParsedDocument,
    nesting_depth,
    parse_document,
    parse_events,
)
from flightlog.events.envelope import ERASURE_TYPE
from flightlog.events.refs import extract_refs
from flightlog.ledger import merkle
from flightlog.ledger.audit import (
    CHUNK,
    TASK_CHUNKS,
    ChunkRun,
    ChunkRunner,
    Problem,
    Report,
    verify_log,
)
from flightlog.ledger.checkpoint import Checkpoint, sign_checkpoint
from flightlog.ledger.entry import (
    PreparedEvent,
    leaf_bytes_of,
    payload_digest,
)
from flightlog.ledger.keys import (
    check_ledger_key,
    load_or_create_signer,
    require_existing_key,
)
from flightlog.ledger.note import Signer, Verifier
from flightlog.store.blobs import BlobStore, check_media_type
from flightlog.store.engine import delete_sqlite_files, ping, require_existing_store
from flightlog.store.ledger import LedgerStore, Query, StoredCheckpoint
from flightlog.store.tokens import TokenStore
from flightlog.store.webhook_sources import WebhookSources, delivery_index
from flightlog.timestamps import format_timestamp, parse_timestamp, utc_now
from flightlog.wire import check_event_size

__all__ = [
    "DEMO_ERASURE_REASON",
    "AppendResult",
    "DemoCensus",
    "EventFilter",
    "Flightlog",
    "PreparedEvent",
    "ProgressFn",
    "b64",
    "parse_and_prepare",
    "prepare_event",
    "prepare_value",
]


PARALLEL_VERIFY_MIN = 4 * TASK_CHUNKS * CHUNK
"""Below this many entries, starting worker processes costs more than it saves."""

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""

if TYPE_CHECKING:
    from flightlog.store.lineage import LineageStore

# The read path (questions, log, show) loads neither the JSON Schema validator nor the
# verification machinery: those modules are imported where an append or a verify needs them.


def _type_patterns(value: str) -> tuple[str, ...]:
    """``--type`` accepts a full type, a type without version, or ``subject.predicate``."""
    if value.startswith("dev."):
        return (value,)
    return (f"dev.cdevents.{value}", f"dev.cdeventsx.{value}", f"dev.cdeventsx.flightlog-{value}")


MAX_INDEX = 2**63 - 1
"""Indices are 64-bit in both stores; a larger number names no entry."""


def _time_bound(moment: datetime | None) -> str | None:
    """The ``time_utc`` text a filter time compares with, for any representable moment."""
    if moment is None:
        return None
    try:
        return format_timestamp(moment)
    except OverflowError:
        # Beyond 9999-12-31 or before 0001-01-01 in UTC: sort past every stored time
        # ("~" follows digits) or before all of them.
        return "~" if moment.year == datetime.max.year else ""


def _refuse_nul(values: Sequence[str | None]) -> None:
    if any(v is not None and "\x00" in v for v in values):
        raise InputError("filters must not contain NUL (U+0000)")


def _to_query(flt: EventFilter) -> Query:
    _refuse_nul(
        (flt.type, flt.service, flt.environment, flt.commit, flt.artifact, flt.ticket, flt.actor)
    )
    pairs = (
        ("service", flt.service),
        ("environment", flt.environment),
        ("commit", flt.commit),
        ("artifact", flt.artifact),
        ("ticket", flt.ticket),
        ("actor", flt.actor),
    )
    return Query(
        refs=tuple((k, v) for k, v in pairs if v),
        types=_type_patterns(flt.type) if flt.type else (),
        since_utc=_time_bound(flt.since),
        until_utc=_time_bound(flt.until),
    )


def prepare_event(doc: ParsedDocument, *, erasure: bool = False) -> PreparedEvent:
    """Validate one parsed event and derive what the ledger stores for it (pure).

    Erasure records are written only by :meth:`Flightlog.erase` (``erasure=True``);
    any other path refuses them, so nobody can forge one.
    """
    from flightlog.events.validation import validate_event

    check_event_size(doc.canonical, doc.position)
    event = doc.value
    header = validate_event(event, position=doc.position, canonical=doc.canonical)
    if (header.type == ERASURE_TYPE) != erasure:
        raise EventInvalid(
            "erasure records are written only by flightlog erase (admin), never ingested"
            if not erasure
            else "not an erasure record",
            path="$.context.type",
            position=doc.position,
        )
    return PreparedEvent(
        event=event,
        canonical=doc.canonical,
        payload_sha256=payload_digest(doc.canonical),
        id=header.id,
        source=header.source,
        type=header.type,
        time=header.timestamp,
        time_utc=header.time_utc,
        refs=tuple(extract_refs(event)),
        position=doc.position,
    )


def prepare_value(
    event: Mapping[str, Any], *, position: str, erasure: bool = False
) -> PreparedEvent:
    """Validate one already-parsed event; its canonical form is computed here (pure)."""
    try:
        text = json.dumps(event, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EventInvalid(f"not a JSON document: {exc}", position=position) from exc
    # Re-parsing lets the parser pick the exact canonical encoder for this document.
    doc = parse_document(text, name=position)
    if not isinstance(doc.value, dict):
        raise EventInvalid("expected a JSON object", position=position)
    return prepare_event(doc, erasure=erasure)


def parse_and_prepare(
    data: bytes | str, *, name: str, max_events: int | None = None
) -> list[PreparedEvent]:
    """Parse one event, a JSON array or JSON Lines, and prepare every event (pure)."""
    return [prepare_event(d) for d in parse_events(data, name=name, max_events=max_events)]


def _checkpoint_info(cp: StoredCheckpoint) -> CheckpointInfo:
    return CheckpointInfo(note=cp.note, tree_size=cp.tree_size, root=cp.root_hash)


DEMO_ERASURE_REASON = "demo data, removed by flightlog demo --remove"
"""The reason every erasure made by :meth:`Flightlog.erase_demo` records."""


@dataclass(frozen=True)
class DemoCensus:
    """Which entries of a ledger are demo data, counted in one consistent read."""

    size: int
    demo: tuple[int, ...]  # indices whose stored, intact event has customData.demo: true

    @property
    def others(self) -> int:
        """Entries that are not demo data: real events, erasure records, erased payloads."""
        return self.size - len(self.demo)

    @property
    def all_demo(self) -> bool:
        """Whether the ledger holds entries and every one of them is demo data."""
        return self.size > 0 and self.others == 0


@dataclass
class DerivedFound:
    """Index drift the chunk runner found during the Merkle pass, and how far it looked."""

    checked: int = 0  # entries [0, checked) had their refs and time index checked
    problem: Problem | None = None

    def collecting(self, runner: ChunkRunner) -> ChunkRunner:
        """``runner``, noting the first index drift its runs report, in ledger order."""

        def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
            for (_, end), result in zip(ranges, runner(ranges), strict=True):
                if self.problem is None and result.problem is None:
                    self.problem = result.derived
                    self.checked = end * CHUNK
                yield result

        return run


class Flightlog:
    """A ledger opened for use: the store plus the signing key of its origin."""

    def __init__(self, settings: Settings, store: LedgerStore, signer: Signer | None) -> None:
        self.settings = settings
        self.store = store
        self._signer = signer
        self._verifier = (
            None if signer is None else Verifier.from_verifier_key(signer.verifier_key())
        )

    @classmethod
    def open(cls, settings: Settings) -> Flightlog:
        """Open (and migrate) the store and load or create the signing key."""
        store = LedgerStore.open(settings.database_url)
        try:
            require_existing_key(store.first_checkpoint_note(), settings.key_path)
            signer = load_or_create_signer(settings.key_path, settings.origin)
        except BaseException:
            store.close()
            raise
        return cls(settings, store, signer)

    @classmethod
    def open_for_reading(cls, settings: Settings) -> Flightlog:
        """Open an existing store as it is: no migration, no new file, no new key."""
        require_existing_store(settings.database_url)
        store = LedgerStore.open(settings.database_url, migrate=False)
        try:
            signer = (
                load_or_create_signer(settings.key_path, settings.origin)
                if settings.key_path.exists()
                else None
            )
        except BaseException:
            store.close()
            raise
        return cls(settings, store, signer)

    @property
    def signer(self) -> Signer:
        """The signing key; KeyFileError when this store was opened without one."""
        if self._signer is None:
            raise KeyFileError(
                f"no signing key at {self.settings.key_path}; set FLIGHTLOG_HOME to the "
                "directory holding signing.key"
            )
        return self._signer

    @property
    def verifier(self) -> Verifier:
        """The verifier of the signing key."""
        if self._verifier is None:
            self._verifier = Verifier.from_verifier_key(self.signer.verifier_key())
        return self._verifier

    @property
    def tokens(self) -> TokenStore:
        """The API tokens of this store."""
        return TokenStore(self.store.engine)

    @property
    def blobs(self) -> BlobStore:
        """The content-addressed store of raw deliveries and reports."""
        return BlobStore(self.store.engine)

    @property
    def webhook_sources(self) -> WebhookSources:
        """The configured webhook sources and their secrets."""
        return WebhookSources(self.store.engine)

    def blob(self, sha256: str) -> bytes:
        """The exact bytes the blob store holds under ``sha256`` (NotFound when absent)."""
        return self.blobs.get(sha256).data

    def put_blob(self, data: bytes, *, media_type: str) -> str:
        """Keep ``data`` in the blob store (idempotently); return its hex SHA-256."""
        return self.blobs.put(data, check_media_type(media_type))

    def delivery_index(self, source: str, event_id: str) -> int | None:
        """The ledger index of the event ``source`` + ``event_id``, or None."""
        return delivery_index(self.store.engine, source, event_id)

    def ping(self) -> None:
        """StoreError unless the database answers."""
        ping(self.store.engine)

    def close(self) -> None:
        """Release database connections."""
        self.store.close()

    def __enter__(self) -> Flightlog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest -----------------------------------------------------------------------

    def prepare_document(self, doc: ParsedDocument) -> PreparedEvent:
        """Validate one parsed event and derive what the ledger stores for it."""
        return prepare_event(doc)

    def prepare(
        self, event: Mapping[str, Any], *, position: str, erasure: bool = False
    ) -> PreparedEvent:
        """Validate one already-parsed event (its canonical form is computed here)."""
        return prepare_value(event, position=position, erasure=erasure)

    def parse_and_validate(
        self, data: bytes | str, *, name: str, max_events: int | None = None
    ) -> list[PreparedEvent]:
        """Parse one event, a JSON array or JSON Lines, and validate every event."""
        return parse_and_prepare(data, name=name, max_events=max_events)

    def record_bytes(
        self, data: bytes, *, name: str, progress: ProgressFn | None = None
    ) -> list[AppendResult]:
        """Parse, validate and append events atomically (one event, an array or JSON Lines)."""
        events = self.parse_and_validate(data, name=name)
        if progress is not None:
            progress(0, len(events))
        results = self.record(events)
        if progress is not None:
            progress(len(results), len(events))
        return results

    def record(self, events: Sequence[PreparedEvent]) -> list[AppendResult]:
        """Append events atomically; ConflictError when one clashes with a recorded event."""
        (outcome,) = self.store.append_groups([events])
        if isinstance(outcome, ConflictError):
            raise outcome
        return outcome

    def record_groups(
        self,
        groups: Sequence[Sequence[PreparedEvent]],
        blobs: Sequence[tuple[bytes, str]] = (),
    ) -> list[list[AppendResult] | ConflictError]:
        """Group commit: append several requests' events, and the blobs they name, at once."""
        return self.store.append_groups(groups, blobs)

    def erase(self, index: int, *, reason: str, actor: str) -> AppendResult:
        """Erase the payload of entry ``index``, recording who did it and why."""
        if not reason.strip():
            raise InputError("an erasure needs a reason")
        if not actor.strip():
            raise InputError("an erasure needs the name of who erases (--actor or FLIGHTLOG_ACTOR)")
        row, _, _ = self.store.get(_index(index))
        if row.type == ERASURE_TYPE:
            raise InputError(
                f"entry {index} is an erasure record; erasure records are never erased"
            )
        event = {
            "context": {
                "specversion": "0.5.1",
                "id": str(uuid.uuid4()),
                "source": f"/flightlog/{self.settings.origin}",
                "type": ERASURE_TYPE,
                "timestamp": utc_now(),
            },
            "subject": {
                "id": f"ledger/{index}",
                "source": f"/flightlog/{self.settings.origin}",
                "content": {
                    "index": index,
                    "payloadSha256": row.payload_sha256,
                    "reason": reason,
                    "erasedBy": actor,
                },
            },
        }
        return self.store.erase(index, self.prepare(event, position="erasure", erasure=True))

    # -- demo data ---------------------------------------------------------------------

    def demo_census(self) -> DemoCensus:
        """Count the demo entries: an intact stored event whose ``customData.demo`` is true.

        An erased or altered payload is never counted as demo data, so nothing whose
        content cannot be checked is ever treated as removable.
        """
        from flightlog.demo import is_demo

        size = 0
        found: list[int] = []
        for row in self.store.iter_entries():
            size += 1
            if row.payload is None or b'"demo"' not in row.payload:
                continue
            event, problems = _stored_event(row.payload, row.payload_sha256)
            if not problems and is_demo(event):
                found.append(row.index)
        return DemoCensus(size=size, demo=tuple(found))

    def erase_demo(self, census: DemoCensus, *, actor: str) -> list[AppendResult]:
        """Erase the payload of every demo entry of ``census``, each by an audited erasure.

        Leaves, the Merkle tree and proofs stay; refs and lineage rows go with each
        payload, so no question sees the demo any more. Rerunning finishes an
        interrupted removal: entries already erased are no longer demo entries.
        """
        if not actor.strip():
            raise InputError("removing the demo needs the name of who does it (--actor)")
        return [self.erase(i, reason=DEMO_ERASURE_REASON, actor=actor) for i in census.demo]

    def delete_demo_store(self, census: DemoCensus) -> list[str]:
        """Delete the SQLite store when every entry is demo data; the files removed.

        Refused for PostgreSQL (drop the database instead), for a ledger that is not all
        demo data, and when the ledger changed since ``census`` was taken. The store is
        closed first; the signing key is left where it is.
        """
        path = self.store.sqlite_path()
        if path is None:
            raise InputError(
                "every entry is demo data, but this store is a database server's: drop the "
                f"database {self.store.engine.url.database!r} to remove it (nothing was changed)"
            )
        if not census.all_demo:
            raise InputError(
                f"the ledger holds {census.others} entries that are not demo data; "
                "it is not deleted"
            )
        now = self.store.tree_size()
        if now != census.size:
            raise StoreError(
                f"the ledger changed while removing the demo ({census.size} entries, now {now});"
                " nothing was deleted: run the command again"
            )
        self.store.close()
        return delete_sqlite_files(path)

    # -- reads ------------------------------------------------------------------------

    def rebuild_lineage(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recreate the lineage tables from the ledger alone; the number of entries read."""
        from flightlog.store.lineage import rebuild_lineage

        return rebuild_lineage(self.store.engine, progress)

    def tree_size(self) -> int:
        """The number of entries in the log."""
        return self.store.tree_size()

    def _entry(self, row: Any, leaf_hash: bytes | None, refs: Sequence[tuple[str, str]]) -> Entry:
        leaf = Leaf(
            id=row.id,
            source=row.source,
            type=row.type,
            time=row.time,
            received_at=row.received_at,
            payload_sha256=row.payload_sha256,
        )
        event, problems = _stored_event(row.payload, row.payload_sha256)
        if leaf_hash is not None and merkle.leaf_hash(leaf_bytes_of(**leaf.to_wire())) != leaf_hash:
            problems.append("leaf_altered: the entry's fields do not match its stored leaf hash")
        return Entry(
            index=row.index,
            event=event,
            refs=tuple((k, v) for k, v in refs),
            leaf=leaf,
            leaf_hash=leaf_hash,
            problems=tuple(problems),
            unreadable=event is None and row.payload is not None,
        )

    def show(self, index: int) -> Entry:
        """The full document of one entry."""
        row, leaf_hash, refs = self.store.get(_index(index))
        return self._entry(row, leaf_hash, refs)

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
        if limit < 1:
            raise InputError("limit must be at least 1")
        if after is not None and after >= MAX_INDEX:
            return []
        if before is not None and before <= 0:
            return []
        rows = self.store.query(
            _to_query(flt),
            after=max(after, -1) if after is not None else None,
            limit=limit,
            before=min(before, MAX_INDEX) if before is not None else None,
            newest_first=newest_first,
        )
        indices = [r.index for r in rows]
        refs = self.store.refs_of(indices)
        leaves = self.store.leaf_hashes(indices)
        return [self._entry(r, leaves.get(r.index), refs[r.index]) for r in rows]

    # -- the questions: trace, diff, suspects, search, timeline ------------------------

    def _lineage(self) -> LineageStore:
        from flightlog.store.lineage import LineageStore

        return LineageStore(self.store.engine)

    def trace(
        self,
        target: str,
        *,
        at: datetime | None = None,
        deployment: str | None = None,
        artifact: str | None = None,
    ) -> dict[str, Any]:
        """What runs in ``ENV/SERVICE`` (now, at ``at``, or a named deployment) and its chain."""
        from flightlog.lineage.trace import trace

        _refuse_nul((target, deployment, artifact))
        with self._lineage() as reader:
            return trace(
                reader, target, at_utc=_time_bound(at), deployment=deployment, artifact=artifact
            )

    def diff(self, target: str, older: str, newer: str) -> dict[str, Any]:
        """Commits, authors, tickets and systems between two deployments of ``ENV/SERVICE``."""
        from flightlog.lineage.trace import diff

        _refuse_nul((target, older, newer))
        with self._lineage() as reader:
            return diff(reader, target, older, newer)

    def suspects(
        self, environment: str, *, at: datetime, window_seconds: float, service: str | None = None
    ) -> dict[str, Any]:
        """Deployments to ``environment`` in the window before ``at``, ranked with reasons."""
        from flightlog.lineage.suspects import suspects

        _refuse_nul((environment, service))
        if window_seconds <= 0:
            raise InputError("the window must be positive")
        with self._lineage() as reader:
            return suspects(
                reader,
                environment=environment,
                service=service,
                at_utc=_time_bound(at) or "",
                window=timedelta(seconds=window_seconds),
            )

    def _items(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        from flightlog.lineage.timeline import item

        rows = self.store.entries_at(indices)
        refs = self.store.refs_of(indices)
        out = []
        for index in indices:
            row = rows.get(index)
            if row is None:
                raise NotFound(f"no entry at index {index}")
            event, _ = _stored_event(row.payload, row.payload_sha256)
            out.append(item(index, row.time_utc, row.type, event, refs[index]))
        return out

    def _check_refs(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """UnknownName, with the nearest names, for a filter value no event carries."""
        from flightlog.lineage.resolve import nearest

        lineage = self._lineage()
        for kind, value in pairs:
            if value and not lineage.indices_with(kind, value, limit=1):
                known = self.store.ref_values(kind)
                raise UnknownName(f"no event names the {kind} {value!r}; {nearest(value, known)}")

    def search(self, text: str, *, limit: int = 50) -> dict[str, Any]:
        """Entries whose messages, titles, names, test names, CVE ids or tickets match ``text``."""
        _refuse_nul((text,))
        if not text.strip():
            raise InputError("search for at least one word")
        return {"query": text, "results": self._items(self._lineage().search(text, limit=limit))}

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
        from flightlog.lineage.timeline import item

        _refuse_nul((service, environment, system))
        pairs = (("service", service), ("environment", environment), ("system", system))
        query = Query(
            refs=tuple((k, v) for k, v in pairs if v),
            since_utc=_time_bound(since),
            until_utc=_time_bound(until),
        )
        rows = self.store.query(query, after=None, limit=limit)
        if not rows:
            self._check_refs(pairs)
        refs = self.store.refs_of([r.index for r in rows])
        events = []
        for row in rows:
            event, _ = _stored_event(row.payload, row.payload_sha256)
            events.append(item(row.index, row.time_utc, row.type, event, refs[row.index]))
        return {"since": _time_bound(since), "until": _time_bound(until), "events": events}

    # -- checkpoints and proofs -------------------------------------------------------

    def root(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        plan = merkle.root_plan(size)
        return plan.assemble(self.store.nodes(plan.ids))[0]

    def checkpoint(self) -> CheckpointInfo:
        """Cut a signed checkpoint of the current tree (reuse the latest if nothing changed)."""
        return _checkpoint_info(self.store.cut_checkpoint(self._sign_checkpoint))

    def _sign_checkpoint(self, size: int, root: bytes, first_note: str | None) -> str:
        check_ledger_key(first_note, self.signer, self.settings.key_path)
        return sign_checkpoint(Checkpoint(self.settings.origin, size, root), self.signer)

    def check_key(self) -> None:
        """KeyMismatch when this process's key did not sign the ledger's first checkpoint."""
        check_ledger_key(self.store.first_checkpoint_note(), self.signer, self.settings.key_path)

    def latest_checkpoint(self) -> CheckpointInfo | None:
        """The latest stored checkpoint, or None."""
        cp = self.store.latest_checkpoint()
        return None if cp is None else _checkpoint_info(cp)

    def checkpoint_age_seconds(self) -> float | None:
        """Seconds since the latest checkpoint was cut."""
        cp = self.store.latest_checkpoint()
        if cp is None:
            return None
        return (datetime.now(UTC) - parse_timestamp(cp.created_at)).total_seconds()

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``size`` (default: latest checkpoint)."""
        if size is None:
            # Check the index first: a request for a missing entry must not cut a checkpoint.
            current = self.store.tree_size()
            if index < 0 or index >= current:
                raise NotFound(f"no entry at index {index} (the log holds {current} entries)")
            latest = self.latest_checkpoint()
            if latest is None or latest.tree_size <= index:
                latest = self.checkpoint()
            size = latest.tree_size
        with self.store.snapshot() as snap:
            current = snap.tree_size()
            if index < 0 or index >= current:
                raise NotFound(f"no entry at index {index} (the log holds {current} entries)")
            if size <= index or size > current:
                raise InputError(
                    f"tree size {size} must be greater than index {index} and at most {current}"
                )
            plan = merkle.inclusion_plan(index, size)
            root_plan = merkle.root_plan(size)
            nodes = snap.nodes(plan.ids + root_plan.ids + ((0, index),))
            note = snap.checkpoint_note(size)
        return InclusionProof(
            index=index,
            tree_size=size,
            leaf_hash=nodes[(0, index)],
            proof=tuple(plan.assemble(nodes)),
            root=root_plan.assemble(nodes)[0],
            checkpoint=note,
        )

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """Proof that the tree of ``second`` entries extends the tree of ``first``."""
        with self.store.snapshot() as snap:
            current = snap.tree_size()
            if not 0 < first <= second <= current:
                raise InputError(
                    f"need 0 < first <= second <= {current} (the log size); got {first} and {second}"
                )
            plan = merkle.consistency_plan(first, second)
            r1, r2 = merkle.root_plan(first), merkle.root_plan(second)
            nodes = snap.nodes(plan.ids + r1.ids + r2.ids)
        return ConsistencyProof(
            first=first,
            second=second,
            first_root=r1.assemble(nodes)[0],
            second_root=r2.assemble(nodes)[0],
            proof=tuple(plan.assemble(nodes)),
        )

    def verifier_key(self) -> str:
        """The verifier key string of this log's signing key."""
        return self.signer.verifier_key()

    def verify(self, progress: ProgressFn | None = None, *, workers: int | None = None) -> Report:
        """Recompute and check everything stored; the report names the first problem.

        Cells of the wrong type are reported first (they would break the arithmetic), then
        the Merkle tree and checkpoints, then the indexes queries trust (refs, time). The
        cells of the entry and ref rows are checked while the rest runs (on an SQLite
        file; first elsewhere); what they find is the answer whatever the rest found,
        and an error the rest raised stands when they find nothing.
        """
        from flightlog.ledger.integrity import cell_problem
        from flightlog.store.snapshot import CELL_TABLES, ROW_TABLES
        from flightlog.store.verification import row_cells_checked

        with self.store.snapshot() as snap:
            few = [t for t in CELL_TABLES if t not in ROW_TABLES]
            malformed = cell_problem(snap.malformed_cell(few))
        if malformed is not None:
            return Report(problem=malformed)
        with row_cells_checked(self.store.sqlite_path(), self.store.snapshot) as row_cells:
            try:
                report = self._verify_rows(progress, workers=workers)
            except Exception:
                malformed = cell_problem(row_cells())
                if malformed is None:
                    raise
            else:
                malformed = cell_problem(row_cells())
        return report if malformed is None else Report(problem=malformed)

    def _verify_rows(self, progress: ProgressFn | None, *, workers: int | None) -> Report:
        """The Merkle tree, checkpoints and derived indexes (all of ``verify`` but cells)."""
        from flightlog.ledger.integrity import derived_range_problem, refs_outside_problem

        derived = DerivedFound()
        report = self._verify_tree(progress, workers=workers, derived=derived)
        if report.ok and derived.problem is not None:
            report.problem = derived.problem
        elif report.ok:
            size = report.tree_size
            with self.store.snapshot() as snap:
                # The chunk runs checked the indexes of their entries; the rest here.
                report.problem = derived_range_problem(
                    snap, derived.checked, size
                ) or refs_outside_problem(snap, size)
        return report

    def _verify_tree(
        self, progress: ProgressFn | None, *, workers: int | None, derived: DerivedFound
    ) -> Report:
        """Check every digest, leaf, node and checkpoint (the Merkle part of ``verify``).

        The indexes derived from the entries of whole chunks are checked in the same pass
        (``derived`` notes how far and the first drift). ``workers`` processes share the
        chunks (default: one per CPU, up to two, for logs of at least
        ``PARALLEL_VERIFY_MIN`` entries on a file or server store).
        """
        from concurrent.futures.process import BrokenProcessPool

        from flightlog.ledger.integrity import genuine_erasures
        from flightlog.store.verification import local_runner, process_runner

        with self.store.snapshot() as snap:
            erased = genuine_erasures(
                snap.payloads_of_type(ERASURE_TYPE), snap.digests_of, self.settings.origin
            )
            if workers is None:
                workers = (
                    min(2, os.cpu_count() or 1) if snap.tree_size() >= PARALLEL_VERIFY_MIN else 1
                )

            def check(runner: ChunkRunner) -> Report:
                return verify_log(
                    snap,
                    self.verifier,
                    erased,
                    origin=self.settings.origin,
                    progress=progress,
                    runner=derived.collecting(runner),
                )

            if workers <= 1 or not self.store.shareable():
                return check(local_runner(snap, erased))
            try:
                with process_runner(
                    self.settings.database_url,
                    workers - 1,
                    erased,
                    sqlite_path=self.store.sqlite_path(),
                    local=snap,
                ) as runner:
                    return check(runner)
            except BrokenProcessPool:
                # Workers could not start (no importable __main__, say): check here instead.
                derived.checked, derived.problem = 0, None
                return check(local_runner(snap, erased))


def _stored_event(payload: bytes | None, digest: str) -> tuple[Any, list[str]]:
    """The stored event (None once erased or unreadable) and what is wrong with it."""
    if payload is None:
        return None, []
    problems = []
    if payload_digest(payload) != digest:
        problems.append("payload_altered: the stored payload does not match its digest")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        return None, [*problems, "payload_unreadable: the stored payload is not a JSON event"]
    if nesting_depth(event) > MAX_DEPTH:
        # Stored before the intake limit existed: renderers and serialisers would recurse
        # past their limits, so the document carries the digest-checked fact instead.
        detail = f"payload_too_deep: the stored event nests more than {MAX_DEPTH} levels"
        return None, [*problems, detail]
    return event, problems


def _index(index: int) -> int:
    """``index`` if it can name an entry at all, else NotFound."""
    if not 0 <= index <= MAX_INDEX:
        raise NotFound(f"no entry at index {index}")
    return index
