"""Payload → events for cases the corpus has no sample of (variants built from it)."""

from __future__ import annotations

import copy
import json
from typing import Any

from flightlog.events.canonical import parse_document
from flightlog.service import prepare_event
from flightlog.sources import github, gitlab
from flightlog.sources.config import SourceConfig
from flightlog.sources.webhook import (
    CHANGE_MERGED,
    CHANGE_REVIEWED,
    DEPLOYMENT_UPDATED,
    Delivery,
    delivery_events,
)
from tests.paths import corpus_file

CONFIG = SourceConfig()


def load(relative: str) -> dict[str, Any]:
    """A corpus payload, parsed (a copy the test may change)."""
    doc: dict[str, Any] = json.loads(corpus_file(relative).read_bytes())
    return copy.deepcopy(doc)


def valid(forge: str, event: str, derived: list[Any]) -> list[dict[str, Any]]:
    """Wrap ``derived`` and check every event validates; return the events."""
    delivery = Delivery(forge, event, "d-1", "a" * 64, 1, {}, "2026-01-01T00:00:00Z", {})
    events = delivery_events(delivery, derived)
    for i, event_doc in enumerate(events):
        prepare_event(parse_document(json.dumps(event_doc), name=f"[{i}]"))
    return events


class TestGitHub:
    """Reviews, forced pushes, failed deployments, deleted branches."""

    def test_review_names_reviewer_and_verdict(self) -> None:
        """pull_request_review submitted → change.reviewed with reviewer and verdict."""
        payload = load("github-webhooks/pull_request.opened.payload.json")
        payload["action"] = "submitted"
        payload["review"] = {
            "user": {"login": "octoreviewer"},
            "state": "changes_requested",
            "body": "Please add a test (PAY-31).",
            "submitted_at": "2019-05-15T16:00:00Z",
        }
        [event] = github.map_payload("pull_request_review", payload, CONFIG)
        assert event.type == CHANGE_REVIEWED
        assert event.details["reviewer"] == "octoreviewer"
        assert event.details["verdict"] == "changes_requested"
        assert event.refs["actor"] == ["octoreviewer"]
        assert valid("github", "pull_request_review", [event])[1]["context"]["timestamp"] == (
            "2019-05-15T16:00:00Z"
        )

    def test_forced_push_is_flagged_on_every_commit(self) -> None:
        """forced=true lands in each commit's content."""
        payload = load("github-webhooks/push.with-new-branch.payload.json")
        payload.update(forced=True, created=False)
        events = github.map_payload("push", payload, CONFIG)
        assert [e.content["forced"] for e in events] == [True]
        valid("github", "push", events)

    def test_deleted_branch(self) -> None:
        """A push deleting a branch → branch.deleted, no commits."""
        payload = load("github-webhooks/push.with-new-branch.payload.json")
        payload.update(created=False, deleted=True, commits=[], after="0" * 40)
        [event] = github.map_payload("push", payload, CONFIG)
        assert event.type == "dev.cdevents.branch.deleted.0.3.0"
        assert event.subject_id == "master"

    def test_failed_deployment_status(self) -> None:
        """state=failure is a deployment update carrying the state, not service.deployed."""
        payload = load("github-webhooks/deployment_status.payload.json")
        payload["deployment_status"]["state"] = "failure"
        [event] = github.map_payload("deployment_status", payload, CONFIG)
        assert event.type == DEPLOYMENT_UPDATED
        assert event.content["state"] == "failure"
        assert event.content["environment"] == {"id": "production"}
        valid("github", "deployment_status", [event])

    def test_unmapped_action_gives_nothing(self) -> None:
        """A pull_request 'labeled' action maps to no event (the delivery is still kept)."""
        payload = load("github-webhooks/pull_request.opened.payload.json")
        payload["action"] = "labeled"
        assert github.map_payload("pull_request", payload, CONFIG) == []

    def test_merged_pr_records_who_merged_and_the_merge_commit(self) -> None:
        """closed + merged → change.merged with mergedBy and the merge commit as a ref."""
        payload = load(
            "github-webhooks/pull_request.closed.merged.azure-sdk-tools."
            "ResetPullRequestActivity_pr_closed_merged.json"
        )
        [event] = github.map_payload("pull_request", payload, CONFIG)
        assert event.type == CHANGE_MERGED
        assert event.details["mergedBy"] == "FakeUser1"
        assert event.details["mergeCommitSha"] in event.refs["commit"]


class TestGitLab:
    """Merge request verdicts and merges, failed pipelines, new branches."""

    def test_approval_and_merge(self) -> None:
        """approved → change.reviewed (approved); merge → change.merged with mergedBy."""
        payload = load("gitlab-webhooks/merge_request.json")
        payload["object_attributes"]["action"] = "approved"
        [review] = gitlab.map_payload("merge_request", payload, CONFIG)
        assert (review.type, review.details["verdict"], review.details["reviewer"]) == (
            CHANGE_REVIEWED,
            "approved",
            "user1",
        )
        payload["object_attributes"]["action"] = "merge"
        [merged] = gitlab.map_payload("merge_request", payload, CONFIG)
        assert merged.type == CHANGE_MERGED
        assert merged.details["mergedBy"] == "user1"
        valid("gitlab", "Merge Request Hook", [review, merged])

    def test_failed_pipeline(self) -> None:
        """status=failed → pipelinerun.finished with outcome failure."""
        payload = load("gitlab-webhooks/pipeline.json")
        payload["object_attributes"]["status"] = "failed"
        [event] = gitlab.map_payload("pipeline", payload, CONFIG)
        assert event.content["outcome"] == "failure"
        assert event.content["errors"] == "status: failed"
        valid("gitlab", "Pipeline Hook", [event])

    def test_new_branch_push(self) -> None:
        """before = 0…0 → branch.created before the commits."""
        payload = load("gitlab-webhooks/push.json")
        payload["before"] = "0" * 40
        events = gitlab.map_payload("push", payload, CONFIG)
        assert [e.type.split(".")[2:4] for e in events] == [
            ["branch", "created"],
            ["flightlog-commit", "pushed"],
            ["flightlog-commit", "pushed"],
        ]
        valid("gitlab", "Push Hook", events)

    def test_failed_deployment(self) -> None:
        """status=failed → a deployment update with the state."""
        payload = load("gitlab-webhooks/deployment.json")
        payload["status"] = "failed"
        [event] = gitlab.map_payload("deployment", payload, CONFIG)
        assert (event.type, event.content["state"]) == (DEPLOYMENT_UPDATED, "failed")
