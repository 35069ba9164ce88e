"""Bearer tokens at the HTTP edge: 401 without a valid token, 403 without the scope."""

from __future__ import annotations

import httpx
import pytest

from flightlog.auth.tokens import revoke_token
from tests.server.events import deployed
from tests.server.harness import Api, problem

# (method, path) of one endpoint per scope.
INGEST = ("POST", "/api/v1/events")
READ = ("GET", "/api/v1/events")
ADMIN = ("POST", "/api/v1/checkpoint")


def _call(api: Api, endpoint: tuple[str, str], headers: dict[str, str]) -> httpx.Response:
    method, path = endpoint
    kwargs = {"json": deployed(1)} if endpoint == INGEST else {}
    return api.client.request(method, path, headers=headers, **kwargs)


class TestBearerAuth:
    """Who may call what."""

    @pytest.mark.parametrize("endpoint", [INGEST, READ, ADMIN])
    def test_no_token_is_a_401_with_a_bare_challenge(
        self, sqlite_api: Api, endpoint: tuple[str, str]
    ) -> None:
        """Without Authorization every scoped endpoint answers 401 and WWW-Authenticate: Bearer."""
        r = _call(sqlite_api, endpoint, {})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert problem(r)["detail"] == "missing bearer token"

    def test_unknown_token_is_a_401_naming_invalid_token(self, sqlite_api: Api) -> None:
        """A made-up token answers 401 with error=invalid_token (RFC 6750 §3.1)."""
        r = sqlite_api.client.get("/api/v1/events", headers=sqlite_api.auth("fl_" + "A" * 43))
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert problem(r)["detail"] == "invalid bearer token"

    def test_basic_auth_is_not_a_bearer_token(self, sqlite_api: Api) -> None:
        """Authorization: Basic … answers 401 like a missing token."""
        r = sqlite_api.client.get("/api/v1/events", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"

    def test_wrong_scope_is_a_403(self, sqlite_api: Api) -> None:
        """A read token posting an event answers 403 with insufficient_scope and writes nothing."""
        r = sqlite_api.client.post(
            "/api/v1/events", json=deployed(1), headers=sqlite_api.auth(sqlite_api.token("read"))
        )
        assert r.status_code == 403
        assert r.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
        assert "'ingest'" in problem(r)["detail"]
        assert sqlite_api.flightlog.tree_size() == 0

    def test_ingest_token_cannot_read(self, sqlite_api: Api) -> None:
        """An ingest-only token reading events answers 403."""
        r = sqlite_api.client.get(
            "/api/v1/events", headers=sqlite_api.auth(sqlite_api.token("ingest"))
        )
        assert r.status_code == 403

    def test_scoped_tokens_reach_their_endpoints(self, sqlite_api: Api) -> None:
        """ingest posts (201) and read lists (200) with their own tokens."""
        ingest, read = sqlite_api.token("ingest"), sqlite_api.token("read")
        assert (
            sqlite_api.client.post(
                "/api/v1/events", json=deployed(1), headers=sqlite_api.auth(ingest)
            ).status_code
            == 201
        )
        r = sqlite_api.client.get("/api/v1/events", headers=sqlite_api.auth(read))
        assert [e["index"] for e in r.json()["events"]] == [0]

    def test_admin_implies_every_scope(self, sqlite_api: Api) -> None:
        """The admin token ingests, reads and cuts checkpoints."""
        h = sqlite_api.auth()
        assert (
            sqlite_api.client.post("/api/v1/events", json=deployed(1), headers=h).status_code == 201
        )
        assert sqlite_api.client.get("/api/v1/events/0", headers=h).status_code == 200
        assert sqlite_api.client.post("/api/v1/checkpoint", headers=h).json()["tree_size"] == 1

    def test_revoked_token_is_a_401(self, sqlite_api: Api) -> None:
        """After revocation (and the cache dropped) the token answers 401 'revoked'."""
        token = sqlite_api.token("read", name="ci")
        assert (
            sqlite_api.client.get("/api/v1/events", headers=sqlite_api.auth(token)).status_code
            == 200
        )
        revoke_token(sqlite_api.flightlog.tokens, "ci")
        sqlite_api.state.token_cache.forget()
        r = sqlite_api.client.get("/api/v1/events", headers=sqlite_api.auth(token))
        assert r.status_code == 401
        assert problem(r)["detail"] == "bearer token was revoked"

    def test_unauthenticated_endpoints(self, sqlite_api: Api) -> None:
        """healthz, readyz, metrics and key answer without a token."""
        for path in ("/healthz", "/readyz", "/metrics", "/api/v1/key"):
            assert sqlite_api.client.get(path).status_code == 200, path
