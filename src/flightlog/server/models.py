"""Wire shapes of the API's JSON answers, for validation and the OpenAPI document.

The service returns plain dictionaries; these models only describe them at the edge
(extra members pass through so the documents can grow without breaking clients).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AppendAck(_Open):
    """Where one event sits in the ledger; ``duplicate`` when it was already there."""

    index: int
    leaf_hash: str
    duplicate: bool
    warnings: list[str] | None = Field(
        default=None,
        description="Parts of the event that were ignored (present only when any were).",
    )


class BatchAck(_Open):
    """One acknowledgement per submitted event, in submission order."""

    results: list[AppendAck]
    warnings: list[str] | None = Field(
        default=None, description="Parts of events that were ignored, each naming its [i] position."
    )


class Leaf(_Open):
    """The committed fields of a ledger leaf (RFC 8785 canonical bytes are hashed)."""

    id: str
    source: str
    type: str
    time: str
    received_at: str
    payload_sha256: str


class ShowDocument(_Open):
    """One ledger entry: the event as received (null once erased), refs and leaf."""

    index: int
    event: dict[str, Any] | None
    refs: list[list[str]]
    leaf: Leaf
    leaf_hash: str | None
    erased: bool
    problems: list[str] = Field(
        default_factory=list,
        description="Stored data that does not match what the log committed to",
    )


class EventsPage(_Open):
    """A page of entries in index order; pass ``next_cursor`` back for the next page."""

    events: list[ShowDocument]
    next_cursor: str | None


class CheckpointDocument(_Open):
    """A signed checkpoint note with its tree size and base64 root hash."""

    note: str
    tree_size: int
    root: str


class InclusionProof(_Open):
    """An RFC 9162 inclusion proof of one leaf in a checkpointed tree."""

    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root: str
    checkpoint: str | None


class ConsistencyProof(_Open):
    """An RFC 9162 consistency proof between two tree sizes."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
