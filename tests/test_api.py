"""The port's types: both implementations satisfy Ledger, and documents round-trip."""

from __future__ import annotations

import httpx
import pytest

from flightlog.api import (
    AppendResult,
    CheckpointInfo,
    ConsistencyProof,
    Entry,
    InclusionProof,
    Leaf,
    Ledger,
    append_result_from_wire,
    append_result_to_wire,
)
from flightlog.client.http import RemoteFlightlog
from flightlog.config import Settings
from flightlog.errors import RemoteError
from flightlog.service import Flightlog

LEAF = Leaf(
    id="deploy-1",
    source="/ci",
    type="dev.cdevents.service.deployed.0.3.0",
    time="2026-11-26T23:30:00Z",
    received_at="2026-11-26T23:30:01.000000Z",
    payload_sha256="ab" * 32,
)


class TestLedgerProtocol:
    """The local service and the HTTP client are both Ledgers."""

    def test_both_implementations_satisfy_the_protocol(self, sqlite_settings: Settings) -> None:
        """isinstance(…, Ledger) holds for Flightlog and RemoteFlightlog."""
        with Flightlog.open(sqlite_settings) as local:
            assert isinstance(local, Ledger)
        transport = httpx.MockTransport(lambda r: httpx.Response(404))
        with RemoteFlightlog("http://flightlog.test", None, transport=transport) as remote:
            assert isinstance(remote, Ledger)


class TestRoundTrip:
    """from_wire(to_wire(x)) == x for every type a client reads back."""

    @pytest.mark.parametrize(
        "value",
        [
            Entry(3, {"context": {"id": "x"}}, (("service", "api"),), LEAF, b"\x01" * 32),
            Entry(4, None, (), LEAF, None),
            CheckpointInfo("note\n", 7, b"\x02" * 32),
            InclusionProof(1, 7, b"\x03" * 32, (b"\x04" * 32, b"\x05" * 32), b"\x06" * 32, "n"),
            ConsistencyProof(2, 7, b"\x07" * 32, b"\x08" * 32, (b"\x09" * 32,)),
        ],
    )
    def test_documents_round_trip(
        self, value: Entry | CheckpointInfo | InclusionProof | ConsistencyProof
    ) -> None:
        """The wire document reads back into an equal value."""
        assert type(value).from_wire(value.to_wire()) == value

    def test_append_result_round_trips(self) -> None:
        """An acknowledgement reads back into an equal AppendResult."""
        result = AppendResult(index=5, leaf_hash=b"\x0a" * 32, duplicate=True)
        assert append_result_from_wire(append_result_to_wire(result)) == result

    def test_erased_entry_document(self) -> None:
        """An entry without its event is marked erased on the wire."""
        doc = Entry(4, None, (), LEAF, None).to_wire()
        assert (doc["erased"], doc["event"], doc["leaf_hash"]) == (True, None, None)


class TestMalformedAnswers:
    """A server document of the wrong shape is a RemoteError naming what is wrong."""

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            ({"note": "n", "tree_size": "7", "root": "AA=="}, "'tree_size' is not an integer"),
            ({"note": "n", "tree_size": 7, "root": "%%"}, "checkpoint root is not valid base64"),
            ([], "checkpoint is not a JSON object"),
        ],
    )
    def test_checkpoint(self, doc: object, message: str) -> None:
        """Each malformed checkpoint document names its fault."""
        with pytest.raises(RemoteError, match=message):
            CheckpointInfo.from_wire(doc)

    def test_entry_with_a_missing_leaf_field(self) -> None:
        """A leaf without payload_sha256 is refused."""
        doc = Entry(3, None, (), LEAF, None).to_wire()
        del doc["leaf"]["payload_sha256"]
        with pytest.raises(RemoteError, match="entry 3: leaf: 'payload_sha256' is not a string"):
            Entry.from_wire(doc)
