"""A client of the Flightlog HTTP API with the same methods the CLI calls on a local ledger.

Every answer is the JSON document the service returns locally; every problem answer
(RFC 9457 ``application/problem+json``) becomes the matching ``flightlog.errors`` class
with the server's ``detail`` as its message. The API token is sent only in the
``Authorization`` header and never appears in a message or a repr.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

# httpx imports its own command-line tool (click, rich, pygments) when it can; a library
# client never runs it, and not loading it saves a third of `flightlog record`'s start-up.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx

from flightlog.api import (
    AppendResult,
    CheckpointInfo,
    ConsistencyProof,
    Entry,
    EventFilter,
    InclusionProof,
    append_result_from_wire,
)
from flightlog.errors import (
    AuthError,
    EventInvalid,
    FlightlogError,
    InputError,
    PartiallyRecorded,
    RemoteError,
    ServerUnavailable,
)
from flightlog.events.canonical import ParsedDocument, parse_events
from flightlog.timestamps import format_timestamp
from flightlog.wire import (
    API_PREFIX,
    BLOB,
    BLOBS,
    CHECKPOINT,
    CURSOR_PARAM,
    DIFF,
    EVENT,
    EVENTS,
    EVENTS_BATCH,
    FILTER_PARAMS,
    JSON_MEDIA_TYPE,
    KEY,
    LIMIT_PARAM,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_PAGE,
    ORDER_PARAM,
    PROOF_CONSISTENCY,
    PROOF_INCLUSION,
    SEARCH,
    SUSPECTS,
    TIMELINE,
    TRACE,
    check_event_size,
    error_from_problem,
    kind_of_answer,
)

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "MAX_PAGE", "RemoteFlightlog"]

# How much of a non-problem error body is quoted in a message.
MAX_QUOTED_BODY = 200
REDACTED = "[token]"
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
    params: dict[str, str] = {}
    for field, param in FILTER_PARAMS.items():
        value = getattr(flt, field)
        if value:
            params[param] = value if isinstance(value, str) else format_timestamp(value)
    return params


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
        if path.endswith(API_PREFIX):
            url = url.copy_with(path=path[: -len(API_PREFIX)] or "/")
        if token and not _TOKEN_CHARS.fullmatch(token):
            raise AuthError("the API token contains characters that cannot be sent in a header")
        self._token = token or None
        self.base_url = _display_url(url)
        headers = {"Accept": JSON_MEDIA_TYPE, "User-Agent": "flightlog-cli"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        if transport is None and url.scheme == "http":
            # Plain HTTP needs no trust store, and loading the CA bundle was a quarter of
            # a `record` call's start-up. A context without roots still refuses any TLS peer.
            transport = httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
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
        content_type: str = JSON_MEDIA_TYPE,
    ) -> httpx.Response:
        """Send one request; connection failures and problem answers become domain errors."""
        headers = {"Accept": accept}
        if content is not None:
            headers["Content-Type"] = content_type
        try:
            response = self._client.request(
                method, API_PREFIX + path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            reason = self._redact(str(exc)) or type(exc).__name__
            raise ServerUnavailable(
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
        if status == 401 and self._token is None:
            detail = f"{detail}: {WHERE_CREDENTIALS_ARE}"
        if status >= 500:
            # The server (or a proxy before it) failed, not the request: it may be retried.
            return ServerUnavailable(f"the Flightlog server answered {status}: {detail}")
        kind = kind_of_answer(status, problem.get("type"))
        if kind is None:
            return RemoteError(f"the Flightlog server answered {status}: {detail}")
        members = {
            key: self._redact(value) if isinstance(value, str) else value
            for key, value in problem.items()
        }
        return error_from_problem(kind, detail, members)

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

    def record_bytes(
        self, data: bytes, *, name: str, progress: Callable[[int, int], None] | None = None
    ) -> list[AppendResult]:
        """Record events in batches of up to 10,000, each atomic on the server.

        An upload of several batches is validated locally first, so nothing is sent unless
        the whole input is valid (one batch is all or nothing on the server anyway). Should
        the server still refuse a later batch, PartiallyRecorded carries the results of
        the batches it had recorded.
        """
        docs = parse_events(data, name=name)
        batches = _batches(docs)
        if len(batches) > 1:
            # Imported here: a one-event upload, the common case, does not pay for it.
            from flightlog.events.validation import validate_event

            for doc in docs:
                check_event_size(doc.canonical, doc.position)
                validate_event(doc.value, position=doc.position)
        results: list[AppendResult] = []
        if progress is not None:
            progress(0, len(docs))
        for batch in batches:
            try:
                response = self._send("POST", EVENTS_BATCH, content=_array_body(batch))
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
            results.extend(append_result_from_wire(ack) for ack in answered)
            if progress is not None:
                progress(len(results), len(docs))
        return results

    @staticmethod
    def _relocate(exc: EventInvalid, batch: Sequence[ParsedDocument]) -> EventInvalid:
        """``exc`` located at the user's position of the batch event the server named."""
        if exc.item is None or not 0 <= exc.item < len(batch):
            return exc
        return exc.at(batch[exc.item].position)

    def show_document(self, index: int) -> dict[str, Any]:
        """The show-document of one entry, as the server sent it."""
        return self._object(self._send("GET", EVENT.format(index=int(index))))

    def show(self, index: int) -> Entry:
        """One entry."""
        return Entry.from_wire(self.show_document(index))

    def blob(self, sha256: str) -> bytes:
        """The exact bytes the server's blob store holds under ``sha256``."""
        return self._send("GET", BLOB.format(sha256=sha256), accept="*/*").content

    def put_blob(self, data: bytes, *, media_type: str) -> str:
        """Upload ``data`` to the server's blob store (ingest scope); return its SHA-256."""
        expected = hashlib.sha256(data).hexdigest()
        response = self._send("POST", BLOBS, content=data, content_type=media_type)
        digest = self._object(response).get("sha256")
        if digest != expected:
            raise RemoteError(
                f"the Flightlog server at {self.base_url} stored the blob {expected} "
                f"under {str(digest)[:80]!r}"
            )
        return expected

    def _question(
        self, path: str, params: Mapping[str, str | int | float | None]
    ) -> dict[str, Any]:
        given = {
            k: v if isinstance(v, str | int) else str(v) for k, v in params.items() if v is not None
        }
        return self._object(self._send("GET", path, params=given))

    def trace(
        self,
        target: str,
        *,
        at: datetime | None = None,
        deployment: str | None = None,
        artifact: str | None = None,
    ) -> dict[str, Any]:
        """What runs in ``ENV/SERVICE`` and the chain behind it, as the server answers."""
        from urllib.parse import quote

        from flightlog.lineage.resolve import split_target

        env, service = split_target(target)
        path = TRACE.format(environment=quote(env, safe=""), service=quote(service, safe=""))
        when = format_timestamp(at) if at is not None else None
        return self._question(path, {"at": when, "deployment": deployment, "artifact": artifact})

    def diff(self, target: str, older: str, newer: str) -> dict[str, Any]:
        """Commits, authors, tickets and systems between two deployments."""
        return self._question(DIFF, {"target": target, "from": older, "to": newer})

    def suspects(
        self, environment: str, *, at: datetime, window_seconds: float, service: str | None = None
    ) -> dict[str, Any]:
        """Deployments before ``at``, ranked with reasons."""
        params = {
            "env": environment,
            "service": service,
            "at": format_timestamp(at),
            "window": int(window_seconds),
        }
        return self._question(SUSPECTS, params)

    def search(self, text: str, *, limit: int = 50) -> dict[str, Any]:
        """Full-text search of the ledger."""
        return self._question(SEARCH, {"q": text, "limit": limit})

    def timeline(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service: str | None = None,
        environment: str | None = None,
        system: str | None = None,
        limit: int = 500,
    ) -> dict[str, Any]:
        """Every event between ``since`` and ``until``, filtered by where."""
        params = {
            "since": format_timestamp(since) if since else None,
            "until": format_timestamp(until) if until else None,
            "service": service,
            "env": environment,
            "system": system,
            "limit": limit,
        }
        return self._question(TIMELINE, params)

    def log(
        self,
        flt: EventFilter,
        *,
        after: int | None = None,
        limit: int = 100,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Entry]:
        """Entries matching ``flt`` between ``after`` and ``before``, following pages."""
        if limit < 1:
            raise InputError("limit must be at least 1")
        params: dict[str, str | int] = dict(_filter_params(flt))
        if newest_first:
            params[ORDER_PARAM] = "desc"
            if after is not None:
                raise InputError("newest first, the API pages by 'before', not 'after'")
        elif before is not None:
            raise InputError("oldest first, the API pages by 'after', not 'before'")
        start = before if newest_first else after
        cursor = str(start) if start is not None else None
        out: list[Entry] = []
        while len(out) < limit:
            page = dict(params)
            page[LIMIT_PARAM] = min(limit - len(out), MAX_PAGE)
            if cursor is not None:
                page[CURSOR_PARAM] = cursor
            body = self._object(self._send("GET", EVENTS, params=page))
            events = body.get("events")
            following = body.get("next_cursor")
            if not isinstance(events, list) or not isinstance(following, str | None):
                raise RemoteError(
                    f"the Flightlog server at {self.base_url} answered GET /events "
                    "without an events list and a next_cursor"
                )
            out.extend(Entry.from_wire(doc) for doc in events)
            # A cursor that does not move would loop forever.
            if following is None or following == cursor or not events:
                break
            cursor = following
        return out[:limit]

    def checkpoint(self) -> CheckpointInfo:
        """Cut a signed checkpoint (admin scope)."""
        return CheckpointInfo.from_wire(self._object(self._send("POST", CHECKPOINT)))

    def latest_checkpoint(self) -> CheckpointInfo:
        """The latest checkpoint."""
        return CheckpointInfo.from_wire(self._object(self._send("GET", CHECKPOINT)))

    def checkpoint_note(self) -> str:
        """The latest checkpoint as signed note text."""
        return self._text(self._send("GET", CHECKPOINT, accept="text/plain"))

    def inclusion_proof_document(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion proof document, as the server sent it."""
        params: dict[str, str | int] = {"index": int(index)}
        if size is not None:
            params["size"] = int(size)
        return self._object(self._send("GET", PROOF_INCLUSION, params=params))

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``size`` (default: latest checkpoint)."""
        return InclusionProof.from_wire(self.inclusion_proof_document(index, size))

    def consistency_proof_document(self, first: int, second: int) -> dict[str, Any]:
        """The consistency proof document, as the server sent it."""
        params: dict[str, str | int] = {"first": int(first), "second": int(second)}
        return self._object(self._send("GET", PROOF_CONSISTENCY, params=params))

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """Proof that the tree of ``second`` entries extends the tree of ``first``."""
        return ConsistencyProof.from_wire(self.consistency_proof_document(first, second))

    def verifier_key(self) -> str:
        """The verifier key string of the server's signing key."""
        return self._text(self._send("GET", KEY, accept="text/plain")).strip()
