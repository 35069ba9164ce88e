"""The evidence format interface: report bytes in, a frozen typed summary out, no I/O.

A format is one module of this package defining ``FORMAT``, an object with a ``name``,
the ``kind`` of summary it produces, a ``sniff`` that recognises its reports from their
content and a ``parse`` that turns one into a summary. Parsers raise MalformedInput
naming the report and the problem; they never return a partial summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol

from flightlog.errors import MalformedInput
from flightlog.evidence.model import Summary

__all__ = ["Report", "ReportFormat", "objects", "text", "title"]

_BOM = b"\xef\xbb\xbf"
_MAX_TITLE = 200


@dataclass(frozen=True)
class Report:
    """One report as received: its name (for messages) and its exact bytes."""

    name: str
    data: bytes

    @cached_property
    def syntax(self) -> Literal["xml", "json", "other"]:
        """Say from the first significant byte whether the report is XML, JSON or neither."""
        head = self.data.removeprefix(_BOM).lstrip()[:1]
        if head == b"<":
            return "xml"
        if head in (b"{", b"["):
            return "json"
        return "other"

    @cached_property
    def document(self) -> Any:
        """Parse the report as JSON (once), raising MalformedInput naming the problem."""
        try:
            text = self.data.removeprefix(_BOM).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInput(
                f"{self.name}: invalid UTF-8 at byte {exc.start}: {exc.reason}"
            ) from exc
        if not text.strip():
            raise MalformedInput(f"{self.name}: empty report")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedInput(
                f"{self.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        except RecursionError as exc:
            raise MalformedInput(f"{self.name}: invalid JSON: nested too deeply") from exc

    def fail(self, problem: str) -> MalformedInput:
        """Return the error saying that this report is unusable because of ``problem``."""
        return MalformedInput(f"{self.name}: {problem}")


class ReportFormat(Protocol):
    """One report format: how to recognise it and how to summarise it."""

    @property
    def name(self) -> str:
        """The format's name as ``--format`` takes it (``junit``, ``sarif`` …)."""
        ...

    @property
    def kind(self) -> Literal["tests", "scan"]:
        """Whether the format reports test results or security findings."""
        ...

    def sniff(self, report: Report) -> bool:
        """Return True if ``report``'s content is of this format."""
        ...

    def parse(self, report: Report) -> Summary:
        """Summarise ``report``, raising MalformedInput if it is not a valid report."""
        ...


def text(value: Any) -> str | None:
    """Return ``value`` stripped if it is a non-blank string (numbers as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def objects(value: Any) -> Iterator[Mapping[str, Any]]:
    """Yield the JSON objects of a JSON array; anything else yields nothing."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def title(value: Any) -> str | None:
    """Return the first line of a description, cut to a readable length, or None."""
    found = text(value)
    if found is None:
        return None
    first = found.splitlines()[0].strip()
    return first if len(first) <= _MAX_TITLE else first[: _MAX_TITLE - 1] + "…"
