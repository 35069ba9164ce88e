"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint is a signed note whose text is the log's origin, its tree size and the
base64 RFC 6962 root hash, one per line, followed by optional extension lines.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from flightlog.errors import CheckpointError
from flightlog.ledger.note import Signer, Verifier, open_note, sign_note, strict_b64decode

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"[0-9]+")


def _line_problem(line: str) -> str | None:
    """Why ``line`` cannot be one line of a checkpoint, or None."""
    if not line:
        return "is empty"
    for char in line:
        if char < " ":
            return f"contains control character U+{ord(char):04X}"
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, tree size, root hash and extension lines."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _line_problem(self.origin)
        if problem is not None:
            raise CheckpointError(f"checkpoint origin {problem}")
        if not 0 <= self.tree_size <= MAX_TREE_SIZE:
            raise CheckpointError(
                f"checkpoint tree size {self.tree_size} is outside the uint64 range"
            )
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(
                f"checkpoint root hash is {len(self.root_hash)} bytes, expected {HASH_SIZE}"
            )
        for number, extension in enumerate(self.extensions, start=1):
            problem = _line_problem(extension)
            if problem is not None:
                raise CheckpointError(f"checkpoint extension line {number} {problem}")

    def to_text(self) -> str:
        """The checkpoint note text: origin, size, base64 root hash and extensions, each + "\\n"."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.tree_size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def _parse_tree_size(line: str) -> int:
    """Line 2: ASCII decimal, no leading zeroes unless it is 0, within uint64."""
    if not line:
        raise CheckpointError("checkpoint tree size (line 2) is empty")
    if not _DECIMAL.fullmatch(line):
        raise CheckpointError(
            f"checkpoint tree size (line 2) {line!r} is not an ASCII decimal number"
        )
    if len(line) > 1 and line.startswith("0"):
        raise CheckpointError(f"checkpoint tree size (line 2) {line!r} has a leading zero")
    # Compare lengths first: int() of a very long digit string is slow and may refuse.
    if len(line) > len(str(MAX_TREE_SIZE)) or int(line) > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint tree size (line 2) {line} exceeds the uint64 range")
    return int(line)


def _parse_root_hash(line: str) -> bytes:
    """Line 3: base64 of exactly 32 bytes."""
    if not line:
        raise CheckpointError("checkpoint root hash (line 3) is empty")
    try:
        root = strict_b64decode(line)
    except ValueError:
        raise CheckpointError(
            f"checkpoint root hash (line 3) {line!r} is not valid base64"
        ) from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(
            f"checkpoint root hash (line 3) is {len(root)} bytes, expected {HASH_SIZE}"
        )
    return root


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (origin, tree size, root hash, extensions)."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text does not end with a newline")
    lines = text[:-1].split("\n")
    for number, line in enumerate(lines, start=1):
        problem = _line_problem(line)
        if problem is not None and line:
            raise CheckpointError(f"checkpoint line {number} {problem}")
    if len(lines) < 3:
        raise CheckpointError(
            f"checkpoint has {len(lines)} line(s), needs at least 3: "
            "origin, tree size and root hash"
        )
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin (line 1) is empty")
    tree_size = _parse_tree_size(size_line)
    root_hash = _parse_root_hash(root_line)
    # tlog-checkpoint "Note text": extension lines, if any, MUST be non-empty.
    for number, extension in enumerate(extensions, start=4):
        if not extension:
            raise CheckpointError(f"checkpoint extension line (line {number}) is empty")
    return Checkpoint(
        origin=origin, tree_size=tree_size, root_hash=root_hash, extensions=tuple(extensions)
    )


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note; the signer's key name must be the origin."""
    # tlog-checkpoint "Signatures": the log's key name SHOULD match the origin line;
    # Flightlog always signs as its origin, so a mismatch is a configuration error.
    if signer.name != checkpoint.origin:
        raise CheckpointError(
            f"signing key {signer.name!r} does not belong to origin {checkpoint.origin!r}"
        )
    return sign_note(checkpoint.to_text(), signer)


def open_checkpoint(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint against ``verifier`` and parse it; check its origin if given."""
    opened = open_note(note, [verifier])
    checkpoint = parse_checkpoint(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected origin {origin!r}"
        )
    return checkpoint
