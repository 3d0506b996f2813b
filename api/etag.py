"""Entity tags and `If-None-Match` (RFC 9110 §8.8.3, §13.1.2): 304 instead of a body the client has.

Strong tags (`"…"`) promise the same bytes: files, from the stored object's version. Weak tags
(`W/"…"`) promise the same meaning: the session detail, whose signed links differ at every call,
and bodies that gzip may re-encode. `If-None-Match` uses the weak comparison, so either matches.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from pipeline.storage import LocalStorage, Storage


def weak(*parts: str) -> str:
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def stat_etag(st: os.stat_result) -> str:
    """A local file's strong tag: every write replaces the file (new size or mtime)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def stored_etag(storage: Storage, key: str) -> str | None:
    """The strong tag of a stored object without reading it, or None when the store cannot tell.
    Raises FileNotFoundError when there is no such object."""
    if isinstance(storage, LocalStorage):
        return stat_etag(os.stat(storage.path(key)))
    stat = getattr(storage, "stat", None)
    if callable(stat):  # GCS: the generation changes at every write of the object
        info = stat(key)
        return f'"g{int(info["generation"]):x}-{int(info["size"]):x}"'
    return None


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def none_match(request: Request, etag: str) -> bool:
    """True when `If-None-Match` names `etag` (weak comparison) or is `*`: answer 304 to a GET/HEAD."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag.strip()) == wanted for tag in header.split(","))


def not_modified(headers: Mapping[str, str]) -> Response:
    """304 with the headers the 200 would have carried that a cache needs (ETag, Cache-Control, Vary…)."""
    keep = {"etag", "cache-control", "vary", "content-location", "date", "expires", "last-modified"}
    return Response(status_code=304, headers={k: v for k, v in headers.items() if k.lower() in keep})
