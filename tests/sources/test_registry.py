"""The source registry: a source is one module that defines SOURCE."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from flightlog import sources
from flightlog.errors import EventInvalid, InputError, SignatureError
from flightlog.server import webhooks
from flightlog.server.webhooks import map_delivery
from flightlog.sources import get_source, get_webhook_source, source_names, webhook_sources
from flightlog.sources.config import SourceConfig
from flightlog.sources.webhook import COMMIT_PUSHED
from tests.factories import service_deployed
from tests.paths import corpus_file


class TestRegistry:
    """get_source and source_names."""

    def test_cloudevents_is_a_registered_source(self) -> None:
        """The CloudEvents adapter is found by its module name."""
        assert "cloudevents" in source_names()
        assert get_source("cloudevents").name == "cloudevents"

    def test_unknown_source_names_the_known_ones(self) -> None:
        """An unknown name is an InputError listing the sources there are."""
        with pytest.raises(InputError, match=r"unknown source 'gitea'; known: .*cloudevents"):
            get_source("gitea")


class TestCloudEventsSource:
    """The CloudEvents adapter turns each mode's request into its CDEvents."""

    def test_structured_batch_and_binary(self) -> None:
        """Structured, batch and binary mode give the CDEvent they carry."""
        event = service_deployed(1)
        context = event["context"]
        envelope = {
            "specversion": "1.0",
            "id": context["id"],  # type: ignore[index]
            "source": context["source"],  # type: ignore[index]
            "type": context["type"],  # type: ignore[index]
            "datacontenttype": "application/json",
            "data": event,
        }
        source = get_source("cloudevents")
        structured = {"content-type": "application/cloudevents+json"}
        batch = {"content-type": "application/cloudevents-batch+json"}
        binary = {
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": context["id"],  # type: ignore[index]
            "ce-source": context["source"],  # type: ignore[index]
            "ce-type": context["type"],  # type: ignore[index]
        }
        assert source.to_events(structured, json.dumps(envelope).encode()) == [event]
        assert source.to_events(batch, json.dumps([envelope, envelope]).encode()) == [event] * 2
        assert source.to_events(binary, json.dumps(event).encode()) == [event]

    def test_disagreeing_header_is_refused(self) -> None:
        """A ce-id other than the CDEvent's id is an EventInvalid naming $.context.id."""
        event = service_deployed(1)
        context = event["context"]
        headers = {
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "other",
            "ce-source": context["source"],  # type: ignore[index]
            "ce-type": context["type"],  # type: ignore[index]
        }
        with pytest.raises(EventInvalid, match=r"\$\.context\.id"):
            get_source("cloudevents").to_events(headers, json.dumps(event).encode())


FAKE_FORGE = '''
"""A forge that signs with a shared token and sends one repository per delivery."""

from flightlog.errors import SignatureError
from flightlog.sources.webhook import (
    Accepted, WebhookSource, header_value, json_object, same_secret,
)


class FakeForge(WebhookSource):
    name = "fakeforge"
    title = "Fake forge"
    summary = "Receive a fake forge delivery"

    def verify(self, headers, body, secret):
        if secret is None or not same_secret(secret, headers.get("x-fake-token")):
            raise SignatureError("X-Fake-Token does not match")

    def delivery_id(self, headers):
        return headers.get("x-fake-delivery")

    def accept(self, headers, body):
        delivery = header_value(headers, "x-fake-delivery", "X-Fake-Delivery")
        return Accepted(self.name, "push", "push", delivery, json_object(body), {}, body)

    def derive(self, accepted, config):
        return {"repo": accepted.payload["repo"]}, []

    def setup_text(self, url, secret):
        return [url, secret]


SOURCE = FakeForge()
'''


class TestWebhookSources:
    """Forges are sources too, found the same way; the server names none of them."""

    def test_github_and_gitlab_are_webhook_sources(self) -> None:
        """Both forge modules define a SOURCE the registry lists, CloudEvents is not one."""
        assert [s.name for s in webhook_sources()] == ["github", "gitlab"]
        assert get_source("github") is get_webhook_source("github")
        with pytest.raises(InputError, match=r"unknown forge 'cloudevents'; known: github, gitlab"):
            get_webhook_source("cloudevents")

    def test_github_to_events_maps_a_corpus_push(self) -> None:
        """to_events: the delivery event first, then the events its push states."""
        body = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
        headers = {"x-github-event": "push", "x-github-delivery": "d-1"}
        events = get_source("github").to_events(headers, body)
        [commit] = json.loads(body)["commits"]
        pushed = [e for e in events if e["context"]["type"] == COMMIT_PUSHED]
        assert [e["subject"]["id"] for e in pushed] == [commit["id"]]
        assert [e["context"]["id"] for e in events[:2]] == ["d-1/0", "d-1/1"]
        assert events[0]["subject"]["content"]["derivedEvents"] == len(events) - 1
        assert events[0]["subject"]["content"]["bodySha256"] == hashlib.sha256(body).hexdigest()

    def test_gitlab_delivery_id_is_the_idempotency_key_first(self) -> None:
        """The dedup key: Idempotency-Key, else X-Gitlab-Event-UUID."""
        source = get_source("gitlab")
        assert source.delivery_id({"x-gitlab-event-uuid": "u", "idempotency-key": "k"}) == "k"
        assert source.delivery_id({"x-gitlab-event-uuid": "u"}) == "u"
        assert source.delivery_id({}) is None

    def test_a_new_forge_is_one_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A module dropped into the package is listed and mapped by the server's code."""
        (tmp_path / "fakeforge.py").write_text(FAKE_FORGE, encoding="utf-8")
        monkeypatch.setattr(sources, "__path__", [*sources.__path__, str(tmp_path)])
        monkeypatch.delitem(sys.modules, "flightlog.sources.fakeforge", raising=False)
        assert [s.name for s in webhook_sources()] == ["fakeforge", "github", "gitlab"]
        forge = get_webhook_source("fakeforge")
        body = b'{"repo": "acme/payments"}'
        headers = {"x-fake-token": "t0ken", "x-fake-delivery": "f-7"}
        forge.verify(headers, body, "t0ken")
        with pytest.raises(SignatureError):
            forge.verify(headers, body, "other")
        [event] = map_delivery(forge.accept(headers, body), SourceConfig())
        assert event.event["context"]["id"] == "f-7/0"
        assert event.event["context"]["source"] == "/webhooks/fakeforge"
        assert event.event["customData"]["flightlog"]["repo"] == "acme/payments"

    def test_the_webhook_routes_name_no_forge(self) -> None:
        """The server module dispatches through the registry: no forge appears in its code."""
        text = Path(webhooks.__file__).read_text(encoding="utf-8").lower()
        assert "github" not in text
        assert "gitlab" not in text
