"""Short-lived HMAC-signed links to stored files, for stores that cannot sign URLs themselves.

A link is `/files/{key}?exp={unix seconds}&sig={base64url HMAC-SHA256("v1\\n{key}\\n{exp}")}`;
it needs no API key, so it works in a `<video src>`; changing the key or the expiry breaks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from pipeline.storage import Storage

SECRET_KEY = "auth/signing.key"
# ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
_EXP_RE = re.compile(r"[0-9]{1,12}")


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the link signing secret must have at least 16 bytes")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per link: the key is hashed once

    def signature(self, key: str, expires_at: int) -> str:
        mac = self._keyed.copy()
        mac.update(f"v1\n{key}\n{expires_at}".encode())
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def sign(self, key: str, ttl_s: int, now: float | None = None) -> tuple[int, str]:
        expires_at = int((time.time() if now is None else now) + ttl_s)
        return expires_at, self.signature(key, expires_at)

    def check(self, key: str, exp: str | None, sig: str | None, now: float | None = None) -> str | None:
        """None when the link is valid, else why not."""
        if not exp or not sig or _EXP_RE.fullmatch(exp) is None:
            return "the link is missing its exp/sig parameters"
        if not hmac.compare_digest(sig.encode(), self.signature(key, int(exp)).encode()):
            return "the link signature is invalid"
        if int(exp) < (time.time() if now is None else now):
            return "the link has expired; ask the API for a new one"
        return None


def load_secret(storage: Storage, configured: str | None) -> bytes:
    """The configured secret, else one shared through the storage (the first process creates it)."""
    if configured:
        return configured.encode()
    storage.create_exclusive(SECRET_KEY, secrets.token_hex(32).encode())
    for _ in range(50):  # another process may have created the file but not written it yet
        secret = bytes.fromhex(storage.read_bytes(SECRET_KEY).decode().strip())
        if secret:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{SECRET_KEY} in the storage is empty")
