"""Signed webhook deliveries as GitHub and GitLab send them, for the HTTP tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.paths import corpus_files
from tests.server.harness import Api

GITHUB_SECRET = "gh-test-secret-0123456789"
GITLAB_SECRET = "gl-test-token-0123456789"
GITHUB_FILES = corpus_files("github-webhooks", "*.json")
GITLAB_FILES = corpus_files("gitlab-webhooks", "*.json")
STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-key-32-bytes!!").decode()


def add_sources(api: Api, gitlab_secret: str = GITLAB_SECRET) -> None:
    """Configure both forges with the test secrets."""
    sources = api.flightlog.webhook_sources
    sources.add("github", GITHUB_SECRET)
    sources.add("gitlab", gitlab_secret)


def github_body(path: Path) -> bytes:
    """The body GitHub sent for a corpus file (a Probot envelope holds it under ``payload``)."""
    data = path.read_bytes()
    doc = json.loads(data)
    if {"name", "id", "payload"} <= doc.keys():
        return json.dumps(doc["payload"], indent=2).encode()
    return data


def github_event(path: Path) -> str:
    """The X-GitHub-Event of a corpus file, from its name."""
    return path.name.split(".", 1)[0]


def github_headers(
    body: bytes, event: str, delivery: str | None = None, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    """Headers of a GitHub delivery of ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc123",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "42",
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def post_github(
    api: Api, body: bytes, event: str, delivery: str | None = None, **headers: str
) -> httpx.Response:
    """POST a signed GitHub delivery."""
    sent = github_headers(body, event, delivery)
    sent.update(headers)
    return api.client.post("/webhooks/github", content=body, headers=sent)


def gitlab_hook(path: Path) -> str:
    """The X-Gitlab-Event header GitLab sends with a corpus payload."""
    kind = json.loads(path.read_bytes())["object_kind"]
    return {
        "push": "Push Hook",
        "tag_push": "Tag Push Hook",
        "merge_request": "Merge Request Hook",
        "pipeline": "Pipeline Hook",
        "build": "Job Hook",
        "deployment": "Deployment Hook",
        "release": "Release Hook",
    }[kind]


def post_gitlab(
    api: Api, body: bytes, hook: str, uuid_: str | None = None, **headers: str
) -> httpx.Response:
    """POST a GitLab delivery with the X-Gitlab-Token."""
    sent = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": hook,
        "X-Gitlab-Token": GITLAB_SECRET,
        "X-Gitlab-Event-UUID": uuid_ or str(uuid.uuid4()),
        "X-Gitlab-Instance": "https://gitlab.example.com",
    }
    sent.update(headers)
    return api.client.post("/webhooks/gitlab", content=body, headers=sent)


def standard_headers(
    body: bytes, msg_id: str, *, secret: str = STANDARD_SECRET, at: float | None = None
) -> dict[str, str]:
    """Standard Webhooks headers signing ``body``."""
    stamp = str(int(time.time() if at is None else at))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def entries(api: Api) -> list[dict[str, Any]]:
    """Every entry's show-document, in ledger order."""
    return [api.flightlog.show(i).to_wire() for i in range(api.flightlog.tree_size())]


def dig(doc: Any, dotted: str) -> Any:
    """The value at a dotted path (list items by number)."""
    for part in dotted.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc
