"""API keys kept in the storage as `auth/keys/{sha256-of-token}.json` (DESIGN §5).

Only the hash is stored: whoever reads the storage cannot use a key. The token is shown once,
by `create_key`. Revoking keeps the record (with `revoked_at`) so an audit can still see it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace

from api.cache import FileCache
from pipeline.errors import StorageUnavailable
from pipeline.session import utc_now_iso
from pipeline.storage import Storage

SCOPES = ("sessions:read", "exports:read", "videos:generate", "sessions:write", "admin")
DEFAULT_SCOPES = ("sessions:read", "exports:read", "videos:generate")
KEYS_PREFIX = "auth/keys/"
TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{20,128}\Z")  # \Z, not $: "$" also matches before a final "\n"
_OWNER_RE = re.compile(r"\A[A-Za-z0-9._@-]{1,64}\Z")
_TOKEN_TAG = "mlk_"  # makes leaked tokens recognisable to secret scanners
_MIN_REVOKE_PREFIX = 6


@dataclass(frozen=True)
class KeyRecord:
    key_id: str  # first 16 hex digits of the token's SHA-256: safe to show and to log
    token_prefix: str  # first characters of the token, so a human can tell keys apart
    token_sha256: str
    owner: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> KeyRecord:
        raw = json.loads(data)
        raw["scopes"] = tuple(raw["scopes"])
        return cls(**raw)


# Validated by a stat on every use, so a revocation takes effect on the next request.
_records: FileCache[KeyRecord] = FileCache(KeyRecord.from_json, maxsize=1024)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _record_key(token_sha256: str) -> str:
    return f"{KEYS_PREFIX}{token_sha256}.json"


def create_key(storage: Storage, owner: str, scopes: Iterable[str]) -> tuple[str, KeyRecord]:
    """A new key for `owner`; returns the token (show it once, it is not stored) and its record."""
    if not _OWNER_RE.match(owner):
        raise ValueError(f"owner must be 1-64 of A-Z a-z 0-9 . _ @ -, got {owner!r}")
    scope_list = tuple(dict.fromkeys(scopes))
    unknown = [s for s in scope_list if s not in SCOPES]
    if unknown or not scope_list:
        raise ValueError(f"scopes must be one or more of {', '.join(SCOPES)}; got {list(scope_list)}")
    token = _TOKEN_TAG + secrets.token_urlsafe(32)
    digest = hash_token(token)
    record = KeyRecord(key_id=digest[:16], token_prefix=token[:12], token_sha256=digest, owner=owner,
                       scopes=scope_list, created_at=utc_now_iso())
    with _writing(storage):
        if not storage.create_exclusive(_record_key(digest), record.to_json()):
            raise RuntimeError("token collision")  # 256 random bits: never in practice
    return token, record


@contextlib.contextmanager
def _writing(storage: Storage) -> Iterator[None]:
    """A key store that cannot be written (read-only, full) is the store's error, with its code:
    `motionlens keys create` prints one line for it instead of a traceback."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageUnavailable(f"cannot write the key store ({KEYS_PREFIX} in {storage.uri}): {reason}") from exc


def find_key(storage: Storage, token: str) -> KeyRecord | None:
    """The record of a well-formed token, revoked or not; None when unknown."""
    if not TOKEN_RE.match(token):
        return None
    digest = hash_token(token)
    key = _record_key(digest)
    try:
        record = _records.read(storage, key)
    except FileNotFoundError:  # every Storage maps "no such object" to it
        return None
    # The file name already matched, but compare in constant time so that the check does not
    # depend on how the store looks names up.
    return record if hmac.compare_digest(record.token_sha256, digest) else None


def list_keys(storage: Storage) -> list[KeyRecord]:
    return [KeyRecord.from_json(storage.read_bytes(k)) for k in storage.list(KEYS_PREFIX)
            if k.endswith(".json")]


def revoke_key(storage: Storage, token_prefix_or_id: str) -> KeyRecord:
    """Revoke by the full token, its printed prefix or its key id. Idempotent.

    Raises LookupError when nothing matches and ValueError when the prefix is ambiguous or too short.
    """
    needle = token_prefix_or_id.strip()
    exact = find_key(storage, needle)
    if exact is not None:
        matches = [exact]
    else:
        if len(needle) < _MIN_REVOKE_PREFIX:
            raise ValueError(f"give at least {_MIN_REVOKE_PREFIX} characters of the token or key id")
        matches = [r for r in list_keys(storage)
                   if r.key_id.startswith(needle) or r.token_prefix.startswith(needle)]
    if not matches:
        raise LookupError(f"no API key matches {needle!r}")
    if len(matches) > 1:
        raise ValueError(f"{needle!r} matches {len(matches)} keys; give more characters")
    record = matches[0]
    if record.revoked:
        return record
    revoked = replace(record, revoked_at=utc_now_iso())
    with _writing(storage):
        storage.write_bytes(_record_key(record.token_sha256), revoked.to_json(), content_type="application/json")
    return revoked
