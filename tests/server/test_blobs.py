"""``POST /api/v1/blobs`` keeps a report's exact bytes; ``GET`` gives them back."""

from __future__ import annotations

import hashlib

from flightlog.config import Settings
from flightlog.server.app import create_app
from tests.server.harness import Api, admin_token, problem, serving

REPORT = b'<?xml version="1.0"?>\n<testsuite tests="1"><testcase name="t"/></testsuite>\r\n\x00'


class TestPutBlob:
    """Uploads with an ingest token."""

    def test_upload_then_fetch_the_exact_bytes(self, api: Api) -> None:
        """201 with the digest, size and media type; GET returns the same bytes and type."""
        token = api.token("ingest")
        r = api.client.post(
            "/api/v1/blobs",
            content=REPORT,
            headers={**api.auth(token), "Content-Type": "application/xml; charset=utf-8"},
        )
        digest = hashlib.sha256(REPORT).hexdigest()
        assert r.status_code == 201
        assert r.json() == {"sha256": digest, "size": len(REPORT), "media_type": "application/xml"}
        assert r.headers["location"] == f"/api/v1/blobs/{digest}"
        back = api.client.get(f"/api/v1/blobs/{digest}", headers=api.auth(api.token("read")))
        assert back.status_code == 200
        assert back.content == REPORT
        assert back.headers["content-type"].startswith("application/xml")

    def test_uploading_again_is_idempotent(self, api: Api) -> None:
        """The same bytes again answer 200 with the same digest and keep the first media type."""
        first = api.client.post(
            "/api/v1/blobs",
            content=b"{}",
            headers={**api.auth(), "Content-Type": "application/json"},
        )
        again = api.client.post(
            "/api/v1/blobs", content=b"{}", headers={**api.auth(), "Content-Type": "text/plain"}
        )
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["sha256"] == first.json()["sha256"]
        assert api.flightlog.blobs.get(first.json()["sha256"]).media_type == "application/json"

    def test_no_content_type_is_octet_stream(self, api: Api) -> None:
        """A body sent without Content-Type is kept as application/octet-stream."""
        r = api.client.post("/api/v1/blobs", content=b"\x01\x02", headers=api.auth())
        assert r.json()["media_type"] == "application/octet-stream"

    def test_a_read_token_cannot_upload(self, sqlite_api: Api) -> None:
        """Uploading needs the ingest scope: 403, nothing stored."""
        r = sqlite_api.client.post(
            "/api/v1/blobs", content=b"x", headers=sqlite_api.auth(sqlite_api.token("read"))
        )
        assert r.status_code == 403
        assert "ingest" in problem(r)["detail"]
        assert not sqlite_api.flightlog.blobs.exists(hashlib.sha256(b"x").hexdigest())

    def test_no_token_is_401(self, sqlite_api: Api) -> None:
        """Without a token: 401, nothing stored."""
        r = sqlite_api.client.post("/api/v1/blobs", content=b"x")
        assert r.status_code == 401
        assert not sqlite_api.flightlog.blobs.exists(hashlib.sha256(b"x").hexdigest())

    def test_a_bad_media_type_is_400(self, sqlite_api: Api) -> None:
        """A Content-Type that is not type/subtype is refused, naming it."""
        r = sqlite_api.client.post(
            "/api/v1/blobs", content=b"x", headers={**sqlite_api.auth(), "Content-Type": "xml"}
        )
        assert r.status_code == 400
        assert problem(r)["detail"] == "'xml' is not a media type (type/subtype, RFC 6838)"

    def test_the_report_limit_applies(self, sqlite_settings: Settings) -> None:
        """A body over FLIGHTLOG_MAX_REPORT_BYTES is refused with 413 and not stored."""
        limited = Settings(
            database_url=sqlite_settings.database_url,
            home=sqlite_settings.home,
            origin=sqlite_settings.origin,
            max_report_bytes=10,
        )
        with serving(create_app(limited, checkpoint_interval=3600)) as client:
            auth = {"Authorization": f"Bearer {admin_token(limited)}"}
            over = client.post("/api/v1/blobs", content=b"x" * 11, headers=auth)
            assert over.status_code == 413
            assert problem(over)["detail"] == "request body of 11 bytes is over the 10-byte limit"
            assert client.post("/api/v1/blobs", content=b"x" * 10, headers=auth).status_code == 201
