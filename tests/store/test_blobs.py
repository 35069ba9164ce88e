"""The content-addressed blob store on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.errors import ConflictError, InputError, NotFound, StoreError
from flightlog.service import Flightlog
from flightlog.store.blobs import BlobStore, check_media_type
from flightlog.store.ledger import Appended, LedgerStore
from tests.factories import jsonl, service_deployed


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


class TestBlobsInTheAppend:
    """``append_groups(groups, blobs)`` writes the blobs in the append's own transaction."""

    def test_blobs_and_events_commit_together(self, settings: Settings) -> None:
        """After the append, the events and the blob they name are both there."""
        with Flightlog.open(settings) as fl:
            events = fl.parse_and_validate(jsonl([service_deployed(0)]), name="a")
            (results,) = fl.record_groups([events], [(b"<report/>", "application/xml")])
            assert not isinstance(results, ConflictError)
            assert [r.index for r in results] == [0]
            blob = fl.blobs.get(hashlib.sha256(b"<report/>").hexdigest())
            assert (blob.data, blob.media_type) == (b"<report/>", "application/xml")

    def test_a_failed_append_writes_no_blob(self, settings: Settings) -> None:
        """When the append transaction fails, the blob is rolled back with the events."""

        def broken(conn: sa.Connection, appended: Sequence[Appended]) -> None:
            raise StoreError("projection failed")

        with Flightlog.open(settings) as fl:
            fl.store.projections.append(broken)
            events = fl.parse_and_validate(jsonl([service_deployed(0)]), name="a")
            with pytest.raises(StoreError, match="projection failed"):
                fl.record_groups([events], [(b"lost", "text/plain")])
            assert fl.tree_size() == 0
            assert not fl.blobs.exists(hashlib.sha256(b"lost").hexdigest())

    def test_a_conflicting_group_still_keeps_its_blob_harmlessly(self, settings: Settings) -> None:
        """Another group's conflict does not stop the batch's blobs (content-addressed, no event)."""
        with Flightlog.open(settings) as fl:
            first = fl.parse_and_validate(jsonl([service_deployed(0)]), name="a")
            fl.record(first)
            clash = service_deployed(0, service="other")
            other = fl.parse_and_validate(jsonl([clash]), name="b")
            fresh = fl.parse_and_validate(jsonl([service_deployed(1)]), name="c")
            outcome = fl.record_groups([other, fresh], [(b"kept", "text/plain")])
            assert isinstance(outcome[0], ConflictError)
            assert not isinstance(outcome[1], ConflictError)
            assert [r.index for r in outcome[1]] == [1]
            assert fl.blobs.exists(hashlib.sha256(b"kept").hexdigest())


class TestMediaType:
    """Media types are checked and normalised before they are stored."""

    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("application/xml", "application/xml"),
            ("Application/SARIF+JSON; charset=utf-8", "application/sarif+json"),
            ("application/vnd.cyclonedx+json", "application/vnd.cyclonedx+json"),
        ],
    )
    def test_accepted(self, given: str, stored: str) -> None:
        """type/subtype is kept in lower case, parameters dropped."""
        assert check_media_type(given) == stored

    @pytest.mark.parametrize("given", ["", "xml", "a/b/c", "text/ html", "text/plain\r\nX: y"])
    def test_refused(self, given: str) -> None:
        """Anything that is not type/subtype is an InputError naming it."""
        with pytest.raises(InputError, match="is not a media type"):
            check_media_type(given)
