"""GitHub webhooks: ``X-Hub-Signature-256`` verification and payload → events (pure).

Payload shapes follow GitHub's "Webhook events and payloads" reference; docs/sources.md
has the table of which payload becomes which event and where each field lands.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

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
    header_value,
    headers_to_keep,
    hmac_sha256_hex,
    json_payload,
    rfc3339,
    strings,
    text,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENTS_TO_TICK",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "map_payload",
    "verify_signature",
]

NAME = "github"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
SIGNATURE_HEADER = "x-hub-signature-256"
SECRET_HEADERS = (SIGNATURE_HEADER, "x-hub-signature")
EVENTS_TO_TICK = (
    "Pushes",
    "Branch or tag creation",
    "Branch or tag deletion",
    "Pull requests",
    "Pull request reviews",
    "Workflow runs",
    "Workflow jobs",
    "Check runs",
    "Check suites",
    "Statuses",
    "Deployments",
    "Deployment statuses",
    "Releases",
)
_ZERO_SHA = "0" * 40


# CDEvents pipelinerun outcomes are success | failure | cancel | error; GitHub's
# conclusion is kept verbatim in the details beside it.
_OUTCOMES = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failure",
    "startup_failure": "failure",
    "cancelled": "cancel",
    "timed_out": "error",
    "stale": "error",
    "action_required": "error",
}


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Check ``X-Hub-Signature-256: sha256=<hex HMAC>`` in constant time, SignatureError if not."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    scheme, _, given = header.strip().partition("=")
    if scheme != "sha256" or not given:
        raise SignatureError("X-Hub-Signature-256 must read sha256=<hex digest>")
    expected = hmac_sha256_hex(secret.encode("utf-8"), body)
    if not hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace")):
        raise SignatureError("X-Hub-Signature-256 does not match the body")


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The ``X-GitHub-Delivery`` GUID (the same on a redelivery)."""
    return headers.get(DELIVERY_HEADER) or None


class _Context:
    """What every mapping of one payload needs: repository, config, ticket finder."""

    def __init__(self, payload: Mapping[str, Any], config: SourceConfig) -> None:
        self.payload = payload
        self.config = config
        repo = at(payload, "repository")
        self.repo = text(at(repo, "full_name")) or "unknown/unknown"
        self.repo_url = text(at(repo, "html_url")) or f"https://github.com/{self.repo}"
        self.sender = text(at(payload, "sender", "login"))
        self.tickets = TicketFinder(config, forge=NAME, repo=self.repo)

    @property
    def repository(self) -> dict[str, str]:
        return {"id": self.repo, "source": self.repo_url}

    def change_id(self, number: Any) -> str:
        return f"{self.repo}#{number}"

    def purl(self, version: str) -> str:
        return f"pkg:github/{self.repo}@{version}"


def _person(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k in ("name", "email", "username") if isinstance(v := value.get(k), str)}


def _branch_or_tag(ref: str) -> tuple[str | None, str | None]:
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :], None
    if ref.startswith("refs/tags/"):
        return None, ref[len("refs/tags/") :]
    return None, None


def _ref_event(
    cx: _Context,
    *,
    branch: str | None,
    tag: str | None,
    created: bool,
    sha: str | None,
    when: str | None,
) -> Derived | None:
    refs: dict[str, Any] = {"repo": cx.repo, "actor": cx.sender}
    if branch is not None:
        keys, links = cx.tickets(branch)
        refs.update(branch=branch, tickets=keys, commit=sha)
        return Derived(
            BRANCH_CREATED if created else BRANCH_DELETED,
            branch,
            {"repository": cx.repository},
            when,
            refs,
            {"sha": sha, "tickets": links or None},
        )
    if tag is not None:
        content: dict[str, Any] = {"repository": cx.repository, "tag": tag}
        if sha:
            content["sha"] = sha
        if cx.sender:
            content["actor"] = cx.sender
        refs["commit"] = sha
        return Derived(
            TAG_CREATED if created else TAG_DELETED, f"{cx.repo}@{tag}", content, when, refs
        )
    return None


def _push(cx: _Context) -> list[Derived]:
    p = cx.payload
    ref = text(p.get("ref")) or ""
    branch, tag = _branch_or_tag(ref)
    before, after = text(p.get("before")), text(p.get("after"))
    forced = p.get("forced") is True
    pusher = text(at(p, "pusher", "name")) or cx.sender
    out: list[Derived] = []
    head_time = rfc3339(at(p, "head_commit", "timestamp"))
    if p.get("created") is True or p.get("deleted") is True:
        created = p.get("created") is True
        sha = after if created else before
        event = _ref_event(cx, branch=branch, tag=tag, created=created, sha=sha, when=head_time)
        if event is not None:
            out.append(event)
    # One repository object for every commit of the push (events are never changed).
    repository, shown_ref = cx.repository, ref or "unknown"
    for commit in p.get("commits") or []:
        sha = text(at(commit, "id"))
        if sha is None:
            continue
        message = at(commit, "message")
        if not isinstance(message, str):
            message = ""
        added, modified = strings(commit.get("added")), strings(commit.get("modified"))
        removed = strings(commit.get("removed"))
        keys, links = cx.tickets(message, branch)
        when = rfc3339(commit.get("timestamp"))
        content: dict[str, Any] = {
            "sha": sha,
            "repository": repository,
            "ref": shown_ref,
            "message": message,
            "author": _person(commit.get("author")),
            "committer": _person(commit.get("committer")),
            "added": added,
            "modified": modified,
            "removed": removed,
            "forced": forced,
        }
        for key, value in (
            ("branch", branch),
            ("timestamp", when),
            ("uri", text(commit.get("url"))),
            ("before", before),
            ("after", after),
            ("pusher", pusher),
        ):
            if value:
                content[key] = value
        author = text(at(commit, "author", "username")) or text(at(commit, "author", "name"))
        out.append(
            Derived(
                COMMIT_PUSHED,
                sha,
                content,
                when,
                {
                    "repo": cx.repo,
                    "commit": sha,
                    "branch": branch,
                    "tickets": keys,
                    "systems": cx.config.systems_of([*added, *modified, *removed]),
                    "actor": author,
                },
                {"tickets": links or None, "tag": tag},
            )
        )
    return out


def _create_delete(created: bool) -> Callable[[_Context], list[Derived]]:
    def mapping(cx: _Context) -> list[Derived]:
        name = text(cx.payload.get("ref")) or ""
        kind = cx.payload.get("ref_type")
        branch = name if kind == "branch" else None
        tag = name if kind == "tag" else None
        event = _ref_event(cx, branch=branch, tag=tag, created=created, sha=None, when=None)
        return [event] if event is not None else []

    return mapping


def _pull_request(cx: _Context) -> list[Derived]:
    p = cx.payload
    pr = at(p, "pull_request")
    action = p.get("action")
    if not isinstance(pr, dict):
        return []
    if action in ("opened", "reopened"):
        kind = CHANGE_CREATED
    elif action in ("synchronize", "edited", "ready_for_review", "converted_to_draft"):
        kind = CHANGE_UPDATED
    elif action == "closed":
        kind = CHANGE_MERGED if pr.get("merged") is True else CHANGE_ABANDONED
    else:
        return []
    return [_change(cx, pr, kind, action)]


def _change(
    cx: _Context,
    pr: Mapping[str, Any],
    kind: str,
    action: Any,
    review: Mapping[str, Any] | None = None,
) -> Derived:
    number = pr.get("number")
    title = text(pr.get("title"))
    head = text(at(pr, "head", "ref"))
    keys, links = cx.tickets(title, head)
    content: dict[str, Any] = {"repository": cx.repository}
    if kind == CHANGE_CREATED and title:
        content["description"] = title
    merged_by = text(at(pr, "merged_by", "login"))
    author = text(at(pr, "user", "login"))
    actor: list[str] = [a for a in (author, merged_by, cx.sender) if a]
    details: dict[str, Any] = {
        "action": action,
        "number": number,
        "title": title,
        "author": author,
        "state": pr.get("state"),
        "merged": pr.get("merged"),
        "mergedBy": merged_by,
        "mergeCommitSha": text(pr.get("merge_commit_sha")) if pr.get("merged") else None,
        "baseBranch": text(at(pr, "base", "ref")),
        "headBranch": head,
        "headSha": text(at(pr, "head", "sha")),
        "url": text(pr.get("html_url")),
        "tickets": links or None,
    }
    when = rfc3339(pr.get("merged_at") if kind == CHANGE_MERGED else pr.get("updated_at"))
    if review is not None:
        reviewer = text(at(review, "user", "login"))
        details.update(
            reviewer=reviewer,
            verdict=text(review.get("state")),
            reviewBody=text(review.get("body")),
        )
        actor = [a for a in (reviewer,) if a]
        when = rfc3339(review.get("submitted_at")) or when
    commits = [c for c in (details["headSha"], details["mergeCommitSha"]) if c]
    return Derived(
        kind,
        cx.change_id(number),
        content,
        when,
        {
            "repo": cx.repo,
            "change": cx.change_id(number),
            "branch": head,
            "commit": commits,
            "tickets": keys,
            "actor": sorted(set(actor)),
        },
        details,
    )


def _review(cx: _Context) -> list[Derived]:
    p = cx.payload
    pr, review = at(p, "pull_request"), at(p, "review")
    if p.get("action") != "submitted" or not isinstance(pr, dict) or not isinstance(review, dict):
        return []
    return [_change(cx, pr, CHANGE_REVIEWED, p.get("action"), review)]


def _outcome(conclusion: Any) -> str:
    return _OUTCOMES.get(conclusion, "error") if isinstance(conclusion, str) else "error"


def _run_id(cx: _Context, run: Any) -> str:
    return f"{cx.repo}/actions/runs/{at(run, 'id')}"


def _workflow_run(cx: _Context) -> list[Derived]:
    p = cx.payload
    run = at(p, "workflow_run")
    if not isinstance(run, dict):
        return []
    action = p.get("action")
    name = text(run.get("name")) or text(at(p, "workflow", "name")) or "workflow"
    uri = text(run.get("html_url")) or cx.repo_url
    content: dict[str, Any] = {"pipelineName": name, "uri": uri}
    if action == "requested":
        kind, when = PIPELINE_QUEUED, rfc3339(run.get("created_at"))
    elif action == "in_progress":
        kind, when = PIPELINE_STARTED, rfc3339(run.get("run_started_at"))
    elif action == "completed":
        kind, when = PIPELINE_FINISHED, rfc3339(run.get("updated_at"))
        content["outcome"] = _outcome(run.get("conclusion"))
        if content["outcome"] != "success":
            content["errors"] = f"conclusion: {run.get('conclusion')}"
    else:
        return []
    branch = text(run.get("head_branch"))
    message = text(at(run, "head_commit", "message"))
    keys, links = cx.tickets(text(run.get("display_title")), message, branch)
    changes = [
        cx.change_id(pr.get("number"))
        for pr in run.get("pull_requests") or []
        if isinstance(pr, dict) and pr.get("number") is not None
    ]
    return [
        Derived(
            kind,
            _run_id(cx, run),
            content,
            when,
            {
                "repo": cx.repo,
                "commit": text(run.get("head_sha")),
                "branch": branch,
                "change": changes,
                "pipelineRun": _run_id(cx, run),
                "tickets": keys,
                "actor": text(at(run, "actor", "login")) or cx.sender,
            },
            {
                "status": run.get("status"),
                "conclusion": run.get("conclusion"),
                "event": run.get("event"),
                "runNumber": run.get("run_number"),
                "runAttempt": run.get("run_attempt"),
                "workflowPath": text(run.get("path")),
                "tickets": links or None,
            },
        )
    ]


def _task(
    cx: _Context,
    *,
    subject: str,
    name: str,
    uri: str | None,
    pipeline: str | None,
    status: Any,
    conclusion: Any,
    when: str | None,
    refs: dict[str, Any],
    details: dict[str, Any],
) -> Derived | None:
    content: dict[str, Any] = {"taskName": name}
    if uri:
        content["uri"] = uri
    if pipeline:
        content["pipelineRun"] = {"id": pipeline}
    if status in ("queued", "waiting", "requested", "pending"):
        kind = TASK_QUEUED
    elif status == "in_progress":
        kind = TASK_STARTED
    elif status == "completed":
        kind = TASK_FINISHED
        content["outcome"] = _outcome(conclusion)
        if content["outcome"] != "success":
            content["errors"] = f"conclusion: {conclusion}"
    else:
        return None
    refs = {"repo": cx.repo, "pipelineRun": pipeline, "actor": cx.sender, **refs}
    return Derived(
        kind, subject, content, when, refs, {"status": status, "conclusion": conclusion, **details}
    )


def _workflow_job(cx: _Context) -> list[Derived]:
    job = at(cx.payload, "workflow_job")
    if not isinstance(job, dict):
        return []
    status = job.get("status")
    when = (
        rfc3339(job.get("completed_at"))
        or rfc3339(job.get("started_at"))
        or rfc3339(job.get("created_at"))
    )
    event = _task(
        cx,
        subject=f"{cx.repo}/actions/jobs/{job.get('id')}",
        name=text(job.get("name")) or "job",
        uri=text(job.get("html_url")),
        pipeline=f"{cx.repo}/actions/runs/{job.get('run_id')}",
        status=status,
        conclusion=job.get("conclusion"),
        when=when,
        refs={"commit": text(job.get("head_sha")), "branch": text(job.get("head_branch"))},
        details={
            "workflowName": text(job.get("workflow_name")),
            "runnerName": text(job.get("runner_name")),
            "labels": strings(job.get("labels")) or None,
            "runAttempt": job.get("run_attempt"),
        },
    )
    return [event] if event is not None else []


def _check_run(cx: _Context) -> list[Derived]:
    run = at(cx.payload, "check_run")
    if not isinstance(run, dict):
        return []
    suite = at(run, "check_suite", "id")
    when = rfc3339(run.get("completed_at")) or rfc3339(run.get("started_at"))
    changes = [
        cx.change_id(pr.get("number"))
        for pr in run.get("pull_requests") or []
        if isinstance(pr, dict) and pr.get("number") is not None
    ]
    event = _task(
        cx,
        subject=f"{cx.repo}/check-runs/{run.get('id')}",
        name=text(run.get("name")) or "check",
        uri=text(run.get("html_url")),
        pipeline=f"{cx.repo}/check-suites/{suite}" if suite is not None else None,
        status=run.get("status"),
        conclusion=run.get("conclusion"),
        when=when,
        refs={
            "commit": text(run.get("head_sha")),
            "branch": text(at(run, "check_suite", "head_branch")),
            "change": changes,
        },
        details={
            "app": text(at(run, "app", "slug")),
            "action": cx.payload.get("action"),
            "title": text(at(run, "output", "title")),
        },
    )
    return [event] if event is not None else []


def _check_suite(cx: _Context) -> list[Derived]:
    p = cx.payload
    suite = at(p, "check_suite")
    if not isinstance(suite, dict):
        return []
    subject = f"{cx.repo}/check-suites/{suite.get('id')}"
    name = text(at(suite, "app", "name")) or "check suite"
    content: dict[str, Any] = {"pipelineName": name}
    if p.get("action") in ("requested", "rerequested"):
        kind, when = PIPELINE_QUEUED, rfc3339(suite.get("created_at"))
    elif p.get("action") == "completed":
        kind, when = PIPELINE_FINISHED, rfc3339(suite.get("updated_at"))
        content["outcome"] = _outcome(suite.get("conclusion"))
        if content["outcome"] != "success":
            content["errors"] = f"conclusion: {suite.get('conclusion')}"
    else:
        return []
    branch = text(suite.get("head_branch"))
    keys, links = cx.tickets(text(at(suite, "head_commit", "message")), branch)
    return [
        Derived(
            kind,
            subject,
            content,
            when,
            {
                "repo": cx.repo,
                "commit": text(suite.get("head_sha")),
                "branch": branch,
                "pipelineRun": subject,
                "tickets": keys,
                "actor": cx.sender,
            },
            {
                "status": suite.get("status"),
                "conclusion": suite.get("conclusion"),
                "tickets": links or None,
            },
        )
    ]


def _status(cx: _Context) -> list[Derived]:
    p = cx.payload
    sha = text(p.get("sha"))
    state = text(p.get("state")) or "unknown"
    context = text(p.get("context")) or "status"
    status = {"pending": "in_progress"}.get(state, "completed")
    conclusion = {"error": "timed_out"}.get(state, state) if status == "completed" else None
    branches = [
        b["name"]
        for b in p.get("branches") or []
        if isinstance(b, dict) and isinstance(b.get("name"), str)
    ]
    event = _task(
        cx,
        subject=f"{cx.repo}/statuses/{sha}/{context}",
        name=context,
        uri=text(p.get("target_url")),
        pipeline=None,
        status=status,
        conclusion=conclusion,
        when=rfc3339(p.get("updated_at")),
        refs={"commit": sha, "branch": branches},
        details={"state": state, "description": text(p.get("description"))},
    )
    return [event] if event is not None else []


def _deployment_event(
    cx: _Context, deployment: Mapping[str, Any], state: str, status: Mapping[str, Any] | None
) -> Derived:
    env = text((status or {}).get("environment")) or text(deployment.get("environment"))
    env = env or "unknown"
    sha = text(deployment.get("sha"))
    ref = text(deployment.get("ref"))
    creator = text(at(status or deployment, "creator", "login")) or cx.sender
    artifact = cx.purl(sha) if sha else None
    details = {
        "deploymentId": deployment.get("id"),
        "state": state,
        "task": text(deployment.get("task")),
        "ref": ref,
        "sha": sha,
        "creator": creator,
        "deploymentCreator": text(at(deployment, "creator", "login")),
        "description": text((status or deployment).get("description")),
        "targetUrl": text((status or {}).get("target_url")),
    }
    refs = {
        "repo": cx.repo,
        "commit": sha,
        "environment": env,
        "service": cx.repo,
        "actor": creator,
        "artifact": artifact,
    }
    when = rfc3339((status or deployment).get("updated_at"))
    if state == "success" and artifact:
        return Derived(
            SERVICE_DEPLOYED,
            cx.repo,
            {"environment": {"id": env}, "artifactId": artifact},
            when,
            refs,
            details,
        )
    content: dict[str, Any] = {"environment": {"id": env}, "state": state}
    for key, value in (("ref", ref), ("sha", sha), ("creator", creator), ("artifactId", artifact)):
        if value:
            content[key] = value
    subject = f"{cx.repo}/deployments/{deployment.get('id')}"
    return Derived(DEPLOYMENT_UPDATED, subject, content, when, refs, details)


def _deployment(cx: _Context) -> list[Derived]:
    deployment = at(cx.payload, "deployment")
    if not isinstance(deployment, dict) or cx.payload.get("action") != "created":
        return []
    return [_deployment_event(cx, deployment, "created", None)]


def _deployment_status(cx: _Context) -> list[Derived]:
    deployment, status = at(cx.payload, "deployment"), at(cx.payload, "deployment_status")
    if not isinstance(deployment, dict) or not isinstance(status, dict):
        return []
    return [_deployment_event(cx, deployment, text(status.get("state")) or "unknown", status)]


def _release(cx: _Context) -> list[Derived]:
    p = cx.payload
    release = at(p, "release")
    if p.get("action") not in ("published", "released") or not isinstance(release, dict):
        return []
    tag = text(release.get("tag_name")) or "unknown"
    user = text(at(release, "author", "login"))
    keys, links = cx.tickets(text(release.get("name")), text(release.get("body")))
    return [
        Derived(
            ARTIFACT_PUBLISHED,
            cx.purl(tag),
            {"user": user} if user else {},
            rfc3339(release.get("published_at")),
            {"repo": cx.repo, "artifact": cx.purl(tag), "actor": user, "tickets": keys},
            {
                "tag": tag,
                "name": text(release.get("name")),
                "url": text(release.get("html_url")),
                "prerelease": release.get("prerelease"),
                "target": text(release.get("target_commitish")),
                "tickets": links or None,
            },
        )
    ]


_MAPPINGS: Mapping[str, Callable[[_Context], list[Derived]]] = {
    "push": _push,
    "create": _create_delete(created=True),
    "delete": _create_delete(created=False),
    "pull_request": _pull_request,
    "pull_request_review": _review,
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "status": _status,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "release": _release,
}
MAPPED_EVENTS = tuple(_MAPPINGS)


def map_payload(event: str, payload: Mapping[str, Any], config: SourceConfig) -> list[Derived]:
    """The events a GitHub delivery of ``event`` states; empty when the type is not mapped."""
    mapping = _MAPPINGS.get(event)
    return mapping(_Context(payload, config)) if mapping is not None else []


def repo_refs(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Refs of the delivery event itself: the repository and the sender."""
    return {
        "repo": text(at(payload, "repository", "full_name")),
        "actor": text(at(payload, "sender", "login")),
    }


# The object each mapped event's payload must carry: a payload without it was sent
# under the wrong X-GitHub-Event header.
_SHAPES = {
    "push": "commits",
    "create": "ref_type",
    "delete": "ref_type",
    "pull_request": "pull_request",
    "pull_request_review": "review",
    "workflow_run": "workflow_run",
    "workflow_job": "workflow_job",
    "check_run": "check_run",
    "check_suite": "check_suite",
    "status": "state",
    "deployment": "deployment",
    "deployment_status": "deployment_status",
    "release": "release",
    "ping": "zen",
}


def check_shape(event: str, payload: Mapping[str, Any]) -> None:
    """InputError when ``payload`` lacks what an ``event`` delivery always carries."""
    key = _SHAPES.get(event)
    if key is not None and key not in payload:
        raise InputError(
            f"X-GitHub-Event says {event!r} but the payload has no {key!r}; "
            "the event header does not match the body"
        )


class GitHubSource(WebhookSource):
    """GitHub: ``X-Hub-Signature-256``, ``X-GitHub-Event``, ``X-GitHub-Delivery``."""

    name = NAME
    title = "GitHub"
    summary = "Receive a GitHub webhook delivery (X-Hub-Signature-256)"
    secret_headers = SECRET_HEADERS
    events_to_tick = EVENTS_TO_TICK
    probe_events = ("ping",)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str | None) -> None:
        """Check the HMAC signature of the body (SignatureError)."""
        if secret is None:
            raise SignatureError(f"no {NAME} secret is configured")
        verify_signature(secret, body, headers.get(SIGNATURE_HEADER))

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The ``X-GitHub-Delivery`` GUID."""
        return delivery_id(headers)

    def accept(self, headers: Mapping[str, str], body: bytes) -> Accepted:
        """The event header, the delivery GUID and a payload of the event's shape."""
        event = header_value(headers, EVENT_HEADER, "X-GitHub-Event")
        delivery = header_value(headers, DELIVERY_HEADER, "X-GitHub-Delivery")
        payload, exact = json_payload(body)
        check_shape(event, payload)
        kept = headers_to_keep(headers, SECRET_HEADERS)
        return Accepted(NAME, event, event, delivery, payload, kept, body, exact)

    def derive(
        self, accepted: Accepted, config: SourceConfig
    ) -> tuple[dict[str, Any], list[Derived]]:
        """The repository and sender, and the events the payload states."""
        payload = accepted.payload
        return repo_refs(payload), map_payload(accepted.kind, payload, config)

    def setup_text(self, url: str, secret: str) -> list[str]:
        """The fields of GitHub's "Add webhook" form."""
        return [
            f"Payload URL:   {url}",
            "Content type:  application/json",
            f"Secret:        {secret}",
            "Events:        " + ", ".join(EVENTS_TO_TICK),
        ]


SOURCE = GitHubSource()
