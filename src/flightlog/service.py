"""The application service: the one place the CLI and the HTTP API call into.

It wires the pure core (event validation, leaf building, Merkle proofs, signed notes)
to a store and a signing key, and implements the :class:`flightlog.api.Ledger` port:
its methods return the frozen types of :mod:`flightlog.api`.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

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
)
from flightlog.events.canonical import ParsedDocument, parse_document, parse_events
from flightlog.events.envelope import ERASURE_TYPE
from flightlog.events.refs import extract_refs
from flightlog.events.validation import validate_event
from flightlog.ledger import merkle
from flightlog.ledger.audit import CHUNK, TASK_CHUNKS, Report, verify_log
from flightlog.ledger.checkpoint import Checkpoint, sign_checkpoint
from flightlog.ledger.entry import (
    PreparedEvent,
    payload_digest,
)
from flightlog.ledger.keys import load_or_create_signer
from flightlog.ledger.note import Signer, Verifier
from flightlog.store.engine import ping, sqlite_file_missing
from flightlog.store.ledger import LedgerStore, Query, StoredCheckpoint
from flightlog.store.tokens import TokenStore
from flightlog.store.verification import process_runner
from flightlog.timestamps import format_timestamp, parse_timestamp, utc_now
from flightlog.wire import check_event_size

__all__ = [
    "AppendResult",
    "EventFilter",
    "Flightlog",
    "PreparedEvent",
    "ProgressFn",
    "b64",
    "parse_and_prepare",
    "prepare_event",
]


PARALLEL_VERIFY_MIN = 4 * TASK_CHUNKS * CHUNK
"""Below this many entries, starting worker processes costs more than it saves."""

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""


def _type_patterns(value: str) -> tuple[str, ...]:
    """``--type`` accepts a full type, a type without version, or ``subject.predicate``."""
    if value.startswith("dev."):
        return (value,)
    return (f"dev.cdevents.{value}", f"dev.cdeventsx.{value}", f"dev.cdeventsx.flightlog-{value}")


def _to_query(flt: EventFilter) -> Query:
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
        since_utc=format_timestamp(flt.since) if flt.since else None,
        until_utc=format_timestamp(flt.until) if flt.until else None,
    )


def prepare_event(doc: ParsedDocument) -> PreparedEvent:
    """Validate one parsed event and derive what the ledger stores for it (pure)."""
    check_event_size(doc.canonical, doc.position)
    event = doc.value
    header = validate_event(event, position=doc.position)
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


def parse_and_prepare(
    data: bytes | str, *, name: str, max_events: int | None = None
) -> list[PreparedEvent]:
    """Parse one event, a JSON array or JSON Lines, and prepare every event (pure)."""
    return [prepare_event(d) for d in parse_events(data, name=name, max_events=max_events)]


def _checkpoint_info(cp: StoredCheckpoint) -> CheckpointInfo:
    return CheckpointInfo(note=cp.note, tree_size=cp.tree_size, root=cp.root_hash)


class Flightlog:
    """A ledger opened for use: the store plus the signing key of its origin."""

    def __init__(self, settings: Settings, store: LedgerStore, signer: Signer | None) -> None:
        self.settings = settings
        self.store = store
        self._signer = signer
        self._verifier = (
            None if signer is None else Verifier.from_verifier_key(signer.verifier_key())
        )
        self._checkpoint_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> Flightlog:
        """Open (and migrate) the store and load or create the signing key."""
        store = LedgerStore.open(settings.database_url)
        try:
            signer = load_or_create_signer(settings.key_path, settings.origin)
        except BaseException:
            store.close()
            raise
        return cls(settings, store, signer)

    @classmethod
    def open_for_reading(cls, settings: Settings) -> Flightlog:
        """Open an existing store as it is: no migration, no new file, no new key."""
        missing = sqlite_file_missing(settings.database_url)
        if missing is not None:
            raise StoreError(
                f"no ledger at {missing}; record an event or run `flightlog migrate` to create one"
            )
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

    def prepare(self, event: Mapping[str, Any], *, position: str) -> PreparedEvent:
        """Validate one already-parsed event (its canonical form is computed here)."""
        try:
            text = json.dumps(event, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise EventInvalid(f"not a JSON document: {exc}", position=position) from exc
        # Re-parsing lets the parser pick the exact canonical encoder for this document.
        doc = parse_document(text, name=position)
        if not isinstance(doc.value, dict):
            raise EventInvalid("expected a JSON object", position=position)
        return self.prepare_document(doc)

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
        self, groups: Sequence[Sequence[PreparedEvent]]
    ) -> list[list[AppendResult] | ConflictError]:
        """Group commit: append several requests' events in one transaction."""
        return self.store.append_groups(groups)

    def erase(self, index: int, *, reason: str, actor: str) -> AppendResult:
        """Erase the payload of entry ``index``, recording who did it and why."""
        if not reason.strip():
            raise InputError("an erasure needs a reason")
        row, _, _ = self.store.get(index)
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
        return self.store.erase(index, self.prepare(event, position="erasure"))

    # -- reads ------------------------------------------------------------------------

    def tree_size(self) -> int:
        """The number of entries in the log."""
        return self.store.tree_size()

    def _entry(self, row: Any, leaf_hash: bytes | None, refs: Sequence[tuple[str, str]]) -> Entry:
        return Entry(
            index=row.index,
            event=json.loads(row.payload) if row.payload is not None else None,
            refs=tuple((k, v) for k, v in refs),
            leaf=Leaf(
                id=row.id,
                source=row.source,
                type=row.type,
                time=row.time,
                received_at=row.received_at,
                payload_sha256=row.payload_sha256,
            ),
            leaf_hash=leaf_hash,
        )

    def show(self, index: int) -> Entry:
        """The full document of one entry."""
        if index < 0:
            raise NotFound(f"no entry at index {index}")
        row, leaf_hash, refs = self.store.get(index)
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
        rows = self.store.query(
            _to_query(flt), after=after, limit=limit, before=before, newest_first=newest_first
        )
        indices = [r.index for r in rows]
        refs = self.store.refs_of(indices)
        leaves = self.store.leaf_hashes(indices)
        return [self._entry(r, leaves.get(r.index), refs[r.index]) for r in rows]

    # -- checkpoints and proofs -------------------------------------------------------

    def root(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        plan = merkle.root_plan(size)
        return plan.assemble(self.store.nodes(plan.ids))[0]

    def checkpoint(self) -> CheckpointInfo:
        """Cut a signed checkpoint of the current tree (reuse the latest if nothing changed)."""
        with self._checkpoint_lock:
            latest = self.store.latest_checkpoint()
            size = self.store.tree_size()
            if latest is not None and latest.tree_size == size:
                return _checkpoint_info(latest)
            root = self.root(size)
            note = sign_checkpoint(Checkpoint(self.settings.origin, size, root), self.signer)
            return _checkpoint_info(self.store.add_checkpoint(size, root, note))

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

        ``workers`` processes check whole chunks in parallel (default: one per CPU, up to
        two, for logs of at least ``PARALLEL_VERIFY_MIN`` entries on a file or server store).
        """
        with self.store.snapshot() as snap:
            erased = [
                i
                for _, payload in snap.payloads_of_type(ERASURE_TYPE)
                if (i := _erased_index(payload)) is not None
            ]
            if workers is None:
                workers = (
                    min(2, os.cpu_count() or 1) if snap.tree_size() >= PARALLEL_VERIFY_MIN else 1
                )
            if workers <= 1 or not self.store.shareable():
                return verify_log(
                    snap, self.verifier, erased, origin=self.settings.origin, progress=progress
                )
            try:
                with process_runner(self.settings.database_url, workers, erased) as runner:
                    return verify_log(
                        snap,
                        self.verifier,
                        erased,
                        origin=self.settings.origin,
                        progress=progress,
                        runner=runner,
                    )
            except BrokenProcessPool:
                # Workers could not start (no importable __main__, say): check here instead.
                return verify_log(
                    snap, self.verifier, erased, origin=self.settings.origin, progress=progress
                )


def _erased_index(payload: bytes | None) -> int | None:
    """The index an erasure event's payload names (None if it is itself unreadable)."""
    if payload is None:
        return None
    content = json.loads(payload).get("subject", {}).get("content", {})
    index = content.get("index") if isinstance(content, dict) else None
    return index if isinstance(index, int) else None
