"""Runtime settings, read from the environment once at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flightlog.errors import InputError

DEFAULT_ORIGIN = "flightlog.localhost/log"
DEFAULT_HOME = ".flightlog"
DEFAULT_DATABASE_URL = "sqlite:///flightlog.db"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_REPORT_ENV = "FLIGHTLOG_MAX_REPORT_BYTES"


def max_report_bytes(environ: Mapping[str, str]) -> int:
    """The report (blob) size limit: ``FLIGHTLOG_MAX_REPORT_BYTES``, else the default."""
    raw = environ.get(MAX_REPORT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_REPORT_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{MAX_REPORT_ENV}={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise InputError(f"{MAX_REPORT_ENV}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how it signs.

    ``FLIGHTLOG_DATABASE_URL`` selects the store (default: ``flightlog.db`` in the
    working directory); ``FLIGHTLOG_HOME`` holds the signing key, the first admin token
    and client-side state (default: ``.flightlog`` in the working directory);
    ``FLIGHTLOG_ORIGIN`` is the log's checkpoint origin and key name;
    ``FLIGHTLOG_PUBLIC_METRICS=1`` serves ``/metrics`` without a token;
    ``FLIGHTLOG_MAX_REPORT_BYTES`` bounds a kept report (an uploaded blob).
    """

    database_url: str
    home: Path
    origin: str = DEFAULT_ORIGIN
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    public_metrics: bool = False
    max_report_bytes: int = DEFAULT_MAX_REPORT_BYTES

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``FLIGHTLOG_*`` variables, with working-directory defaults."""
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("FLIGHTLOG_HOME", DEFAULT_HOME))
        url = env.get("FLIGHTLOG_DATABASE_URL") or DEFAULT_DATABASE_URL
        return cls(
            database_url=url,
            home=home,
            origin=env.get("FLIGHTLOG_ORIGIN", DEFAULT_ORIGIN),
            max_body_bytes=int(env.get("FLIGHTLOG_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            public_metrics=env.get("FLIGHTLOG_PUBLIC_METRICS", "") in ("1", "true", "yes"),
            max_report_bytes=max_report_bytes(env),
        )

    @property
    def key_path(self) -> Path:
        """The Ed25519 signing key (created on first use, mode 0600)."""
        return self.home / "signing.key"

    @property
    def admin_token_path(self) -> Path:
        """Where the first admin token is written on first server start (mode 0600)."""
        return self.home / "admin.token"
