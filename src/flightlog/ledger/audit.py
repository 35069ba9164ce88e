"""Full verification of a stored log: digests, leaves, tiles, order and checkpoints.

Everything is recomputed from what is stored and compared with what the log committed
to. The log is read in aligned chunks of ``2**CHUNK_LEVEL`` entries: for each chunk the
leaf hashes and every complete subtree inside it are recomputed level by level, and the
levels the tiles store (every eighth: tlog-tiles) are compared with the stored tiles a
run of bytes at a time; the chunk roots are then folded into the nodes above. Memory
holds one chunk, however long the log is. Verification stops at the first problem and
names it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from flightlog.errors import NoteError
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.entry import leaf_hashes_of
from flightlog.ledger.merkle import parent_level
from flightlog.ledger.note import Verifier
from flightlog.ledger.tiles import TILE_HEIGHT, TILE_WIDTH, subtree_hash

CHUNK_LEVEL = 12
CHUNK = 1 << CHUNK_LEVEL

AuditRow = tuple[int, str, str, str, str, str, str, bytes | None]
"""An entry as stored: idx, id, source, type, time, received_at, payload_sha256, payload."""

CheckedRow = tuple[int, str, str, str, str, str, str, bytes | None, str]
"""An :data:`AuditRow` followed by the entry's stored time index (``time_utc``)."""


class AuditedCheckpoint(Protocol):
    """The stored fields of a checkpoint that verification reads."""

    @property
    def id(self) -> int: ...
    @property
    def tree_size(self) -> int: ...
    @property
    def root_hash(self) -> bytes: ...
    @property
    def note(self) -> str: ...


class AuditSource(Protocol):
    """Read access to one consistent snapshot of a stored log."""

    def tree_size(self) -> int: ...
    def checked_rows_between(self, start: int, end: int) -> list[CheckedRow]: ...
    def tiles_between(self, level: int, start: int, end: int) -> list[tuple[int, bytes]]: ...
    def first_entry_outside(self, size: int) -> int | None: ...
    def tile_counts(self) -> Mapping[int, tuple[int, int]]: ...
    def find_leaf(self, leaf_hash: bytes) -> int | None: ...
    def nodes(self, ids: Sequence[merkle.NodeID]) -> Mapping[merkle.NodeID, bytes]: ...
    def iter_checkpoints(self) -> Iterator[AuditedCheckpoint]: ...


@dataclass(frozen=True)
class Problem:
    """The first thing found wrong: where, what kind, and a sentence for a person."""

    index: int | None
    kind: str  # one of PROBLEM_KINDS
    detail: str


RowsCheck = Callable[[Sequence[CheckedRow]], Problem | None]
"""Checks more of a chunk's rows once its Merkle part held (the derived indexes)."""


PROBLEM_KINDS = (
    "payload_altered",
    "leaf_altered",
    "entry_missing",
    "entries_reordered",
    "entry_inserted",
    "node_altered",
    "node_missing",
    "checkpoint_forged",
    "checkpoint_inconsistent",
)


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


@dataclass(frozen=True)
class ChunkRun:
    """What checking a run of whole chunks found: their top hashes, counts, first problem."""

    tops: list[bytes]
    entries: int
    nodes: int
    problem: Problem | None = None
    derived: Problem | None = None  # the first index drift, when the runner checked indexes


ChunkRunner = Callable[[Sequence[tuple[int, int]]], Iterable[ChunkRun]]
"""Checks runs of chunks ``(first, end)`` and yields their results in the same order."""

TASK_CHUNKS = 32
"""Whole chunks per unit of work handed to a runner (131,072 entries)."""


def verify_chunks(
    source: AuditSource,
    first: int,
    end: int,
    erased: Iterable[int],
    check_rows: RowsCheck | None = None,
) -> ChunkRun:
    """Check chunks ``first`` to ``end - 1`` (all whole) against one source.

    ``check_rows``, if given, also checks each chunk's rows as read for the Merkle part
    (one read of the entries serves both); its first problem is the run's ``derived``.
    """
    report = Report()
    gone = set(erased)
    tops: list[bytes] = []
    derived: Problem | None = None
    try:
        for c in range(first, end):
            rows = source.checked_rows_between(c * CHUNK, (c + 1) * CHUNK)
            tops.append(_verify_chunk(source, c * CHUNK, (c + 1) * CHUNK, rows, gone, report))
            if check_rows is not None and derived is None:
                derived = check_rows(rows)
    except _Stop as stop:
        return ChunkRun(tops, report.entries_checked, report.nodes_checked, stop.problem)
    return ChunkRun(tops, report.entries_checked, report.nodes_checked, derived=derived)


def verify_log(
    source: AuditSource,
    verifier: Verifier,
    erased: Sequence[int],
    *,
    origin: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    runner: ChunkRunner | None = None,
) -> Report:
    """Recompute and check the whole log; return a report naming the first problem.

    ``runner`` may check the whole chunks elsewhere (other processes, each with its
    own snapshot); by default they are checked here, one after the other.
    """
    report = Report(tree_size=source.tree_size(), erased=sorted(erased))
    gone = set(erased)
    if runner is None:
        runner = _sequential(source, gone)
    try:
        checkpoints = _signed_checkpoints(source, verifier, origin, report.tree_size)
        report.root = _verify_tree(source, gone, report, progress, runner)
        _verify_checkpoints(source, checkpoints, report)
    except _Stop as stop:
        report.problem = stop.problem
    return report


def _sequential(source: AuditSource, erased: set[int]) -> ChunkRunner:
    def run(ranges: Sequence[tuple[int, int]]) -> Iterator[ChunkRun]:
        for first, end in ranges:
            yield verify_chunks(source, first, end, erased)

    return run


def task_ranges(chunks: int) -> list[tuple[int, int]]:
    """Ranges of whole chunks to check: 1, 2, 4 … then TASK_CHUNKS each.

    Small first ranges report progress within the first second; later ones stay large
    so that worker processes are not flooded with tiny tasks.
    """
    ranges: list[tuple[int, int]] = []
    first, step = 0, 1
    while first < chunks:
        end = min(first + step, chunks)
        ranges.append((first, end))
        first, step = end, min(step * 2, TASK_CHUNKS)
    return ranges


def _verify_tree(
    source: AuditSource,
    erased: set[int],
    report: Report,
    progress: Callable[[int, int], None] | None,
    runner: ChunkRunner,
) -> bytes:
    """Check every entry and stored tile; return the recomputed root."""
    size = report.tree_size
    whole = size // CHUNK
    ranges = task_ranges(whole)
    if progress is not None:
        progress(0, size)
    upper = merkle.CompactRange()  # over chunk roots: its level l is tree level l + CHUNK_LEVEL
    upper_tiles: dict[tuple[int, int], bytes] = {}
    for (_, end), run in zip(ranges, runner(ranges), strict=True):
        report.entries_checked += run.entries
        report.nodes_checked += run.nodes
        if run.problem is not None:
            raise _Stop(run.problem)
        for top in run.tops:
            for level, idx, h in upper.append(top):
                if level and (level + CHUNK_LEVEL) % TILE_HEIGHT == 0:
                    _check_upper(source, upper_tiles, level + CHUNK_LEVEL, idx, h)
                    report.nodes_checked += 1
        if progress is not None:
            progress(end * CHUNK, size)
    if whole * CHUNK < size:
        rows = source.checked_rows_between(whole * CHUNK, size)
        _verify_chunk(source, whole * CHUNK, size, rows, erased, report)
    if progress is not None:
        progress(size, size)
    extra = source.first_entry_outside(size)
    if extra is not None:
        raise _Stop(
            Problem(
                extra,
                "entry_inserted",
                f"entry {extra} is not in the Merkle tree (the log holds {size} entries)",
            )
        )
    _check_tile_counts(source, size)
    return _root_of(source, size)


def _stored_run(source: AuditSource, level: int, first: int, count: int) -> tuple[bytes, int]:
    """Stored hashes ``first …`` of tree level ``level`` (a tile level), up to ``count``.

    Returns the bytes read from consecutive stored tiles and how many hashes they hold;
    a missing tile ends the run early.
    """
    tile_level = level // TILE_HEIGHT
    lo = first // TILE_WIDTH
    hi = (first + count - 1) // TILE_WIDTH + 1
    parts: list[bytes] = []
    for expected, (index, data) in enumerate(source.tiles_between(tile_level, lo, hi), lo):
        if index != expected:
            break
        parts.append(data)
    joined = b"".join(parts)
    skip = (first - lo * TILE_WIDTH) * merkle.HASH_SIZE
    run = joined[skip : skip + count * merkle.HASH_SIZE]
    return run, len(run) // merkle.HASH_SIZE


def _verify_chunk(
    source: AuditSource,
    start: int,
    end: int,
    rows: Sequence[CheckedRow],
    erased: set[int],
    report: Report,
) -> bytes:
    """Check one aligned chunk of entries and the tiles over it; return its highest node."""
    indices = [r[0] for r in rows]
    if indices != list(range(start, start + len(rows))) or len(rows) != end - start:
        missing = next(
            (start + k for k, i in enumerate(indices) if i != start + k), start + len(rows)
        )
        raise _Stop(Problem(missing, "entry_missing", f"entry {missing} is missing from the log"))
    sha256 = hashlib.sha256
    digests = [r[6] for r in rows]
    try:
        payloads_hold = [sha256(r[7]).hexdigest() for r in rows] == digests  # type: ignore[arg-type]
    except TypeError:  # an erased (NULL) payload somewhere in this chunk
        payloads_hold = False
    if not payloads_hold:
        _payload_problem(rows, erased)
    level = leaf_hashes(rows)
    report.entries_checked += len(rows)
    stored, _ = _stored_run(source, 0, start, len(level))
    if stored != b"".join(level):
        _leaf_problem(source, start, level, stored)
    report.nodes_checked += len(level)
    for lvl in range(1, CHUNK_LEVEL + 1):
        level = parent_level(level)
        if not level:
            break
        if lvl % TILE_HEIGHT == 0:
            first = start >> lvl
            stored, _ = _stored_run(source, lvl, first, len(level))
            if stored != b"".join(level):
                _node_problem(lvl, first, level, stored)
            report.nodes_checked += len(level)
    return level[0] if level else merkle.EMPTY_ROOT


# A leaf hash's input (the 0x00 prefix, then the leaf object's canonical form) when no
# field needs escaping: keys in RFC 8785 order.
_PLAIN_LEAF = (
    '\x00{"id":"%s","payload_sha256":"%s","received_at":"%s","source":"%s","time":"%s","type":"%s"}'
)
_PLAIN_LEAF_QUOTES = _PLAIN_LEAF.count('"')
# The bytes that rule the template out: control characters (a field's would need
# escaping), the backslash, DEL and every non-ASCII byte (left to the general encoder).
_NOT_PLAIN = bytes(range(0x20)) + b"\\\x7f" + bytes(range(0x80, 0x100))


def leaf_hashes(rows: Sequence[AuditRow | CheckedRow]) -> list[bytes]:
    """The leaf hashes of a page of stored entries (the bytes of ``leaf_bytes_of``).

    RFC 8785 writes a string as itself between quotes unless it holds a quote, a
    backslash or a control character; when no field of the page does and all of it is
    ASCII (checked once over the whole page: the prefixes are its only bytes below
    0x20, the template's its only quotes), every leaf is the template filled in as is.
    Otherwise each leaf takes the general encoder.
    """
    template = _PLAIN_LEAF
    try:
        inputs = [(template % (r[1], r[6], r[5], r[2], r[4], r[3])).encode() for r in rows]
    except UnicodeEncodeError:  # a lone surrogate: the general encoder says what it makes of it
        return leaf_hashes_of(rows)
    page = b"".join(inputs)
    if len(page) - len(page.translate(None, _NOT_PLAIN)) == len(inputs) and page.count(
        b'"'
    ) == _PLAIN_LEAF_QUOTES * len(inputs):
        sha256 = hashlib.sha256
        return [sha256(data).digest() for data in inputs]
    return leaf_hashes_of(rows)


def _payload_problem(rows: Sequence[CheckedRow], erased: set[int]) -> None:
    """Name the first entry whose payload is missing without an erasure, or altered."""
    for i, _, _, _, _, _, digest, payload, _ in rows:
        if payload is None:
            if i not in erased:
                raise _Stop(
                    Problem(
                        i,
                        "payload_altered",
                        f"the payload of entry {i} is missing without an erasure record",
                    )
                )
        elif hashlib.sha256(payload).hexdigest() != digest:
            raise _Stop(
                Problem(
                    i, "payload_altered", f"the payload of entry {i} was altered (digest mismatch)"
                )
            )


def _hashes(data: bytes) -> list[bytes]:
    size = merkle.HASH_SIZE
    return [data[k : k + size] for k in range(0, len(data), size)]


def _leaf_problem(
    source: AuditSource, start: int, computed: list[bytes], stored_run: bytes
) -> None:
    """Name what is wrong at the first leaf where recomputed and stored hashes differ."""
    stored = _hashes(stored_run)
    k = next(
        (k for k, (a, b) in enumerate(zip(computed, stored, strict=False)) if a != b), len(stored)
    )
    i = start + k
    tile = f"tile 0/{i // TILE_WIDTH}"
    if k >= len(stored):
        raise _Stop(
            Problem(i, "node_missing", f"the stored leaf hash of entry {i} is missing ({tile})")
        )
    moved = source.find_leaf(computed[k])
    if moved is not None and moved != i:
        raise _Stop(
            Problem(
                i,
                "entries_reordered",
                f"entries reordered: the entry at index {i} was recorded at index {moved}",
            )
        )
    # The level-8 hash above a full leaf tile tells which side changed: if the entries
    # still hash to it, the leaf tile was altered; otherwise the entry was.
    group = i // TILE_WIDTH
    if (group + 1) * TILE_WIDTH <= start + len(computed):
        above = source.nodes([(TILE_HEIGHT, group)]).get((TILE_HEIGHT, group))
        lo = group * TILE_WIDTH - start
        if above is not None and hmac.compare_digest(
            above, subtree_hash(computed[lo : lo + TILE_WIDTH])
        ):
            raise _Stop(
                Problem(
                    i,
                    "node_altered",
                    f"the stored leaf hash of entry {i} in {tile} was altered "
                    "(the entries still match the tile above)",
                )
            )
        if above is None:
            raise _Stop(
                Problem(
                    i,
                    "leaf_altered",
                    f"entry {i} no longer matches its stored leaf hash in {tile} "
                    "(the entry or the tile was altered)",
                )
            )
    else:
        raise _Stop(
            Problem(
                i,
                "leaf_altered",
                f"entry {i} no longer matches its stored leaf hash in {tile} "
                "(the entry or the tile was altered)",
            )
        )
    raise _Stop(
        Problem(
            i,
            "leaf_altered",
            f"entry {i} was altered: its fields no longer match the leaf the log committed to",
        )
    )


def _node_problem(level: int, first: int, computed: list[bytes], stored_run: bytes) -> None:
    """Name the first stored node at ``level`` (a tile level) that is missing or differs."""
    stored = _hashes(stored_run)
    for k, h in enumerate(computed):
        idx = first + k
        tile = f"tile {level // TILE_HEIGHT}/{idx // TILE_WIDTH}"
        if k >= len(stored):
            raise _Stop(
                Problem(
                    idx << level,
                    "node_missing",
                    f"the Merkle node at level {level}, index {idx} is missing ({tile})",
                )
            )
        if stored[k] != h:
            raise _Stop(
                Problem(
                    idx << level,
                    "node_altered",
                    f"the stored Merkle node at level {level}, index {idx} was altered ({tile})",
                )
            )


def _check_upper(
    source: AuditSource,
    cache: dict[tuple[int, int], bytes],
    level: int,
    idx: int,
    computed: bytes,
) -> None:
    """Compare a node above the chunk level with its stored tile hash (a tile read once)."""
    key = (level // TILE_HEIGHT, idx // TILE_WIDTH)
    data = cache.get(key)
    if data is None:
        cache.clear()
        found = source.tiles_between(key[0], key[1], key[1] + 1)
        data = cache[key] = found[0][1] if found else b""
    offset = (idx % TILE_WIDTH) * merkle.HASH_SIZE
    stored = data[offset : offset + merkle.HASH_SIZE]
    tile = f"tile {key[0]}/{key[1]}"
    if len(stored) != merkle.HASH_SIZE:
        raise _Stop(
            Problem(
                idx << level,
                "node_missing",
                f"the Merkle node at level {level}, index {idx} is missing ({tile})",
            )
        )
    if not hmac.compare_digest(stored, computed):
        raise _Stop(
            Problem(
                idx << level,
                "node_altered",
                f"the stored Merkle node at level {level}, index {idx} was altered ({tile})",
            )
        )


def _check_tile_counts(source: AuditSource, size: int) -> None:
    """Every tile level holds exactly the hashes of ``size`` leaves' complete subtrees."""
    for tile_level, (count, hashes) in sorted(source.tile_counts().items()):
        level = tile_level * TILE_HEIGHT
        expected = size >> level
        tiles_expected = -(-expected // TILE_WIDTH)
        if hashes > expected or count > tiles_expected:
            raise _Stop(
                Problem(
                    expected << level,
                    "node_altered",
                    f"{hashes - expected} Merkle node(s) at level {level} (tile level "
                    f"{tile_level}) exist for entries that are not in the log",
                )
            )


def _root_of(source: AuditSource, size: int) -> bytes:
    """The root of the first ``size`` entries from stored nodes (all verified by now)."""
    plan = merkle.root_plan(size)
    return plan.assemble(source.nodes(plan.ids))[0]


def _signed_checkpoints(
    source: AuditSource, verifier: Verifier, origin: str | None, size: int
) -> list[AuditedCheckpoint]:
    """Check every checkpoint's signature and order; return them in the order cut."""
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


def _verify_checkpoints(
    source: AuditSource, checkpoints: list[AuditedCheckpoint], report: Report
) -> None:
    """Each checkpoint's root must be the root of the (verified) tree at its size."""
    roots: dict[int, bytes] = {}
    for cp in checkpoints:
        root = roots.get(cp.tree_size)
        if root is None:
            root = roots[cp.tree_size] = _root_of(source, cp.tree_size)
        if not hmac.compare_digest(root, cp.root_hash):
            raise _Stop(
                Problem(
                    None,
                    "checkpoint_inconsistent",
                    f"checkpoint #{cp.id} (size {cp.tree_size}) has a root that does not match the log",
                )
            )
        report.checkpoints_checked += 1
