"""Tests for the server's signing key file (flightlog.ledger.keys)."""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flightlog.errors import KeyFileError, NoteError
from flightlog.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from flightlog.ledger.keys import (
    generate_signer,
    load_or_create_signer,
    signer_from_private_key_string,
)
from flightlog.ledger.note import Signer, Verifier, key_id, open_note, sign_note

ORIGIN = "flightlog.example/log"
ROOT = bytes(range(32))

# Reference vectors of golang.org/x/mod/sumdb/note (note_test.go).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_SEED_B64 = PETER_SKEY.split("+", 4)[4]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY_FORMAT = re.compile(
    r"PRIVATE\+KEY\+(?P<name>[^+]+)\+(?P<id>[0-9a-f]{8})\+(?P<key>[A-Za-z0-9+/]{44})\n"
)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    """Where a test keeps its key file: two directories that do not exist yet."""
    return tmp_path / "state" / "keys" / "checkpoint.key"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 000, so only the creating code decides a new file's mode."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def skey_with(name: str, seed: bytes, *, type_byte: int = 0x01) -> str:
    """A private key string for ``seed`` whose key id is consistent with its content."""
    public_key = Ed25519PrivateKey.from_private_bytes(seed[:32]).public_key().public_bytes_raw()
    ident = key_id(name, 0x01, public_key)
    material = base64.b64encode(bytes([type_byte]) + seed).decode()
    return f"PRIVATE+KEY+{name}+{ident:08x}+{material}"


def write_key_file(path: Path, content: str, mode: int = 0o600) -> None:
    """Write ``content`` as a key file with ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="ascii")
    path.chmod(mode)


class TestGenerateSigner:
    """generate_signer: a fresh key under a name."""

    def test_fresh_keys(self) -> None:
        """Each call gives a new key under the given name."""
        first, second = generate_signer(ORIGIN), generate_signer(ORIGIN)
        assert first.name == second.name == ORIGIN
        assert first.public_key != second.public_key
        assert first.key_id != second.key_id

    def test_invalid_name(self) -> None:
        """A name that cannot be a key name is refused."""
        with pytest.raises(NoteError, match="contains a space"):
            generate_signer("my log")


class TestSignerFromPrivateKeyString:
    """signer_from_private_key_string: the Go sumdb/note private key format."""

    def test_go_reference_key(self) -> None:
        """The Go reference private key gives the Go reference verifier key."""
        signer = signer_from_private_key_string(PETER_SKEY)
        assert signer.verifier_key() == PETER_VKEY

    def test_rejects_every_substring_and_increment(self) -> None:
        """Every proper substring and one-character change is refused without echoing the key."""
        mangled = [
            PETER_SKEY[start:end]
            for start in range(len(PETER_SKEY))
            for end in range(start + 1, len(PETER_SKEY) + 1)
            if (start, end) != (0, len(PETER_SKEY))
        ]
        mangled += [
            PETER_SKEY[:i] + chr(ord(c) + 1) + PETER_SKEY[i + 1 :] for i, c in enumerate(PETER_SKEY)
        ]
        for skey in mangled:
            with pytest.raises(KeyFileError) as caught:
                signer_from_private_key_string(skey)
            assert PETER_SEED_B64[4:40] not in str(caught.value)

    @pytest.mark.parametrize(
        ("skey", "message"),
        [
            ("", "expected PRIVATE\\+KEY\\+<name>\\+<key id>\\+<key>"),
            (PETER_VKEY, "expected PRIVATE\\+KEY"),
            ("PRIVATE+KEY+PeterNeumann+c74f20a3", "expected PRIVATE\\+KEY"),
            (PETER_SKEY.replace("PRIVATE", "private"), "expected PRIVATE\\+KEY"),
            (PETER_SKEY.replace("c74f20a3", "C74F20A3"), "not 8 lowercase hex digits"),
            (PETER_SKEY.replace("c74f20a3", "c74f20a"), "not 8 lowercase hex digits"),
            (PETER_SKEY.replace("c74f20a3", "c74f20a4"), "does not match the key"),
            (PETER_SKEY[:-1], "not valid base64"),
            (PETER_SKEY.replace("PeterNeumann", "Peter Neumann"), "contains a space"),
            ("PRIVATE+KEY+PeterNeumann+c74f20a3+", "key is empty"),
        ],
    )
    def test_rejects_malformed(self, skey: str, message: str) -> None:
        """Each malformed private key string is refused with a message naming the problem."""
        with pytest.raises(KeyFileError, match=message):
            signer_from_private_key_string(skey)

    def test_rejects_other_signature_type(self) -> None:
        """A key of another signature type is refused as unsupported."""
        with pytest.raises(KeyFileError, match="signature type 0x04"):
            signer_from_private_key_string(skey_with("a.example", bytes(32), type_byte=0x04))

    def test_rejects_wrong_seed_length(self) -> None:
        """A 33-byte seed is refused even with a consistent key id."""
        with pytest.raises(KeyFileError, match="seed is 33 bytes, expected 32"):
            signer_from_private_key_string(skey_with("a.example", bytes(33)))


class TestLoadOrCreateSigner:
    """load_or_create_signer: the key file on disk."""

    def test_creates_key_file(self, key_path: Path) -> None:
        """First use creates the directories and a 0600 key file in Go sumdb/note format."""
        signer = load_or_create_signer(key_path, ORIGIN)
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        content = key_path.read_text(encoding="ascii")
        match = SKEY_FORMAT.fullmatch(content)
        assert match is not None
        assert match["name"] == ORIGIN
        assert int(match["id"], 16) == signer.key_id
        assert signer_from_private_key_string(content[:-1]).verifier_key() == (
            signer.verifier_key()
        )
        assert sorted(p.name for p in key_path.parent.iterdir()) == ["checkpoint.key"]

    def test_non_ascii_origin_creates_and_reloads(self, key_path: Path) -> None:
        """A non-ASCII key name (allowed by signed-note) gets a UTF-8 key file that signs."""
        origin = "journal.exemple/équipe-日本"
        created = load_or_create_signer(key_path, origin)
        assert key_path.read_text(encoding="utf-8").startswith(f"PRIVATE+KEY+{origin}+")
        loaded = load_or_create_signer(key_path, origin)
        assert loaded.verifier_key() == created.verifier_key()
        note = sign_checkpoint(Checkpoint(origin, 3, ROOT), loaded)
        verifier = Verifier.from_verifier_key(created.verifier_key())
        assert open_checkpoint(note, verifier, origin=origin).tree_size == 3

    def test_reload_gives_same_key(self, key_path: Path) -> None:
        """Loading an existing key file gives the same verifier key."""
        created = load_or_create_signer(key_path, ORIGIN)
        before = key_path.read_bytes()
        loaded = load_or_create_signer(key_path, ORIGIN)
        assert loaded.verifier_key() == created.verifier_key()
        assert key_path.read_bytes() == before

    @pytest.mark.usefixtures("open_umask")
    def test_mode_does_not_depend_on_umask(self, key_path: Path) -> None:
        """Even with umask 000 the new key file is created 0600."""
        load_or_create_signer(key_path, ORIGIN)
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700

    def test_concurrent_first_use_agrees_on_one_key(self, key_path: Path) -> None:
        """Processes racing to create the key all end up with the same key."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            signers = list(pool.map(lambda _: load_or_create_signer(key_path, ORIGIN), range(16)))
        assert len({s.verifier_key() for s in signers}) == 1
        assert sorted(p.name for p in key_path.parent.iterdir()) == ["checkpoint.key"]

    def test_loads_go_generated_key(self, key_path: Path) -> None:
        """A key file written by Go tooling, with or without final newline, is loaded."""
        write_key_file(key_path, PETER_SKEY + "\n")
        assert load_or_create_signer(key_path, "PeterNeumann").verifier_key() == PETER_VKEY
        write_key_file(key_path, PETER_SKEY)
        assert load_or_create_signer(key_path, "PeterNeumann").verifier_key() == PETER_VKEY

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o660])
    def test_rejects_key_readable_by_others(self, key_path: Path, mode: int) -> None:
        """A key file others may access is refused, naming the file and chmod 600."""
        write_key_file(key_path, PETER_SKEY + "\n", mode)
        with pytest.raises(KeyFileError) as caught:
            load_or_create_signer(key_path, "PeterNeumann")
        message = str(caught.value)
        assert str(key_path) in message
        assert f"mode {mode:04o}" in message
        assert f"chmod 600 {key_path}" in message

    def test_accepts_owner_read_only(self, key_path: Path) -> None:
        """A key file with mode 0400 is loaded."""
        write_key_file(key_path, PETER_SKEY + "\n", 0o400)
        assert load_or_create_signer(key_path, "PeterNeumann").verifier_key() == PETER_VKEY

    def test_rejects_other_origin(self, key_path: Path) -> None:
        """A key of another origin is refused, saying whose key it is."""
        load_or_create_signer(key_path, "other.example/log")
        with pytest.raises(
            KeyFileError,
            match=re.escape(
                f"key file {key_path} belongs to origin 'other.example/log', not '{ORIGIN}'"
            ),
        ):
            load_or_create_signer(key_path, ORIGIN)

    def test_rejects_tampered_key(self, key_path: Path) -> None:
        """A key file whose seed was changed no longer matches its id and is refused."""
        load_or_create_signer(key_path, ORIGIN)
        content = key_path.read_text(encoding="ascii")
        seed = content.split("+", 4)[4].strip()
        at = len(content) - len(seed) - 1 + 10  # a character inside the seed
        replacement = "B" if content[at] != "B" else "C"
        tampered = content[:at] + replacement + content[at + 1 :]
        write_key_file(key_path, tampered)
        with pytest.raises(KeyFileError, match="does not match the key") as caught:
            load_or_create_signer(key_path, ORIGIN)
        assert str(key_path) in str(caught.value)
        assert seed[12:40] not in str(caught.value)
        assert tampered.split("+", 4)[4][12:40] not in str(caught.value)

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("", "is malformed: expected one line PRIVATE"),
            ("\n", "is malformed: expected one line PRIVATE"),
            ("hello\n", "expected PRIVATE\\+KEY"),
            (PETER_SKEY + "\n\n", "is malformed: expected one line"),
            (PETER_SKEY + "\r\n", "is malformed: expected one line"),
            (" " + PETER_SKEY + "\n", "is malformed: expected one line"),
            (PETER_SKEY + "\n" + PETER_SKEY + "\n", "is malformed: expected one line"),
            (PETER_VKEY + "\n", "expected PRIVATE\\+KEY"),
            (
                "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr\n",
                "seed is \\d+ bytes, expected 32",
            ),
            ("\u00e9\n", "expected PRIVATE\\+KEY"),
            ("x" * 5000, "is larger than 4096 bytes"),
        ],
    )
    def test_rejects_malformed_file(self, key_path: Path, content: str, message: str) -> None:
        """Each malformed key file is refused with the file's name and the problem."""
        key_path.parent.mkdir(parents=True)
        key_path.write_bytes(content.encode("utf-8"))
        key_path.chmod(0o600)
        with pytest.raises(KeyFileError, match=message) as caught:
            load_or_create_signer(key_path, "PeterNeumann")
        assert str(key_path) in str(caught.value)
        assert PETER_SEED_B64[4:40] not in str(caught.value)

    def test_rejects_unreadable_path(self, key_path: Path) -> None:
        """A directory where the key file should be is reported as unreadable."""
        key_path.mkdir(parents=True)
        with pytest.raises(
            KeyFileError, match=f"cannot read key file {re.escape(str(key_path))}: it is not a"
        ):
            load_or_create_signer(key_path, ORIGIN)

    def test_rejects_fifo_without_blocking(self, key_path: Path) -> None:
        """A FIFO at the key path is refused at once instead of waiting for a writer."""
        key_path.parent.mkdir(parents=True)
        os.mkfifo(key_path, 0o600)
        with pytest.raises(KeyFileError, match="it is not a regular file"):
            load_or_create_signer(key_path, ORIGIN)

    def test_follows_symlink_to_key(self, key_path: Path, tmp_path: Path) -> None:
        """A symlink to a key file (as secret volumes mount them) is loaded."""
        target = tmp_path / "secret" / "key"
        write_key_file(target, PETER_SKEY + "\n")
        key_path.parent.mkdir(parents=True)
        key_path.symlink_to(target)
        assert load_or_create_signer(key_path, "PeterNeumann").verifier_key() == PETER_VKEY

    def test_rejects_uncreatable_path(self, tmp_path: Path) -> None:
        """A key path below a regular file cannot be created and is reported."""
        blocker = tmp_path / "file"
        blocker.write_text("x", encoding="ascii")
        with pytest.raises(KeyFileError, match="cannot create key file"):
            load_or_create_signer(blocker / "checkpoint.key", ORIGIN)

    def test_invalid_name_creates_nothing(self, key_path: Path) -> None:
        """A name that cannot sign notes is refused before any file is written."""
        with pytest.raises(KeyFileError, match="contains a space"):
            load_or_create_signer(key_path, "my log")
        assert not key_path.parent.exists()

    def test_repr_hides_the_key(self, key_path: Path) -> None:
        """The loaded signer's repr shows its name and id, nothing from the file."""
        write_key_file(key_path, PETER_SKEY + "\n")
        signer = load_or_create_signer(key_path, "PeterNeumann")
        assert repr(signer) == "Signer(name='PeterNeumann', key_id=c74f20a3)"
        assert str(signer) == repr(signer)


class TestSigningWithKeyFile:
    """A key file's signer signs notes and checkpoints others can verify."""

    def test_note_opens_with_published_verifier_key(self, key_path: Path) -> None:
        """A note signed by the key opens with the verifier parsed from its verifier key."""
        signer = load_or_create_signer(key_path, ORIGIN)
        note = sign_note("deployed api 1.4.2\n", signer)
        opened = open_note(note, [Verifier.from_verifier_key(signer.verifier_key())])
        assert opened.text == "deployed api 1.4.2\n"
        assert [(s.name, s.key_id) for s in opened.signatures] == [(ORIGIN, signer.key_id)]

    def test_checkpoint_round_trip(self, key_path: Path) -> None:
        """A checkpoint signed with the file's key opens after a reload of the key."""
        checkpoint = Checkpoint(ORIGIN, 99, ROOT)
        note = sign_checkpoint(checkpoint, load_or_create_signer(key_path, ORIGIN))
        verifier = Verifier.from_verifier_key(
            load_or_create_signer(key_path, ORIGIN).verifier_key()
        )
        assert open_checkpoint(note, verifier, origin=ORIGIN) == checkpoint

    def test_other_key_with_same_name_is_rejected(self, key_path: Path) -> None:
        """A note signed by another key under the same name does not open."""
        signer = load_or_create_signer(key_path, ORIGIN)
        impostor = Signer(ORIGIN, Ed25519PrivateKey.generate())
        note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), impostor)
        with pytest.raises(NoteError, match="no signature from a trusted key"):
            open_checkpoint(note, Verifier.from_verifier_key(signer.verifier_key()))

    def test_unknown_signatures_ignored_when_known_one_verifies(self, key_path: Path) -> None:
        """Extra signatures from unknown keys do not stop the note opening."""
        signer = load_or_create_signer(key_path, ORIGIN)
        other = generate_signer("witness.example")
        same_name = generate_signer(ORIGIN)
        note = sign_note("hello\n", other, same_name, signer)
        opened = open_note(note, [Verifier.from_verifier_key(signer.verifier_key())])
        assert [(s.name, s.key_id) for s in opened.signatures] == [(ORIGIN, signer.key_id)]
