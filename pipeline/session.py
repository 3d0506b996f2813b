"""Session ids, storage keys of a session (DESIGN §5) and the manifest's shape."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import SessionCorrupt
from pipeline.storage import Storage

# The first character is a letter or digit: pyarrow's dataset discovery skips files whose names
# start with "_" or ".", so `exports/.../{session_id}.parquet` would silently vanish from a
# data scientist's read of the whole table.
SESSION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{15,63}")  # fullmatch: "$" would pass a trailing "\n"
STATUSES = ("queued", "processing", "completed", "failed")


def new_session_id() -> str:
    """22 random URL-safe characters (~128 bits), starting with a letter or digit; never sequential."""
    while not (session_id := secrets.token_urlsafe(16))[0].isalnum():
        pass
    return session_id


def is_valid_session_id(session_id: str) -> bool:
    return isinstance(session_id, str) and SESSION_ID_RE.fullmatch(session_id) is not None


def session_prefix(session_id: str) -> str:
    if not is_valid_session_id(session_id):
        raise ValueError(f"malformed session id {session_id!r}")
    return f"sessions/{session_id}"


def manifest_key(session_id: str) -> str:
    return f"{session_prefix(session_id)}/session.json"


def artifact_key(session_id: str, name: str) -> str:
    return f"{session_prefix(session_id)}/{name}"


def export_key(table: str, activity: str, date: str, session_id: str) -> str:
    return f"exports/{table}/activity={activity}/date={date}/{session_id}.parquet"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_manifest(data: bytes) -> dict[str, Any]:
    """A stored manifest; `SessionCorrupt` (never a bare ValueError) when it is not a JSON object."""
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or nested too deep
        raise SessionCorrupt(f"the session record is damaged ({type(exc).__name__})") from None
    if not isinstance(manifest, dict):
        raise SessionCorrupt("the session record is not a JSON object")
    return manifest


def read_manifest(storage: Storage, session_id: str) -> dict[str, Any] | None:
    key = manifest_key(session_id)
    if not storage.exists(key):
        return None
    return parse_manifest(storage.read_bytes(key))


def write_manifest(storage: Storage, manifest: dict[str, Any]) -> None:
    data = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False).encode()
    storage.write_bytes(manifest_key(manifest["session_id"]), data, content_type="application/json")
