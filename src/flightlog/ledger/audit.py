"""Full verification of a stored log: digests, leaves, nodes, order and checkpoints.

Everything is recomputed from what is stored and compared with what the log committed
to. Reading is streamed (a page at a time per table and per tree level) so memory stays
flat however long the log is. Verification stops at the first problem and names it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from flightlog.errors import NoteError
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.entry import leaf_hash_of, leaf_object
from flightlog.ledger.note import Verifier


class AuditedEntry(Protocol):
    """The stored fields of an entry that verification reads."""

    index: int
    id: str
    source: str
    type: str
    time: str
    received_at: str
    payload_sha256: str
    payload: bytes | None


class AuditedCheckpoint(Protocol):
    """The stored fields of a checkpoint that verification reads."""

    id: int
    tree_size: int
    root_hash: bytes
    note: str


class AuditSource(Protocol):
    """Read access to a stored log, as verification needs it."""

    def tree_size(self) -> int: ...
    def count_entries(self) -> int: ...
    def iter_entries(self) -> Iterator[AuditedEntry]: ...
    def iter_level(self, level: int) -> Iterator[tuple[int, bytes]]: ...
    def max_level(self) -> int: ...
    def find_leaf(self, leaf_hash: bytes) -> int | None: ...
    def iter_checkpoints(self) -> Iterator[AuditedCheckpoint]: ...


@dataclass(frozen=True)
class Problem:
    """The first thing found wrong: where, what kind, and a sentence for a person."""

    index: int | None
    kind: str  # payload_altered, leaf_altered, entry_missing, entries_reordered, entry_inserted,
    # node_altered, node_missing, checkpoint_forged, checkpoint_inconsistent
    detail: str


@dataclass
class Report:
    """What verification checked and the first problem found, if any."""

    tree_size: int = 0
    entries_checked: int = 0
    nodes_checked: int = 0
    checkpoints_checked: int = 0
    erased: list[int] = field(default_factory=list)
    root: bytes = merkle.EMPTY_ROOT
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """Whether everything held."""
        return self.problem is None


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _LevelReader:
    """Walks one level's stored nodes in index order, in step with the recomputation."""

    def __init__(self, it: Iterator[tuple[int, bytes]]) -> None:
        self._it = it
        self._peek: tuple[int, bytes] | None = next(it, None)

    def take(self, index: int) -> bytes | None:
        """The stored hash at ``index`` or None; skipping is itself reported by the caller."""
        while self._peek is not None and self._peek[0] < index:
            self._peek = next(self._it, None)
        if self._peek is not None and self._peek[0] == index:
            value = self._peek[1]
            self._peek = next(self._it, None)
            return value
        return None

    def leftover(self) -> int | None:
        """The index of a stored node beyond what was recomputed, if one exists."""
        return None if self._peek is None else self._peek[0]


def verify_log(
    source: AuditSource,
    verifier: Verifier,
    erased: Sequence[int],
    *,
    origin: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Recompute and check the whole log; return a report naming the first problem."""
    report = Report(tree_size=source.tree_size(), erased=sorted(erased))
    try:
        _verify(source, verifier, set(erased), origin, progress, report)
    except _Stop as stop:
        report.problem = stop.problem
    return report


def _verify(  # noqa: PLR0912, PLR0915 - one streaming pass over the log, kept in one loop for speed
    source: AuditSource,
    verifier: Verifier,
    erased: set[int],
    origin: str | None,
    progress: Callable[[int, int], None] | None,
    report: Report,
) -> None:
    size = report.tree_size
    total = max(size, source.count_entries())
    cps = _checked_checkpoints(source, verifier, origin, size)
    levels: dict[int, _LevelReader] = {}
    top = source.max_level()

    def level(n: int) -> _LevelReader:
        reader = levels.get(n)
        if reader is None:
            reader = levels[n] = _LevelReader(source.iter_level(n))
        return reader

    tree = merkle.CompactRange()
    pending_leaf: int | None = None  # index whose leaf disagreed with its stored level-0 node
    cp_pos = 0
    while cp_pos < len(cps) and cps[cp_pos].tree_size == 0:
        _check_root(cps[cp_pos], tree)
        cp_pos += 1
    expected = 0
    for entry in source.iter_entries():
        i = entry.index
        if i != expected:
            if i > expected:
                raise _Stop(
                    Problem(expected, "entry_missing", f"entry {expected} is missing from the log")
                )
            raise _Stop(Problem(i, "entry_inserted", f"unexpected entry at index {i}"))
        if i >= size:
            raise _Stop(
                Problem(
                    i,
                    "entry_inserted",
                    f"entry {i} is not in the Merkle tree (the log holds {size} entries)",
                )
            )
        _check_payload(entry, erased)
        recomputed = leaf_hash_of(
            leaf_object(
                id=entry.id,
                source=entry.source,
                type=entry.type,
                time=entry.time,
                received_at=entry.received_at,
                payload_sha256=entry.payload_sha256,
            )
        )
        for lvl, idx, h in tree.append(recomputed):
            stored = level(lvl).take(idx)
            report.nodes_checked += 1
            if stored is None:
                raise _Stop(
                    Problem(
                        i, "node_missing", f"the Merkle node at level {lvl}, index {idx} is missing"
                    )
                )
            if hmac.compare_digest(stored, h):
                if pending_leaf is not None and lvl == 1 and idx == pending_leaf >> 1:
                    raise _Stop(
                        Problem(
                            pending_leaf,
                            "node_altered",
                            f"the stored leaf hash of entry {pending_leaf} was altered "
                            "(the entry still matches its parent node)",
                        )
                    )
                continue
            if lvl == 0:
                moved = source.find_leaf(recomputed)
                if moved is not None and moved != i:
                    raise _Stop(
                        Problem(
                            i,
                            "entries_reordered",
                            f"entries reordered: the entry at index {i} was recorded at index {moved}",
                        )
                    )
                pending_leaf = i
                continue
            if pending_leaf is not None and lvl == 1 and idx == pending_leaf >> 1:
                raise _Stop(_leaf_altered(pending_leaf))
            raise _Stop(
                Problem(
                    idx << lvl,
                    "node_altered",
                    f"the stored Merkle node at level {lvl}, index {idx} was altered",
                )
            )
        expected = i + 1
        report.entries_checked += 1
        while cp_pos < len(cps) and cps[cp_pos].tree_size == tree.size:
            if pending_leaf is not None:
                raise _Stop(_leaf_altered(pending_leaf))
            _check_root(cps[cp_pos], tree)
            report.checkpoints_checked += 1
            cp_pos += 1
        if progress is not None and (expected & 0x3FFF) == 0:
            progress(expected, total)
    if pending_leaf is not None:
        raise _Stop(_leaf_altered(pending_leaf))
    if expected < size:
        raise _Stop(Problem(expected, "entry_missing", f"entry {expected} is missing from the log"))
    for lvl in range(top + 1):
        extra = level(lvl).leftover()
        if extra is not None:
            raise _Stop(
                Problem(
                    extra << lvl,
                    "node_altered",
                    f"a Merkle node at level {lvl}, index {extra} exists for entries that are not in the log",
                )
            )
    if cp_pos < len(cps):
        cp = cps[cp_pos]
        raise _Stop(
            Problem(
                None,
                "checkpoint_inconsistent",
                f"checkpoint #{cp.id} claims {cp.tree_size} entries but the log holds {size}",
            )
        )
    report.root = tree.root()
    if progress is not None:
        progress(expected, total)


def _leaf_altered(index: int) -> Problem:
    return Problem(
        index,
        "leaf_altered",
        f"entry {index} was altered: its fields no longer match the leaf the log committed to",
    )


def _check_payload(entry: AuditedEntry, erased: set[int]) -> None:
    if entry.payload is None:
        if entry.index in erased:
            return
        raise _Stop(
            Problem(
                entry.index,
                "payload_altered",
                f"the payload of entry {entry.index} is missing without an erasure record",
            )
        )
    if hashlib.sha256(entry.payload).hexdigest() != entry.payload_sha256:
        raise _Stop(
            Problem(
                entry.index,
                "payload_altered",
                f"the payload of entry {entry.index} was altered (digest mismatch)",
            )
        )


def _checked_checkpoints(
    source: AuditSource, verifier: Verifier, origin: str | None, size: int
) -> list[AuditedCheckpoint]:
    """Check every checkpoint's signature and order; return them sorted by tree size."""
    ordered: list[AuditedCheckpoint] = []
    previous: AuditedCheckpoint | None = None
    for cp in source.iter_checkpoints():
        try:
            body = open_checkpoint(cp.note, verifier, origin=origin)
        except NoteError as exc:
            raise _Stop(
                Problem(None, "checkpoint_forged", f"checkpoint #{cp.id} does not verify: {exc}")
            ) from exc
        if body.tree_size != cp.tree_size or not hmac.compare_digest(body.root_hash, cp.root_hash):
            raise _Stop(
                Problem(
                    None,
                    "checkpoint_forged",
                    f"checkpoint #{cp.id}: its stored size or root differs from its signed note",
                )
            )
        if previous is not None and cp.tree_size < previous.tree_size:
            raise _Stop(
                Problem(
                    None,
                    "checkpoint_inconsistent",
                    f"checkpoint #{cp.id} has {cp.tree_size} entries, fewer than checkpoint #{previous.id} before it",
                )
            )
        if cp.tree_size > size:
            raise _Stop(
                Problem(
                    None,
                    "checkpoint_inconsistent",
                    f"checkpoint #{cp.id} claims {cp.tree_size} entries but the log holds {size}",
                )
            )
        ordered.append(cp)
        previous = cp
    return ordered


def _check_root(cp: AuditedCheckpoint, tree: merkle.CompactRange) -> None:
    if not hmac.compare_digest(cp.root_hash, tree.root()):
        raise _Stop(
            Problem(
                None,
                "checkpoint_inconsistent",
                f"checkpoint #{cp.id} (size {cp.tree_size}) has a root that does not match the log",
            )
        )
