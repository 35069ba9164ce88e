"""uvicorn's httptools (llhttp) protocol with a bound on the request head it will hold.

llhttp does not limit the request line and headers, and httptools accumulates a header
that arrives in pieces, so a client could make the server buffer an endless header.
:class:`BoundedHttpToolsProtocol` counts the head as it arrives and answers 400 and closes
the connection once it passes ``MAX_HEADER_BYTES``: a head that never completes is cut
after at most one socket read beyond the limit, a complete one is measured exactly.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from flightlog.errors import InputError
from flightlog.server.body import MAX_HEADER_BYTES


class HeadTooLarge(InputError):
    """The request line and headers together are over ``MAX_HEADER_BYTES``."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses (400) a request head over ``MAX_HEADER_BYTES``."""

    _head_open = False
    _head_bytes = 0  # url and header bytes the parser handed over for this request
    _head_reads = 0  # bytes of whole reads that arrived while the head was incomplete

    def data_received(self, data: bytes) -> None:
        """Feed ``data`` to the parser, refusing a head that grew past the limit."""
        open_before = self._head_open
        super().data_received(data)
        if open_before and self._head_open and not self.transport.is_closing():
            # Every byte of this read belonged to the head still being received.
            self._head_reads += len(data)
            if self._head_reads > MAX_HEADER_BYTES:
                self.logger.warning("Request head over %d bytes refused.", MAX_HEADER_BYTES)
                self.send_400_response("Request header fields too large.")

    def on_message_begin(self) -> None:
        """Start counting the head of a new request."""
        super().on_message_begin()
        self._head_open, self._head_bytes, self._head_reads = True, 0, 0

    def on_url(self, url: bytes) -> None:
        """Count the request target as it arrives."""
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count one complete header line."""
        self._head_bytes += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Refuse a head over the limit (the parser error answers 400), else go on."""
        self._head_open = False
        if self._head_bytes > MAX_HEADER_BYTES:
            raise HeadTooLarge(f"request head of {self._head_bytes} bytes")
        super().on_headers_complete()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Reset the head count for a new connection."""
        self._head_open, self._head_bytes, self._head_reads = False, 0, 0
        super().connection_made(transport)
