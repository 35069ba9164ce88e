"""Tests for C2SP tlog checkpoints (flightlog.ledger.checkpoint)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flightlog.errors import CheckpointError, NoteError
from flightlog.ledger.checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from flightlog.ledger.note import Signer, Verifier, parse_note, sign_note
from tests.paths import corpus_file

CHECKPOINT_SPEC = corpus_file("tlog/c2sp/tlog-checkpoint.md")

ORIGIN = "flightlog.example/log"
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()


def spec_checkpoint_note() -> str:
    """The signed checkpoint shown at the top of tlog-checkpoint.md."""
    spec = CHECKPOINT_SPEC.read_text(encoding="utf-8")
    note = re.search(r"^```\n(.*?\n)```$", spec, re.MULTILINE | re.DOTALL)
    assert note is not None
    return note.group(1)


def new_signer(name: str = ORIGIN) -> Signer:
    """A signer with a fresh key."""
    return Signer(name, Ed25519PrivateKey.generate())


def verifier_of(signer: Signer) -> Verifier:
    """The verifier of ``signer``, through its verifier key string."""
    return Verifier.from_verifier_key(signer.verifier_key())


class TestCheckpoint:
    """Checkpoint: the value and its note text."""

    def test_to_text(self) -> None:
        """The text is origin, decimal size and base64 root, one per line."""
        checkpoint = Checkpoint(origin=ORIGIN, tree_size=42, root_hash=ROOT)
        assert checkpoint.to_text() == f"{ORIGIN}\n42\n{ROOT_B64}\n"

    def test_to_text_with_extensions(self) -> None:
        """Extension lines follow the root hash, each ending in a newline."""
        checkpoint = Checkpoint(ORIGIN, 0, ROOT, extensions=("ext one", "ext two"))
        assert checkpoint.to_text() == f"{ORIGIN}\n0\n{ROOT_B64}\next one\next two\n"

    def test_refuses_empty_origin(self) -> None:
        """A checkpoint cannot be built with an empty origin."""
        with pytest.raises(CheckpointError, match="origin is empty"):
            Checkpoint("", 1, ROOT)

    def test_refuses_origin_with_newline(self) -> None:
        """A checkpoint cannot be built with an origin spanning two lines."""
        with pytest.raises(CheckpointError, match="origin contains control character U\\+000A"):
            Checkpoint("a\nb", 1, ROOT)

    def test_refuses_negative_size(self) -> None:
        """A checkpoint cannot be built with a negative tree size."""
        with pytest.raises(CheckpointError, match="tree size -1 is outside the uint64 range"):
            Checkpoint(ORIGIN, -1, ROOT)

    def test_refuses_size_beyond_uint64(self) -> None:
        """A checkpoint cannot be built with a tree size of 2**64."""
        with pytest.raises(CheckpointError, match="outside the uint64 range"):
            Checkpoint(ORIGIN, 2**64, ROOT)

    def test_refuses_short_root(self) -> None:
        """A checkpoint cannot be built with a 31-byte root hash."""
        with pytest.raises(CheckpointError, match="root hash is 31 bytes, expected 32"):
            Checkpoint(ORIGIN, 1, ROOT[:31])

    def test_refuses_empty_extension(self) -> None:
        """A checkpoint cannot be built with an empty extension line."""
        with pytest.raises(CheckpointError, match="extension line 2 is empty"):
            Checkpoint(ORIGIN, 1, ROOT, extensions=("x", ""))


class TestParseCheckpoint:
    """parse_checkpoint: the note text of tlog-checkpoint, with one error per defect."""

    def test_parses_spec_example(self) -> None:
        """The example of tlog-checkpoint.md parses to its origin, size and root."""
        text = parse_note(spec_checkpoint_note()).text
        checkpoint = parse_checkpoint(text)
        assert checkpoint.origin == "example.com/behind-the-sofa"
        assert checkpoint.tree_size == 20852163
        assert checkpoint.root_hash == base64.b64decode(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        )
        assert checkpoint.extensions == ()
        assert checkpoint.to_text() == text

    def test_parses_extensions(self) -> None:
        """Extension lines are kept in order."""
        checkpoint = parse_checkpoint(f"{ORIGIN}\n7\n{ROOT_B64}\nfirst\nsecond line\n")
        assert checkpoint == Checkpoint(ORIGIN, 7, ROOT, ("first", "second line"))

    def test_parses_empty_tree(self) -> None:
        """Size 0 is the one size that starts with a zero."""
        assert parse_checkpoint(f"{ORIGIN}\n0\n{ROOT_B64}\n").tree_size == 0

    def test_parses_largest_size(self) -> None:
        """The largest uint64 is a valid tree size."""
        text = f"{ORIGIN}\n18446744073709551615\n{ROOT_B64}\n"
        assert parse_checkpoint(text).tree_size == 2**64 - 1

    def test_keeps_unusual_origin(self) -> None:
        """Origins are not required to be URLs; spaces and '+' are allowed."""
        assert parse_checkpoint(f"my log + more\n1\n{ROOT_B64}\n").origin == "my log + more"

    def test_missing_final_newline(self) -> None:
        """Text without its final newline is refused."""
        with pytest.raises(CheckpointError, match="does not end with a newline"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT_B64}")

    def test_empty_text(self) -> None:
        """Empty text is refused."""
        with pytest.raises(CheckpointError, match="does not end with a newline"):
            parse_checkpoint("")

    def test_too_few_lines(self) -> None:
        """Two lines are not a checkpoint."""
        with pytest.raises(CheckpointError, match="has 2 line\\(s\\), needs at least 3"):
            parse_checkpoint(f"{ORIGIN}\n1\n")

    def test_empty_origin(self) -> None:
        """An empty first line is refused."""
        with pytest.raises(CheckpointError, match="origin \\(line 1\\) is empty"):
            parse_checkpoint(f"\n1\n{ROOT_B64}\n")

    def test_empty_tree_size(self) -> None:
        """An empty size line is refused."""
        with pytest.raises(CheckpointError, match="tree size \\(line 2\\) is empty"):
            parse_checkpoint(f"{ORIGIN}\n\n{ROOT_B64}\n")

    def test_signed_tree_size(self) -> None:
        """A size with a sign is not an ASCII decimal."""
        with pytest.raises(CheckpointError, match="'\\+5' is not an ASCII decimal number"):
            parse_checkpoint(f"{ORIGIN}\n+5\n{ROOT_B64}\n")

    def test_negative_tree_size(self) -> None:
        """A negative size is not an ASCII decimal."""
        with pytest.raises(CheckpointError, match="'-1' is not an ASCII decimal number"):
            parse_checkpoint(f"{ORIGIN}\n-1\n{ROOT_B64}\n")

    def test_hex_tree_size(self) -> None:
        """A hexadecimal size is refused."""
        with pytest.raises(CheckpointError, match="'0x10' is not an ASCII decimal number"):
            parse_checkpoint(f"{ORIGIN}\n0x10\n{ROOT_B64}\n")

    def test_tree_size_with_space(self) -> None:
        """Spaces around the size are refused."""
        with pytest.raises(CheckpointError, match="' 12' is not an ASCII decimal number"):
            parse_checkpoint(f"{ORIGIN}\n 12\n{ROOT_B64}\n")

    def test_non_ascii_digits(self) -> None:
        """Digits from other scripts are not ASCII decimals."""
        with pytest.raises(CheckpointError, match="is not an ASCII decimal number"):
            parse_checkpoint(f"{ORIGIN}\n\u0661\u0662\n{ROOT_B64}\n")

    def test_leading_zero(self) -> None:
        """A size with a leading zero is refused."""
        with pytest.raises(CheckpointError, match="'012' has a leading zero"):
            parse_checkpoint(f"{ORIGIN}\n012\n{ROOT_B64}\n")

    def test_double_zero(self) -> None:
        """Only the single digit 0 may start with a zero."""
        with pytest.raises(CheckpointError, match="'00' has a leading zero"):
            parse_checkpoint(f"{ORIGIN}\n00\n{ROOT_B64}\n")

    def test_tree_size_overflow(self) -> None:
        """2**64 does not fit in a uint64."""
        with pytest.raises(CheckpointError, match="18446744073709551616 exceeds the uint64 range"):
            parse_checkpoint(f"{ORIGIN}\n18446744073709551616\n{ROOT_B64}\n")

    def test_huge_tree_size(self) -> None:
        """A 5000-digit size is refused as out of range, not as a crash."""
        with pytest.raises(CheckpointError, match="exceeds the uint64 range"):
            parse_checkpoint(f"{ORIGIN}\n{'9' * 5000}\n{ROOT_B64}\n")

    def test_empty_root_hash(self) -> None:
        """An empty root hash line is refused."""
        with pytest.raises(CheckpointError, match="root hash \\(line 3\\) is empty"):
            parse_checkpoint(f"{ORIGIN}\n1\n\n")

    def test_root_hash_not_base64(self) -> None:
        """A root hash with characters outside base64 is refused."""
        with pytest.raises(CheckpointError, match=r"root hash \(line 3\) .* is not valid base64"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT.hex()}!\n")

    def test_root_hash_unpadded(self) -> None:
        """A root hash without its '=' padding is refused."""
        with pytest.raises(CheckpointError, match="is not valid base64"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n")

    def test_root_hash_url_safe(self) -> None:
        """A root hash in the URL-safe alphabet is refused."""
        url_safe = base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()
        with pytest.raises(CheckpointError, match="is not valid base64"):
            parse_checkpoint(f"{ORIGIN}\n1\n{url_safe}\n")

    def test_root_hash_short(self) -> None:
        """A root hash of 31 bytes is refused."""
        short = base64.b64encode(ROOT[:31]).decode()
        with pytest.raises(CheckpointError, match="is 31 bytes, expected 32"):
            parse_checkpoint(f"{ORIGIN}\n1\n{short}\n")

    def test_root_hash_long(self) -> None:
        """A root hash of 48 bytes (SHA-384) is refused."""
        long = base64.b64encode(hashlib.sha384(b"x").digest()).decode()
        with pytest.raises(CheckpointError, match="is 48 bytes, expected 32"):
            parse_checkpoint(f"{ORIGIN}\n1\n{long}\n")

    def test_empty_extension_line(self) -> None:
        """An empty extension line is refused."""
        with pytest.raises(CheckpointError, match="extension line \\(line 5\\) is empty"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT_B64}\next\n\n")

    def test_trailing_blank_line(self) -> None:
        """A blank line after the root hash is an empty extension line."""
        with pytest.raises(CheckpointError, match="extension line \\(line 4\\) is empty"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT_B64}\n\n")

    def test_carriage_return(self) -> None:
        """CRLF line endings are refused."""
        with pytest.raises(CheckpointError, match="line 1 contains control character U\\+000D"):
            parse_checkpoint(f"{ORIGIN}\r\n1\r\n{ROOT_B64}\r\n")

    def test_tab_in_extension(self) -> None:
        """A control character inside an extension line is refused."""
        with pytest.raises(CheckpointError, match="line 4 contains control character U\\+0009"):
            parse_checkpoint(f"{ORIGIN}\n1\n{ROOT_B64}\na\tb\n")

    def test_error_is_a_note_error(self) -> None:
        """CheckpointError is caught by handlers of NoteError."""
        with pytest.raises(NoteError):
            parse_checkpoint("")


class TestSignAndOpenCheckpoint:
    """sign_checkpoint and open_checkpoint: signed notes carrying a checkpoint."""

    def test_round_trip(self) -> None:
        """A signed checkpoint opens to the same checkpoint."""
        signer = new_signer()
        checkpoint = Checkpoint(ORIGIN, 1234, ROOT, ("note: hi",))
        note = sign_checkpoint(checkpoint, signer)
        assert note.startswith(checkpoint.to_text() + "\n\u2014 " + ORIGIN + " ")
        assert open_checkpoint(note, verifier_of(signer), origin=ORIGIN) == checkpoint
        assert open_checkpoint(note, verifier_of(signer)) == checkpoint

    def test_wrong_origin(self) -> None:
        """A checkpoint of another origin is refused when an origin is expected."""
        signer = new_signer()
        note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
        with pytest.raises(
            CheckpointError,
            match=r"origin 'flightlog\.example/log' is not the expected origin 'other\.example'",
        ):
            open_checkpoint(note, verifier_of(signer), origin="other.example")

    def test_signer_must_be_the_origin(self) -> None:
        """A log signs only checkpoints of its own origin."""
        with pytest.raises(CheckpointError, match=r"does not belong to origin 'other\.example'"):
            sign_checkpoint(Checkpoint("other.example", 1, ROOT), new_signer())

    def test_another_key_with_the_same_name(self) -> None:
        """A checkpoint signed by another key under the same name is refused."""
        note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), new_signer())
        with pytest.raises(NoteError, match="no signature from a trusted key"):
            open_checkpoint(note, verifier_of(new_signer()))

    def test_changed_size_is_refused(self) -> None:
        """Changing the tree size of a signed checkpoint breaks its signature."""
        signer = new_signer()
        note = sign_checkpoint(Checkpoint(ORIGIN, 10, ROOT), signer)
        with pytest.raises(NoteError, match="does not verify"):
            open_checkpoint(note.replace("\n10\n", "\n11\n", 1), verifier_of(signer))

    def test_cosignatures_are_ignored(self) -> None:
        """Signatures of other keys (witnesses) do not stop the log's checkpoint opening."""
        log, witness = new_signer(), new_signer("witness.example")
        checkpoint = Checkpoint(ORIGIN, 5, ROOT)
        note = sign_note(checkpoint.to_text(), witness, log)
        assert open_checkpoint(note, verifier_of(log), origin=ORIGIN) == checkpoint

    def test_signed_malformed_body(self) -> None:
        """A validly signed note whose text is not a checkpoint is refused."""
        signer = new_signer()
        note = sign_note(f"{ORIGIN}\n007\n{ROOT_B64}\n", signer)
        with pytest.raises(CheckpointError, match="'007' has a leading zero"):
            open_checkpoint(note, verifier_of(signer))
