"""The wire contract: what the server maps one way the client maps back."""

from __future__ import annotations

import json

import pytest

from flightlog.errors import (
    ConflictError,
    EventInvalid,
    FlightlogError,
    UnknownEventType,
)
from flightlog.server.problems import domain_problem
from flightlog.wire import PROBLEMS, error_from_problem, kind_of_answer


def round_trip(exc: FlightlogError) -> FlightlogError:
    """Serve ``exc`` as the server does, then read it back as the client does."""
    response = domain_problem(exc)
    problem = json.loads(bytes(response.body))
    kind = kind_of_answer(response.status_code, problem["type"])
    assert kind is not None
    return error_from_problem(kind, problem["detail"], problem)


class TestProblemTable:
    """Every error class of the table comes back as itself."""

    @pytest.mark.parametrize("kind", PROBLEMS, ids=lambda k: k.slug)
    def test_each_class_round_trips(self, kind: object) -> None:
        """The class, status and message survive the trip."""
        error = kind.error  # type: ignore[attr-defined]
        if issubclass(error, EventInvalid):
            exc: FlightlogError = error("bad", path="$.a", position="[2]", item=2)
        elif issubclass(error, ConflictError):
            exc = error("clash", original_index=9)
        else:
            exc = error("some detail")
        back = round_trip(exc)
        assert type(back) is type(exc)
        assert str(back) == str(exc)

    def test_invalid_event_keeps_its_structured_location(self) -> None:
        """reason, path, position and item arrive as fields, not parsed from text."""
        back = round_trip(UnknownEventType("unknown type 'x'", path="$.context.type", item=4))
        assert isinstance(back, UnknownEventType)
        assert (back.reason, back.path, back.item) == ("unknown type 'x'", "$.context.type", 4)

    def test_conflict_keeps_its_original_index(self) -> None:
        """original_index arrives as a number."""
        back = round_trip(ConflictError("clash", original_index=12))
        assert isinstance(back, ConflictError)
        assert back.original_index == 12

    def test_a_foreign_problem_type_falls_back_to_its_status(self) -> None:
        """A proxy's 404 without our problem type is still NotFound."""
        kind = kind_of_answer(404, "about:blank")
        assert kind is not None and kind.slug == "not-found"
        assert kind_of_answer(418, None) is None
