"""Signature checks: GitHub HMAC, GitLab token, Standard Webhooks (pure, constant time)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from flightlog.errors import SignatureError
from flightlog.sources import github, gitlab
from flightlog.sources.webhook import verify_standard_webhook

BODY = b'{"zen": "Design for failure."}'
SECRET = "It's a Secret to Everybody"


class TestGitHub:
    """X-Hub-Signature-256."""

    def test_githubs_documented_example(self) -> None:
        """GitHub's documentation example signature verifies."""
        # docs.github.com "Validating webhook deliveries", test values.
        github.verify_signature(
            SECRET,
            b"Hello, World!",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            (None, "missing"),
            ("", "missing"),
            ("sha1=abc", "sha256="),
            ("sha256=" + "0" * 64, "does not match"),
            ("sha256=zz", "does not match"),
        ],
    )
    def test_refused(self, header: str | None, message: str) -> None:
        """A missing, malformed or wrong signature raises SignatureError."""
        with pytest.raises(SignatureError, match=message):
            github.verify_signature(SECRET, BODY, header)

    def test_upper_case_hex_accepted(self) -> None:
        """Hex digits are compared case-insensitively."""
        digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest().upper()
        github.verify_signature(SECRET, BODY, f"sha256={digest}")


class TestGitLab:
    """X-Gitlab-Token."""

    def test_same_token(self) -> None:
        """The configured token passes."""
        gitlab.verify_token("tok-123", "tok-123")

    @pytest.mark.parametrize(("given", "message"), [(None, "missing"), ("tok-124", "match")])
    def test_refused(self, given: str | None, message: str) -> None:
        """A missing or different token raises SignatureError."""
        with pytest.raises(SignatureError, match=message):
            gitlab.verify_token("tok-123", given)


class TestStandardWebhooks:
    """webhook-id / webhook-timestamp / webhook-signature."""

    KEY = b"0123456789abcdef0123456789abcdef"
    SECRET = "whsec_" + base64.b64encode(KEY).decode()
    NOW = 1_700_000_000

    def headers(self, stamp: int, key: bytes = KEY, msg_id: str = "msg_1") -> dict[str, str]:
        """Headers signing BODY at ``stamp``."""
        mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + BODY, hashlib.sha256).digest()
        signature = "v1," + base64.b64encode(mac).decode()
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": f"v1,bm90LXRoaXM= {signature}",
        }

    def test_valid_within_tolerance(self) -> None:
        """A signature 4 minutes old passes; any listed v1 signature may match."""
        assert (
            verify_standard_webhook(self.SECRET, self.headers(self.NOW - 240), BODY, now=self.NOW)
            == "msg_1"
        )

    @pytest.mark.parametrize("offset", [-301, 301])
    def test_outside_five_minutes(self, offset: int) -> None:
        """More than 5 minutes either way is refused."""
        with pytest.raises(SignatureError, match="5 minutes"):
            verify_standard_webhook(
                self.SECRET, self.headers(self.NOW + offset), BODY, now=self.NOW
            )

    def test_wrong_key(self) -> None:
        """A signature under another key is refused."""
        with pytest.raises(SignatureError, match="does not match"):
            verify_standard_webhook(
                self.SECRET, self.headers(self.NOW, key=b"x" * 32), BODY, now=self.NOW
            )

    def test_missing_headers(self) -> None:
        """All three headers are required."""
        with pytest.raises(SignatureError, match="webhook-id"):
            verify_standard_webhook(self.SECRET, {}, BODY, now=self.NOW)

    def test_bad_timestamp(self) -> None:
        """A timestamp that is not Unix seconds is refused."""
        headers = self.headers(self.NOW) | {"webhook-timestamp": "yesterday"}
        with pytest.raises(SignatureError, match="Unix time"):
            verify_standard_webhook(self.SECRET, headers, BODY, now=self.NOW)
