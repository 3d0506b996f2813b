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
    # Origins whose pages may call the API from a browser (CORS); empty = no cross-origin access.
    # "*" allows any origin (keys are sent in a header, never as cookies).
    cors_origins: tuple[str, ...] = ()
    # Faults (docs/security.md): on SIGTERM, running work may finish for this long, then is handed back.
    shutdown_grace_s: float = 20.0
    # Leases of dead processes are looked for at start-up and this often; an owner on another host
    # that has not renewed its lease for lease_ttl_s is presumed dead.
    recovery_interval_s: float = 30.0
    lease_ttl_s: float = 120.0
    # A session interrupted by server stops is run at most this many times, then fails `interrupted`.
    max_attempts: int = 2
    # Abuse limits, per API key and per window (429 + Retry-After past them), and for the process.
    quota_window_s: float = 60.0
    submissions_per_window: int = 12
    renders_per_window: int = 12
    max_parallel_renders: int = 2
    # uvicorn: request headers must arrive within header_timeout_s; idle keep-alive connections are
    # closed after keep_alive_s; past max_connections new connections are refused.
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_connections: int = 1000

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail at start-up, not on the first request
        if min(self.link_ttl_s, self.max_upload_bytes, self.max_parallel_analyses, self.max_attempts,
               self.submissions_per_window, self.renders_per_window, self.max_parallel_renders,
               self.max_connections, self.header_timeout_s, self.quota_window_s) <= 0:
            raise ValueError("limits, counts and timeouts in ApiSettings must be positive")

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
            cors_origins=tuple(o.strip() for o in env.get("MOTIONLENS_CORS_ORIGINS", "").split(",") if o.strip()),
            **{name: kind(env[var]) for name, (var, kind) in _LIMITS_ENV.items() if env.get(var)},
        )


_LIMITS_ENV: dict[str, tuple[str, type]] = {
    "shutdown_grace_s": ("MOTIONLENS_SHUTDOWN_GRACE_S", float),
    "recovery_interval_s": ("MOTIONLENS_RECOVERY_INTERVAL_S", float),
    "lease_ttl_s": ("MOTIONLENS_LEASE_TTL_S", float),
    "max_attempts": ("MOTIONLENS_MAX_ATTEMPTS", int),
    "quota_window_s": ("MOTIONLENS_QUOTA_WINDOW_S", float),
    "submissions_per_window": ("MOTIONLENS_SUBMISSIONS_PER_WINDOW", int),
    "renders_per_window": ("MOTIONLENS_RENDERS_PER_WINDOW", int),
    "max_parallel_renders": ("MOTIONLENS_MAX_PARALLEL_RENDERS", int),
    "max_parallel_analyses": ("MOTIONLENS_MAX_PARALLEL_ANALYSES", int),
    "header_timeout_s": ("MOTIONLENS_HEADER_TIMEOUT_S", float),
    "keep_alive_s": ("MOTIONLENS_KEEP_ALIVE_S", int),
    "max_connections": ("MOTIONLENS_MAX_CONNECTIONS", int),
}
