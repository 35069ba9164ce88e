"""trace, diff, suspects, search and timeline asked of the demo history, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flightlog.errors import InputError, NotFound
from flightlog.service import Flightlog

INCIDENT = datetime(2026, 11, 9, 0, 12, tzinfo=UTC)


def _codes(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [g["code"] for g in doc["gaps"]]


class TestTrace:
    def test_now_is_the_rollback(self, history: Flightlog) -> None:
        """After the rollback production runs 1.5.0 again, its chain clean, 1.6.0 before it."""
        doc = history.trace("production/payments")
        assert doc["deployment"]["version"] == "1.5.0"
        assert doc["deployment"]["reason"] == "rollback after INC-7"
        assert doc["deployment"]["deployer"] == "oncall-olga"
        assert doc["previous"]["version"] == "1.6.0"
        assert [t["outcome"] for t in doc["tests"]] == ["success"]
        assert _codes(doc) == []

    def test_the_rollback_shows_the_chain_of_the_version_it_brought_back(
        self, history: Flightlog
    ) -> None:
        """The rollback to 1.5.0 lists 1.5.0's build and commits, as its first deployment did."""
        doc = history.trace("production/payments")
        first = history.trace("production/payments", deployment=str(doc["brings_back"]["index"]))
        assert doc["brings_back"]["version"] == "1.5.0"
        assert doc["brings_back"]["index"] < doc["previous"]["index"] < doc["deployment"]["index"]
        assert first["brings_back"] is None
        assert [c["message"] for c in doc["commits"]] == [
            "PAY-110 currency rounding per ISO 4217",
            "PAY-111 drop the legacy ledger column",
        ]
        assert doc["commits"] == first["commits"]
        assert doc["builds"] == first["builds"]
        assert doc["builds"][0]["url"] == "https://github.com/acme/payments/actions/runs/3"
        assert doc["scans"] == first["scans"]

    def test_a_first_deployment_brings_nothing_back(self, history: Flightlog) -> None:
        """1.6.0 ran in production for the first time: no earlier deployment is named."""
        doc = history.trace("production/payments", at=INCIDENT)
        assert doc["brings_back"] is None

    def test_at_the_incident_the_bad_release_and_its_gaps(self, history: Flightlog) -> None:
        """At 00:12, 1.6.0 ran: failed tests, a critical CVE and a self-approval are called out."""
        doc = history.trace("production/payments", at=INCIDENT)
        d = doc["deployment"]
        assert (d["version"], d["status"], d["deployer"], d["duration_seconds"]) == (
            "1.6.0",
            "success",
            "bob",
            240.0,
        )
        assert doc["previous"]["version"] == "1.5.0"
        assert _codes(doc) == ["tests_failed", "critical_vulnerabilities", "self_approval"]
        assert [c["message"] for c in doc["commits"]] == [
            "PAY-120 batch settlement writes",
            "PAY-121 connection pool of 4",
        ]
        assert doc["commits"][1]["systems"] == ["api"]
        pr = doc["commits"][1]["changes"][0]
        assert (pr["id"], pr["author"], pr["merged"]) == ("acme/payments#4", "bob", True)
        assert [(r["reviewer"], r["verdict"]) for r in pr["reviews"]] == [("alice", "approved")]
        assert doc["scans"][0]["counts"]["critical"] == 1
        assert "CVE-2026-4242" in doc["scans"][0]["worst"]
        assert [a["approver"] for a in doc["approvals"]] == ["bob"]
        assert doc["builds"][0]["url"] == "https://github.com/acme/payments/actions/runs/4"
        # Every fact carries the ledger index of the event that states it.
        shown = history.show(doc["scans"][0]["index"])
        assert shown.leaf.type.startswith("dev.cdeventsx.flightlog-vulnerabilityscan.finished")

    def test_missing_tests_and_approval(self, history: Flightlog) -> None:
        """web 2.7.0 shipped with no test run and no approval, and says so."""
        doc = history.trace("production/web")
        assert _codes(doc) == ["no_tests", "no_approval"]

    def test_by_deployment_and_artifact(self, history: Flightlog) -> None:
        """--deployment takes a version, an id or an index; --artifact the latest of it."""
        by_version = history.trace("staging/payments", deployment="1.4.0")
        by_id = history.trace("staging/payments", deployment="payments/staging/1")
        by_index = history.trace(
            "staging/payments", deployment=str(by_version["deployment"]["index"])
        )
        assert by_version == by_id == by_index
        artifact = by_version["artifact"]
        assert history.trace("staging/payments", artifact=artifact)["deployment"]["version"] == (
            "1.4.0"
        )

    @pytest.mark.parametrize(
        ("target", "kwargs", "message"),
        [
            (
                "production/paymnts",
                {},
                "no service 'paymnts' has deployments; did you mean payments",
            ),
            ("prod/payments", {}, "no environment 'prod' has deployments; did you mean production"),
            ("payments", {}, "'payments' is not ENV/SERVICE"),
            ("production/payments", {"deployment": "9.9.9"}, "no deployment '9.9.9' of payments"),
        ],
    )
    def test_unknown_names_say_what_exists(
        self,
        sqlite_history: Flightlog,
        target: str,
        kwargs: dict,
        message: str,  # type: ignore[type-arg]
    ) -> None:
        """An unknown service, environment or deployment names the nearest that exist."""
        with pytest.raises(NotFound, match=message.replace("(", r"\(")):
            sqlite_history.trace(target, **kwargs)

    def test_before_anything_ran(self, sqlite_history: Flightlog) -> None:
        """A time before the first deployment is refused with the reason."""
        with pytest.raises(NotFound, match="no successful deployment of payments in production at"):
            sqlite_history.trace("production/payments", at=datetime(2020, 1, 1, tzinfo=UTC))


class TestDiff:
    def test_between_two_versions(self, history: Flightlog) -> None:
        """1.4.0 → 1.6.0 carries four commits by alice and bob over three systems."""
        doc = history.diff("production/payments", "1.4.0", "1.6.0")
        assert (doc["from"]["version"], doc["to"]["version"]) == ("1.4.0", "1.6.0")
        assert doc["authors"] == ["alice", "bob"]
        assert doc["tickets"] == ["PAY-110", "PAY-111", "PAY-120", "PAY-121"]
        assert doc["systems"] == ["api", "billing", "database"]
        assert len(doc["commits"]) == 4

    def test_order_does_not_matter(self, sqlite_history: Flightlog) -> None:
        """FROM and TO given newest first give the same diff (a version names its latest deployment)."""
        a = sqlite_history.diff("production/payments", "payments/production/3", "1.6.0")
        b = sqlite_history.diff("production/payments", "1.6.0", "payments/production/3")
        assert a == b
        assert a["tickets"] == ["PAY-120", "PAY-121"]


class TestSuspects:
    def test_the_bad_release_ranks_first(self, history: Flightlog) -> None:
        """Before INC-7, payments 1.6.0 leads with its reasons and 1.5.0 to roll back to."""
        doc = history.suspects("production", at=INCIDENT, window_seconds=4 * 86400)
        assert doc["incident"]["id"] == "INC-7"
        ranked = [(s["deployment"]["service"], s["deployment"]["version"]) for s in doc["suspects"]]
        assert ranked == [("payments", "1.6.0"), ("payments", "1.5.0"), ("web", "2.7.0")]
        top = doc["suspects"][0]
        assert [r["code"] for r in top["reasons"]] == [
            "recent",
            "tests_failed",
            "critical_vulnerabilities",
            "self_approval",
            "same_service",
        ]
        assert top["rollback_to"]["version"] == "1.5.0"
        assert top["diff"]["tickets"] == ["PAY-120", "PAY-121"]

    def test_window_and_service_narrow(self, sqlite_history: Flightlog) -> None:
        """A 6 h window before the incident holds no deployment; a service filter keeps its own."""
        doc = sqlite_history.suspects("production", at=INCIDENT, window_seconds=6 * 3600)
        assert doc["suspects"] == []
        doc = sqlite_history.suspects(
            "production", at=INCIDENT, window_seconds=4 * 86400, service="web"
        )
        assert [s["deployment"]["service"] for s in doc["suspects"]] == ["web"]

    def test_unknown_environment(self, sqlite_history: Flightlog) -> None:
        """An unknown environment names the known ones."""
        with pytest.raises(NotFound, match="did you mean production"):
            sqlite_history.suspects("productoin", at=INCIDENT, window_seconds=3600)


class TestSearchAndTimeline:
    def test_search_finds_cves_tickets_and_words(self, history: Flightlog) -> None:
        """A CVE id finds its scan; a ticket its PR, commits and approval; words their commits."""
        found = history.search("CVE-2026-4242")["results"]
        assert [r["type"].split(".")[2] for r in found] == ["flightlog-vulnerabilityscan"]
        ticket = {r["index"] for r in history.search("PAY-120")["results"]}
        assert len(ticket) == 4  # the PR opened, reviewed, merged, and its commit
        words = history.search("settlement batch")["results"]
        assert "PAY-120 batch settlement writes" in [r["summary"] for r in words]
        assert history.search("nothingmatchesthis")["results"] == []

    def test_search_needs_words(self, sqlite_history: Flightlog) -> None:
        """An empty search is refused."""
        with pytest.raises(InputError, match="at least one word"):
            sqlite_history.search("  ")

    def test_timeline_of_the_night(self, history: Flightlog) -> None:
        """The incident night in production: opened, rollback, redeployed, resolved."""
        doc = history.timeline(since=datetime(2026, 11, 9, tzinfo=UTC), environment="production")
        assert [e["summary"] for e in doc["events"]][:2] == [
            "Card payments time out (pool exhausted)",
            "rollback after INC-7",
        ]
        assert doc["events"][-1]["type"].startswith("dev.cdevents.incident.resolved")

    def test_timeline_by_system(self, sqlite_history: Flightlog) -> None:
        """--system keeps the commits that touched it."""
        doc = sqlite_history.timeline(system="database")
        assert [e["summary"] for e in doc["events"]] == ["PAY-111 drop the legacy ledger column"]
