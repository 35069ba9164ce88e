"""Tests of the independent verifier against honest and dishonest fake servers.

The fake server is a tiny log written from the RFC 9162 §2.1 recursive definitions
(nothing shared with ``flightlog.ledger.merkle``), signing C2SP checkpoints with a real
Ed25519 key; each dishonest variant changes one thing a malicious server might.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from flightlog.client.http import RemoteFlightlog
from flightlog.client.witness import WitnessReport, load_state, state_path, verify_remote
from flightlog.errors import CheckpointError, NoteError, ProofError
from flightlog.events.canonical import canonical_bytes
from flightlog.ledger.checkpoint import Checkpoint, sign_checkpoint
from flightlog.ledger.entry import leaf_bytes, payload_digest
from flightlog.ledger.keys import generate_signer
from flightlog.ledger.note import Signer

ORIGIN = "test.example/log"
BASE = "http://log.test"


# -- a naive RFC 9162 §2.1 Merkle tree ---------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 §2.1.1: k < n <= 2k)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) (RFC 9162 §2.1.1)."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _split(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1)."""
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 9162 §2.1.4.1)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


# -- the fake server ---------------------------------------------------------------------


def make_event(n: int) -> dict[str, Any]:
    """A small CDEvent numbered ``n``."""
    return {
        "context": {
            "specversion": "0.5.1",
            "id": f"evt-{n}",
            "source": "/ci/test",
            "type": "dev.cdevents.build.finished.0.3.0",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        "subject": {
            "id": f"build-{n}",
            "source": "/ci/test",
            "content": {"artifactId": f"pkg:generic/app@{n}"},
        },
        "customData": {"score": n + 0.5, "note": "caf\u00e9 \U0001f680"},
    }


class FakeLog:
    """An honest log server: real leaves, real Merkle math, real signed checkpoints."""

    def __init__(self, signer: Signer | None = None, size: int = 0) -> None:
        """Start a log of ``size`` entries signed by ``signer`` (a fresh key by default)."""
        self.signer = signer or generate_signer(ORIGIN)
        self.events: list[dict[str, Any] | None] = []
        self.leaves: list[dict[str, str]] = []
        self.requests: list[str] = []
        for n in range(size):
            self.append(make_event(n))

    # the log's state

    def append(self, event: dict[str, Any]) -> None:
        """Append one event with its leaf."""
        context = event["context"]
        self.events.append(event)
        self.leaves.append(
            {
                "id": context["id"],
                "source": context["source"],
                "type": context["type"],
                "time": context["timestamp"],
                "received_at": f"2026-01-01T00:00:{len(self.leaves):02d}.000000Z",
                "payload_sha256": payload_digest(canonical_bytes(event)),
            }
        )

    def rewrite(self, index: int, event: dict[str, Any]) -> None:
        """Replace an old entry, leaf and all, as a server rewriting history would."""
        self.events[index] = event
        self.leaves[index] = dict(
            self.leaves[index], payload_sha256=payload_digest(canonical_bytes(event))
        )

    def data(self) -> list[bytes]:
        """D[n]: the leaf bytes of every entry."""
        return [leaf_bytes(leaf) for leaf in self.leaves]

    @property
    def size(self) -> int:
        """The number of entries."""
        return len(self.leaves)

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` entries."""
        return mth(self.data()[:size])

    def note(self) -> str:
        """A signed checkpoint of the whole tree."""
        return sign_checkpoint(Checkpoint(ORIGIN, self.size, self.root(self.size)), self.signer)

    # the documents served

    def show(self, index: int) -> dict[str, Any]:
        """The show document of entry ``index``."""
        leaf = self.leaves[index]
        return {
            "index": index,
            "event": self.events[index],
            "erased": self.events[index] is None,
            "refs": [],
            "leaf": leaf,
            "leaf_hash": b64(hashlib.sha256(b"\x00" + leaf_bytes(leaf)).digest()),
        }

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """The inclusion proof document."""
        d = self.data()[:size]
        return {
            "index": index,
            "tree_size": size,
            "leaf_hash": b64(mth(d[index : index + 1])),
            "proof": [b64(h) for h in path(index, d)],
            "root": b64(mth(d)),
            "checkpoint": None,
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """The consistency proof document."""
        d = self.data()[:second]
        return {
            "first": first,
            "second": second,
            "first_root": b64(mth(d[:first])),
            "second_root": b64(mth(d)),
            "proof": [b64(h) for h in subproof(first, d, True)],
        }

    def key(self) -> str:
        """The verifier key text."""
        return self.signer.verifier_key() + "\n"

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Route one request of the Flightlog API."""
        route = request.url.path.removeprefix("/api/v1")
        query = {k: int(v[0]) for k, v in parse_qs(request.url.query.decode()).items()}
        self.requests.append(f"{request.method} {route} {sorted(query.items())}")
        if route == "/key":
            return httpx.Response(200, text=self.key())
        if route == "/checkpoint":
            return httpx.Response(200, text=self.note())
        if route.startswith("/events/"):
            return httpx.Response(200, json=self.show(int(route.rsplit("/", 1)[1])))
        if route == "/proof/inclusion":
            return httpx.Response(200, json=self.inclusion(query["index"], query["size"]))
        if route == "/proof/consistency":
            return httpx.Response(200, json=self.consistency(query["first"], query["second"]))
        return httpx.Response(404, json={"detail": f"no route {route}"})

    def client(self) -> RemoteFlightlog:
        """A client talking to this fake."""
        return RemoteFlightlog(BASE, "fl_token", transport=httpx.MockTransport(self.handle))


class ForgingLog(FakeLog):
    """Serves the honest key but signs its checkpoints with another one."""

    def __init__(self, size: int) -> None:
        """An honest log whose checkpoints a second key signs."""
        super().__init__(size=size)
        self.honest_key = super().key()
        self.signer = generate_signer(ORIGIN)

    def key(self) -> str:
        """The key it claims to sign with."""
        return self.honest_key


class GarbageKeyLog(FakeLog):
    """Serves something that is not a verifier key."""

    def key(self) -> str:
        """Not a key."""
        return "not a key"


class AlteredPayloadLog(FakeLog):
    """Serves entry 0 with content other than its leaf commits to."""

    def show(self, index: int) -> dict[str, Any]:
        """The show document, with entry 0's subject replaced."""
        doc = super().show(index)
        if index == 0:
            doc["event"] = dict(doc["event"], subject={"id": "forged"})
        return doc


class WrongLeafHashLog(FakeLog):
    """Shows a leaf_hash that is not the hash of the leaf it shows."""

    def show(self, index: int) -> dict[str, Any]:
        """The show document with a zero leaf hash."""
        return dict(super().show(index), leaf_hash=b64(b"\x00" * 32))


class SwappedEntryLog(FakeLog):
    """Shows a self-consistent forged entry 3 (event, leaf and leaf hash) not in the tree."""

    def show(self, index: int) -> dict[str, Any]:
        """The show document, entry 3 forged consistently."""
        doc = super().show(index)
        if index == 3:
            forged = make_event(1234)
            leaf = dict(doc["leaf"], payload_sha256=payload_digest(canonical_bytes(forged)))
            digest = hashlib.sha256(b"\x00" + leaf_bytes(leaf)).digest()
            doc.update(event=forged, leaf=leaf, leaf_hash=b64(digest))
        return doc


class GarbageProofLog(FakeLog):
    """Serves inclusion proofs whose hashes are not base64."""

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """A proof of non-base64 text."""
        return {"index": index, "tree_size": size, "proof": ["%%%"]}


class WrongSizeProofLog(FakeLog):
    """Serves inclusion proofs for a smaller tree than the one asked for."""

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """A proof in the tree of ``size - 1``."""
        return dict(super().inclusion(index, size), tree_size=size - 1)


def verify(log: FakeLog, state: Path, **options: Any) -> WitnessReport:
    """Run verify_remote against ``log``."""
    options.setdefault("pinned_key", None)
    with log.client() as client:
        return verify_remote(client, state_dir=state, **options)


def saved(state: Path) -> dict[str, Any]:
    """The saved witness state document of ORIGIN."""
    loaded: dict[str, Any] = json.loads(state_path(state, ORIGIN, BASE).read_text())
    return loaded


# -- honest server -----------------------------------------------------------------------


class TestHonestServer:
    """verify_remote against a server that keeps its promises."""

    def test_first_use_pins_the_key_and_saves_the_checkpoint(self, tmp_path: Path) -> None:
        """The first run trusts the server's key, checks entries and saves the checkpoint."""
        log = FakeLog(size=9)
        report = verify(log, tmp_path)
        assert report == WitnessReport(
            origin=ORIGIN,
            tree_size=9,
            root=log.root(9),
            previous_size=None,
            entries_checked=9,
            first_use=True,
        )
        doc = saved(tmp_path)
        assert doc["tree_size"] == 9
        assert doc["root"] == b64(log.root(9))
        assert doc["verifier_key"] == log.signer.verifier_key()
        assert doc["note"] == log.note()
        assert doc["server"] == BASE

    def test_state_file_is_private(self, tmp_path: Path) -> None:
        """The state file is written with mode 0600 under witness/."""
        verify(FakeLog(size=2), tmp_path)
        file = state_path(tmp_path, ORIGIN, BASE)
        assert file.parent == tmp_path / "witness"
        assert file.name == "http%3A%2F%2Flog.test+test.example%2Flog.json"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert [p.name for p in file.parent.iterdir()] == [file.name]

    def test_second_run_proves_consistency_with_the_saved_checkpoint(self, tmp_path: Path) -> None:
        """After growth, the second run fetches a consistency proof from the old size."""
        log = FakeLog(size=5)
        verify(log, tmp_path)
        for n in range(5, 13):
            log.append(make_event(n))
        log.requests.clear()
        report = verify(log, tmp_path)
        assert (report.previous_size, report.tree_size, report.first_use) == (5, 13, False)
        assert "GET /proof/consistency [('first', 5), ('second', 13)]" in log.requests
        assert saved(tmp_path)["tree_size"] == 13

    def test_unchanged_log_needs_no_consistency_proof(self, tmp_path: Path) -> None:
        """The same checkpoint again verifies without asking for a proof."""
        log = FakeLog(size=4)
        verify(log, tmp_path)
        log.requests.clear()
        report = verify(log, tmp_path)
        assert report.previous_size == 4
        assert not any("consistency" in r for r in log.requests)

    def test_sample_spreads_over_first_last_and_the_first_new_entry(self, tmp_path: Path) -> None:
        """With sample=4 over 40 entries, 0, 39 and the first new entry are among those checked."""
        log = FakeLog(size=20)
        verify(log, tmp_path, sample=1)
        for n in range(20, 40):
            log.append(make_event(n))
        log.requests.clear()
        report = verify(log, tmp_path, sample=4)
        shown = sorted(int(r.split()[1].rsplit("/", 1)[1]) for r in log.requests if "/events/" in r)
        assert report.entries_checked == 4
        assert len(set(shown)) == 4
        assert {0, 20, 39} <= set(shown)
        assert "GET /proof/inclusion [('index', 39), ('size', 40)]" in log.requests

    def test_empty_log_verifies_with_nothing_to_check(self, tmp_path: Path) -> None:
        """A log of 0 entries verifies, checks no entry, and later growth is consistent."""
        log = FakeLog(size=0)
        assert verify(log, tmp_path).entries_checked == 0
        log.append(make_event(0))
        report = verify(log, tmp_path)
        assert (report.previous_size, report.tree_size, report.entries_checked) == (0, 1, 1)

    def test_erased_entries_still_verify(self, tmp_path: Path) -> None:
        """An entry whose payload was erased (event null) passes by its leaf alone."""
        log = FakeLog(size=3)
        log.events[1] = None
        assert verify(log, tmp_path).entries_checked == 3

    def test_explicit_key_is_trusted_without_asking_the_server(self, tmp_path: Path) -> None:
        """With pinned_key the server's key endpoint is not consulted."""
        log = FakeLog(size=3)
        report = verify(log, tmp_path, pinned_key=log.signer.verifier_key())
        assert report.tree_size == 3
        assert not any(r.startswith("GET /key") for r in log.requests)

    def test_explicit_key_wins_over_the_pinned_state(self, tmp_path: Path) -> None:
        """After a key rotation, the explicitly given key is used and then pinned."""
        log = FakeLog(size=3)
        verify(log, tmp_path)
        log.signer = generate_signer(ORIGIN)
        log.append(make_event(3))
        report = verify(log, tmp_path, pinned_key=log.signer.verifier_key())
        assert (report.previous_size, report.tree_size) == (3, 4)
        assert saved(tmp_path)["verifier_key"] == log.signer.verifier_key()
        assert verify(log, tmp_path).tree_size == 4


# -- dishonest servers -------------------------------------------------------------------


class TestDishonestServer:
    """verify_remote fails closed, naming what is wrong, and keeps the old state."""

    def test_rewritten_old_entry_breaks_consistency(self, tmp_path: Path) -> None:
        """A server that rewrote entry 2 and grew fails the consistency proof."""
        log = FakeLog(size=6)
        verify(log, tmp_path)
        before = saved(tmp_path)
        log.rewrite(2, make_event(99))
        log.append(make_event(6))
        with pytest.raises(
            ProofError,
            match=r"history rewritten: the signed tree of 7 entries "
            r"does not extend the tree of 6 entries",
        ):
            verify(log, tmp_path)
        assert saved(tmp_path) == before

    def test_the_servers_own_first_root_is_not_trusted(self, tmp_path: Path) -> None:
        """A rewrite is caught even though the server's proof document is self-consistent."""
        log = FakeLog(size=6)
        verify(log, tmp_path)
        log.rewrite(0, make_event(77))
        log.append(make_event(6))
        served = log.consistency(6, 7)
        # The proof matches the server's own (rewritten) first root: only the kept root catches it.
        assert b64(log.root(6)) == served["first_root"]
        with pytest.raises(ProofError, match="history rewritten"):
            verify(log, tmp_path)

    def test_rewrite_at_the_same_size_is_history_rewritten(self, tmp_path: Path) -> None:
        """Same size, different root: the message names both roots."""
        log = FakeLog(size=4)
        verify(log, tmp_path)
        old_root = log.root(4)
        log.rewrite(3, make_event(50))
        with pytest.raises(ProofError) as info:
            verify(log, tmp_path)
        assert str(info.value) == (
            f"history rewritten: the log still has 4 entries but its root changed from "
            f"{b64(old_root)} to {b64(log.root(4))}"
        )

    def test_shrunk_log_is_refused(self, tmp_path: Path) -> None:
        """A log that lost entries since the last run is refused."""
        log = FakeLog(size=8)
        verify(log, tmp_path)
        del log.events[6:], log.leaves[6:]
        with pytest.raises(ProofError, match="the log shrank from 8 to 6 entries"):
            verify(log, tmp_path)
        assert saved(tmp_path)["tree_size"] == 8

    def test_checkpoint_signed_by_another_key_is_forged(self, tmp_path: Path) -> None:
        """A checkpoint not signed by the served key fails as a NoteError on first use."""
        with pytest.raises(
            NoteError,
            match=r"the server's checkpoint does not verify with the trusted key "
            r"test\.example/log\+[0-9a-f]{8}: note has no signature from a trusted key",
        ):
            verify(ForgingLog(size=3), tmp_path)
        assert not state_path(tmp_path, ORIGIN, BASE).exists()

    def test_checkpoint_not_signed_by_the_pinned_key_is_refused(self, tmp_path: Path) -> None:
        """With an explicit key, a checkpoint signed by another key is refused."""
        log = FakeLog(size=3)
        other = generate_signer(ORIGIN)
        with pytest.raises(NoteError, match="no signature from a trusted key"):
            verify(log, tmp_path, pinned_key=other.verifier_key())

    def test_key_change_after_first_use_is_refused(self, tmp_path: Path) -> None:
        """A server presenting a new key for the same origin is refused."""
        log = FakeLog(size=3)
        verify(log, tmp_path)
        old_key = log.signer.verifier_key()
        log.signer = generate_signer(ORIGIN)
        with pytest.raises(NoteError) as info:
            verify(log, tmp_path)
        message = str(info.value)
        assert message.startswith(f"the server's key changed: this client pinned {old_key}")
        assert log.signer.verifier_key() in message
        assert saved(tmp_path)["verifier_key"] == old_key

    def test_two_servers_with_one_origin_pin_their_own_keys(self, tmp_path: Path) -> None:
        """Two servers using the same origin with different keys are two logs, each pinned."""
        first, second = FakeLog(size=3), FakeLog(size=2)
        verify(first, tmp_path)
        with second.client() as other:
            other.base_url = "http://other.test"
            report = verify_remote(other, pinned_key=None, state_dir=tmp_path)
        assert (report.first_use, report.tree_size) == (True, 2)
        assert verify(first, tmp_path).first_use is False
        assert load_state(tmp_path, ORIGIN, BASE).tree_size == 3  # type: ignore[union-attr]
        pinned = load_state(tmp_path, ORIGIN, "http://other.test")
        assert pinned is not None
        assert pinned.verifier_key == second.signer.verifier_key()

    def test_key_and_origin_change_at_the_same_server_is_refused(self, tmp_path: Path) -> None:
        """A server switching to a new origin and key is not trusted afresh."""
        log = FakeLog(size=3)
        verify(log, tmp_path)
        impostor = FakeLog(signer=generate_signer("evil.example/log"), size=3)
        with pytest.raises(NoteError, match="the server's key changed"):
            verify(impostor, tmp_path)

    def test_malformed_server_key_is_refused(self, tmp_path: Path) -> None:
        """A key endpoint serving garbage fails as a NoteError naming the server."""
        with pytest.raises(
            NoteError,
            match=r"the key of the server at http://log\.test is not a usable verifier key",
        ):
            verify(GarbageKeyLog(size=1), tmp_path)

    def test_altered_payload_is_caught(self, tmp_path: Path) -> None:
        """An event whose content differs from its committed digest fails the spot check."""
        log = AlteredPayloadLog(size=5)
        digest = log.leaves[0]["payload_sha256"]
        with pytest.raises(
            ProofError,
            match=f"entry 0: the event the server serves was altered: "
            f"its SHA-256 [0-9a-f]{{64}} is not the digest {digest}",
        ):
            verify(log, tmp_path)
        assert not state_path(tmp_path, ORIGIN, BASE).exists()

    def test_leaf_hash_not_matching_the_leaf_is_caught(self, tmp_path: Path) -> None:
        """A shown leaf_hash that is not the hash of the shown leaf fails."""
        with pytest.raises(ProofError, match="entry 0: the leaf hash the server shows"):
            verify(WrongLeafHashLog(size=2), tmp_path)

    def test_leaf_not_in_the_signed_tree_is_caught(self, tmp_path: Path) -> None:
        """A leaf altered together with its payload digest fails the inclusion proof."""
        with pytest.raises(
            ProofError, match="entry 3 is not included in the signed tree of 4 entries"
        ):
            verify(SwappedEntryLog(size=4), tmp_path)

    def test_malformed_proof_is_refused(self, tmp_path: Path) -> None:
        """An inclusion proof that is not base64 fails as a ProofError."""
        with pytest.raises(
            ProofError, match="entry 0: the server's proof holds a hash that is not base64"
        ):
            verify(GarbageProofLog(size=2), tmp_path)

    def test_proof_for_another_size_is_refused(self, tmp_path: Path) -> None:
        """An inclusion proof for a tree size other than the one asked is refused."""
        with pytest.raises(
            ProofError,
            match="entry 0: asked for a proof in the tree of 3 entries, the server answered for 2",
        ):
            verify(WrongSizeProofLog(size=3), tmp_path)


class TestState:
    """The saved state is checked before it is trusted."""

    def test_edited_state_is_refused(self, tmp_path: Path) -> None:
        """A state whose root was edited no longer matches its signed note."""
        log = FakeLog(size=3)
        verify(log, tmp_path)
        doc = saved(tmp_path)
        doc["tree_size"] = 2
        state_path(tmp_path, ORIGIN, BASE).write_text(json.dumps(doc))
        with pytest.raises(CheckpointError, match="is corrupt \\(its tree size and root differ"):
            load_state(tmp_path, ORIGIN, BASE)

    def test_unparseable_state_is_refused(self, tmp_path: Path) -> None:
        """A state file that is not JSON stops verification."""
        log = FakeLog(size=3)
        verify(log, tmp_path)
        state_path(tmp_path, ORIGIN, BASE).write_text("{")
        with pytest.raises(CheckpointError, match=r"witness state .* is corrupt"):
            verify(log, tmp_path)

    def test_missing_state_is_none(self, tmp_path: Path) -> None:
        """No state file means no previous checkpoint."""
        assert load_state(tmp_path, ORIGIN, BASE) is None

    def test_long_origins_get_a_digest_file_name(self, tmp_path: Path) -> None:
        """An origin too long for a file name is stored under its digest."""
        origin = "x" * 300
        assert state_path(tmp_path, origin).name == (
            "sha256-" + hashlib.sha256(origin.encode()).hexdigest() + ".json"
        )


# -- against the real server -------------------------------------------------------------


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real Flightlog app under uvicorn on a free port; yields (url, admin token)."""
    app_module = pytest.importorskip("flightlog.server.app")
    import uvicorn

    from flightlog.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'server.db'}", home=tmp_path / "srv")
    app = app_module.create_app(settings, checkpoint_interval=3600)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the Flightlog server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", settings.admin_token_path.read_text().strip()
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


class TestAgainstTheRealServer:
    """RemoteFlightlog and verify_remote end to end over HTTP."""

    @pytest.mark.slow
    def test_record_then_verify_twice(self, live_server: tuple[str, str], tmp_path: Path) -> None:
        """Recorded events are acknowledged; two verifications pass, the second by consistency."""
        url, token = live_server
        state = tmp_path / "client"
        first = "\n".join(json.dumps(make_event(n)) for n in range(5)).encode()
        with RemoteFlightlog(url, token) as client:
            results = client.record_bytes(first, name="first.jsonl")
            assert [r.index for r in results] == [0, 1, 2, 3, 4]
            assert [r.duplicate for r in results] == [False] * 5
            client.checkpoint()
            report = verify_remote(client, pinned_key=None, state_dir=state)
            assert (report.tree_size, report.first_use, report.entries_checked) == (5, True, 5)

            again = client.record_bytes(first, name="first.jsonl")
            assert [r.duplicate for r in again] == [True] * 5
            more = json.dumps([make_event(n) for n in range(5, 12)]).encode()
            recorded = client.record_bytes(more, name="more.json")
            assert [r.index for r in recorded] == list(range(5, 12))
            client.checkpoint()
            report = verify_remote(client, pinned_key=None, state_dir=state)
            assert (report.previous_size, report.tree_size, report.first_use) == (5, 12, False)
            assert report.entries_checked == 12
            assert report.root == client.latest_checkpoint().root
            assert client.show(7).event == make_event(7)
