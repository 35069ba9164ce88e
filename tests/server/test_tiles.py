"""The log served as C2SP tlog-tiles, checked by a tile client written here from the spec.

The client below shares no code with Flightlog: its path encoding, hashing, entry
bundle decoding and signed-note check follow tlog-tiles, RFC 9162 and C2SP signed-note.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.client.tiles import TileClient, verify_tiles
from flightlog.config import Settings
from flightlog.errors import ProofError
from flightlog.server.app import create_app
from tests.server.events import deployed
from tests.server.harness import Api, LiveServer, admin_token, problem, serving

SIZE = 600  # two full leaf tiles, a partial one of 88, a level-1 tile of width 2

Get = Callable[[str], httpx.Response]


def _index_path(n: int) -> str:
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(parts)


def _path(kind: str, n: int, width: int) -> str:
    return f"/tile/{kind}/{_index_path(n)}" + ("" if width == 256 else f".p/{width}")


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over already-hashed leaves."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def _checked_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """Parse a signed note and check its Ed25519 signature (C2SP signed-note)."""
    name, key_hash, key = verifier_key.split("+", 2)
    raw_key = base64.b64decode(key)
    assert raw_key[0] == 1
    text, _, signatures = note.partition("\n\n")
    body = text + "\n"
    origin, size, root = body.splitlines()[:3]
    good = False
    for line in signatures.splitlines():
        signer, blob = line.removeprefix("\u2014 ").split(" ")
        sig = base64.b64decode(blob)
        if signer == name and sig[:4] == bytes.fromhex(key_hash):
            Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(sig[4:], body.encode())
            good = True
    assert good, "no signature by the log's key"
    return origin, int(size), base64.b64decode(root)


def _decode_bundle(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 2], "big")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


def rebuild(get: Get, verifier_key: str) -> tuple[int, bytes, list[bytes]]:
    """Fetch the checkpoint, bundles and tiles; check them; return size, root and leaf hashes."""
    r = get("/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    _, size, root = _checked_checkpoint(r.text, verifier_key)
    leaves: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        bundle = get(_path("entries", n, width))
        assert bundle.status_code == 200
        entries = _decode_bundle(bundle.content)
        assert len(entries) == width
        hashes = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
        tile = get(_path("0", n, width))
        assert tile.headers["content-type"] == "application/octet-stream"
        assert tile.content == b"".join(hashes)
        leaves.extend(hashes)
    full = size // 256
    if full:
        upper = get(_path("1", 0, full))
        assert upper.content == b"".join(_mth(leaves[k * 256 : (k + 1) * 256]) for k in range(full))
    assert _mth(leaves) == root
    return size, root, leaves


@pytest.fixture
def seeded(api: Api) -> Api:
    """A log of SIZE entries with a checkpoint of all of them."""
    for start in range(0, SIZE, 200):
        r = api.client.post(
            "/api/v1/events/batch",
            json=[deployed(i) for i in range(start, start + 200)],
            headers=api.auth(),
        )
        assert r.status_code == 201
    api.client.post("/api/v1/checkpoint", headers=api.auth())
    return api


class TestTileClient:
    def test_rebuilds_the_tree_from_tiles_alone(self, seeded: Api) -> None:
        """The root of the entry bundles' leaves is the signed checkpoint's root."""
        key = seeded.client.get("/api/v1/key").text
        headers = seeded.auth(seeded.token("read"))
        size, root, leaves = rebuild(lambda p: seeded.client.get(p, headers=headers), key)
        assert size == SIZE
        assert root == seeded.flightlog.root(SIZE)
        shown = seeded.flightlog.show(417)
        assert shown.leaf_hash == leaves[417]

    def test_bundle_holds_the_leaf_bytes(self, seeded: Api) -> None:
        """Entry bundle 1 holds the RFC 8785 leaf object of entry 256 first."""
        bundle = seeded.client.get("/tile/entries/001", headers=seeded.auth())
        first = _decode_bundle(bundle.content)[0]
        leaf = seeded.flightlog.show(256).leaf.to_wire()
        assert first.startswith(b'{"id":"deploy-256","payload_sha256":"')
        expected = (
            f'{{"id":"deploy-256","payload_sha256":"{leaf["payload_sha256"]}",'
            f'"received_at":"{leaf["received_at"]}","source":"{leaf["source"]}",'
            f'"time":"{leaf["time"]}","type":"{leaf["type"]}"}}'
        )
        assert first == expected.encode()

    def test_cache_headers(self, seeded: Api) -> None:
        """Tiles are immutable for a year; the checkpoint for seconds."""
        auth = seeded.auth()
        full = seeded.client.get("/tile/0/000", headers=auth)
        assert full.headers["cache-control"] == "private, max-age=31536000, immutable"
        partial = seeded.client.get("/tile/0/002.p/88", headers=auth)
        assert len(partial.content) == 88 * 32
        assert "immutable" in partial.headers["cache-control"]
        prefix = seeded.client.get("/tile/0/002.p/10", headers=auth)
        assert prefix.content == partial.content[: 10 * 32]
        cp = seeded.client.get("/checkpoint", headers=auth)
        assert cp.headers["cache-control"] == "private, max-age=5"


class TestBadTilePaths:
    @pytest.mark.parametrize(
        ("path", "status", "words"),
        [
            ("/tile/0/1", 400, "not a tile path"),
            ("/tile/0/0001", 400, "not a tile path"),
            ("/tile/00/000", 400, "not a tile path"),
            ("/tile/64/000", 400, "between 0 and 63"),
            ("/tile/0/000.p/0", 400, "not a tile path"),
            ("/tile/0/000.p/256", 400, "between 1 and 255"),
            ("/tile/0/000.p/07", 400, "not a tile path"),
            ("/tile/0/x1/000", 400, "not a tile path"),
            ("/tile/entries/abc", 400, "not an entry bundle path"),
            ("/tile/0/003", 404, "beyond the tree"),
            ("/tile/0/x001/000", 404, "beyond the tree"),
            ("/tile/3/000", 404, "beyond the tree"),
            ("/tile/0/002", 404, "partial, width 88"),
            ("/tile/0/002.p/89", 404, "has 88 of 89"),
            ("/tile/1/000", 404, "partial, width 2"),
            ("/tile/entries/002", 404, "partial, width 88"),
            ("/tile/entries/005.p/1", 404, "beyond the tree"),
        ],
    )
    def test_problem_documents(self, seeded: Api, path: str, status: int, words: str) -> None:
        """Each bad tile request is a problem document naming what is wrong, never a 500."""
        r = seeded.client.get(path, headers=seeded.auth())
        assert r.status_code == status
        assert r.headers["content-type"] == "application/problem+json"
        assert words in problem(r)["detail"]


class TestTileAccess:
    def test_tiles_need_the_read_scope(self, seeded: Api) -> None:
        """Without a token tiles are 401; an ingest-only token is 403."""
        assert seeded.client.get("/tile/0/000").status_code == 401
        assert seeded.client.get("/checkpoint").status_code == 401
        ingest = seeded.auth(seeded.token("ingest"))
        assert seeded.client.get("/tile/entries/000", headers=ingest).status_code == 403

    @pytest.fixture
    def public(self, sqlite_settings: Settings) -> Iterator[Api]:
        """An app serving its tiles publicly."""
        app = create_app(sqlite_settings, checkpoint_interval=3600, public_tiles=True)
        with serving(app) as client:
            yield Api(app=app, client=client, admin=admin_token(sqlite_settings))

    def test_public_tiles_need_no_token(self, public: Api) -> None:
        """With public tiles the whole tree is rebuilt without any token."""
        r = public.client.post(
            "/api/v1/events/batch", json=[deployed(i) for i in range(300)], headers=public.auth()
        )
        assert r.status_code == 201
        key = public.client.get("/api/v1/key").text
        size, _, _ = rebuild(public.client.get, key)
        assert size == 300
        tile = public.client.get("/tile/0/000")
        assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert public.client.get("/api/v1/events").status_code == 401


class TestFullRemoteVerify:
    @pytest.fixture
    def served(self, live_server: LiveServer) -> LiveServer:
        """The live server holding SIZE entries and a checkpoint of them."""
        with httpx.Client(base_url=live_server.url, headers=_bearer(live_server.admin)) as c:
            for start in range(0, SIZE, 300):
                batch = [deployed(i) for i in range(start, start + 300)]
                assert c.post("/api/v1/events/batch", json=batch).status_code == 201
            assert c.post("/api/v1/checkpoint").status_code == 200
        return live_server

    def test_verify_server_full(
        self, served: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`verify --server URL --full` checks every entry and tile against the signed root."""
        monkeypatch.setenv("FLIGHTLOG_HOME", str(tmp_path / "client"))
        result = CliRunner().invoke(
            app,
            ["--server", served.url, "--token", served.admin, "verify", "--full", "--json"],
        )
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["tree_size"] == SIZE
        # Three leaf tiles and the level-1 tile above the two full ones.
        assert doc["full"] == {"entries_checked": SIZE, "tiles_checked": 4}

    def test_a_forged_tile_fails_the_full_check(self, served: LiveServer) -> None:
        """A server whose leaf tile disagrees with its entry bundle fails, naming the entry."""
        real = httpx.Client(base_url=served.url, headers=_bearer(served.admin))

        def forging(request: httpx.Request) -> httpx.Response:
            answer = real.get(request.url.path)
            body = answer.content
            if request.url.path == "/tile/0/001":
                body = body[:32] + bytes(32) + body[64:]
            return httpx.Response(answer.status_code, content=body)

        with real:
            cp = real.get("/api/v1/checkpoint", headers={"Accept": "application/json"}).json()
            root = base64.b64decode(cp["root"])
            with (
                TileClient(served.url, transport=httpx.MockTransport(forging)) as client,
                pytest.raises(ProofError, match="entry 257: its leaf hash in tile/0/001"),
            ):
                verify_tiles(client, SIZE, root)
            with TileClient(served.url, served.admin) as client:
                check = verify_tiles(client, SIZE, root)
        assert (check.entries_checked, check.root) == (SIZE, root)

    def test_a_wrong_root_fails_the_full_check(self, served: LiveServer) -> None:
        """Tiles that rebuild another root than the checkpoint's fail the check."""
        with (
            TileClient(served.url, served.admin) as client,
            pytest.raises(ProofError, match="is not the checkpoint's"),
        ):
            verify_tiles(client, SIZE, bytes(32))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
