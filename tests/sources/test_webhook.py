"""What every forge shares: payload parsing, canonical bytes of mapped events, ticket finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from flightlog.events.canonical import ParsedDocument, canonical_bytes, parse_document
from flightlog.events.validation import validate_event
from flightlog.service import prepare_event
from flightlog.sources import github, gitlab
from flightlog.sources.config import SourceConfig, parse_config
from flightlog.sources.webhook import (
    Accepted,
    TicketFinder,
    delivery_events,
    delivery_of,
    json_payload,
)
from tests.server.webhooks import GITHUB_FILES, GITLAB_FILES, github_body, github_event, gitlab_hook

RECEIVED_AT = "2026-11-29T19:20:01.123456Z"
CONFIG = parse_config(
    """
[systems]
"*.md" = "docs"
"lib/**" = "library"

[[tickets]]
name = "jira"
url = "https://acme.atlassian.net/browse/{key}"
"""
)


def _github(path: Path) -> Accepted:
    body = github_body(path)
    headers = {"x-github-event": github_event(path), "x-github-delivery": f"gh-{path.stem}"}
    return github.SOURCE.accept(headers, body)


def _gitlab(path: Path) -> Accepted:
    headers = {"x-gitlab-event": gitlab_hook(path), "x-gitlab-event-uuid": f"gl-{path.stem}"}
    return gitlab.SOURCE.accept(headers, path.read_bytes())


def _events(accepted: Accepted, config: SourceConfig) -> list[dict[str, Any]]:
    source = github.SOURCE if accepted.forge == "github" else gitlab.SOURCE
    refs, derived = source.derive(accepted, config)
    return delivery_events(delivery_of(accepted, RECEIVED_AT), derived, refs=refs)


def _exact(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_exact(v) for v in value.values())
    if isinstance(value, list):
        return all(_exact(v) for v in value)
    if isinstance(value, float):
        return False
    return not isinstance(value, int) or abs(value) <= 2**53 - 1


CORPUS = [
    *(pytest.param(_github, p, id=f"github/{p.name}") for p in GITHUB_FILES),
    *(pytest.param(_gitlab, p, id=f"gitlab/{p.name}") for p in GITLAB_FILES),
]


class TestCorpusEvents:
    """Every event mapped from every corpus payload, with and without a flightlog.toml."""

    @pytest.mark.parametrize(("accept", "path"), CORPUS)
    @pytest.mark.parametrize("config", [SourceConfig(), CONFIG], ids=["default", "toml"])
    def test_mapped_events_pass_the_schema_validator(
        self, accept: Any, path: Path, config: SourceConfig
    ) -> None:
        """Each mapped event, printed and parsed as untrusted input, validates."""
        events = _events(accept(path), config)
        assert len(events) >= 1
        for i, event in enumerate(events):
            header = validate_event(parse_document(json.dumps(event), name=f"[{i}]").value)
            assert header.id == f"{event['context']['id']}"

    @pytest.mark.parametrize(("accept", "path"), CORPUS)
    def test_event_bytes_are_the_reference_rfc8785_bytes(self, accept: Any, path: Path) -> None:
        """The direct encoder writes exactly what the reference encoder writes."""
        accepted = accept(path)
        for event in _events(accepted, CONFIG):
            assert canonical_bytes(event, exact_numbers=accepted.exact_numbers) == rfc8785.dumps(
                event
            )

    @pytest.mark.parametrize(("accept", "path"), CORPUS)
    def test_exact_numbers_says_whether_the_payload_has_a_float(
        self, accept: Any, path: Path
    ) -> None:
        """A payload is exact when no number in it is a float or an integer beyond 2**53 - 1."""
        accepted = accept(path)
        assert accepted.exact_numbers is _exact(accepted.payload)

    def test_corpus_has_both_kinds(self) -> None:
        """Both encoders are exercised by the corpus (GitLab job durations are floats)."""
        kinds = {_exact(_github(p).payload) for p in GITHUB_FILES}
        kinds |= {_exact(_gitlab(p).payload) for p in GITLAB_FILES}
        assert kinds == {True, False}


class TestJsonPayload:
    """The body is parsed once, noting whether every number is an exact integer."""

    def test_small_integers_are_exact(self) -> None:
        """Integers within ±(2**53 - 1) keep the payload exact."""
        payload, exact = json_payload(b'{"a": 9007199254740991, "b": [-9007199254740991, 0]}')
        assert payload == {"a": 2**53 - 1, "b": [-(2**53 - 1), 0]}
        assert exact is True

    @pytest.mark.parametrize(
        "body",
        [b'{"a": 1.5}', b'{"a": 1e3}', b'{"a": 9007199254740992}', b'{"a": [NaN]}'],
        ids=["fraction", "exponent", "beyond-2**53", "nan"],
    )
    def test_inexact_numbers_are_noted(self, body: bytes) -> None:
        """A float, an integer beyond 2**53 - 1 or a NaN literal makes the payload inexact."""
        assert json_payload(body)[1] is False

    @pytest.mark.parametrize("body", [b"[1]", b"not json", b"\xff{}"])
    def test_non_object_is_malformed(self, body: bytes) -> None:
        """Anything but a JSON object is refused as malformed input."""
        from flightlog.errors import MalformedInput

        with pytest.raises(MalformedInput, match="delivery body"):
            json_payload(body)


class TestEventBytes:
    """Canonical bytes of a mapped event: direct when sound, the reference encoder otherwise."""

    def test_exact_event_is_direct_and_canonical(self) -> None:
        """Sorted keys, no spaces, UTF-8 as is: the RFC 8785 bytes."""
        event = {
            "context": {"id": "d/1", "timestamp": "2026-11-29T19:20:01.5Z", "n": 12},
            "subject": {"content": {"message": "Fix für PAY-1 ✓", "z": [True, None, 3]}},
        }
        assert canonical_bytes(event, exact_numbers=True) == rfc8785.dumps(event)

    def test_inexact_payload_takes_the_reference_encoder(self) -> None:
        """A float from an inexact payload is written the RFC 8785 way (1e+21, not 1e21)."""
        event = {"a": 1e21, "b": 0.1}
        assert canonical_bytes(event, exact_numbers=False) == b'{"a":1e+21,"b":0.1}'

    def test_astral_keys_sort_by_utf16(self) -> None:
        """Keys beyond U+FFFF sort by UTF-16 code units, as RFC 8785 requires."""
        event = {"\U0001f600": 1, "\uff61": 2}
        expected = rfc8785.dumps(event)
        assert canonical_bytes(event, exact_numbers=True) == expected
        assert expected.startswith('{"\U0001f600"'.encode())

    def test_lone_surrogate_is_refused(self) -> None:
        """A lone surrogate cannot be canonicalised: the event is refused, not mis-written."""
        from flightlog.errors import EventInvalid

        with pytest.raises(EventInvalid):
            canonical_bytes({"a": "\ud800"}, exact_numbers=True)

    def test_prepared_event_matches_ingest_of_the_same_document(self) -> None:
        """The ledger gets the same bytes and digest as for the event posted as JSON."""
        accepted = _github(next(p for p in GITHUB_FILES if p.name.startswith("push.")))
        event = _events(accepted, CONFIG)[1]
        direct = canonical_bytes(event, exact_numbers=True)
        ours = prepare_event(ParsedDocument(event, direct, "x"))
        theirs = prepare_event(parse_document(json.dumps(event), name="x"))
        assert (ours.canonical, ours.payload_sha256, ours.refs) == (
            theirs.canonical,
            theirs.payload_sha256,
            theirs.refs,
        )


class TestTicketFinder:
    """One payload's ticket finder answers as the config's own search does."""

    TEXTS = (
        "feature/PAY-12-retry",
        "Fix #7 and acme/other#8 (PAY-12, OPS-3)",
        None,
        "",
        "group/project!4 and !5",
        "feature/PAY-12-retry",
    )

    @pytest.mark.parametrize("forge", ["github", "gitlab"])
    def test_same_answer_as_tickets_in(self, forge: str) -> None:
        """Keys in order of appearance, once each, with the first mention's link."""
        config = CONFIG
        finder = TicketFinder(
            config, forge=forge, repo="acme/pay", project_url="https://g/acme/pay"
        )
        found = config.tickets_in(
            self.TEXTS, forge=forge, repo="acme/pay", project_url="https://g/acme/pay"
        )
        expected = (
            [t.key for t in found],
            [{"key": t.key, "url": t.url} if t.url else {"key": t.key} for t in found],
        )
        assert finder(*self.TEXTS) == expected
        # Asked again (texts already scanned), it answers the same.
        assert finder(*self.TEXTS) == expected
        assert finder(self.TEXTS[0])[0] == ["PAY-12"]
