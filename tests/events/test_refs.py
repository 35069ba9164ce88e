"""Tests of ref extraction and ticket key discovery."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flightlog.events.refs import REF_KINDS, extract_refs, find_tickets
from tests.events.corpus import (
    CONFORMANCE_FILES,
    CUSTOM_CONFORMANCE,
    FIXTURE_FILES,
    conformance,
    fixture,
    load,
)

OCI = "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
ART = "pkg:oci/payments@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
OLD = "pkg:oci/payments@sha256%3A9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
GOLANG = "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


class TestExtractRefsConformance:
    """extract_refs on the CDEvents conformance events."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            (
                "service_deployed",
                [("artifact", OCI), ("environment", "test123"), ("service", "mySubject123")],
            ),
            ("service_removed", [("environment", "test123"), ("service", "mySubject123")]),
            ("branch_created", [("branch", "mySubject123"), ("repo", "TestRepo/TestOrg")]),
            ("change_merged", [("change", "mySubject123"), ("repo", "TestRepo/TestOrg")]),
            ("build_finished", [("artifact", OCI)]),
            ("build_queued", []),
            ("artifact_packaged", [("artifact", GOLANG), ("change", "myChange123")]),
            ("artifact_published", [("actor", "mybot-myapp"), ("artifact", GOLANG)]),
            ("pipelinerun_started", [("pipeline_run", "mySubject123")]),
            ("taskrun_finished", [("pipeline_run", "mySubject123")]),
            ("testsuiterun_finished", [("environment", "dev")]),
            ("testcaserun_skipped", [("environment", "dev")]),
            ("testoutput_published", []),
            ("environment_modified", [("environment", "mySubject123")]),
            ("repository_created", [("repo", "TestOrg/TestRepo"), ("repo", "mySubject123")]),
            (
                "incident_reported",
                [("artifact", OCI), ("environment", "prod1"), ("service", "myApp")],
            ),
            (
                "ticket_updated",
                [("actor", "Alice"), ("actor", "Bob"), ("ticket", "ticket-123")],
            ),
        ],
    )
    def test_known_refs(self, name: str, expected: list[tuple[str, str]]) -> None:
        """The refs of a conformance event are exactly the documented ones."""
        assert extract_refs(conformance(name)) == expected

    @pytest.mark.parametrize("path", CONFORMANCE_FILES + FIXTURE_FILES, ids=lambda p: p.stem)
    def test_kinds_are_known_and_sorted(self, path: Any) -> None:
        """Every ref has a known kind and the list is sorted and unique."""
        refs = extract_refs(load(path))
        assert refs == sorted(set(refs))
        assert {kind for kind, _ in refs} <= set(REF_KINDS)


class TestExtractRefsCustomTypes:
    """extract_refs on the Flightlog custom types."""

    def test_approval(self) -> None:
        """An approval yields approver, targets and tickets from its ticket field and reason."""
        assert extract_refs(fixture("flightlog-approval-granted")) == [
            ("actor", "alice"),
            ("artifact", ART),
            ("change", "1287"),
            ("environment", "production"),
            ("service", "payments"),
            ("ticket", "CHG-2041"),
            ("ticket", "PAY-123"),
        ]

    def test_approval_ticket_url_gives_key(self) -> None:
        """A ticket given as a URL contributes the key in it; a bare value is kept as is."""
        event = fixture("flightlog-approval-rejected")
        event["subject"]["content"]["ticket"] = "https://jira.example.com/browse/OPS-42"
        assert ("ticket", "OPS-42") in extract_refs(event)
        event["subject"]["content"]["ticket"] = "change-request-7"
        assert ("ticket", "change-request-7") in extract_refs(event)

    def test_rollback(self) -> None:
        """A rollback yields both artifacts, the requester and a ticket in the reason."""
        assert extract_refs(fixture("flightlog-rollback-requested")) == [
            ("actor", "oncall-carol"),
            ("artifact", ART),
            ("artifact", OLD),
            ("environment", "production"),
            ("service", "payments"),
            ("ticket", "INC-77"),
        ]

    def test_erasure(self) -> None:
        """An erasure yields who erased and the ticket its reason cites."""
        assert extract_refs(fixture("flightlog-payload-erased")) == [
            ("actor", "dpo-dana"),
            ("ticket", "SEC-9"),
        ]

    def test_policy_verdict(self) -> None:
        """A policy verdict yields its target."""
        assert extract_refs(fixture("flightlog-policy-evaluated")) == [
            ("artifact", ART),
            ("environment", "production"),
        ]

    def test_vulnerability_scan(self) -> None:
        """A scan yields the scanned artifact and environment, not the CVE ids."""
        assert extract_refs(fixture("flightlog-vulnerabilityscan-finished")) == [
            ("artifact", ART),
            ("environment", "staging"),
        ]


class TestCustomDataConvention:
    """customData.flightlog declares refs the CDEvents content has no field for."""

    def test_convention_fields(self) -> None:
        """Strings and lists of strings under every documented key become refs."""
        event = conformance("build_finished")
        event["customData"] = {
            "flightlog": {
                "repo": "acme/payments",
                "commit": ["4f2a9c1", "b7e3d20"],
                "branch": "feature/PAY-123-retry",
                "change": "acme/payments#1287",
                "ticket": "PAY-99",
                "tickets": ["OPS-1"],
                "service": "payments",
                "environment": "ci",
                "pipelineRun": "gha-8812",
                "actor": "alice",
                "messages": ["Fix retry loop (PAY-124)", "Merge branch main"],
            }
        }
        assert extract_refs(event) == [
            ("actor", "alice"),
            ("artifact", OCI),
            ("branch", "feature/PAY-123-retry"),
            ("change", "acme/payments#1287"),
            ("commit", "4f2a9c1"),
            ("commit", "b7e3d20"),
            ("environment", "ci"),
            ("pipeline_run", "gha-8812"),
            ("repo", "acme/payments"),
            ("service", "payments"),
            ("ticket", "OPS-1"),
            ("ticket", "PAY-123"),
            ("ticket", "PAY-124"),
            ("ticket", "PAY-99"),
        ]

    def test_convention_on_third_party_custom_type(self) -> None:
        """A third-party custom event contributes only what it declares."""
        event = load(CUSTOM_CONFORMANCE)
        event["customData"] = {
            "flightlog": {"service": "billing", "commit": 7, "repo": ["", "a/b"]}
        }
        assert extract_refs(event) == [("repo", "a/b"), ("service", "billing")]

    def test_base64_custom_data_ignored(self) -> None:
        """customData given as a base64 string contributes nothing."""
        event = conformance("build_queued")
        event["customData"] = "eyJmbGlnaHRsb2ciOnt9fQ=="
        assert extract_refs(event) == []


class TestExtractRefsRobustness:
    """extract_refs never raises, whatever the content."""

    def test_unknown_type_gives_convention_only(self) -> None:
        """An event of an unparseable type still yields its declared refs."""
        event = {"context": {"type": "nonsense"}, "customData": {"flightlog": {"actor": "x"}}}
        assert extract_refs(event) == [("actor", "x")]

    def test_not_a_mapping(self) -> None:
        """A non-object yields no refs."""
        assert extract_refs([1, 2]) == []  # type: ignore[arg-type]

    @given(content=json_values, custom=json_values)
    def test_odd_content_never_raises(self, content: Any, custom: Any) -> None:
        """Any JSON content or customData yields a sorted list of string pairs."""
        for name in ("service_deployed", "ticket_created", "change_created", "incident_reported"):
            event = copy.deepcopy(conformance(name))
            event["subject"]["content"] = content
            event["customData"] = {"flightlog": custom}
            refs = extract_refs(event)
            assert refs == sorted(set(refs))
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in refs)


class TestFindTickets:
    """find_tickets: Jira-style keys in free text."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("PAY-123", ["PAY-123"]),
            ("feature/PAY-123-retry-loop", ["PAY-123"]),
            ("Fix OPS-7 and PAY-12; refs PAY-12 again", ["OPS-7", "PAY-12"]),
            ("[AB_2-99] title", ["AB_2-99"]),
            ("pay-123 is lower case", []),
            ("X-1 key too short", []),
            ("abcPAY-12 glued to a word", []),
            ("CVE-2024-3094 and CWE-79 and UTF-8", []),
            ("release 2024-05-01", []),
            ("DATE-2024-05 is a date", []),
            ("PAY-0 has no issue zero", []),
            ("", []),
        ],
    )
    def test_finds_keys(self, text: str, expected: list[str]) -> None:
        """Keys are found in order of appearance, once each, without advisories or dates."""
        assert find_tickets(text) == expected

    def test_change_id_and_description(self) -> None:
        """Tickets in a change's id and description become ticket refs."""
        event = conformance("change_created")
        event["subject"]["id"] = "PAY-5-fix"
        event["subject"]["content"]["description"] = "Closes OPS-9"
        assert extract_refs(event) == [
            ("change", "PAY-5-fix"),
            ("repo", "TestRepo/TestOrg"),
            ("ticket", "OPS-9"),
            ("ticket", "PAY-5"),
        ]
