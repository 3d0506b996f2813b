"""What an operator can tune; read from the environment by `ApiSettings.from_env()`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ApiSettings:
    # Base of the links the API hands out (signed file links, `links`), e.g. https://api.example.com.
    # None = the trusted proxy's X-Forwarded-* headers (below), else the address the server
    # listens on; never the client's Host header. Set it in every deployment.
    public_base_url: str | None = None
    # Take X-Forwarded-Proto/-Host from the proxy in front (only when one always sets them).
    trust_proxy_headers: bool = False
    # Timezone of `created_at.date/time` in session details.
    timezone: str = "UTC"
    # Lifetime of signed links (HMAC links and GCS V4 URLs).
    link_ttl_s: int = 3600
    # HMAC key for local signed links; None = env MOTIONLENS_SIGNING_SECRET or a random secret
    # kept in the storage (`auth/signing.key`) so that every API process shares it.
    signing_secret: str | None = None
    max_upload_bytes: int = 512 * 1024 * 1024
    # A render lock older than this is considered abandoned (the process died) and reclaimed.
    render_lock_stale_s: float = 30 * 60
    # After a failed render, answer 409 for this long instead of retrying at every poll.
    render_failure_cooldown_s: float = 5 * 60
    retry_after_s: int = 5
    # Analyses started by POST run in this process, this many at a time (they are CPU-bound).
    max_parallel_analyses: int = 1
    # Submissions by URL may not point at loopback / private addresses unless allowed (SSRF).
    allow_private_video_urls: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail at start-up, not on the first request
        if min(self.link_ttl_s, self.max_upload_bytes, self.max_parallel_analyses) <= 0:
            raise ValueError("link_ttl_s, max_upload_bytes and max_parallel_analyses must be positive")

    @classmethod
    def from_env(cls) -> ApiSettings:
        env = os.environ
        return cls(
            public_base_url=env.get("MOTIONLENS_PUBLIC_URL") or None,
            trust_proxy_headers=env.get("MOTIONLENS_TRUST_PROXY_HEADERS", "").lower() in ("1", "true", "yes"),
            timezone=env.get("MOTIONLENS_TIMEZONE", "UTC"),
            link_ttl_s=int(env.get("MOTIONLENS_LINK_TTL_S", "3600")),
            signing_secret=env.get("MOTIONLENS_SIGNING_SECRET") or None,
            max_upload_bytes=int(env.get("MOTIONLENS_MAX_UPLOAD_BYTES", str(512 * 1024 * 1024))),
            allow_private_video_urls=env.get("MOTIONLENS_ALLOW_PRIVATE_URLS", "") in ("1", "true", "yes"),
        )
