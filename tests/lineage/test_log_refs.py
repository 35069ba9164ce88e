"""A log filtered by several refs gives exactly the entries carrying all of them."""

from __future__ import annotations

from flightlog.api import EventFilter
from flightlog.service import Flightlog


class TestLogByRefs:
    def test_service_and_environment_together(self, history: Flightlog) -> None:
        """Service + environment (+ ticket) is the intersection, oldest or newest first."""
        everything = history.log(EventFilter(), limit=1000)
        both = [
            e.index
            for e in everything
            if ("service", "payments") in e.refs and ("environment", "production") in e.refs
        ]
        assert both
        flt = EventFilter(service="payments", environment="production")
        assert [e.index for e in history.log(flt, limit=1000)] == both
        newest = history.log(flt, limit=3, newest_first=True)
        assert [e.index for e in newest] == both[::-1][:3]
        ticket = EventFilter(service="payments", environment="production", ticket="PAY-120")
        assert [e.index for e in history.log(ticket, limit=1000)] == [
            i for i in both if ("ticket", "PAY-120") in everything[i].refs
        ]
