"""A client of the Flightlog HTTP API with the same methods the CLI calls on a local ledger.

Every answer is the JSON document the service returns locally; every problem answer
(RFC 9457 ``application/problem+json``) becomes the matching ``flightlog.errors`` class
with the server's ``detail`` as its message. The API token is sent only in the
``Authorization`` header and never appears in a message or a repr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from flightlog.errors import (
    AuthError,
    ConflictError,
    EventInvalid,
    FlightlogError,
    ForbiddenError,
    InputError,
    InputTooLarge,
    MalformedInput,
    NotFound,
    PartiallyRecorded,
    RemoteError,
    UnknownEventType,
)
from flightlog.events.canonical import ParsedDocument, parse_events
from flightlog.ledger.entry import format_timestamp
from flightlog.service import EventFilter, ProgressFn, prepare_event

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "MAX_PAGE", "RemoteFlightlog"]

MAX_BATCH_EVENTS = 10_000
# Under the server's default 5 MiB body limit, leaving room for the array framing.
MAX_BATCH_BYTES = 4 * 1024 * 1024
# The largest page GET /api/v1/events serves; longer listings follow next_cursor.
MAX_PAGE = 1000
API = "/api/v1"
JSON_MEDIA_TYPE = "application/json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# The problem type the server gives an unknown event type (a kind of invalid event).
UNKNOWN_TYPE_PROBLEM = "urn:flightlog:problem:unknown-event-type"
# How much of a non-problem error body is quoted in a message.
MAX_QUOTED_BODY = 200
REDACTED = "[token]"

_BATCH_POSITION = re.compile(r"\[(\d+)\]\Z")
# The status codes the service's errors are served with (409 and 422 carry more).
_ERROR_OF_STATUS: dict[int, type[FlightlogError]] = {
    400: MalformedInput,
    401: AuthError,
    403: ForbiddenError,
    404: NotFound,
    413: InputTooLarge,
}
# RFC 6750 §2.1 b64token, widened to any visible ASCII: what an HTTP header can carry.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
WHERE_CREDENTIALS_ARE = (
    "set FLIGHTLOG_TOKEN or pass --token; on the server's machine the first admin token "
    "is in $FLIGHTLOG_HOME/admin.token (default .flightlog/admin.token), and "
    "'flightlog token create' makes more"
)


def _display_url(url: httpx.URL) -> str:
    """The URL without user information, safe to show in messages."""
    return str(url.copy_with(username=None, password=None)).rstrip("/")


def _batches(docs: Sequence[ParsedDocument]) -> list[Sequence[ParsedDocument]]:
    """Split ``docs`` into request-sized runs: at most MAX_BATCH_EVENTS and ~MAX_BATCH_BYTES."""
    out: list[Sequence[ParsedDocument]] = []
    start = 0
    size = 0
    for i, doc in enumerate(docs):
        grown = size + len(doc.canonical) + 1
        if i > start and (i - start >= MAX_BATCH_EVENTS or grown > MAX_BATCH_BYTES):
            out.append(docs[start:i])
            start, size = i, 0
            grown = len(doc.canonical) + 1
        size = grown
    if start < len(docs):
        out.append(docs[start:])
    return out


def _array_body(docs: Sequence[ParsedDocument]) -> bytes:
    """A JSON array of the events' canonical bytes: exactly what their digests commit to."""
    return b"[" + b",".join(doc.canonical for doc in docs) + b"]"


def _filter_params(flt: EventFilter) -> dict[str, str]:
    """Query parameters of ``GET /api/v1/events`` for ``flt`` (unset filters left out)."""
    pairs: dict[str, str | None] = {
        "type": flt.type,
        "service": flt.service,
        "env": flt.environment,
        "commit": flt.commit,
        "artifact": flt.artifact,
        "ticket": flt.ticket,
        "actor": flt.actor,
        "since": format_timestamp(flt.since) if flt.since else None,
        "until": format_timestamp(flt.until) if flt.until else None,
    }
    return {key: value for key, value in pairs.items() if value}


def _strip_prefix(text: str, prefix: str | None) -> str:
    """``text`` without ``prefix: `` in front, when it has it."""
    if prefix and text.startswith(f"{prefix}: "):
        return text[len(prefix) + 2 :]
    return text


class RemoteFlightlog:
    """A Flightlog server reached over HTTP, offering the methods of the local service."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Connect lazily to the server at ``base_url``, authenticating with ``token``."""
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InputError(f"server URL {base_url!r} is not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise InputError(
                f"server URL {_display_url(url)!r} must be an absolute http:// or https:// URL"
            )
        # The API's own prefix is added to every path: a URL copied with it still works.
        path = url.path.rstrip("/")
        if path.endswith(API):
            url = url.copy_with(path=path[: -len(API)] or "/")
        if token and not _TOKEN_CHARS.fullmatch(token):
            raise AuthError("the API token contains characters that cannot be sent in a header")
        self._token = token or None
        self.base_url = _display_url(url)
        headers = {"Accept": JSON_MEDIA_TYPE, "User-Agent": "flightlog-cli"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        self._client = httpx.Client(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        """The server URL only: the token never appears in output."""
        return f"RemoteFlightlog({self.base_url!r})"

    def __enter__(self) -> RemoteFlightlog:
        """Use the client as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # -- transport ----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """``text`` with every occurrence of the token replaced."""
        return text.replace(self._token, REDACTED) if self._token else text

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        accept: str = JSON_MEDIA_TYPE,
    ) -> httpx.Response:
        """Send one request; connection failures and problem answers become domain errors."""
        headers = {"Accept": accept}
        if content is not None:
            headers["Content-Type"] = JSON_MEDIA_TYPE
        try:
            response = self._client.request(
                method, API + path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            reason = self._redact(str(exc)) or type(exc).__name__
            raise RemoteError(
                f"cannot reach the Flightlog server at {self.base_url}: {reason}"
            ) from None
        except httpx.HTTPError as exc:
            reason = self._redact(str(exc)) or type(exc).__name__
            raise RemoteError(
                f"request to the Flightlog server at {self.base_url} failed: {reason}"
            ) from None
        if response.is_success:
            return response
        raise self._problem_error(response)

    def _problem(self, response: httpx.Response) -> dict[str, Any]:
        """The problem document of an error answer, or {} when the body is not one."""
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}

    def _problem_error(self, response: httpx.Response) -> FlightlogError:
        """The domain error of an error answer (RFC 9457 problem or plain body)."""
        status = response.status_code
        problem = self._problem(response)
        detail = problem.get("detail")
        if not isinstance(detail, str) or not detail:
            text = response.content[:MAX_QUOTED_BODY].decode("utf-8", "replace").strip()
            detail = text or response.reason_phrase or "no detail given"
        detail = self._redact(detail)
        if status == 409:
            original = problem.get("original_index")
            if not isinstance(original, int) or isinstance(original, bool):
                original = -1
            return ConflictError(detail, original_index=original)
        if status == 422:
            return self._event_invalid(problem, detail)
        if status == 401 and self._token is None:
            return AuthError(f"{detail}: {WHERE_CREDENTIALS_ARE}")
        kind = _ERROR_OF_STATUS.get(status)
        if kind is None:
            return RemoteError(f"the Flightlog server answered {status}: {detail}")
        return kind(detail)

    def _event_invalid(self, problem: Mapping[str, Any], detail: str) -> EventInvalid:
        """The EventInvalid of a 422 problem, keeping its path and position."""
        path, position = (
            self._redact(value) if isinstance(value := problem.get(key), str) else None
            for key in ("path", "position")
        )
        kind = UnknownEventType if problem.get("type") == UNKNOWN_TYPE_PROBLEM else EventInvalid
        if path is None:
            return kind(detail, position=position)
        # The server renders "<position>: <path>: <reason>"; keep the reason only,
        # so that re-rendering it does not repeat the location.
        reason = _strip_prefix(_strip_prefix(detail, position), path)
        return kind(reason, path=path, position=position)

    def _json(self, response: httpx.Response) -> Any:
        """The JSON body of a successful answer; RemoteError when it is not JSON."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise RemoteError(
                f"the Flightlog server at {self.base_url} answered {response.request.method} "
                f"{response.request.url.path} with a body that is not JSON"
            ) from None

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a successful answer; RemoteError for anything else."""
        body = self._json(response)
        if not isinstance(body, dict):
            raise RemoteError(
                f"the Flightlog server at {self.base_url} answered {response.request.method} "
                f"{response.request.url.path} with JSON that is not an object"
            )
        return body

    def _text(self, response: httpx.Response) -> str:
        """The UTF-8 text body of a successful answer."""
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteError(
                f"the Flightlog server at {self.base_url} answered "
                f"{response.request.url.path} with text that is not UTF-8"
            ) from None

    # -- the service's methods ----------------------------------------------------------

    def record(
        self, data: bytes, *, name: str, progress: ProgressFn | None = None
    ) -> list[dict[str, Any]]:
        """Validate every event locally, then record them in batches of up to 10,000.

        Nothing is sent unless the whole input is valid. Should the server refuse a later
        batch, PartiallyRecorded carries the results of the batches it had recorded.
        """
        docs = parse_events(data, name=name)
        for doc in docs:
            prepare_event(doc)
        results: list[dict[str, Any]] = []
        if progress is not None:
            progress(0, len(docs))
        for batch in _batches(docs):
            try:
                response = self._send("POST", "/events/batch", content=_array_body(batch))
            except FlightlogError as exc:
                cause = self._relocate(exc, batch) if isinstance(exc, EventInvalid) else exc
                if results:
                    raise PartiallyRecorded(cause, results) from None
                raise cause from None
            body = self._object(response)
            answered = body.get("results")
            if not isinstance(answered, list) or len(answered) != len(batch):
                raise RemoteError(
                    f"the Flightlog server at {self.base_url} acknowledged "
                    f"{len(answered) if isinstance(answered, list) else 'no'} results "
                    f"for {len(batch)} events"
                )
            results.extend(answered)
            if progress is not None:
                progress(len(results), len(docs))
        return results

    @staticmethod
    def _relocate(exc: EventInvalid, batch: Sequence[ParsedDocument]) -> EventInvalid:
        """``exc`` located at the user's position of the batch event the server named."""
        found = _BATCH_POSITION.search(exc.position or "")
        if found is None or int(found.group(1)) >= len(batch):
            return exc
        return exc.at(batch[int(found.group(1))].position)

    def show(self, index: int) -> dict[str, Any]:
        """The full document of one entry."""
        return self._object(self._send("GET", f"/events/{int(index)}"))

    def log(
        self,
        flt: EventFilter,
        *,
        after: int | None = None,
        limit: int = 100,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Entries matching ``flt`` between ``after`` and ``before``, following pages."""
        if limit < 1:
            raise InputError("limit must be at least 1")
        params: dict[str, str | int] = dict(_filter_params(flt))
        if newest_first:
            params["order"] = "desc"
            if after is not None:
                raise InputError("newest first, the API pages by 'before', not 'after'")
        elif before is not None:
            raise InputError("oldest first, the API pages by 'after', not 'before'")
        start = before if newest_first else after
        cursor = str(start) if start is not None else None
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            page = dict(params, limit=min(limit - len(out), MAX_PAGE))
            if cursor is not None:
                page["cursor"] = cursor
            body = self._object(self._send("GET", "/events", params=page))
            events = body.get("events")
            following = body.get("next_cursor")
            if not isinstance(events, list) or not isinstance(following, str | None):
                raise RemoteError(
                    f"the Flightlog server at {self.base_url} answered GET /events "
                    "without an events list and a next_cursor"
                )
            out.extend(events)
            # A cursor that does not move would loop forever.
            if following is None or following == cursor or not events:
                break
            cursor = following
        return out[:limit]

    def checkpoint(self) -> dict[str, Any]:
        """Cut a signed checkpoint (admin scope) and return {note, tree_size, root}."""
        return self._object(self._send("POST", "/checkpoint"))

    def latest_checkpoint(self) -> dict[str, Any]:
        """The latest checkpoint document {note, tree_size, root}."""
        return self._object(self._send("GET", "/checkpoint"))

    def checkpoint_note(self) -> str:
        """The latest checkpoint as signed note text."""
        return self._text(self._send("GET", "/checkpoint", accept="text/plain"))

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """Proof that entry ``index`` is in the tree of ``size`` (default: latest checkpoint)."""
        params: dict[str, str | int] = {"index": int(index)}
        if size is not None:
            params["size"] = int(size)
        return self._object(self._send("GET", "/proof/inclusion", params=params))

    def consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        """Proof that the tree of ``second`` entries extends the tree of ``first``."""
        params: dict[str, str | int] = {"first": int(first), "second": int(second)}
        return self._object(self._send("GET", "/proof/consistency", params=params))

    def verifier_key(self) -> str:
        """The verifier key string of the server's signing key."""
        return self._text(self._send("GET", "/key", accept="text/plain")).strip()
