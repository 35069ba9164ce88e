"""Tests for C2SP signed notes (flightlog.ledger.note)."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flightlog.errors import NoteError
from flightlog.ledger.keys import signer_from_private_key_string
from flightlog.ledger.note import (
    ED25519,
    MAX_SIGNATURES,
    Note,
    Signature,
    Signer,
    Verifier,
    key_id,
    open_note,
    parse_note,
    sign_note,
    strict_b64decode,
)
from tests.paths import corpus_file

SIGNED_NOTE_SPEC = corpus_file("tlog/c2sp/signed-note.md")

# Reference vectors of golang.org/x/mod/sumdb/note (note_test.go).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"\u2014 PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"\u2014 EnochRoot {ENOCH_B64}\n"

# Two 32-byte keys whose key ids under this name collide (found by a birthday search).
COLLIDING_NAME = "collide.example"
COLLIDING_ID = 0x93D571A9
COLLIDING_KEYS = (
    "d8RTktIOH/zyfB7YnaIwAa5SrEAmElrAv70RO/FLtys=",
    "TsxLWEPKUPxuGKOxbp/LokpCIayJND8yNUrYxjfpw2M=",
)


def spec_example() -> tuple[str, str]:
    """The verifier key and signed note of the "Example" section of signed-note.md."""
    spec = SIGNED_NOTE_SPEC.read_text(encoding="utf-8")
    example = spec[spec.index("### Example") :]
    vkey = re.search(r"^    (\S+\+[0-9a-f]{8}\+\S+)$", example, re.MULTILINE)
    note = re.search(r"^```\n(.*?\n)```$", example, re.MULTILINE | re.DOTALL)
    assert vkey is not None
    assert note is not None
    return vkey.group(1), note.group(1)


def spec_intro_note() -> str:
    """The first signed note shown in signed-note.md (its signer's key is not published)."""
    spec = SIGNED_NOTE_SPEC.read_text(encoding="utf-8")
    note = re.search(r"^```\n(.*?\n)```$", spec, re.MULTILINE | re.DOTALL)
    assert note is not None
    return note.group(1)


def flip_bit(data: bytes, bit: int) -> bytes:
    """``data`` with bit number ``bit`` (0 = lowest bit of the first byte) inverted."""
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def signature_line(name: str, ident: int, signature: bytes) -> str:
    """A note signature line for raw signature bytes."""
    blob = base64.b64encode(ident.to_bytes(4, "big") + signature).decode("ascii")
    return f"\u2014 {name} {blob}\n"


class TestKeyId:
    """key_id: SHA-256(name || 0x0A || type || key)[:4]."""

    def test_go_reference_key(self) -> None:
        """The id of the Go reference key is c74f20a3."""
        verifier = Verifier.from_verifier_key(PETER_VKEY)
        assert key_id("PeterNeumann", ED25519, verifier.public_key) == 0xC74F20A3

    def test_spec_example_key(self) -> None:
        """The id of the spec example key is 530d903a."""
        vkey, _ = spec_example()
        public_key = base64.b64decode(vkey.split("+", 2)[2])[1:]
        assert key_id("example.com/foo", ED25519, public_key) == 0x530D903A

    def test_type_and_name_are_hashed(self) -> None:
        """Another signature type or another name gives another id for the same key."""
        public_key = bytes(range(32))
        ident = key_id("a.example", ED25519, public_key)
        assert key_id("a.example", 0x04, public_key) != ident
        assert key_id("b.example", ED25519, public_key) != ident


class TestStrictB64decode:
    """strict_b64decode: RFC 4648 §4, one accepted encoding per byte string."""

    def test_decodes_canonical(self) -> None:
        """Canonical padded base64 decodes to its bytes."""
        assert strict_b64decode("AAEC/w==") == b"\x00\x01\x02\xff"
        assert strict_b64decode("") == b""

    @pytest.mark.parametrize(
        "text",
        [
            "AAEC/w",  # missing padding
            "AAEC/w=",  # short padding
            "AAEC/x==",  # non-zero trailing bits
            "AAEC_w==",  # URL-safe alphabet
            "AAEC /w==",  # space
            "AAEC\n/w==",  # newline
            "AAEC/w===",  # extra padding
            "\u00e9AAA",  # non-ASCII
        ],
    )
    def test_rejects_non_canonical(self, text: str) -> None:
        """Anything but canonical padded standard base64 raises ValueError."""
        with pytest.raises(ValueError, match="not canonical base64"):
            strict_b64decode(text)


class TestSigner:
    """Signer: an Ed25519 key under a key name."""

    def test_go_reference_verifier_key(self) -> None:
        """The Go reference private key gives the Go reference verifier key."""
        signer = signer_from_private_key_string(PETER_SKEY)
        assert signer.name == "PeterNeumann"
        assert signer.key_id == 0xC74F20A3
        assert signer.verifier_key() == PETER_VKEY
        assert len(signer.public_key) == 32

    def test_sign_is_deterministic_ed25519(self) -> None:
        """sign returns the 64-byte Ed25519 signature, the same each time."""
        signer = Signer("a.example", Ed25519PrivateKey.generate())
        signature = signer.sign(b"message")
        assert len(signature) == 64
        assert signer.sign(b"message") == signature
        assert Verifier.from_verifier_key(signer.verifier_key()).verify(b"message", signature)

    def test_repr_shows_only_name_and_key_id(self) -> None:
        """The repr names the key and its id and nothing of the private key."""
        signer = signer_from_private_key_string(PETER_SKEY)
        assert repr(signer) == "Signer(name='PeterNeumann', key_id=c74f20a3)"

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("", "key name is empty"),
            ("a b", "contains a space"),
            ("a\u00a0b", "contains a space"),
            ("a\tb", "contains a space"),
            ("a+b", r"contains '\+'"),
            ("a\u200bb", "non-printable"),
            ("a\x7fb", "non-printable"),
            ("a\ud800b", "not valid UTF-8"),
        ],
    )
    def test_rejects_invalid_names(self, name: str, message: str) -> None:
        """Names that are empty, contain spaces or '+', or are not printable are refused."""
        with pytest.raises(NoteError, match=message):
            Signer(name, Ed25519PrivateKey.generate())


class TestVerifier:
    """Verifier: parsing verifier keys and checking Ed25519 signatures."""

    def test_parses_go_reference_key(self) -> None:
        """The Go reference verifier key parses to its name, id and 32-byte key."""
        verifier = Verifier.from_verifier_key(PETER_VKEY)
        assert verifier.name == "PeterNeumann"
        assert verifier.key_id == 0xC74F20A3
        assert base64.b64encode(b"\x01" + verifier.public_key).decode() == PETER_VKEY[22:]

    def test_verifies_go_reference_signature(self) -> None:
        """verify accepts the Go reference signature and refuses a changed message."""
        verifier = Verifier.from_verifier_key(PETER_VKEY)
        signature = base64.b64decode(PETER_B64)[4:]
        assert verifier.verify(GO_TEXT.encode(), signature) is True
        assert verifier.verify(GO_TEXT.encode() + b" ", signature) is False
        assert verifier.verify(GO_TEXT.encode(), signature[:-1]) is False

    def test_rejects_every_substring_and_increment(self) -> None:
        """Every proper substring and every one-character change of a vkey is refused."""
        for start in range(len(PETER_VKEY)):
            for end in range(start + 1, len(PETER_VKEY) + 1):
                if (start, end) != (0, len(PETER_VKEY)):
                    with pytest.raises(NoteError):
                        Verifier.from_verifier_key(PETER_VKEY[start:end])
        for index, char in enumerate(PETER_VKEY):
            mangled = PETER_VKEY[:index] + chr(ord(char) + 1) + PETER_VKEY[index + 1 :]
            with pytest.raises(NoteError):
                Verifier.from_verifier_key(mangled)

    @pytest.mark.parametrize(
        ("vkey", "message"),
        [
            ("PeterNeumann+c74f20a3", "expected 3 parts"),
            ("PeterNeumann", "expected 3 parts"),
            ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name is empty"),
            ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "space"),
            (
                "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "8 lowercase hex",
            ),
            ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
            ("PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lowercase hex"),
            ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
            ("PeterNeumann+c74f20a3+", "key is empty"),
            # Go's "unknown algorithm, with adjusted key hash" vector.
            ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x65"),
            (
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "does not match",
            ),
        ],
    )
    def test_rejects_malformed_keys(self, vkey: str, message: str) -> None:
        """Each malformed verifier key is refused with a message naming the problem."""
        with pytest.raises(NoteError, match=message):
            Verifier.from_verifier_key(vkey)

    def test_rejects_wrong_key_length_with_matching_id(self) -> None:
        """A 33-byte key is refused for its length even when its id is consistent."""
        public_key = bytes(range(33))
        ident = key_id("a.example", ED25519, public_key)
        material = base64.b64encode(b"\x01" + public_key).decode()
        with pytest.raises(NoteError, match="public key is 33 bytes, expected 32"):
            Verifier.from_verifier_key(f"a.example+{ident:08x}+{material}")

    def test_constructor_checks_key_id(self) -> None:
        """A Verifier built directly must carry the id of its key."""
        public_key = Verifier.from_verifier_key(PETER_VKEY).public_key
        with pytest.raises(NoteError, match="key id c74f20a4 does not match the key"):
            Verifier(name="PeterNeumann", key_id=0xC74F20A4, public_key=public_key)


class TestSignNote:
    """sign_note: text plus a blank line plus one signature line per signer."""

    def test_reproduces_go_reference_note(self) -> None:
        """Signing the Go reference text with the Go reference key gives the Go note exactly."""
        signer = signer_from_private_key_string(PETER_SKEY)
        assert sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + PETER_SIG

    def test_several_signers_in_order(self) -> None:
        """Each signer adds one line, in the order given, and each verifies."""
        first = Signer("a.example", Ed25519PrivateKey.generate())
        second = Signer("b.example", Ed25519PrivateKey.generate())
        note = sign_note("hello\n", first, second)
        lines = note.split("\n")
        assert lines[:2] == ["hello", ""]
        assert lines[2].startswith("\u2014 a.example ")
        assert lines[3].startswith("\u2014 b.example ")
        verifiers = [Verifier.from_verifier_key(s.verifier_key()) for s in (first, second)]
        opened = open_note(note, verifiers)
        assert [s.name for s in opened.signatures] == ["a.example", "b.example"]

    def test_text_with_blank_lines_round_trips(self) -> None:
        """Text with inner and trailing empty lines opens to exactly the same text."""
        signer = Signer("a.example", Ed25519PrivateKey.generate())
        verifier = Verifier.from_verifier_key(signer.verifier_key())
        for text in ["a\n\nb\n", "a\n\n", "\n", "\u2014 x y\n\n\u2014 z w\n"]:
            assert open_note(sign_note(text, signer), [verifier]).text == text

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("no newline", "does not end with a newline"),
            ("", "does not end with a newline"),
            ("tab\there\n", "control character U\\+0009"),
            ("crlf\r\n", "control character U\\+000D"),
            ("bad \ud800\n", "not valid UTF-8"),
        ],
    )
    def test_rejects_invalid_text(self, text: str, message: str) -> None:
        """Text that a note cannot carry is refused before signing."""
        signer = Signer("a.example", Ed25519PrivateKey.generate())
        with pytest.raises(NoteError, match=message):
            sign_note(text, signer)

    def test_needs_a_signer(self) -> None:
        """A note without any signer is refused."""
        with pytest.raises(NoteError, match="at least one signer"):
            sign_note("hello\n")

    def test_rejects_the_same_signer_twice(self) -> None:
        """Signing twice with the same key is refused."""
        signer = Signer("a.example", Ed25519PrivateKey.generate())
        with pytest.raises(NoteError, match=r"a\.example\+[0-9a-f]{8} is given twice"):
            sign_note("hello\n", signer, signer)


class TestParseNote:
    """parse_note: the syntax of a signed note, without verification."""

    def test_parses_spec_intro_note(self) -> None:
        """The first note of signed-note.md parses, keeping the empty line inside its text."""
        note = parse_note(spec_intro_note())
        assert note.text.startswith("Ognuno sta solo sul cuor della terra\n")
        assert note.text.endswith("\n\ned \u00e8 subito sera.\n")
        assert len(note.signatures) == 1
        assert note.signatures[0].name == "quasimodo.example/salvatore"
        assert len(note.signatures[0].signature) == 64

    def test_parses_go_reference_note(self) -> None:
        """Text, names, key ids and raw signatures are split out of the note."""
        note = parse_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
        assert note == Note(
            text=GO_TEXT,
            signatures=(
                Signature("PeterNeumann", 0xC74F20A3, base64.b64decode(PETER_B64)[4:]),
                Signature("EnochRoot", 0xAF0CFE78, base64.b64decode(ENOCH_B64)[4:]),
            ),
        )

    def test_accepts_the_signature_limit(self) -> None:
        """Exactly MAX_SIGNATURES signature lines are accepted."""
        note = parse_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES)
        assert len(note.signatures) == MAX_SIGNATURES == 100

    @pytest.mark.parametrize(
        ("note", "message"),
        [
            (GO_TEXT, "no blank line"),
            (GO_TEXT + "\n", "no signature lines"),
            (GO_TEXT + "\n" + PETER_SIG[:-1], "does not end with a newline"),
            ("\x01" + GO_TEXT + "\n" + PETER_SIG, "control character U\\+0001 at offset 0"),
            ("\udcff" + GO_TEXT + "\n" + PETER_SIG, "not valid UTF-8"),
            (GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "line 2 does not start"),
            (GO_TEXT + "\n- PeterNeumann " + PETER_B64 + "\n", "line 1 does not start"),
            (GO_TEXT + "\n\u2013 PeterNeumann " + PETER_B64 + "\n", "line 1 does not start"),
            (GO_TEXT + "\n\u2014PeterNeumann " + PETER_B64 + "\n", "line 1 does not start"),
            (GO_TEXT + "\n\u2014 Bad Name " + PETER_B64 + "\n", "not valid base64"),
            (GO_TEXT + "\n\u2014 Bad\u00a0Name " + PETER_B64 + "\n", "contains a space"),
            (GO_TEXT + "\n\u2014 Bad+Name " + PETER_B64 + "\n", "contains '\\+'"),
            (GO_TEXT + "\n\u2014  " + PETER_B64 + "\n", "key name is empty"),
            (GO_TEXT + "\n\u2014 PeterNeumann\n", "no signature after the key name"),
            (GO_TEXT + "\n\u2014 PeterNeumann \n", "no signature after the key name"),
            (GO_TEXT + "\n\u2014 PeterNeumann x08go/Z=\n", "not valid base64"),
            (GO_TEXT + "\n\u2014 PeterNeumann x08go/Y\n", "not valid base64"),
            (GO_TEXT + "\n\u2014 PeterNeumann AAAAAA==\n", "4 bytes, too short"),
            (GO_TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"), "control character U\\+000D"),
            (GO_TEXT + "\n" + PETER_SIG * 101, "101 signature lines, more than the limit of 100"),
        ],
    )
    def test_rejects_malformed_notes(self, note: str, message: str) -> None:
        """Each malformed note is refused with a message naming the problem."""
        with pytest.raises(NoteError, match=message):
            parse_note(note)


class TestOpenNote:
    """open_note: verification against trusted keys, per signed-note "Signatures"."""

    def test_accepts_spec_example(self) -> None:
        """The example verifier key of signed-note.md opens the example note."""
        vkey, note = spec_example()
        assert vkey == "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        opened = open_note(note, [Verifier.from_verifier_key(vkey)])
        assert opened.text == "This is an example message.\n"
        assert [(s.name, s.key_id) for s in opened.signatures] == [("example.com/foo", 0x530D903A)]

    def test_rejects_every_one_bit_change_of_the_spec_text(self) -> None:
        """Flipping any single bit of the example text makes the note fail to open."""
        vkey, note = spec_example()
        verifier = Verifier.from_verifier_key(vkey)
        text = note[: note.index("\n\n") + 1].encode("utf-8")
        rest = note[len(text) :]
        for bit in range(len(text) * 8):
            changed = flip_bit(text, bit).decode("utf-8", errors="surrogateescape")
            with pytest.raises(NoteError):
                open_note(changed + rest, [verifier])

    def test_rejects_every_one_bit_change_of_the_spec_signature(self) -> None:
        """Flipping any single bit of the example's Ed25519 signature fails verification."""
        vkey, note = spec_example()
        verifier = Verifier.from_verifier_key(vkey)
        (signature,) = parse_note(note).signatures
        text = note[: note.index("\n\n") + 2]
        for bit in range(len(signature.signature) * 8):
            changed = flip_bit(signature.signature, bit)
            line = signature_line(signature.name, signature.key_id, changed)
            with pytest.raises(NoteError, match=r"example\.com/foo\+530d903a does not verify"):
                open_note(text + line, [verifier])

    def test_changed_key_id_is_an_unknown_key(self) -> None:
        """A one-bit change of the key id turns the signature into an unknown key's."""
        vkey, note = spec_example()
        (signature,) = parse_note(note).signatures
        line = signature_line(signature.name, signature.key_id ^ 1, signature.signature)
        text = note[: note.index("\n\n") + 2]
        with pytest.raises(NoteError, match="no signature from a trusted key"):
            open_note(text + line, [Verifier.from_verifier_key(vkey)])

    def test_ignores_unknown_keys(self) -> None:
        """A signature from an untrusted key is ignored and left out of the result."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
        opened = open_note(note, [Verifier.from_verifier_key(PETER_VKEY)])
        assert opened.text == GO_TEXT
        assert [s.name for s in opened.signatures] == ["PeterNeumann"]

    def test_returns_every_verified_key(self) -> None:
        """With both keys trusted, both signatures are returned in note order."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
        verifiers = [Verifier.from_verifier_key(k) for k in (ENOCH_VKEY, PETER_VKEY)]
        opened = open_note(note, verifiers)
        assert [(s.name, s.key_id) for s in opened.signatures] == [
            ("PeterNeumann", 0xC74F20A3),
            ("EnochRoot", 0xAF0CFE78),
        ]

    def test_ignores_same_name_or_same_id_alone(self) -> None:
        """Signatures sharing only the name or only the id of a trusted key are ignored."""
        same_id = f"\u2014 PeterNeumann2 {PETER_B64}\n"
        same_name = f"\u2014 PeterNeumann {ENOCH_B64}\n"
        note = GO_TEXT + "\n" + same_id + same_name + PETER_SIG
        opened = open_note(note, [Verifier.from_verifier_key(PETER_VKEY)])
        assert [(s.name, s.key_id) for s in opened.signatures] == [("PeterNeumann", 0xC74F20A3)]
        with pytest.raises(NoteError, match="no signature from a trusted key"):
            open_note(
                GO_TEXT + "\n" + same_id + same_name, [Verifier.from_verifier_key(PETER_VKEY)]
            )

    def test_no_trusted_key_is_rejected(self) -> None:
        """A note with no signature from a trusted key is refused, naming signers and keys."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
        with pytest.raises(
            NoteError,
            match=r"signed by PeterNeumann\+c74f20a3, EnochRoot\+af0cfe78; trusted: none",
        ):
            open_note(note, [])

    def test_failing_known_signature_rejects_the_note(self) -> None:
        """A bad signature from a trusted key rejects the note even if another one verifies."""
        enoch = base64.b64decode(ENOCH_B64)
        bad_enoch = signature_line("EnochRoot", 0xAF0CFE78, flip_bit(enoch[4:], 0))
        verifiers = [Verifier.from_verifier_key(k) for k in (PETER_VKEY, ENOCH_VKEY)]
        with pytest.raises(NoteError, match=r"EnochRoot\+af0cfe78 does not verify"):
            open_note(GO_TEXT + "\n" + PETER_SIG + bad_enoch, verifiers)

    def test_rejects_signature_of_wrong_length(self) -> None:
        """A trusted key's signature with extra bytes does not verify (Go's "ABCD" case)."""
        note = GO_TEXT + "\n" + PETER_SIG[:58] + "ABCD" + PETER_SIG[58:]
        with pytest.raises(NoteError, match=r"PeterNeumann\+c74f20a3 does not verify"):
            open_note(note, [Verifier.from_verifier_key(PETER_VKEY)])

    def test_repeated_signature_is_returned_once(self) -> None:
        """The same valid signature twice is verified and returned once."""
        note = GO_TEXT + "\n" + PETER_SIG + PETER_SIG
        opened = open_note(note, [Verifier.from_verifier_key(PETER_VKEY)])
        assert len(opened.signatures) == 1

    def test_repeated_key_with_a_bad_signature_is_rejected(self) -> None:
        """Every signature of a trusted key is verified, not just the first."""
        peter = base64.b64decode(PETER_B64)
        bad = signature_line("PeterNeumann", 0xC74F20A3, flip_bit(peter[4:], 9))
        with pytest.raises(NoteError, match="does not verify"):
            open_note(GO_TEXT + "\n" + PETER_SIG + bad, [Verifier.from_verifier_key(PETER_VKEY)])

    def test_too_many_signatures(self) -> None:
        """More than 100 signatures are refused before any verification."""
        with pytest.raises(NoteError, match="more than the limit of 100"):
            open_note(GO_TEXT + "\n" + PETER_SIG * 101, [Verifier.from_verifier_key(PETER_VKEY)])

    def test_duplicate_trusted_verifier_is_harmless(self) -> None:
        """The same verifier listed twice is one key, not an ambiguity."""
        peter = Verifier.from_verifier_key(PETER_VKEY)
        opened = open_note(GO_TEXT + "\n" + PETER_SIG, [peter, peter])
        assert [s.name for s in opened.signatures] == ["PeterNeumann"]

    def test_ambiguous_trusted_keys(self) -> None:
        """Two trusted keys with the same name and id make their signatures ambiguous."""
        verifiers = [
            Verifier(COLLIDING_NAME, COLLIDING_ID, base64.b64decode(key)) for key in COLLIDING_KEYS
        ]
        line = signature_line(COLLIDING_NAME, COLLIDING_ID, bytes(64))
        with pytest.raises(NoteError, match=r"ambiguous key collide\.example\+93d571a9"):
            open_note("hello\n\n" + line, verifiers)
        # Unused, the ambiguity does not matter.
        peter = Verifier.from_verifier_key(PETER_VKEY)
        opened = open_note(GO_TEXT + "\n" + PETER_SIG, [*verifiers, peter])
        assert opened.signatures[0].name == "PeterNeumann"
