"""The source registry: a source is one module that defines SOURCE."""

from __future__ import annotations

import json

import pytest

from flightlog.errors import EventInvalid, InputError
from flightlog.sources import get_source, source_names
from tests.factories import service_deployed


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
