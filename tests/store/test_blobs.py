"""The content-addressed blob store on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from flightlog.errors import InputError, NotFound
from flightlog.store.blobs import BlobStore
from flightlog.store.ledger import LedgerStore


@pytest.fixture
def blobs(database_url: str) -> BlobStore:
    """A blob store in a fresh, migrated database."""
    return BlobStore(LedgerStore.open(database_url).engine)


class TestBlobStore:
    """Blobs are named by their SHA-256 and never change."""

    def test_put_returns_digest_and_get_returns_bytes(self, blobs: BlobStore) -> None:
        """The exact bytes come back under their SHA-256, with their media type."""
        data = b'{"a": 1}\r\n\x00\xff'
        digest = blobs.put(data, "application/json")
        assert digest == hashlib.sha256(data).hexdigest()
        blob = blobs.get(digest)
        assert (blob.data, blob.media_type, blob.sha256) == (data, "application/json", digest)
        assert blobs.exists(digest)

    def test_put_twice_is_a_no_op(self, blobs: BlobStore) -> None:
        """The same bytes again keep the first row (and its media type)."""
        first = blobs.put(b"same", "text/plain")
        assert blobs.put(b"same", "application/octet-stream") == first
        assert blobs.get(first).media_type == "text/plain"

    def test_empty_blob(self, blobs: BlobStore) -> None:
        """Zero bytes are a blob like any other."""
        assert blobs.get(blobs.put(b"")).data == b""

    def test_missing_blob_is_not_found(self, blobs: BlobStore) -> None:
        """An unknown digest raises NotFound naming it."""
        with pytest.raises(NotFound, match=r"0{64}"):
            blobs.get("0" * 64)
        assert not blobs.exists("0" * 64)

    @pytest.mark.parametrize("digest", ["abc", "A" * 64, "g" * 64, "0" * 65])
    def test_malformed_digest_is_input_error(self, blobs: BlobStore, digest: str) -> None:
        """Anything but 64 lower-case hex digits is refused before the database."""
        with pytest.raises(InputError, match="not a SHA-256"):
            blobs.get(digest)
