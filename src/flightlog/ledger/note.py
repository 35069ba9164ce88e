"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature
lines ``— <key name> base64(key id || signature)``. Keys are identified by their name
and a 4-byte key id; verifier keys use the Go ``golang.org/x/mod/sumdb/note`` format
``<name>+<hex key id>+base64(0x01 || public key)`` so existing tooling can check notes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from flightlog.errors import NoteError

ED25519 = 0x01
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4
# signed-note "Format": verifiers SHOULD cap the signature count and MUST accept 16;
# 100 is the cap of the Go reference implementation.
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE

_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """The RECOMMENDED key id: SHA-256(name || 0x0A || type || key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:KEY_ID_SIZE], "big")


def strict_b64decode(text: str) -> bytes:
    """Decode standard padded base64 (RFC 4648 §4), rejecting anything non-canonical.

    Raises ``ValueError`` for characters outside the alphabet, bad padding, or
    non-zero trailing bits, so that one byte string has exactly one accepted encoding.
    """
    try:
        decoded = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not canonical base64") from exc
    if base64.b64encode(decoded).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return decoded


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid key name per signed-note "Format", or None."""
    if not name:
        return "key name is empty"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"key name {name!r} is not valid UTF-8"
    if "+" in name:
        return f"key name {name!r} contains '+'"
    if any(char.isspace() for char in name):
        return f"key name {name!r} contains a space"
    return None


def _control_character(text: str) -> tuple[int, str] | None:
    """The offset and character of the first control character other than newline."""
    for offset, char in enumerate(text):
        if char < " " and char != "\n":
            return offset, char
    return None


def _check_utf8(text: str, what: str) -> None:
    """Raise NoteError unless ``text`` is valid UTF-8 without control characters but newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8 (at offset {exc.start})") from None
    found = _control_character(text)
    if found is not None:
        offset, char = found
        raise NoteError(f"{what} contains control character U+{ord(char):04X} at offset {offset}")


@dataclass(frozen=True)
class Signature:
    """One signature line of a note: key name, key id and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A note's text (including its final newline) and its signatures."""

    text: str
    signatures: tuple[Signature, ...]


class Signer:
    """An Ed25519 note signer: a key name and a private key."""

    __slots__ = ("_private_key", "key_id", "name", "public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        problem = _name_problem(name)
        if problem is None and not name.isprintable():
            problem = f"key name {name!r} contains a non-printable character"
        if problem is not None:
            raise NoteError(f"invalid signer: {problem}")
        self._private_key = private_key
        self.name = name
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, ED25519, self.public_key)

    def __repr__(self) -> str:
        """Name and key id only: the private key never appears in output."""
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"

    def verifier_key(self) -> str:
        """The verifier key ``<name>+<hex key id>+base64(0x01 || public key)``."""
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private_key.sign(message)


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: key name, key id and 32-byte public key."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        problem = _name_problem(self.name)
        if problem is not None:
            raise NoteError(f"invalid verifier: {problem}")
        if len(self.public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise NoteError(
                f"invalid verifier {self.name!r}: Ed25519 public key is "
                f"{len(self.public_key)} bytes, expected {ED25519_PUBLIC_KEY_SIZE}"
            )
        expected = key_id(self.name, ED25519, self.public_key)
        if self.key_id != expected:
            raise NoteError(
                f"invalid verifier {self.name!r}: key id {self.key_id:08x} does not match "
                f"the key (its id is {expected:08x})"
            )

    @classmethod
    def from_verifier_key(cls, vkey: str) -> Verifier:
        """Parse a verifier key ``<name>+<hex key id>+base64(type || public key)``."""
        # The base64 part may itself contain '+', so split at the first two only.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError(
                "malformed verifier key: expected 3 parts <name>+<key id>+<key> "
                f"separated by '+', got {len(parts)}"
            )
        name, hex_id, encoded = parts
        problem = _name_problem(name)
        if problem is not None:
            raise NoteError(f"malformed verifier key: {problem}")
        if not _HEX_KEY_ID.fullmatch(hex_id):
            raise NoteError(
                f"malformed verifier key {name!r}: key id {hex_id!r} is not 8 lowercase hex digits"
            )
        try:
            material = strict_b64decode(encoded)
        except ValueError:
            raise NoteError(f"malformed verifier key {name!r}: key is not valid base64") from None
        if not material:
            raise NoteError(f"malformed verifier key {name!r}: key is empty")
        if material[0] != ED25519:
            raise NoteError(
                f"unsupported verifier key {name!r}: signature type 0x{material[0]:02x}, "
                f"only Ed25519 (0x{ED25519:02x}) is supported"
            )
        public_key = material[1:]
        if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise NoteError(
                f"malformed verifier key {name!r}: Ed25519 public key is {len(public_key)} "
                f"bytes, expected {ED25519_PUBLIC_KEY_SIZE}"
            )
        stated = int(hex_id, 16)
        expected = key_id(name, ED25519, public_key)
        if stated != expected:
            raise NoteError(
                f"malformed verifier key {name!r}: key id {hex_id} does not match the key "
                f"(its id is {expected:08x})"
            )
        return cls(name=name, key_id=stated, public_key=public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def _check_text(text: str) -> None:
    """Raise NoteError unless ``text`` can be the text of a signed note."""
    _check_utf8(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text does not end with a newline")


def sign_note(text: str, *signers: Signer) -> str:
    """Sign ``text`` (ending in a newline) and return the signed note."""
    _check_text(text)
    if not signers:
        raise NoteError("a signed note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"{len(signers)} signers, more than the limit of {MAX_SIGNATURES}")
    seen: set[tuple[str, int]] = set()
    message = text.encode("utf-8")
    lines = []
    for signer in signers:
        if (signer.name, signer.key_id) in seen:
            raise NoteError(f"signer {signer.name}+{signer.key_id:08x} is given twice")
        seen.add((signer.name, signer.key_id))
        blob = signer.key_id.to_bytes(KEY_ID_SIZE, "big") + signer.sign(message)
        encoded = base64.b64encode(blob).decode("ascii")
        lines.append(f"{SIGNATURE_PREFIX}{signer.name} {encoded}\n")
    return text + "\n" + "".join(lines)


def _parse_signature_line(line: str, number: int) -> Signature:
    """One signature line (without its newline); ``number`` counts from 1 for messages."""
    where = f"signature line {number}"
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"{where} does not start with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    problem = _name_problem(name)
    if problem is not None:
        raise NoteError(f"{where}: {problem}")
    if not space or not encoded:
        raise NoteError(f"{where} ({name}) has no signature after the key name")
    try:
        blob = strict_b64decode(encoded)
    except ValueError:
        raise NoteError(f"{where} ({name}): signature is not valid base64") from None
    if len(blob) <= KEY_ID_SIZE:
        raise NoteError(
            f"{where} ({name}): signature is {len(blob)} bytes, too short for a "
            f"{KEY_ID_SIZE}-byte key id and a signature"
        )
    return Signature(
        name=name,
        key_id=int.from_bytes(blob[:KEY_ID_SIZE], "big"),
        signature=blob[KEY_ID_SIZE:],
    )


def parse_note(note: str) -> Note:
    """Split a signed note into its text and signatures, checking syntax only."""
    _check_utf8(note, "note")
    # signed-note "Format": the text is separated from the signatures by the last
    # empty line, so the text itself may contain empty lines.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line separating its text from its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines after its blank line")
    if not block.endswith("\n"):
        raise NoteError("note does not end with a newline after its last signature line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(
            f"note has {len(lines)} signature lines, more than the limit of {MAX_SIGNATURES}"
        )
    signatures = tuple(
        _parse_signature_line(line, number) for number, line in enumerate(lines, start=1)
    )
    return Note(text=text, signatures=signatures)


def _index_verifiers(
    verifiers: Sequence[Verifier],
) -> tuple[dict[tuple[str, int], Verifier], set[tuple[str, int]]]:
    """Verifiers by (name, key id), and the (name, key id) pairs held by different keys."""
    known: dict[tuple[str, int], Verifier] = {}
    ambiguous: set[tuple[str, int]] = set()
    for verifier in verifiers:
        ident = (verifier.name, verifier.key_id)
        other = known.setdefault(ident, verifier)
        if other != verifier:
            ambiguous.add(ident)
    return known, ambiguous


def open_note(note: str, verifiers: Sequence[Verifier]) -> Note:
    """Verify a signed note against trusted keys; return it with only its verified signatures."""
    parsed = parse_note(note)
    known, ambiguous = _index_verifiers(verifiers)
    message = parsed.text.encode("utf-8")
    verified: dict[tuple[str, int], Signature] = {}
    for signature in parsed.signatures:
        ident = (signature.name, signature.key_id)
        label = f"{signature.name}+{signature.key_id:08x}"
        # signed-note "Signatures": signatures from unknown keys are ignored, even if
        # they share a name or an id (but not both) with a known key.
        verifier = known.get(ident)
        if verifier is None:
            continue
        if ident in ambiguous:
            raise NoteError(f"ambiguous key {label}: several trusted keys have this name and id")
        # A known key's signature MUST be verified, and a failure rejects the whole note,
        # also for repeated signatures of the same key.
        if not verifier.verify(message, signature.signature):
            raise NoteError(f"signature by key {label} does not verify")
        verified.setdefault(ident, signature)
    if not verified:
        signed_by = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        trusted = ", ".join(f"{v.name}+{v.key_id:08x}" for v in known.values()) or "none"
        raise NoteError(
            f"note has no signature from a trusted key (signed by {signed_by}; trusted: {trusted})"
        )
    return Note(text=parsed.text, signatures=tuple(verified.values()))
