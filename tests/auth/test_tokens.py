"""Scoped API tokens over a real store's ``tokens`` table."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flightlog.auth.tokens import (
    TokenCache,
    TokenInfo,
    authenticate,
    create_token,
    ensure_first_admin,
    list_tokens,
    normalise_scopes,
    require_scope,
    revoke_token,
)
from flightlog.config import Settings
from flightlog.errors import AuthError, ForbiddenError, InputError, NotFound
from flightlog.service import Flightlog
from flightlog.store.schema import tokens
from flightlog.store.tokens import TokenStore


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    """The engine of a freshly migrated store (SQLite and PostgreSQL)."""
    service = Flightlog.open(settings)
    try:
        yield service.store.engine
    finally:
        service.close()


class TestCreateToken:
    """create_token."""

    def test_secret_has_prefix_and_only_its_digest_is_stored(self, engine: sa.Engine) -> None:
        """The secret is fl_ + 43 url-safe characters; the table holds its SHA-256 only."""
        secret = create_token(TokenStore(engine), "ci", ["ingest"])
        assert secret.startswith("fl_")
        assert len(secret) == 3 + 43
        with engine.connect() as conn:
            row = conn.execute(sa.select(tokens)).one()
        assert row.token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in repr(tuple(row))
        assert row.scopes == "ingest"

    def test_two_tokens_never_share_a_secret(self, engine: sa.Engine) -> None:
        """Secrets come from the CSPRNG: two are different."""
        assert create_token(TokenStore(engine), "a", ["read"]) != create_token(
            TokenStore(engine), "b", ["read"]
        )

    def test_duplicate_name_is_refused(self, engine: sa.Engine) -> None:
        """A second token named ci raises InputError."""
        create_token(TokenStore(engine), "ci", ["read"])
        with pytest.raises(InputError, match="'ci' already exists"):
            create_token(TokenStore(engine), "ci", ["ingest"])

    def test_unknown_scope_is_refused(self, engine: sa.Engine) -> None:
        """Scope 'write' is not one of ingest/read/admin."""
        with pytest.raises(InputError, match="unknown scope 'write'"):
            create_token(TokenStore(engine), "ci", ["write"])

    def test_blank_name_is_refused(self, engine: sa.Engine) -> None:
        """A name of spaces raises InputError."""
        with pytest.raises(InputError, match="token name"):
            create_token(TokenStore(engine), "  ", ["read"])


class TestNormaliseScopes:
    """normalise_scopes."""

    def test_dedupes_and_orders(self) -> None:
        """read, INGEST, read becomes (ingest, read)."""
        assert normalise_scopes(["read", "INGEST", "read"]) == ("ingest", "read")

    def test_no_scope_is_refused(self) -> None:
        """An empty list raises InputError."""
        with pytest.raises(InputError, match="at least one scope"):
            normalise_scopes([])


class TestAuthenticate:
    """authenticate."""

    def test_valid_secret_returns_its_token(self, engine: sa.Engine) -> None:
        """The secret maps back to its name and scopes."""
        secret = create_token(TokenStore(engine), "deployer", ["ingest", "read"])
        info = authenticate(TokenStore(engine), secret)
        assert (info.name, info.scopes, info.revoked_at) == ("deployer", ("ingest", "read"), None)

    @pytest.mark.parametrize("secret", [None, ""])
    def test_missing_secret(self, engine: sa.Engine, secret: str | None) -> None:
        """No secret raises AuthError 'missing'."""
        with pytest.raises(AuthError, match="missing bearer token"):
            authenticate(TokenStore(engine), secret)

    @pytest.mark.parametrize("secret", ["fl_unknown", "not-a-token"])
    def test_unknown_secret(self, engine: sa.Engine, secret: str) -> None:
        """A secret that was never issued raises AuthError 'invalid'."""
        create_token(TokenStore(engine), "ci", ["read"])
        with pytest.raises(AuthError, match="invalid bearer token"):
            authenticate(TokenStore(engine), secret)

    def test_revoked_secret(self, engine: sa.Engine) -> None:
        """A revoked token raises AuthError 'revoked'."""
        secret = create_token(TokenStore(engine), "ci", ["read"])
        revoke_token(TokenStore(engine), "ci")
        with pytest.raises(AuthError, match="revoked"):
            authenticate(TokenStore(engine), secret)


class TestScopes:
    """TokenInfo.allows and require_scope."""

    def test_admin_implies_all(self) -> None:
        """admin allows ingest, read and admin."""
        info = TokenInfo("root", ("admin",), "2026-01-01T00:00:00Z")
        assert all(info.allows(s) for s in ("ingest", "read", "admin"))

    def test_read_does_not_imply_ingest(self) -> None:
        """A read token lacks ingest: ForbiddenError names the scope."""
        info = TokenInfo("r", ("read",), "2026-01-01T00:00:00Z")
        require_scope(info, "read")
        with pytest.raises(ForbiddenError, match="lacks the 'ingest' scope"):
            require_scope(info, "ingest")


class TestListAndRevoke:
    """list_tokens and revoke_token."""

    def test_lists_in_creation_order_with_revocations(self, engine: sa.Engine) -> None:
        """Two tokens are listed in order; the revoked one has revoked_at."""
        create_token(TokenStore(engine), "a", ["read"])
        create_token(TokenStore(engine), "b", ["admin"])
        revoked = revoke_token(TokenStore(engine), "a")
        infos = list_tokens(TokenStore(engine))
        assert [(t.name, t.scopes) for t in infos] == [("a", ("read",)), ("b", ("admin",))]
        assert infos[0].revoked_at == revoked.revoked_at is not None
        assert infos[1].revoked_at is None

    def test_revoking_unknown_name_is_not_found(self, engine: sa.Engine) -> None:
        """revoke_token('nope') raises NotFound."""
        with pytest.raises(NotFound, match="'nope'"):
            revoke_token(TokenStore(engine), "nope")


class TestTokenCache:
    """The short-lived authentication cache."""

    def test_hits_within_ttl_and_refreshes_after(self) -> None:
        """Within the TTL the lookup runs once; after it, again."""
        now = [0.0]
        calls: list[str] = []

        def lookup(secret: str) -> TokenInfo:
            calls.append(secret)
            return TokenInfo("ci", ("read",), "t")

        cache = TokenCache(lookup, ttl=5.0, clock=lambda: now[0])
        cache.authenticate("fl_x")
        now[0] = 4.9
        cache.authenticate("fl_x")
        assert calls == ["fl_x"]
        now[0] = 5.1
        cache.authenticate("fl_x")
        assert calls == ["fl_x", "fl_x"]

    def test_failures_are_not_cached(self) -> None:
        """A failed lookup raises each time and is retried."""
        calls: list[str] = []

        def lookup(secret: str) -> TokenInfo:
            calls.append(secret)
            raise AuthError("invalid bearer token")

        cache = TokenCache(lookup)
        for _ in range(2):
            with pytest.raises(AuthError):
                cache.authenticate("fl_bad")
        assert len(calls) == 2

    def test_evicts_least_recently_used(self) -> None:
        """With maxsize 2, a third token evicts the oldest one."""
        calls: list[str] = []

        def lookup(secret: str) -> TokenInfo:
            calls.append(secret)
            return TokenInfo(secret, ("read",), "t")

        cache = TokenCache(lookup, maxsize=2)
        for secret in ("fl_a", "fl_b", "fl_c", "fl_b", "fl_a"):
            cache.authenticate(secret)
        assert calls == ["fl_a", "fl_b", "fl_c", "fl_a"]


class TestEnsureFirstAdmin:
    """The first admin token on a store without tokens."""

    def test_creates_admin_and_writes_a_0600_file(self, engine: sa.Engine, tmp_path: Path) -> None:
        """On an empty store, admin is created and its secret written with mode 0600."""
        path = tmp_path / "home" / "admin.token"
        assert ensure_first_admin(TokenStore(engine), path) is True
        secret = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert authenticate(TokenStore(engine), secret).scopes == ("admin",)

    def test_does_nothing_when_tokens_exist(self, engine: sa.Engine, tmp_path: Path) -> None:
        """With a token present, no admin is created and no file written."""
        create_token(TokenStore(engine), "ci", ["read"])
        path = tmp_path / "admin.token"
        assert ensure_first_admin(TokenStore(engine), path) is False
        assert not path.exists()
        assert [t.name for t in list_tokens(TokenStore(engine))] == ["ci"]

    def test_replaces_a_stale_file(self, engine: sa.Engine, tmp_path: Path) -> None:
        """A file left by an earlier store is replaced by the new, valid token."""
        path = tmp_path / "admin.token"
        path.write_text("fl_stale\n")
        assert ensure_first_admin(TokenStore(engine), path) is True
        assert authenticate(TokenStore(engine), path.read_text().strip()).name == "admin"
