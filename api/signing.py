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
import logging
import time

from pipeline.errors import StorageUnavailable
from pipeline.storage import Storage

log = logging.getLogger("motionlens.api")

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
    """The configured secret, else one shared through the storage (the first process creates it).

    The object is created whole or not at all (`create_exclusive` writes a temp file first); one
    that is empty or corrupt anyway (a full disk under an older version, a bad restore) is replaced
    by a new secret, with a log line: the links signed with the old one stop working, which beats
    answering 500 for ever. Write failures raise StorageUnavailable, so the next request retries.
    """
    if configured:
        return configured.encode()
    try:
        if not storage.exists(SECRET_KEY):  # a read first: a full disk must not fail a key that exists
            storage.create_exclusive(SECRET_KEY, secrets.token_hex(32).encode())
        secret = parse_secret(storage.read_bytes(SECRET_KEY))
        if secret is None:
            log.warning("%s in the storage is empty or corrupt; generating a new one (links signed "
                        "with the old one stop working)", SECRET_KEY)
            storage.write_bytes(SECRET_KEY, secrets.token_hex(32).encode())
            # Two processes may regenerate at once: both use whichever write landed last.
            secret = parse_secret(storage.read_bytes(SECRET_KEY))
    except OSError as exc:
        raise StorageUnavailable(f"cannot read or write {SECRET_KEY}: {exc}") from exc
    if secret is None:
        raise StorageUnavailable(f"{SECRET_KEY} could not be regenerated")
    return secret


def parse_secret(data: bytes) -> bytes | None:
    """The secret stored as hex, None when it is empty, not hex or too short to sign with."""
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except ValueError:
        return None
    return secret if len(secret) >= 16 else None
