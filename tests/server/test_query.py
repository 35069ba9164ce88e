"""The read API: entries, pagination, checkpoints, proofs and the verifier key."""

from __future__ import annotations

import base64

from flightlog.ledger.checkpoint import open_checkpoint
from flightlog.ledger.merkle import verify_consistency, verify_inclusion
from flightlog.ledger.note import Verifier
from tests.server.events import deployed
from tests.server.harness import Api, problem


def _seed(api: Api, n: int, **kw: str) -> None:
    r = api.client.post(
        "/api/v1/events/batch", json=[deployed(i, **kw) for i in range(n)], headers=api.auth()
    )
    assert r.status_code == 201


class TestListEvents:
    """``GET /api/v1/events``."""

    def test_lists_show_documents_in_index_order(self, api: Api) -> None:
        """Three entries come back oldest first with events, refs and leaves."""
        _seed(api, 3)
        r = api.client.get("/api/v1/events", headers=api.auth())
        assert r.status_code == 200
        body = r.json()
        assert [e["index"] for e in body["events"]] == [0, 1, 2]
        assert body["events"][1]["event"] == deployed(1)
        assert ["environment", "production"] in body["events"][0]["refs"]
        assert body["next_cursor"] is None

    def test_cursor_pages_through_everything_once(self, api: Api) -> None:
        """Pages of two over five entries give 0-1, 2-3, 4 and then no cursor."""
        _seed(api, 5)
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = api.client.get("/api/v1/events", params=params, headers=api.auth()).json()
            seen += [e["index"] for e in body["events"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
            assert isinstance(cursor, str)
        assert seen == [0, 1, 2, 3, 4]
        assert pages == 3

    def test_filters_by_service_and_environment(self, api: Api) -> None:
        """service= and env= select only the entries carrying those refs."""
        api.client.post(
            "/api/v1/events", json=deployed(0, service="api", env="staging"), headers=api.auth()
        )
        api.client.post(
            "/api/v1/events", json=deployed(1, service="web", env="staging"), headers=api.auth()
        )
        api.client.post(
            "/api/v1/events", json=deployed(2, service="api", env="production"), headers=api.auth()
        )
        r = api.client.get(
            "/api/v1/events", params={"service": "api", "env": "staging"}, headers=api.auth()
        )
        assert [e["index"] for e in r.json()["events"]] == [0]
        r = api.client.get("/api/v1/events", params={"service": "api"}, headers=api.auth())
        assert [e["index"] for e in r.json()["events"]] == [0, 2]

    def test_filters_by_type(self, api: Api) -> None:
        """type= with subject.predicate matches; another type matches nothing."""
        _seed(api, 2)
        r = api.client.get(
            "/api/v1/events", params={"type": "service.deployed"}, headers=api.auth()
        )
        assert len(r.json()["events"]) == 2
        r = api.client.get("/api/v1/events", params={"type": "build.started"}, headers=api.auth())
        assert r.json()["events"] == []

    def test_filters_by_time_window(self, api: Api) -> None:
        """since after the events' timestamp excludes them; before it includes them."""
        _seed(api, 2)
        late = api.client.get(
            "/api/v1/events", params={"since": "2026-03-03T00:00:00Z"}, headers=api.auth()
        )
        early = api.client.get(
            "/api/v1/events", params={"since": "2026-03-01T00:00:00Z"}, headers=api.auth()
        )
        assert late.json()["events"] == []
        assert len(early.json()["events"]) == 2

    def test_invalid_cursor_is_a_400(self, api: Api) -> None:
        """A cursor that is not one of ours answers 400."""
        r = api.client.get("/api/v1/events", params={"cursor": "abc"}, headers=api.auth())
        assert r.status_code == 400
        assert "cursor" in problem(r)["detail"]

    def test_limit_out_of_range_is_a_422(self, api: Api) -> None:
        """limit=5000 answers 422 naming query.limit."""
        r = api.client.get("/api/v1/events", params={"limit": 5000}, headers=api.auth())
        assert r.status_code == 422
        assert problem(r)["path"] == "query.limit"

    def test_bad_since_is_a_422(self, api: Api) -> None:
        """since=yesterday answers 422 naming query.since."""
        r = api.client.get("/api/v1/events", params={"since": "yesterday"}, headers=api.auth())
        assert r.status_code == 422
        assert problem(r)["path"] == "query.since"


class TestShowEvent:
    """``GET /api/v1/events/{index}``."""

    def test_shows_one_entry(self, api: Api) -> None:
        """Entry 1 comes back with its event and leaf fields."""
        _seed(api, 2)
        r = api.client.get("/api/v1/events/1", headers=api.auth())
        assert r.status_code == 200
        body = r.json()
        assert body["index"] == 1
        assert body["leaf"]["id"] == "deploy-1"
        assert body["erased"] is False

    def test_missing_entry_is_a_404(self, api: Api) -> None:
        """An index past the end answers 404 problem+json."""
        r = api.client.get("/api/v1/events/7", headers=api.auth())
        assert r.status_code == 404
        assert problem(r)["type"].endswith(":not-found")

    def test_non_integer_index_is_a_422(self, api: Api) -> None:
        """/events/abc answers 422 naming path.index."""
        r = api.client.get("/api/v1/events/abc", headers=api.auth())
        assert r.status_code == 422
        assert problem(r)["path"] == "path.index"

    def test_index_beyond_64_bits_is_a_422(self, api: Api) -> None:
        """An index no store column can hold answers 422, not a database error."""
        r = api.client.get(f"/api/v1/events/{2**64}", headers=api.auth())
        assert r.status_code == 422


class TestCheckpoint:
    """``GET`` and ``POST /api/v1/checkpoint``."""

    def test_text_note_verifies_with_the_served_key(self, api: Api) -> None:
        """The default answer is the signed note, which opens with /api/v1/key."""
        _seed(api, 3)
        r = api.client.get("/api/v1/checkpoint", headers=api.auth())
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        key = api.client.get("/api/v1/key").text
        checkpoint = open_checkpoint(r.text, Verifier.from_verifier_key(key.strip()))
        assert checkpoint.tree_size == 3

    def test_json_document_on_request(self, api: Api) -> None:
        """Accept: application/json gives note, tree_size and root."""
        _seed(api, 2)
        r = api.client.get(
            "/api/v1/checkpoint", headers={**api.auth(), "accept": "application/json"}
        )
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["tree_size"] == 2
        assert base64.b64decode(body["root"]) == api.flightlog.root(2)
        assert body["note"].splitlines()[1] == "2"

    def test_post_cuts_a_new_checkpoint(self, api: Api) -> None:
        """After more events, POST (admin) answers a checkpoint of the new size."""
        _seed(api, 1)
        api.client.get("/api/v1/checkpoint", headers=api.auth())
        api.client.post("/api/v1/events", json=deployed(10), headers=api.auth())
        r = api.client.post("/api/v1/checkpoint", headers=api.auth())
        assert r.status_code == 200
        assert r.json()["tree_size"] == 2
        latest = api.flightlog.latest_checkpoint()
        assert latest is not None
        assert latest.to_wire() == r.json()

    def test_post_needs_admin(self, api: Api) -> None:
        """A read token cannot cut checkpoints: 403."""
        r = api.client.post("/api/v1/checkpoint", headers=api.auth(api.token("read")))
        assert r.status_code == 403
        assert "'admin'" in problem(r)["detail"]


class TestProofs:
    """Inclusion and consistency proofs verify against the served roots."""

    def test_inclusion_proof_verifies(self, api: Api) -> None:
        """The proof of entry 3 in a tree of 7 recomputes the stated root."""
        _seed(api, 7)
        r = api.client.get(
            "/api/v1/proof/inclusion", params={"index": 3, "size": 7}, headers=api.auth()
        )
        assert r.status_code == 200
        body = r.json()
        assert body["tree_size"] == 7
        verify_inclusion(
            3,
            7,
            base64.b64decode(body["leaf_hash"]),
            [base64.b64decode(h) for h in body["proof"]],
            base64.b64decode(body["root"]),
        )
        assert base64.b64decode(body["root"]) == api.flightlog.root(7)

    def test_inclusion_without_size_uses_a_checkpoint(self, api: Api) -> None:
        """Without size, the proof is against a checkpoint whose note is included."""
        _seed(api, 4)
        body = api.client.get(
            "/api/v1/proof/inclusion", params={"index": 0}, headers=api.auth()
        ).json()
        assert body["tree_size"] == 4
        assert body["checkpoint"].splitlines()[1] == "4"

    def test_inclusion_of_missing_entry_is_a_404(self, api: Api) -> None:
        """index past the end answers 404."""
        _seed(api, 2)
        r = api.client.get("/api/v1/proof/inclusion", params={"index": 9}, headers=api.auth())
        assert r.status_code == 404
        problem(r)

    def test_inclusion_with_size_too_small_is_a_400(self, api: Api) -> None:
        """size not above index answers 400."""
        _seed(api, 3)
        r = api.client.get(
            "/api/v1/proof/inclusion", params={"index": 2, "size": 2}, headers=api.auth()
        )
        assert r.status_code == 400
        assert "tree size 2" in problem(r)["detail"]

    def test_consistency_proof_verifies(self, api: Api) -> None:
        """The proof from 3 to 8 links the two roots."""
        _seed(api, 8)
        r = api.client.get(
            "/api/v1/proof/consistency", params={"first": 3, "second": 8}, headers=api.auth()
        )
        assert r.status_code == 200
        body = r.json()
        verify_consistency(
            3,
            8,
            base64.b64decode(body["first_root"]),
            base64.b64decode(body["second_root"]),
            [base64.b64decode(h) for h in body["proof"]],
        )

    def test_consistency_with_bad_sizes_is_a_400(self, api: Api) -> None:
        """first larger than second answers 400."""
        _seed(api, 3)
        r = api.client.get(
            "/api/v1/proof/consistency", params={"first": 3, "second": 2}, headers=api.auth()
        )
        assert r.status_code == 400
        problem(r)

    def test_missing_parameter_is_a_422(self, api: Api) -> None:
        """Without second, the request answers 422 naming query.second."""
        r = api.client.get("/api/v1/proof/consistency", params={"first": 1}, headers=api.auth())
        assert r.status_code == 422
        assert problem(r)["path"] == "query.second"


class TestKey:
    """``GET /api/v1/key`` is public."""

    def test_key_needs_no_token(self, api: Api) -> None:
        """Without Authorization the verifier key is served as text."""
        r = api.client.get("/api/v1/key")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.text == api.flightlog.verifier_key()
        assert r.text.startswith("test.example/log+")
