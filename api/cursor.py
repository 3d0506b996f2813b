"""Opaque page cursors: the last item's position, bound to the query it belongs to, HMAC-signed.

`base64url(json [created_at, session_id, query digest]) + "." + signature`. A client cannot move a
cursor, forge one, or reuse it with other filters (its digest would not match): 400 instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime

from api.errors import ApiError
from api.signing import LinkSigner

_DOMAIN = "cursor"  # signed as "v1\ncursor:{payload}\n0": never a storage key (no ':' in keys)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def query_digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encode_cursor(signer: LinkSigner, position: tuple[datetime, str], query: str) -> str:
    payload = _b64(json.dumps([position[0].isoformat(), position[1], query], separators=(",", ":")).encode())
    return f"{payload}.{signer.signature(f'{_DOMAIN}:{payload}', 0)}"


def decode_cursor(signer: LinkSigner, cursor: str, query: str) -> tuple[datetime, str]:
    """The position after which the next page starts; 400 `invalid_cursor` if it was not ours for `query`."""
    payload, _, sig = cursor.partition(".")
    invalid = ApiError(400, "invalid_cursor", "the cursor is not one this API gave for this query; start again "
                                             "without it")
    if not payload or not sig or len(cursor) > 512:
        raise invalid

    if not hmac.compare_digest(sig.encode(), signer.signature(f"{_DOMAIN}:{payload}", 0).encode()):
        raise invalid
    try:
        created, session_id, digest = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        position = datetime.fromisoformat(created), str(session_id)
    except (ValueError, TypeError):
        raise invalid from None
    if digest != query:
        raise invalid
    return position
