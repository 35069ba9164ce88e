"""GitLab webhooks: ``X-Gitlab-Token`` / Standard Webhooks verification and payload → events.

Payload shapes follow GitLab's "Webhook events" reference; GitLab names the kind of
every payload twice (the ``X-Gitlab-Event`` header and ``object_kind``), and the two
must agree. docs/sources.md has the mapping table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flightlog.errors import InputError, SignatureError
from flightlog.sources.config import SourceConfig
from flightlog.sources.webhook import (
    ARTIFACT_PUBLISHED,
    BRANCH_CREATED,
    BRANCH_DELETED,
    CHANGE_ABANDONED,
    CHANGE_CREATED,
    CHANGE_MERGED,
    CHANGE_REVIEWED,
    CHANGE_UPDATED,
    COMMIT_PUSHED,
    DEPLOYMENT_UPDATED,
    PIPELINE_FINISHED,
    PIPELINE_QUEUED,
    PIPELINE_STARTED,
    SERVICE_DEPLOYED,
    TAG_CREATED,
    TAG_DELETED,
    TASK_FINISHED,
    TASK_QUEUED,
    TASK_STARTED,
    Accepted,
    Derived,
    TicketFinder,
    WebhookSource,
    at,
    body_digest,
    header_value,
    headers_to_keep,
    json_payload,
    plausible_id,
    rfc3339,
    same_secret,
    strings,
    text,
    verify_standard_webhook,
)

__all__ = [
    "EVENTS_TO_TICK",
    "EVENT_HEADER",
    "TOKEN_HEADER",
    "map_payload",
    "object_kind",
    "verify_token",
]

NAME = "gitlab"
EVENT_HEADER = "x-gitlab-event"
TOKEN_HEADER = "x-gitlab-token"  # noqa: S105 - a header name, not a secret
UUID_HEADER = "x-gitlab-event-uuid"
IDEMPOTENCY_HEADER = "idempotency-key"
SECRET_HEADERS = (TOKEN_HEADER, "webhook-signature")
EVENTS_TO_TICK = (
    "Push events (all branches)",
    "Tag push events",
    "Merge request events",
    "Pipeline events",
    "Job events",
    "Deployment events",
    "Releases events",
)
# X-Gitlab-Event header → object_kind of the payload it announces.
HOOKS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Merge Request Hook": "merge_request",
    "Pipeline Hook": "pipeline",
    "Job Hook": "build",
    "Deployment Hook": "deployment",
    "Release Hook": "release",
    "Note Hook": "note",
    "Issue Hook": "issue",
    "Confidential Issue Hook": "issue",
    "Confidential Note Hook": "note",
    "Wiki Page Hook": "wiki_page",
    "Feature Flag Hook": "feature_flag",
    "Emoji Hook": "emoji",
    "Resource Access Token Hook": "access_token",
    "Member Hook": "member",
    "Subgroup Hook": "subgroup",
    "Project Hook": "project",
    "Vulnerability Hook": "vulnerability",
}
_ZERO_SHA = "0" * 40
_QUEUED = ("created", "waiting_for_resource", "preparing", "pending", "scheduled", "manual")
_OUTCOMES = {
    "success": "success",
    "skipped": "success",
    "failed": "failure",
    "canceled": "cancel",
    "canceling": "cancel",
}


def verify_token(secret: str, header: str | None) -> None:
    """Check ``X-Gitlab-Token`` against the source's secret in constant time."""
    if not header:
        raise SignatureError("missing X-Gitlab-Token header (or a Standard Webhooks signature)")
    if not same_secret(secret, header):
        raise SignatureError("X-Gitlab-Token does not match the configured secret")


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The id a redelivery repeats: Idempotency-Key, else X-Gitlab-Event-UUID, else webhook-id."""
    for name in (IDEMPOTENCY_HEADER, UUID_HEADER, "webhook-id"):
        if headers.get(name):
            return headers[name]
    return None


def object_kind(header: str, payload: Mapping[str, Any]) -> str:
    """The payload's kind, after checking it agrees with the X-Gitlab-Event header."""
    expected = HOOKS.get(header)
    kind = payload.get("object_kind")
    if not isinstance(kind, str) or not kind:
        raise InputError("the GitLab payload has no object_kind")
    if expected is not None and expected != kind:
        raise InputError(
            f"X-Gitlab-Event says {header!r} but the payload's object_kind is {kind!r}"
        )
    return kind


class _Context:
    """The project, config and ticket finder every mapping of one payload needs."""

    def __init__(self, payload: Mapping[str, Any], config: SourceConfig) -> None:
        self.payload = payload
        self.config = config
        project = at(payload, "project")
        homepage = text(at(project, "web_url")) or text(at(payload, "repository", "homepage"))
        path = text(at(project, "path_with_namespace"))
        if path is None and homepage:
            path = urlsplit(homepage).path.strip("/") or None
        self.project = path or text(payload.get("project_name")) or "unknown"
        self.web_url = homepage or f"https://gitlab.com/{self.project}"
        self.user = text(at(payload, "user", "username")) or text(payload.get("user_username"))
        self.tickets = TicketFinder(config, forge=NAME, repo=self.project, project_url=self.web_url)

    @property
    def repository(self) -> dict[str, str]:
        return {"id": self.project, "source": self.web_url}

    def purl(self, version: str) -> str:
        return f"pkg:gitlab/{self.project}@{version}"

    def base_refs(self, **more: Any) -> dict[str, Any]:
        return {"repo": self.project, "actor": self.user, **more}


def _branch_or_tag(ref: str) -> tuple[str | None, str | None]:
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :], None
    if ref.startswith("refs/tags/"):
        return None, ref[len("refs/tags/") :]
    return None, None


def _push(cx: _Context) -> list[Derived]:
    p = cx.payload
    ref = text(p.get("ref")) or ""
    branch, tag = _branch_or_tag(ref)
    before, after = text(p.get("before")), text(p.get("after"))
    out: list[Derived] = []
    created, deleted = before == _ZERO_SHA, after == _ZERO_SHA
    if created or deleted:
        sha = after if created else before
        if branch is not None:
            keys, links = cx.tickets(branch)
            out.append(
                Derived(
                    BRANCH_CREATED if created else BRANCH_DELETED,
                    branch,
                    {"repository": cx.repository},
                    None,
                    cx.base_refs(branch=branch, commit=sha, tickets=keys),
                    {"sha": sha, "tickets": links or None},
                )
            )
        elif tag is not None:
            content: dict[str, Any] = {"repository": cx.repository, "tag": tag}
            if sha:
                content["sha"] = sha
            if cx.user:
                content["actor"] = cx.user
            out.append(
                Derived(
                    TAG_CREATED if created else TAG_DELETED,
                    f"{cx.project}@{tag}",
                    content,
                    None,
                    cx.base_refs(commit=sha),
                )
            )
    if tag is not None:
        # A tag push lists the tagged commit; it was pushed (and recorded) before.
        return out
    for commit in p.get("commits") or []:
        sha = text(at(commit, "id"))
        if sha is None:
            continue
        message = commit.get("message") if isinstance(commit.get("message"), str) else ""
        added, modified = strings(commit.get("added")), strings(commit.get("modified"))
        removed = strings(commit.get("removed"))
        keys, links = cx.tickets(message, branch)
        author = {k: v for k in ("name", "email") if isinstance(v := at(commit, "author", k), str)}
        content = {
            "sha": sha,
            "repository": cx.repository,
            "ref": ref or "unknown",
            "message": message,
            "author": author,
            "added": added,
            "modified": modified,
            "removed": removed,
            # GitLab does not say whether a push was forced.
        }
        for key, value in (
            ("branch", branch),
            ("timestamp", rfc3339(commit.get("timestamp"))),
            ("uri", text(commit.get("url"))),
            ("before", before),
            ("after", after),
            ("pusher", cx.user),
        ):
            if value:
                content[key] = value
        out.append(
            Derived(
                COMMIT_PUSHED,
                sha,
                content,
                rfc3339(commit.get("timestamp")),
                {
                    "repo": cx.project,
                    "commit": sha,
                    "branch": branch,
                    "tickets": keys,
                    "systems": cx.config.systems_of([*added, *modified, *removed]),
                    "actor": author.get("name") if author.get("name") else None,
                },
                {"tickets": links or None},
            )
        )
    return out


_MR_ACTIONS = {
    "open": CHANGE_CREATED,
    "reopen": CHANGE_CREATED,
    "update": CHANGE_UPDATED,
    "approved": CHANGE_REVIEWED,
    "approval": CHANGE_REVIEWED,
    "unapproved": CHANGE_REVIEWED,
    "unapproval": CHANGE_REVIEWED,
    "merge": CHANGE_MERGED,
    "close": CHANGE_ABANDONED,
}


def _merge_request(cx: _Context) -> list[Derived]:
    mr = at(cx.payload, "object_attributes")
    if not isinstance(mr, dict):
        return []
    action = mr.get("action")
    kind = _MR_ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None:
        return []
    iid = mr.get("iid")
    change = f"{cx.project}!{iid}"
    title = text(mr.get("title"))
    source_branch = text(mr.get("source_branch"))
    keys, links = cx.tickets(title, source_branch)
    content: dict[str, Any] = {"repository": cx.repository}
    if kind == CHANGE_CREATED and title:
        content["description"] = title
    head = text(at(mr, "last_commit", "id"))
    merge_sha = text(mr.get("merge_commit_sha"))
    details: dict[str, Any] = {
        "action": action,
        "iid": iid,
        "title": title,
        "state": mr.get("state"),
        "authorId": mr.get("author_id"),
        "sourceBranch": source_branch,
        "targetBranch": text(mr.get("target_branch")),
        "headSha": head,
        "url": text(mr.get("url")),
        "tickets": links or None,
    }
    if kind == CHANGE_MERGED:
        details["mergedBy"] = cx.user
        details["mergeCommitSha"] = merge_sha
    if kind == CHANGE_REVIEWED:
        details["reviewer"] = cx.user
        details["verdict"] = "approved" if action in ("approved", "approval") else "unapproved"
    return [
        Derived(
            kind,
            change,
            content,
            rfc3339(mr.get("updated_at")),
            cx.base_refs(
                change=change,
                branch=source_branch,
                commit=[c for c in (head, merge_sha) if c],
                tickets=keys,
            ),
            details,
        )
    ]


def _outcome(status: Any) -> str:
    return _OUTCOMES.get(status, "error") if isinstance(status, str) else "error"


def _pipeline(cx: _Context) -> list[Derived]:
    run = at(cx.payload, "object_attributes")
    if not isinstance(run, dict):
        return []
    status = run.get("status")
    subject = f"{cx.project}/-/pipelines/{run.get('id')}"
    uri = f"{cx.web_url}/-/pipelines/{run.get('id')}"
    name = text(run.get("name")) or f"{cx.project} {text(run.get('ref')) or ''}".strip()
    content: dict[str, Any] = {"pipelineName": name, "uri": uri}
    if status in _QUEUED:
        kind, when = PIPELINE_QUEUED, rfc3339(run.get("created_at"))
    elif status == "running":
        kind, when = PIPELINE_STARTED, rfc3339(run.get("created_at"))
    elif status in _OUTCOMES:
        kind, when = PIPELINE_FINISHED, rfc3339(run.get("finished_at"))
        content["outcome"] = _outcome(status)
        if content["outcome"] != "success":
            content["errors"] = f"status: {status}"
    else:
        return []
    branch = None if run.get("tag") else text(run.get("ref"))
    mr = at(cx.payload, "merge_request")
    change = f"{cx.project}!{mr.get('iid')}" if isinstance(mr, dict) and mr.get("iid") else None
    keys, links = cx.tickets(
        text(at(cx.payload, "commit", "message")), branch, text(at(mr, "title"))
    )
    jobs = [
        {"name": b.get("name"), "stage": b.get("stage"), "status": b.get("status")}
        for b in cx.payload.get("builds") or []
        if isinstance(b, dict)
    ]
    return [
        Derived(
            kind,
            subject,
            content,
            when,
            cx.base_refs(
                commit=text(run.get("sha")),
                branch=branch,
                change=change,
                pipelineRun=subject,
                tickets=keys,
            ),
            {
                "status": status,
                "detailedStatus": run.get("detailed_status"),
                "source": run.get("source"),
                "duration": run.get("duration"),
                "jobs": jobs or None,
                "tickets": links or None,
            },
        )
    ]


def _job(cx: _Context) -> list[Derived]:
    p = cx.payload
    status = p.get("build_status")
    pipeline = f"{cx.project}/-/pipelines/{p.get('pipeline_id')}"
    content: dict[str, Any] = {
        "taskName": text(p.get("build_name")) or "job",
        "uri": f"{cx.web_url}/-/jobs/{p.get('build_id')}",
        "pipelineRun": {"id": pipeline},
    }
    if status in _QUEUED:
        kind, when = TASK_QUEUED, rfc3339(p.get("build_created_at"))
    elif status == "running":
        kind, when = TASK_STARTED, rfc3339(p.get("build_started_at"))
    elif status in _OUTCOMES:
        kind, when = TASK_FINISHED, rfc3339(p.get("build_finished_at"))
        content["outcome"] = _outcome(status)
        if content["outcome"] != "success":
            content["errors"] = f"status: {status}; reason: {p.get('build_failure_reason')}"
    else:
        return []
    environment = text(at(p, "environment", "name"))
    branch = None if p.get("tag") else text(p.get("ref"))
    return [
        Derived(
            kind,
            f"{cx.project}/-/jobs/{p.get('build_id')}",
            content,
            when,
            cx.base_refs(
                commit=text(p.get("sha")),
                branch=branch,
                pipelineRun=pipeline,
                environment=environment,
            ),
            {
                "status": status,
                "stage": text(p.get("build_stage")),
                "allowFailure": p.get("build_allow_failure"),
                "failureReason": text(p.get("build_failure_reason"))
                if status == "failed"
                else None,
                "duration": p.get("build_duration"),
                "environmentAction": text(at(p, "environment", "action")),
            },
        )
    ]


def _deployment(cx: _Context) -> list[Derived]:
    p = cx.payload
    status = text(p.get("status")) or "unknown"
    env = text(p.get("environment")) or "unknown"
    commit_url = text(p.get("commit_url")) or ""
    sha = commit_url.rstrip("/").rsplit("/", 1)[-1] if "/commit/" in commit_url else None
    sha = sha or text(p.get("short_sha"))
    artifact = cx.purl(sha) if sha else None
    details = {
        "deploymentId": p.get("deployment_id"),
        "state": status,
        "tier": text(p.get("environment_tier")),
        "ref": text(p.get("ref")),
        "sha": sha,
        "creator": cx.user,
        "jobUrl": text(p.get("deployable_url")),
        "environmentUrl": text(p.get("environment_external_url")),
        "commitTitle": text(p.get("commit_title")),
    }
    refs = cx.base_refs(commit=sha, environment=env, service=cx.project, artifact=artifact)
    when = rfc3339(p.get("status_changed_at"))
    if status == "success" and artifact:
        return [
            Derived(
                SERVICE_DEPLOYED,
                cx.project,
                {"environment": {"id": env}, "artifactId": artifact},
                when,
                refs,
                details,
            )
        ]
    content: dict[str, Any] = {"environment": {"id": env}, "state": status}
    for key, value in (
        ("ref", details["ref"]),
        ("sha", sha),
        ("creator", cx.user),
        ("artifactId", artifact),
    ):
        if value:
            content[key] = value
    subject = f"{cx.project}/-/deployments/{p.get('deployment_id')}"
    return [Derived(DEPLOYMENT_UPDATED, subject, content, when, refs, details)]


def _release(cx: _Context) -> list[Derived]:
    p = cx.payload
    if p.get("action") != "create":
        return []
    tag = text(p.get("tag")) or "unknown"
    keys, links = cx.tickets(text(p.get("name")), text(p.get("description")))
    return [
        Derived(
            ARTIFACT_PUBLISHED,
            cx.purl(tag),
            {},
            rfc3339(p.get("released_at")),
            cx.base_refs(artifact=cx.purl(tag), commit=text(at(p, "commit", "id")), tickets=keys),
            {
                "tag": tag,
                "name": text(p.get("name")),
                "url": text(p.get("url")),
                "tickets": links or None,
            },
        )
    ]


_MAPPINGS: Mapping[str, Callable[[_Context], list[Derived]]] = {
    "push": _push,
    "tag_push": _push,
    "merge_request": _merge_request,
    "pipeline": _pipeline,
    "build": _job,
    "deployment": _deployment,
    "release": _release,
}


def map_payload(kind: str, payload: Mapping[str, Any], config: SourceConfig) -> list[Derived]:
    """The events a GitLab payload of ``object_kind`` states; empty when it is not mapped."""
    mapping = _MAPPINGS.get(kind)
    return mapping(_Context(payload, config)) if mapping is not None else []


def project_refs(payload: Mapping[str, Any], config: SourceConfig) -> dict[str, Any]:
    """Refs of the delivery event itself: the project and the user."""
    cx = _Context(payload, config)
    return {"repo": cx.project if cx.project != "unknown" else None, "actor": cx.user}


class GitLabSource(WebhookSource):
    """GitLab: ``X-Gitlab-Token`` or Standard Webhooks, ``X-Gitlab-Event``, ``object_kind``."""

    name = NAME
    title = "GitLab"
    summary = "Receive a GitLab webhook delivery (X-Gitlab-Token or Standard Webhooks)"
    secret_headers = SECRET_HEADERS
    events_to_tick = EVENTS_TO_TICK

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
        """Check the Standard Webhooks signature if present, else the token (SignatureError)."""
        if secret is None:
            raise SignatureError(f"no {NAME} secret is configured")
        if "webhook-signature" in headers:
            verify_standard_webhook(secret, headers, body, now=time.time())
        else:
            verify_token(secret, headers.get(TOKEN_HEADER))

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """Idempotency-Key, X-Gitlab-Event-UUID or webhook-id."""
        return delivery_id(headers)

    def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """The event header, a payload whose object_kind agrees, and a delivery id."""
        event = header_value(headers, EVENT_HEADER, "X-Gitlab-Event")
        payload, exact = json_payload(body)
        kind = object_kind(event, payload)
        # Without an id header the body's digest is the id: an identical body is a redelivery.
        delivery = delivery_id(headers) or f"sha256:{body_digest(body)}"
        plausible_id(delivery, "the delivery id header")
        kept = headers_to_keep(headers, SECRET_HEADERS)
        return Accepted(NAME, event, kind, delivery, payload, kept, body, exact)

    def derive(
        self, accepted: Accepted, config: SourceConfig
    ) -> tuple[dict[str, Any], list[Derived]]:
        """The project and user, and the events the payload states."""
        payload = accepted.payload
        return project_refs(payload, config), map_payload(accepted.kind, payload, config)

    def setup_text(self, url: str, secret: str) -> list[str]:
        """The fields of GitLab's webhook form."""
        return [
            f"URL:           {url}",
            f"Secret token:  {secret}",
            "Trigger:       " + ", ".join(EVENTS_TO_TICK),
        ]


SOURCE = GitLabSource()
