"""The client's spool: what a server could not take yet, kept on disk until it can.

A pipeline step whose server is unreachable (or answers 5xx) must neither lose its record
nor fail the pipeline by accident. Each such step becomes one file under
``FLIGHTLOG_HOME/spool``, written atomically (complete or absent), holding its events
exactly as first sent (same ids and timestamps, so resending an event the server did
commit is acknowledged as a duplicate, never doubled) and the reports they name.
:meth:`Spool.flush` sends them, oldest first; a file the server refuses (4xx) moves to
``spool/rejected`` with the reason beside it, since resending cannot change the answer.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flightlog.api import Ledger
from flightlog.errors import (
    AuthError,
    ConflictError,
    FlightlogError,
    ForbiddenError,
    InputError,
    ServerUnavailable,
)
from flightlog.files import write_private_file

__all__ = ["SPOOL_FORMAT", "FlushReport", "Spool", "SpooledStep", "record_step"]

SPOOL_FORMAT = "flightlog-spool/1"
REJECTED = "rejected"
_LOCK = ".lock"


@dataclass(frozen=True)
class SpooledStep:
    """One spooled step: its events as first sent and the blobs they name."""

    events: tuple[dict[str, Any], ...]
    blobs: tuple[tuple[bytes, str], ...] = ()
    server: str | None = None
    spooled_at: str = ""

    def to_bytes(self) -> bytes:
        """The spool file's content (JSON; blobs in base64)."""
        doc = {
            "format": SPOOL_FORMAT,
            "spooled_at": self.spooled_at,
            "server": self.server,
            "blobs": [
                {"media_type": media_type, "data": base64.b64encode(data).decode("ascii")}
                for data, media_type in self.blobs
            ],
            "events": list(self.events),
        }
        return json.dumps(doc, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> SpooledStep:
        """Read a spool file; InputError naming ``name`` when it is not one."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{name}: not a spool file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != SPOOL_FORMAT:
            raise InputError(f"{name}: not a spool file (format is not {SPOOL_FORMAT!r})")
        events, blobs = doc.get("events"), doc.get("blobs")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise InputError(f"{name}: 'events' is not a list of events")
        if not isinstance(blobs, list):
            raise InputError(f"{name}: 'blobs' is not a list")
        kept: list[tuple[bytes, str]] = []
        for blob in blobs:
            try:
                kept.append((base64.b64decode(blob["data"], validate=True), blob["media_type"]))
            except (TypeError, KeyError, binascii.Error):
                raise InputError(f"{name}: a blob is not base64 data with a media type") from None
        server, spooled_at = doc.get("server"), doc.get("spooled_at")
        return cls(
            events=tuple(events),
            blobs=tuple(kept),
            server=server if isinstance(server, str) else None,
            spooled_at=spooled_at if isinstance(spooled_at, str) else "",
        )


@dataclass
class FlushReport:
    """What a flush did: files sent (with their indices), refused, and left behind."""

    sent: list[tuple[Path, list[int]]] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    remaining: int = 0
    stopped: FlightlogError | None = None
    """Why the flush stopped early (server unavailable, token refused), else None."""
    busy: bool = False
    """Another process was flushing this spool; this one left it alone."""


def record_step(ledger: Ledger, step: SpooledStep, name: str) -> list[int]:
    """Send one step: its blobs first, then its events; their ledger indices."""
    for data, media_type in step.blobs:
        ledger.put_blob(data, media_type=media_type)
    body = json.dumps(list(step.events), ensure_ascii=False).encode()
    return [r.index for r in ledger.record_bytes(body, name=name)]


class Spool:
    """The spool directory of one FLIGHTLOG_HOME."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def of_home(cls, home: Path) -> Spool:
        """The spool under ``home`` (FLIGHTLOG_HOME)."""
        return cls(home / "spool")

    def pending(self) -> list[Path]:
        """Spooled files waiting to be sent, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if p.is_file())

    def rejected(self) -> list[Path]:
        """Spooled files the server refused, kept for a person to look at."""
        folder = self.directory / REJECTED
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def add(
        self,
        events: Sequence[dict[str, Any]],
        blobs: Sequence[tuple[bytes, str]] = (),
        *,
        server: str | None = None,
    ) -> Path:
        """Spool one step atomically and return its file."""
        now = datetime.now(UTC)
        step = SpooledStep(
            events=tuple(events),
            blobs=tuple(blobs),
            server=server,
            spooled_at=now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        )
        # Names sort in spooling order; the random part keeps concurrent steps apart.
        path = self.directory / f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}.json"
        write_private_file(path, step.to_bytes())
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        """Hold the spool's flush lock if it is free; yield whether it was."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _reject(self, path: Path, reason: str) -> None:
        """Move ``path`` aside with the reason the server gave."""
        folder = self.directory / REJECTED
        folder.mkdir(mode=0o700, exist_ok=True)
        write_private_file(folder / f"{path.stem}.error.txt", (reason + "\n").encode())
        path.replace(folder / path.name)

    def flush(self, ledger: Ledger) -> FlushReport:
        """Send every spooled step, oldest first, stopping while the server is unavailable."""
        report = FlushReport()
        files = self.pending()
        if not files:
            return report
        with self._locked() as free:
            if not free:
                return FlushReport(busy=True, remaining=len(files))
            for number, path in enumerate(files):
                try:
                    step = SpooledStep.from_bytes(path.read_bytes(), path.name)
                except FileNotFoundError:
                    continue  # sent by a flush that finished just before this one
                except InputError as exc:
                    self._reject(path, str(exc))
                    report.rejected.append((path, str(exc)))
                    continue
                try:
                    indices = record_step(ledger, step, path.name)
                except (ServerUnavailable, AuthError, ForbiddenError) as exc:
                    # Not the record's fault: keep it for the next try.
                    report.stopped = exc
                    report.remaining = len(files) - number
                    return report
                except (InputError, ConflictError) as exc:
                    self._reject(path, str(exc))
                    report.rejected.append((path, str(exc)))
                    continue
                except FlightlogError as exc:
                    report.stopped = exc
                    report.remaining = len(files) - number
                    return report
                path.unlink(missing_ok=True)
                report.sent.append((path, indices))
        return report
