"""The spool directory: steps kept atomically, sent oldest first, refused ones moved aside."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest

from flightlog.client.spool import SPOOL_FORMAT, Spool, SpooledStep
from flightlog.config import Settings
from flightlog.errors import InputError
from flightlog.service import Flightlog
from tests.factories import service_deployed


class TestSpooledStep:
    """The spool file format."""

    def test_round_trip(self) -> None:
        """Events and blobs (any bytes) come back exactly."""
        step = SpooledStep(
            events=(service_deployed(1),),
            blobs=((b"\x00\xff<x/>", "application/xml"),),
            server="http://f.example",
            spooled_at="2026-11-29T18:00:00.000000Z",
        )
        assert SpooledStep.from_bytes(step.to_bytes(), "s.json") == step

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"{", "s.json: not a spool file: "),
            (b"[]", "s.json: not a spool file (format is not 'flightlog-spool/1')"),
            (json.dumps({"format": SPOOL_FORMAT, "events": {}, "blobs": []}).encode(),
             "s.json: 'events' is not a list of events"),
            (json.dumps({"format": SPOOL_FORMAT, "events": [], "blobs": [{"data": "!"}]}).encode(),
             "s.json: a blob is not base64 data with a media type"),
        ],
    )  # fmt: skip
    def test_damaged_files_name_the_problem(self, content: bytes, message: str) -> None:
        """A file that is not a spool file is an InputError naming it."""
        with pytest.raises(InputError) as info:
            SpooledStep.from_bytes(content, "s.json")
        assert str(info.value).startswith(message)


class TestSpool:
    """Adding and flushing against a real local ledger."""

    def test_files_are_private_and_ordered(self, tmp_path: Path) -> None:
        """Each step is one mode-0600 file; pending() lists them in spooling order."""
        spool = Spool.of_home(tmp_path / "home")
        paths = [spool.add([service_deployed(i)]) for i in range(3)]
        assert spool.pending() == paths
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)
        assert not list(spool.directory.glob(".*.tmp"))

    def test_flush_sends_in_order_and_empties(
        self, sqlite_settings: Settings, tmp_path: Path
    ) -> None:
        """Flushed steps land in spooling order with their blobs; the files are gone."""
        spool = Spool.of_home(tmp_path / "client")
        spool.add([service_deployed(0)], [(b"r0", "text/plain")])
        spool.add([service_deployed(1), service_deployed(2)])
        with Flightlog.open(sqlite_settings) as ledger:
            report = spool.flush(ledger)
            assert [i for _, i in report.sent] == [[0], [1, 2]]
            assert ledger.blob(hashlib.sha256(b"r0").hexdigest()) == b"r0"
        assert (report.stopped, report.remaining, spool.pending()) == (None, 0, [])

    def test_a_busy_spool_is_left_alone(self, sqlite_settings: Settings, tmp_path: Path) -> None:
        """While another process holds the flush lock, a flush sends nothing."""
        spool = Spool.of_home(tmp_path / "client")
        spool.add([service_deployed(0)])
        fd = os.open(spool.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with Flightlog.open(sqlite_settings) as ledger:
                report = spool.flush(ledger)
                assert ledger.tree_size() == 0
        finally:
            os.close(fd)
        assert (report.busy, report.remaining, report.sent) == (True, 1, [])
