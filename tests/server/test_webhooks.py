"""Forge webhooks over HTTP: every corpus payload, signatures, replays and refusals."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app as cli_app
from flightlog.store.ledger import LedgerStore
from flightlog.store.webhook_sources import WebhookSources
from tests.paths import corpus_file
from tests.server.harness import Api, LiveServer, problem
from tests.server.webhooks import (
    GITHUB_FILES,
    GITHUB_SECRET,
    GITLAB_FILES,
    GITLAB_SECRET,
    STANDARD_SECRET,
    add_sources,
    dig,
    entries,
    github_body,
    github_event,
    github_headers,
    gitlab_hook,
    post_github,
    post_gitlab,
    standard_headers,
)

RECEIVED = "dev.cdeventsx.flightlog-webhook.received.0.1.0"
HELLO = "Codertocat/Hello-World"
SHA_6113 = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
SHA_F95F = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
SHA_EC26 = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
SHA_3484 = "3484a3fb816e0859fd6e1cea078d76385ff50625"

# file → the derived events' types, then (position, dotted path, expected value) checks
# and refs each derived event must carry. Position 1 is the first derived event.
Expect = tuple[list[str], list[tuple[int, str, Any]], list[tuple[int, str, str]]]
GITHUB: dict[str, Expect] = {
    "check_run.completed.1.payload.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [
            (1, "subject.content.outcome", "failure"),
            (1, "subject.content.taskName", "Octocoders-linter"),
            (1, "customData.details.conclusion", "failure"),
        ],
        [(1, "commit", SHA_EC26), (1, "change", f"{HELLO}#2")],
    ),
    "check_run.completed.payload.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success")],
        [(1, "pipeline_run", f"{HELLO}/check-suites/118578147")],
    ),
    "check_run.created.payload.json": (
        ["dev.cdeventsx.flightlog-taskrun.queued.0.1.0"],
        [(1, "subject.content.taskName", "Octocoders-linter")],
        [(1, "commit", SHA_EC26)],
    ),
    "check_suite.completed.payload.json": (
        ["dev.cdevents.pipelinerun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success")],
        [(1, "commit", SHA_EC26), (1, "branch", "changes")],
    ),
    "check_suite.requested.payload.json": (
        ["dev.cdevents.pipelinerun.queued.0.3.0"],
        [(1, "subject.content.pipelineName", "octocoders-linter")],
        [(1, "commit", SHA_F95F)],
    ),
    "create.payload.json": (
        ["dev.cdeventsx.flightlog-tag.created.0.1.0"],
        [(1, "subject.content.tag", "simple-tag"), (1, "subject.id", f"{HELLO}@simple-tag")],
        [(1, "repo", HELLO), (1, "actor", "Codertocat")],
    ),
    "deployment.payload.json": (
        ["dev.cdeventsx.flightlog-deployment.updated.0.1.0"],
        [
            (1, "subject.content.state", "created"),
            (1, "subject.content.environment.id", "production"),
            (1, "subject.content.ref", "master"),
            (1, "subject.content.creator", "Codertocat"),
        ],
        [(1, "environment", "production"), (1, "commit", SHA_F95F)],
    ),
    "deployment_status.gh-pages.payload.json": (
        ["dev.cdeventsx.flightlog-deployment.updated.0.1.0"],
        [
            (1, "subject.content.state", "in_progress"),
            (1, "subject.content.environment.id", "github-pages"),
        ],
        [(1, "environment", "github-pages")],
    ),
    "deployment_status.payload.json": (
        ["dev.cdevents.service.deployed.0.3.0"],
        [
            (1, "subject.id", HELLO),
            (1, "subject.content.environment.id", "production"),
            (1, "subject.content.artifactId", f"pkg:github/{HELLO}@{SHA_F95F}"),
            (1, "customData.details.state", "success"),
            (1, "customData.details.creator", "Codertocat"),
            (1, "customData.details.ref", "master"),
        ],
        [(1, "environment", "production"), (1, "service", HELLO), (1, "commit", SHA_F95F)],
    ),
    "pull_request.closed.merged.azure-sdk-tools.ResetPullRequestActivity_pr_closed_merged.json": (
        ["dev.cdevents.change.merged.0.3.0"],
        [
            (1, "subject.id", "Azure/azure-sdk-fake#13"),
            (1, "customData.details.mergedBy", "FakeUser1"),
            (1, "customData.details.merged", True),
        ],
        [(1, "change", "Azure/azure-sdk-fake#13"), (1, "actor", "FakeUser1")],
    ),
    "pull_request.closed.payload.json": (
        ["dev.cdevents.change.abandoned.0.3.0"],
        [(1, "customData.details.merged", False), (1, "customData.details.author", "Codertocat")],
        [(1, "change", f"{HELLO}#2")],
    ),
    "pull_request.opened.payload.json": (
        ["dev.cdevents.change.created.0.4.0"],
        [
            (1, "subject.content.description", "Update the README with new information."),
            (1, "customData.details.headBranch", "changes"),
            (1, "customData.details.baseBranch", "master"),
        ],
        [(1, "change", f"{HELLO}#2"), (1, "branch", "changes"), (1, "commit", SHA_EC26)],
    ),
    "pull_request.synchronize.payload.json": (
        ["dev.cdevents.change.updated.0.3.0"],
        [(1, "customData.details.action", "synchronize")],
        [(1, "change", f"{HELLO}#2")],
    ),
    "push.payload.json": (
        ["dev.cdeventsx.flightlog-tag.deleted.0.1.0"],
        [(1, "subject.content.tag", "simple-tag"), (1, "subject.content.sha", SHA_6113)],
        [(1, "repo", HELLO)],
    ),
    "push.with-new-branch.payload.json": (
        ["dev.cdevents.branch.created.0.3.0", "dev.cdeventsx.flightlog-commit.pushed.0.1.0"],
        [
            (1, "subject.id", "master"),
            (2, "subject.content.sha", SHA_6113),
            (2, "subject.content.message", "Initial commit"),
            (2, "subject.content.author.username", "Codertocat"),
            (2, "subject.content.committer.name", "Codertocat"),
            (2, "subject.content.added", ["README.md"]),
            (2, "subject.content.forced", False),
            (2, "subject.content.before", "0" * 40),
            (2, "subject.content.after", SHA_6113),
            (2, "subject.content.branch", "master"),
            (2, "context.timestamp", "2019-05-15T15:19:25Z"),
        ],
        [(2, "commit", SHA_6113), (2, "branch", "master"), (2, "system", "docs")],
    ),
    "release.created.payload.json": ([], [], []),
    "release.published.payload.json": (
        ["dev.cdevents.artifact.published.0.3.0"],
        [
            (1, "subject.id", f"pkg:github/{HELLO}@0.0.1"),
            (1, "subject.content.user", "Codertocat"),
            (1, "customData.details.tag", "0.0.1"),
        ],
        [(1, "artifact", f"pkg:github/{HELLO}@0.0.1")],
    ),
    "status.payload.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success"), (1, "customData.details.state", "success")],
        [(1, "commit", SHA_6113)],
    ),
    "workflow_job.completed.failure.with-organization.payload.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [
            (1, "subject.content.outcome", "failure"),
            (1, "subject.content.taskName", "linters"),
            (1, "customData.details.conclusion", "failure"),
        ],
        [(1, "commit", SHA_3484), (1, "branch", "main")],
    ),
    "workflow_job.completed.success.with-organization.payload.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success")],
        [(1, "pipeline_run", f"{HELLO}/actions/runs/2202229078")],
    ),
    "workflow_job.in_progress.payload.json": (
        ["dev.cdevents.taskrun.started.0.3.0"],
        [(1, "subject.content.taskName", "Analyze (javascript)")],
        [(1, "commit", SHA_3484)],
    ),
    "workflow_job.queued.payload.json": (
        ["dev.cdeventsx.flightlog-taskrun.queued.0.1.0"],
        [(1, "subject.content.taskName", "update")],
        [(1, "commit", SHA_3484)],
    ),
    "workflow_run.completed.failure.pytorch-test-infra.probot-envelope.json": (
        ["dev.cdevents.pipelinerun.finished.0.3.0"],
        [
            (1, "subject.content.outcome", "failure"),
            (1, "subject.content.pipelineName", "rebase"),
            (1, "customData.details.conclusion", "failure"),
        ],
        [(1, "pipeline_run", "clee2000/random-testing/actions/runs/3206737417")],
    ),
    "workflow_run.completed.payload.json": (
        ["dev.cdevents.pipelinerun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success"), (1, "subject.content.pipelineName", "test")],
        [(1, "commit", SHA_3484), (1, "branch", "master")],
    ),
    "workflow_run.completed.with-pull-requests.payload.json": (
        ["dev.cdevents.pipelinerun.finished.0.3.0"],
        [(1, "subject.content.outcome", "success")],
        [(1, "change", "octo-org/octo-repo#2")],
    ),
    "workflow_run.requested.payload.json": (
        ["dev.cdevents.pipelinerun.queued.0.3.0"],
        [
            (
                1,
                "subject.content.uri",
                "https://github.com/octo-org/octo-repo/actions/runs/289782451",
            )
        ],
        [(1, "commit", SHA_3484)],
    ),
    "workflow_run.requested.with-conclusion.payload.json": (
        ["dev.cdevents.pipelinerun.queued.0.3.0"],
        [(1, "customData.details.conclusion", "action_required")],
        [(1, "actor", "Codertocat")],
    ),
}

GITLAB: dict[str, Expect] = {
    "build.json": (
        ["dev.cdeventsx.flightlog-taskrun.queued.0.1.0"],
        [(1, "subject.content.taskName", "test"), (1, "customData.details.status", "created")],
        [(1, "pipeline_run", "gitlab-org/gitlab-test/-/pipelines/2366")],
    ),
    "deployment.gitlab-docs.json": (
        ["dev.cdevents.service.deployed.0.3.0"],
        [
            (1, "subject.content.environment.id", "staging"),
            (1, "customData.details.tier", "staging"),
            (1, "customData.details.creator", "root"),
            (1, "customData.details.state", "success"),
        ],
        [
            (1, "environment", "staging"),
            (1, "commit", "279484c09fbe69ededfced8c1bb6e6d24616b468"),
            (1, "service", "root/test-deployment-webhooks"),
        ],
    ),
    "deployment.json": (
        ["dev.cdevents.service.deployed.0.3.0"],
        [(1, "customData.details.ref", "1.0.0"), (1, "customData.details.creator", "user1")],
        [(1, "environment", "staging")],
    ),
    "job.json": (
        ["dev.cdevents.taskrun.finished.0.3.0"],
        [
            (1, "subject.content.outcome", "success"),
            (1, "subject.content.taskName", "auto_deploy:start"),
            (1, "context.timestamp", "2023-01-10T13:50:54Z"),
        ],
        [
            (1, "environment", "production"),
            (1, "commit", "95d49d1efbd941908580e79d65e4b5ecaf4a8305"),
            (1, "repo", "jsmithy2/release-tools-fake"),
        ],
    ),
    "merge_request.json": (
        ["dev.cdevents.change.created.0.4.0"],
        [
            (1, "subject.id", "gitlabhq/gitlab-test!1"),
            (1, "subject.content.description", "MS-Viewport"),
            (1, "customData.details.sourceBranch", "ms-viewport"),
        ],
        [(1, "change", "gitlabhq/gitlab-test!1"), (1, "actor", "user1")],
    ),
    "pipeline.json": (
        ["dev.cdevents.pipelinerun.finished.0.3.0"],
        [
            (1, "subject.content.outcome", "success"),
            (1, "customData.details.jobs.0.status", "skipped"),
        ],
        [
            (1, "commit", "bcbb5ec396a2c0f828686f14fac9b80b780504f2"),
            (1, "change", "gitlab-org/gitlab-test!1"),
        ],
    ),
    "push.json": (
        ["dev.cdeventsx.flightlog-commit.pushed.0.1.0"] * 2,
        [
            (1, "subject.content.sha", "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"),
            (1, "subject.content.author.name", "Jordi Mallach"),
            (2, "subject.content.message", "fixed readme\n"),
            (2, "subject.content.author.email", "gitlabdev@dv6700.(none)"),
        ],
        [
            (1, "ticket", "jsmith/example!1"),
            (1, "branch", "master"),
            (2, "commit", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        ],
    ),
    "release.json": (
        ["dev.cdevents.artifact.published.0.3.0"],
        [(1, "subject.id", "pkg:gitlab/exm-namespace/example-project@1.0.0")],
        [(1, "commit", "2626dbdb936782b5c54816b1c6d45b1279303c6d")],
    ),
    "tag_push.json": (
        ["dev.cdeventsx.flightlog-tag.created.0.1.0"],
        [(1, "subject.content.tag", "v1.0.0")],
        [(1, "commit", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7")],
    ),
}

CONFIG = """
[systems]
"*.md" = "docs"
"/src/" = "core"
"""


@pytest.fixture
def hooks(sqlite_api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    """An app with both forges configured and a flightlog.toml mapping paths to systems."""
    config = tmp_path / "flightlog.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("FLIGHTLOG_CONFIG", str(config))
    add_sources(sqlite_api)
    return sqlite_api


def _check(docs: list[dict[str, Any]], expect: Expect, forge: str, delivery: str) -> None:
    types, checks, refs = expect
    events = [d["event"] for d in docs]
    assert [e["context"]["type"] for e in events] == [RECEIVED, *types]
    for position, event in enumerate(events):
        assert event["context"]["id"] == f"{delivery}/{position}"
        assert event["customData"]["webhook"]["deliveryId"] == delivery
        assert event["customData"]["webhook"]["forge"] == forge
    for position, dotted, value in checks:
        assert dig(events[position], dotted) == value, (position, dotted)
    for position, kind, value in refs:
        assert [kind, value] in docs[position]["refs"], (position, kind, value)


class TestGitHubCorpus:
    """Every GitHub corpus payload through the real route."""

    @pytest.mark.parametrize("path", GITHUB_FILES, ids=lambda p: p.name)
    def test_payload_becomes_expected_events(self, hooks: Api, path: Path) -> None:
        """The delivery event plus the mapped events, with their extracted values."""
        body = github_body(path)
        delivery = f"gh-{path.stem}"
        r = post_github(hooks, body, github_event(path), delivery)
        assert r.status_code == 201, r.text
        digest = hashlib.sha256(body).hexdigest()
        assert r.json()["bodySha256"] == digest
        docs = entries(hooks)
        assert r.json()["indices"] == [d["index"] for d in docs]
        _check(docs, GITHUB[path.name], "github", delivery)
        for doc in docs:
            assert doc["event"]["customData"]["webhook"]["bodySha256"] == digest
        received = docs[0]["event"]["subject"]["content"]
        assert received["event"] == github_event(path)
        assert received["derivedEvents"] == len(docs) - 1
        assert "x-hub-signature-256" not in received["headers"]
        assert received["headers"]["x-github-hook-id"] == "42"
        assert hooks.flightlog.blobs.get(digest).data == body

    def test_every_corpus_file_has_expectations(self) -> None:
        """The expectations table covers the whole corpus."""
        assert sorted(GITHUB) == sorted(p.name for p in GITHUB_FILES)


class TestGitLabCorpus:
    """Every GitLab corpus payload through the real route."""

    @pytest.mark.parametrize("path", GITLAB_FILES, ids=lambda p: p.name)
    def test_payload_becomes_expected_events(self, hooks: Api, path: Path) -> None:
        """The delivery event plus the mapped events, with their extracted values."""
        body = path.read_bytes()
        delivery = f"gl-{path.stem}"
        r = post_gitlab(hooks, body, gitlab_hook(path), delivery)
        assert r.status_code == 201, r.text
        docs = entries(hooks)
        _check(docs, GITLAB[path.name], "gitlab", delivery)
        received = docs[0]["event"]["subject"]["content"]
        assert "x-gitlab-token" not in received["headers"]
        assert received["headers"]["x-gitlab-instance"] == "https://gitlab.example.com"
        assert hooks.flightlog.blobs.get(received["bodySha256"]).data == body

    def test_every_corpus_file_has_expectations(self) -> None:
        """The expectations table covers the whole corpus."""
        assert sorted(GITLAB) == sorted(p.name for p in GITLAB_FILES)


class TestGitHubRefusals:
    """Anything unverified or malformed: a 4xx problem and nothing stored."""

    BODY = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()

    def _nothing_stored(self, api: Api) -> None:
        assert api.flightlog.tree_size() == 0
        assert not api.flightlog.blobs.exists(hashlib.sha256(self.BODY).hexdigest())

    def test_missing_signature_is_401(self, hooks: Api) -> None:
        """No X-Hub-Signature-256: 401 naming the header."""
        headers = github_headers(self.BODY, "push")
        del headers["X-Hub-Signature-256"]
        r = hooks.client.post("/webhooks/github", content=self.BODY, headers=headers)
        assert r.status_code == 401
        assert "X-Hub-Signature-256" in problem(r)["detail"]
        self._nothing_stored(hooks)

    def test_wrong_secret_is_401(self, hooks: Api) -> None:
        """A signature made with another secret: 401."""
        headers = github_headers(self.BODY, "push")
        headers["X-Hub-Signature-256"] = github_headers(self.BODY, "push", secret="nope")[
            "X-Hub-Signature-256"
        ]
        r = hooks.client.post("/webhooks/github", content=self.BODY, headers=headers)
        assert r.status_code == 401
        assert "does not match" in problem(r)["detail"]
        self._nothing_stored(hooks)

    def test_tampered_body_is_401(self, hooks: Api) -> None:
        """A body changed after signing: 401."""
        headers = github_headers(self.BODY, "push")
        r = hooks.client.post("/webhooks/github", content=self.BODY + b" ", headers=headers)
        assert r.status_code == 401
        assert hooks.flightlog.tree_size() == 0

    def test_no_source_configured_is_401(self, sqlite_api: Api) -> None:
        """Without `flightlog source add github`, every delivery is refused."""
        r = post_github(sqlite_api, self.BODY, "push")
        assert r.status_code == 401
        assert "flightlog source add github" in problem(r)["detail"]
        assert sqlite_api.flightlog.tree_size() == 0

    def test_missing_event_header_is_400(self, hooks: Api) -> None:
        """A signed body without X-GitHub-Event: 400 naming the header."""
        headers = github_headers(self.BODY, "push")
        del headers["X-GitHub-Event"]
        r = hooks.client.post("/webhooks/github", content=self.BODY, headers=headers)
        assert r.status_code == 400
        assert "X-GitHub-Event" in problem(r)["detail"]
        self._nothing_stored(hooks)

    def test_missing_delivery_header_is_400(self, hooks: Api) -> None:
        """A signed body without X-GitHub-Delivery: 400."""
        headers = github_headers(self.BODY, "push")
        del headers["X-GitHub-Delivery"]
        r = hooks.client.post("/webhooks/github", content=self.BODY, headers=headers)
        assert r.status_code == 400
        assert "X-GitHub-Delivery" in problem(r)["detail"]
        self._nothing_stored(hooks)

    def test_wrong_event_header_is_400(self, hooks: Api) -> None:
        """A push body announced as a pull_request: 400, nothing stored."""
        r = post_github(hooks, self.BODY, "pull_request")
        assert r.status_code == 400
        assert "does not match" in problem(r)["detail"]
        self._nothing_stored(hooks)

    def test_invalid_json_under_valid_signature_is_400(self, hooks: Api) -> None:
        """A correctly signed body that is not JSON: 400 malformed input."""
        body = b'{"ref": "refs/heads/main", '
        r = post_github(hooks, body, "push")
        assert r.status_code == 400
        assert problem(r)["type"] == "urn:flightlog:problem:malformed-input"
        assert hooks.flightlog.tree_size() == 0

    def test_json_array_body_is_400(self, hooks: Api) -> None:
        """A signed JSON array is not a delivery: 400."""
        r = post_github(hooks, b"[1, 2]", "push")
        assert r.status_code == 400
        assert "JSON object" in problem(r)["detail"]

    def test_oversized_body_is_413(self, hooks: Api) -> None:
        """A body over the server's limit: 413 before anything else."""
        body = b'{"zen": "' + b"x" * hooks.state.settings.max_body_bytes + b'"}'
        r = post_github(hooks, body, "ping")
        assert r.status_code == 413
        assert problem(r)["type"] == "urn:flightlog:problem:too-large"
        assert hooks.flightlog.tree_size() == 0

    def test_form_encoded_body_is_415(self, hooks: Api) -> None:
        """A webhook configured with form encoding: 415 saying to send application/json."""
        r = post_github(
            hooks, self.BODY, "push", **{"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 415
        assert "application/json" in problem(r)["detail"]
        self._nothing_stored(hooks)


class TestGitHubDeliveries:
    """Pings, redeliveries, and what `flightlog log` then finds."""

    def test_ping_is_200_and_recorded(self, hooks: Api) -> None:
        """A ping answers 200 and is kept as a delivery event."""
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        r = post_github(hooks, body, "ping", "ping-1")
        assert r.status_code == 200
        [doc] = entries(hooks)
        assert doc["event"]["subject"]["content"]["event"] == "ping"

    def test_redelivery_is_200_and_stores_nothing(self, hooks: Api) -> None:
        """The same X-GitHub-Delivery again: 200, duplicate, the same indices, no new entry."""
        body = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
        first = post_github(hooks, body, "push", "d-1")
        size = hooks.flightlog.tree_size()
        again = post_github(hooks, body, "push", "d-1")
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["indices"] == [first.json()["indices"][0]]
        assert hooks.flightlog.tree_size() == size == 3

    def test_unmapped_event_is_kept_as_delivery(self, hooks: Api) -> None:
        """A payload type with no mapping is still recorded as its delivery event."""
        body = json.dumps({"action": "created", "starred_at": "2024-01-01T00:00:00Z"}).encode()
        r = post_github(hooks, body, "star", "star-1")
        assert r.status_code == 201
        [doc] = entries(hooks)
        assert doc["event"]["subject"]["content"]["derivedEvents"] == 0
        assert doc["event"]["subject"]["content"]["action"] == "created"

    def test_blob_route_returns_exact_bytes(self, hooks: Api) -> None:
        """GET /api/v1/blobs/{sha256} with a read token returns the body as received."""
        body = corpus_file("github-webhooks/status.payload.json").read_bytes()
        digest = post_github(hooks, body, "status").json()["bodySha256"]
        read = hooks.token("read")
        r = hooks.client.get(f"/api/v1/blobs/{digest}", headers=hooks.auth(read))
        assert r.status_code == 200
        assert r.content == body
        assert hashlib.sha256(r.content).hexdigest() == digest
        assert hooks.client.get(f"/api/v1/blobs/{digest}").status_code == 401
        missing = hooks.client.get(f"/api/v1/blobs/{'0' * 64}", headers=hooks.auth(read))
        assert missing.status_code == 404
        bad = hooks.client.get("/api/v1/blobs/xyz", headers=hooks.auth(read))
        assert bad.status_code == 400

    def test_tickets_and_systems_from_config(self, hooks: Api) -> None:
        """A commit's message and branch name tickets; its files name systems."""
        payload = json.loads(
            corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
        )
        payload["ref"] = "refs/heads/feature/PAY-9-retry"
        payload["created"] = False
        payload["forced"] = True
        commit = payload["commits"][0]
        commit["message"] = "Fix retry loop (OPS-7), see #12"
        commit["modified"] = ["src/retry.py", "docs/guide.md"]
        r = post_github(hooks, json.dumps(payload).encode(), "push", "feat-1")
        assert r.status_code == 201
        docs = entries(hooks)
        refs = docs[1]["refs"]
        for ref in (
            ["ticket", "PAY-9"],
            ["ticket", "OPS-7"],
            ["ticket", f"{HELLO}#12"],
            ["system", "core"],
            ["system", "docs"],
        ):
            assert ref in refs
        content = docs[1]["event"]["subject"]["content"]
        assert content["forced"] is True
        links = docs[1]["event"]["customData"]["details"]["tickets"]
        assert {"key": f"{HELLO}#12", "url": f"https://github.com/{HELLO}/issues/12"} in links

    def test_log_finds_by_commit_and_environment(self, hooks: Api) -> None:
        """`log --commit` and `log --env` find the derived events."""
        for name in ("push.with-new-branch.payload.json", "deployment_status.payload.json"):
            path = corpus_file(f"github-webhooks/{name}")
            assert post_github(hooks, path.read_bytes(), github_event(path)).status_code == 201
        from flightlog.service import EventFilter

        by_commit = hooks.flightlog.log(EventFilter(commit=SHA_6113))
        assert [d.leaf.type for d in by_commit] == [
            "dev.cdevents.branch.created.0.3.0",
            "dev.cdeventsx.flightlog-commit.pushed.0.1.0",
        ]
        by_env = hooks.flightlog.log(EventFilter(environment="production"))
        assert [d.leaf.type for d in by_env] == ["dev.cdevents.service.deployed.0.3.0"]


class TestGitLabRefusals:
    """Tokens, Standard Webhooks signatures, headers."""

    BODY = corpus_file("gitlab-webhooks/push.json").read_bytes()

    def test_missing_token_is_401(self, hooks: Api) -> None:
        """No X-Gitlab-Token and no signature: 401, nothing stored."""
        r = post_gitlab(hooks, self.BODY, "Push Hook", **{"X-Gitlab-Token": ""})
        assert r.status_code == 401
        assert "X-Gitlab-Token" in problem(r)["detail"]
        assert hooks.flightlog.tree_size() == 0

    def test_wrong_token_is_401(self, hooks: Api) -> None:
        """Another token: 401."""
        r = post_gitlab(hooks, self.BODY, "Push Hook", **{"X-Gitlab-Token": "wrong-token-xyz"})
        assert r.status_code == 401
        assert hooks.flightlog.tree_size() == 0

    def test_header_disagreeing_with_payload_is_400(self, hooks: Api) -> None:
        """X-Gitlab-Event naming another kind than object_kind: 400."""
        r = post_gitlab(hooks, self.BODY, "Pipeline Hook")
        assert r.status_code == 400
        assert "object_kind" in problem(r)["detail"]
        assert hooks.flightlog.tree_size() == 0

    def test_missing_event_header_is_400(self, hooks: Api) -> None:
        """No X-Gitlab-Event: 400 naming it."""
        r = post_gitlab(hooks, self.BODY, "")
        assert r.status_code == 400
        assert "X-Gitlab-Event" in problem(r)["detail"]

    def test_redelivery_by_event_uuid(self, hooks: Api) -> None:
        """The same X-Gitlab-Event-UUID twice: the second answers 200 and adds nothing."""
        assert post_gitlab(hooks, self.BODY, "Push Hook", "u-1").status_code == 201
        size = hooks.flightlog.tree_size()
        again = post_gitlab(hooks, self.BODY, "Push Hook", "u-1")
        assert again.status_code == 200
        assert hooks.flightlog.tree_size() == size


class TestStandardWebhooks:
    """GitLab deliveries signed with the Standard Webhooks scheme."""

    BODY = corpus_file("gitlab-webhooks/tag_push.json").read_bytes()

    @pytest.fixture
    def signed(self, sqlite_api: Api) -> Api:
        """An app whose GitLab source holds a Standard Webhooks secret."""

        sqlite_api.flightlog.webhook_sources.add("gitlab", STANDARD_SECRET)
        sqlite_api.flightlog.webhook_sources.add("github", GITHUB_SECRET)
        return sqlite_api

    def _post(self, api: Api, headers: dict[str, str]) -> Any:
        sent = {"Content-Type": "application/json", "X-Gitlab-Event": "Tag Push Hook", **headers}
        return api.client.post("/webhooks/gitlab", content=self.BODY, headers=sent)

    def test_valid_signature_is_recorded_under_its_id(self, signed: Api) -> None:
        """A valid v1 signature: 201, the webhook-id is the delivery id."""
        r = self._post(signed, standard_headers(self.BODY, "msg_1"))
        assert r.status_code == 201
        assert r.json()["delivery"] == "msg_1"
        assert (
            "webhook-signature" not in entries(signed)[0]["event"]["subject"]["content"]["headers"]
        )

    def test_old_timestamp_is_401(self, signed: Api) -> None:
        """A timestamp 6 minutes old is refused as a replay."""
        r = self._post(signed, standard_headers(self.BODY, "msg_2", at=time.time() - 360))
        assert r.status_code == 401
        assert "5 minutes" in problem(r)["detail"]
        assert signed.flightlog.tree_size() == 0

    def test_future_timestamp_is_401(self, signed: Api) -> None:
        """A timestamp 6 minutes ahead is refused too."""
        r = self._post(signed, standard_headers(self.BODY, "msg_3", at=time.time() + 360))
        assert r.status_code == 401

    def test_wrong_key_is_401(self, signed: Api) -> None:
        """A signature under another key: 401."""
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3OA=="
        r = self._post(signed, standard_headers(self.BODY, "msg_4", secret=other))
        assert r.status_code == 401
        assert "does not match" in problem(r)["detail"]


def test_webhooks_on_postgresql(api: Api) -> None:
    """Both routes record and deduplicate on SQLite and PostgreSQL alike."""
    add_sources(api)
    body = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
    assert post_github(api, body, "push", "pg-1").status_code == 201
    assert post_github(api, body, "push", "pg-1").status_code == 200
    gl = corpus_file("gitlab-webhooks/deployment.json").read_bytes()
    assert post_gitlab(api, gl, "Deployment Hook", "pg-2").status_code == 201
    types = [d["leaf"]["type"] for d in entries(api)]
    assert types.count(RECEIVED) == 2
    assert "dev.cdevents.service.deployed.0.3.0" in types


class TestThroughTheCli:
    """A real server takes deliveries; the CLI then finds what they recorded."""

    def test_log_and_blob_get(self, live_server: LiveServer) -> None:
        """`log --commit`, `log --env` find the derived events; `blob get` returns the body."""
        settings = live_server.settings
        engine = LedgerStore.open(settings.database_url).engine
        WebhookSources(engine).add("github", GITHUB_SECRET)
        WebhookSources(engine).add("gitlab", GITLAB_SECRET)
        push = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
        deployed = corpus_file("gitlab-webhooks/deployment.gitlab-docs.json").read_bytes()
        with httpx.Client(base_url=live_server.url) as client:
            r = client.post(
                "/webhooks/github", content=push, headers=github_headers(push, "push", "cli-1")
            )
            assert r.status_code == 201
            digest = r.json()["bodySha256"]
            r = client.post(
                "/webhooks/gitlab",
                content=deployed,
                headers={
                    "Content-Type": "application/json",
                    "X-Gitlab-Event": "Deployment Hook",
                    "X-Gitlab-Token": GITLAB_SECRET,
                    "X-Gitlab-Event-UUID": "cli-2",
                },
            )
            assert r.status_code == 201
        local = CliRunner(
            env={
                "FLIGHTLOG_DATABASE_URL": settings.database_url,
                "FLIGHTLOG_HOME": str(settings.home),
                "FLIGHTLOG_ORIGIN": settings.origin,
                "FLIGHTLOG_SERVER": "",
            }
        )
        out = local.invoke(cli_app, ["log", "--commit", SHA_6113, "--json"])
        assert out.exit_code == 0, out.output
        assert [d["event"]["context"]["id"] for d in json.loads(out.stdout)["events"]] == [
            "cli-1/1",
            "cli-1/2",
        ]
        out = local.invoke(cli_app, ["log", "--env", "staging", "--json"])
        assert [d["leaf"]["type"] for d in json.loads(out.stdout)["events"]] == [
            "dev.cdevents.service.deployed.0.3.0"
        ]
        remote = CliRunner(
            env={"FLIGHTLOG_SERVER": live_server.url, "FLIGHTLOG_TOKEN": live_server.admin}
        )
        out = remote.invoke(cli_app, ["blob", "get", digest])
        assert out.exit_code == 0, out.output
        assert out.stdout_bytes == push


class TestUnexpectedShapes:
    """A verified payload of an undocumented shape is kept as a delivery, never a 500."""

    @staticmethod
    def _mangled(doc: dict[str, Any], value: Any) -> bytes:
        """Every top-level value replaced by ``value`` (keys kept, so headers still agree)."""
        return json.dumps({k: value if k != "object_kind" else v for k, v in doc.items()}).encode()

    @pytest.mark.parametrize("value", [7, "x", [1, "a"], None])
    def test_github_corpus_with_wrong_types(self, hooks: Api, value: Any) -> None:
        """Each GitHub payload with wrongly typed fields answers 201, delivery kept."""
        for i, path in enumerate(GITHUB_FILES):
            body = self._mangled(json.loads(github_body(path)), value)
            r = post_github(hooks, body, github_event(path), f"bad-{i}")
            assert r.status_code == 201, (path.name, r.text)
        docs = entries(hooks)
        received = [d for d in docs if d["leaf"]["type"] == RECEIVED]
        assert len(received) == len(GITHUB_FILES)

    @pytest.mark.parametrize("value", [7, "x", [1, "a"], None])
    def test_gitlab_corpus_with_wrong_types(self, hooks: Api, value: Any) -> None:
        """Each GitLab payload with wrongly typed fields answers 201, delivery kept."""
        for i, path in enumerate(GITLAB_FILES):
            body = self._mangled(json.loads(path.read_bytes()), value)
            r = post_gitlab(hooks, body, gitlab_hook(path), f"bad-{i}")
            assert r.status_code == 201, (path.name, r.text)

    def test_mapping_error_is_recorded(self, hooks: Api) -> None:
        """A push whose commits are not a list keeps the delivery and says why."""
        body = json.dumps({"ref": "refs/heads/main", "commits": 5, "repository": 3}).encode()
        r = post_github(hooks, body, "push", "odd-1")
        assert r.status_code == 201
        [doc] = entries(hooks)
        assert "unexpected shape" in doc["event"]["subject"]["content"]["mappingError"]
        assert doc["event"]["subject"]["content"]["derivedEvents"] == 0


class TestSecretsStayPrivate:
    """Secrets are never logged, stored with the delivery, or answered back."""

    def test_no_secret_in_logs_or_ledger(
        self, hooks: Api, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """After good and bad deliveries, neither secret appears in logs, answers or entries."""
        body = corpus_file("gitlab-webhooks/push.json").read_bytes()
        answers = [
            post_gitlab(hooks, body, "Push Hook", "s-1").text,
            post_gitlab(
                hooks, body, "Push Hook", "s-2", **{"X-Gitlab-Token": "wrong-one-1234"}
            ).text,
            post_github(hooks, b"{}", "push", "s-3").text,
        ]
        logged = capfd.readouterr()
        stored = json.dumps(entries(hooks))
        for text in (*answers, logged.out, logged.err, stored):
            assert GITLAB_SECRET not in text
            assert GITHUB_SECRET not in text
        assert "x-gitlab-event-uuid" in stored


class TestConcurrentRedelivery:
    """Two copies of one delivery at once: one records, the other is a duplicate."""

    def test_same_delivery_twice_at_once(self, hooks: Api) -> None:
        """Both answer 2xx, and the delivery's events are in the ledger once."""
        from concurrent.futures import ThreadPoolExecutor

        body = corpus_file("github-webhooks/push.with-new-branch.payload.json").read_bytes()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: post_github(hooks, body, "push", "twin"), range(4)))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
        assert hooks.flightlog.tree_size() == 3
