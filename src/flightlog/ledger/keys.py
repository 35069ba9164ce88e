"""The server's checkpoint signing key, kept in a file only its owner can read.

The file holds one line in the format of Go's ``golang.org/x/mod/sumdb/note``
``GenerateKey``: ``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || 32-byte seed)``,
so the same key can be used by Go tooling. No message or repr ever shows the key.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flightlog.errors import KeyFileError, KeyMismatch, NoteError
from flightlog.files import write_private_file
from flightlog.ledger.note import (
    ED25519,
    Signer,
    Verifier,
    key_id,
    open_note,
    parse_note,
    strict_b64decode,
)

PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
SEED_SIZE = 32
# A key file is one short line; anything much larger is not a key file.
MAX_KEY_FILE_SIZE = 4096

_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_FORMAT = "PRIVATE+KEY+<name>+<key id>+<key>"


def _private_key_string(name: str, private_key: Ed25519PrivateKey) -> str:
    """The Go sumdb/note private key string of ``private_key`` under ``name``."""
    public_key = private_key.public_key().public_bytes_raw()
    ident = key_id(name, ED25519, public_key)
    seed = base64.b64encode(bytes([ED25519]) + private_key.private_bytes_raw()).decode("ascii")
    return f"{PRIVATE_KEY_PREFIX}{name}+{ident:08x}+{seed}"


def generate_signer(name: str) -> Signer:
    """A signer with a fresh random Ed25519 key under ``name``."""
    return Signer(name, Ed25519PrivateKey.generate())


def signer_from_private_key_string(skey: str) -> Signer:
    """Parse a Go sumdb/note private key string ``PRIVATE+KEY+<name>+<hex id>+<key>``."""
    # The base64 part may itself contain '+', so split at the first four only.
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFileError(f"malformed private key: expected {_FORMAT}")
    name, hex_id, encoded = parts[2], parts[3], parts[4]
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFileError(f"malformed private key {name!r}: key id is not 8 lowercase hex digits")
    try:
        material = strict_b64decode(encoded)
    except ValueError:
        raise KeyFileError(f"malformed private key {name!r}: key is not valid base64") from None
    if not material:
        raise KeyFileError(f"malformed private key {name!r}: key is empty")
    if material[0] != ED25519:
        raise KeyFileError(
            f"unsupported private key {name!r}: signature type 0x{material[0]:02x}, "
            f"only Ed25519 (0x{ED25519:02x}) is supported"
        )
    if len(material) != 1 + SEED_SIZE:
        raise KeyFileError(
            f"malformed private key {name!r}: Ed25519 seed is {len(material) - 1} bytes, "
            f"expected {SEED_SIZE}"
        )
    try:
        signer = Signer(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
    except NoteError as exc:
        raise KeyFileError(f"malformed private key: {exc}") from None
    if signer.key_id != int(hex_id, 16):
        raise KeyFileError(
            f"malformed private key {name!r}: key id {hex_id} does not match the key "
            "(the key is corrupted)"
        )
    return signer


def _read_key_file(path: Path) -> str:
    """The text of an existing key file, refusing files others can access."""
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the server at start-up.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        # fstat on the open file, not stat on the path: what is checked is what is read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"cannot read key file {path}: it is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} has mode {mode:04o} and is accessible by group or others; "
                f"restrict it with: chmod 600 {path}"
            )
        data = b""
        while len(data) <= MAX_KEY_FILE_SIZE:
            chunk = os.read(fd, MAX_KEY_FILE_SIZE + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFileError(f"key file {path} is larger than {MAX_KEY_FILE_SIZE} bytes")
    try:
        # Key names may hold any character but space and '+', so the file is UTF-8.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {path} is not UTF-8 text") from None


def _load_signer(path: Path, name: str) -> Signer:
    """The signer stored in ``path``, which must belong to ``name``."""
    text = _read_key_file(path)
    skey = text.removesuffix("\n")
    if not skey or any(char.isspace() for char in skey):
        raise KeyFileError(f"key file {path} is malformed: expected one line {_FORMAT}")
    try:
        signer = signer_from_private_key_string(skey)
    except KeyFileError as exc:
        raise KeyFileError(f"key file {path}: {exc}") from None
    if signer.name != name:
        raise KeyFileError(f"key file {path} belongs to origin {signer.name!r}, not {name!r}")
    return signer


def _create_key_file(path: Path, name: str, private_key: Ed25519PrivateKey) -> None:
    """Write ``private_key`` for ``name`` to ``path`` unless a key file already exists there."""
    content = (_private_key_string(name, private_key) + "\n").encode("utf-8")
    # Hard-linked into place: O_EXCL plus link() never overwrite a key another
    # process created first.
    write_private_file(path, content, replace=False)


def load_or_create_signer(path: Path, name: str) -> Signer:
    """The signer in the key file at ``path``, creating a new key there on first use."""
    if not os.path.lexists(path):
        private_key = Ed25519PrivateKey.generate()
        try:
            Signer(name, private_key)
        except NoteError as exc:
            raise KeyFileError(f"cannot create a signing key for {name!r}: {exc}") from None
        try:
            _create_key_file(path, name, private_key)
        except OSError as exc:
            raise KeyFileError(f"cannot create key file {path}: {exc.strerror}") from None
    return _load_signer(path, name)


def check_ledger_key(first_note: str | None, signer: Signer, key_path: Path) -> None:
    """Refuse to sign unless ``signer`` made the ledger's first checkpoint ``first_note``.

    The first checkpoint records which key the ledger is signed with; a process started
    with another ``FLIGHTLOG_HOME`` must not mint checkpoints no verifier accepts.
    """
    if first_note is None:
        return
    try:
        open_note(first_note, [Verifier.from_verifier_key(signer.verifier_key())])
    except NoteError:
        pass
    else:
        return
    ledger_key = _signed_by(first_note)
    raise KeyMismatch(
        f"this ledger is signed with key {ledger_key}, but the key in {key_path} is "
        f"{signer.name}+{signer.key_id:08x}; refusing to sign (set FLIGHTLOG_HOME to the "
        "directory holding the ledger's signing.key)"
    )


def _signed_by(note: str) -> str:
    try:
        names = [f"{s.name}+{s.key_id:08x}" for s in parse_note(note).signatures]
    except NoteError:
        names = []
    return ", ".join(names) or "an unreadable key"


def require_existing_key(first_note: str | None, key_path: Path) -> None:
    """Refuse to mint a new key for a ledger whose first checkpoint another key signed."""
    if first_note is not None and not os.path.lexists(key_path):
        raise KeyMismatch(
            f"this ledger is signed with key {_signed_by(first_note)}, but there is no key "
            f"file at {key_path}; set FLIGHTLOG_HOME to the directory holding its signing.key"
        )
