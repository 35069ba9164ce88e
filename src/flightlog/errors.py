"""The one exception tree of Flightlog.

Every malformed input, failed proof or refused write becomes one of these, with a
message a user can act on. The HTTP layer maps the classes to status codes
(``flightlog.wire.PROBLEMS``); the CLI prints the message on one
line and exits 1 (2 only for a command line Typer cannot parse).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flightlog.api import AppendResult


class FlightlogError(Exception):
    """Base of every error Flightlog raises on purpose."""


class InputError(FlightlogError):
    """Input that cannot be accepted as it is (HTTP 4xx, CLI exit 1)."""


class MalformedInput(InputError):
    """Input that is not parseable at all: bad JSON, bad encoding, bad framing."""


class InputTooLarge(InputError):
    """A document or batch over the configured size limit."""


class EventInvalid(InputError):
    """An event that parses but breaks its schema or the envelope rules.

    ``path`` is the JSON path of the offending value (``$.context.id``),
    ``position`` the event's place in its batch or file, and ``item`` its zero-based
    place in a batch request, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "$",
        position: str | None = None,
        item: int | None = None,
    ) -> None:
        self.reason = message
        self.path = path
        self.position = position
        self.item = item
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.position}: " if self.position else ""
        return f"{where}{self.path}: {self.reason}"

    def at(self, position: str) -> EventInvalid:
        """Return a copy of this error located at ``position`` (e.g. ``events.json:3``)."""
        return type(self)(self.reason, path=self.path, position=position, item=self.item)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled (a batch prepared in another process), it is rebuilt from its fields, not
        # from its rendered message.
        return _rebuild_invalid, (type(self), self.reason, self.path, self.position, self.item)


def _rebuild_invalid(
    cls: type[EventInvalid], reason: str, path: str, position: str | None, item: int | None
) -> EventInvalid:
    return cls(reason, path=path, position=position, item=item)


class UnknownEventType(EventInvalid):
    """An event whose ``context.type`` is not a CDEvents or Flightlog type."""


class ConflictError(FlightlogError):
    """The same ``source`` + ``id`` was already recorded with different content."""

    def __init__(
        self, message: str, *, original_index: int | None, original_position: str | None = None
    ) -> None:
        # A clash inside one rejected batch has no recorded index, only a batch position.
        self.original_index = original_index
        self.original_position = original_position
        super().__init__(message)


class NotFound(FlightlogError):
    """A ledger index, checkpoint or token that does not exist."""


class ProofError(FlightlogError):
    """A Merkle inclusion or consistency proof that does not verify."""


class NoteError(FlightlogError):
    """A signed note that is malformed or whose signature does not verify."""


class CheckpointError(NoteError):
    """A checkpoint body that is malformed or inconsistent with the log."""


class KeyFileError(FlightlogError):
    """A signing key file that is missing, unreadable or malformed."""


class StoreError(FlightlogError):
    """The database is unreachable, not migrated, or refused an operation."""


class AuthError(FlightlogError):
    """A missing or invalid API token (HTTP 401)."""


class ForbiddenError(FlightlogError):
    """A valid token without the scope an operation needs (HTTP 403)."""


class KeyMismatch(FlightlogError):
    """The signing key at hand is not the key that signed this ledger's checkpoints."""


class RemoteError(FlightlogError):
    """A Flightlog server answered with an error or could not be reached."""


class ServerUnavailable(RemoteError):
    """The server could not be reached or answered 5xx: the same request may succeed later."""


class SignatureError(AuthError):
    """A webhook delivery whose signature or token is missing or does not verify (HTTP 401)."""


class PartiallyRecorded(FlightlogError):
    """An upload in several batches that stopped after some were recorded.

    ``results`` are the answers of the batches recorded before ``cause`` stopped the rest.
    """

    def __init__(self, cause: FlightlogError, results: Sequence[AppendResult]) -> None:
        self.cause = cause
        self.results = results
        super().__init__(f"{cause} ({len(results)} earlier events were recorded)")


class UnknownName(NotFound):
    """A service, environment, deployment or version a question names does not exist."""
