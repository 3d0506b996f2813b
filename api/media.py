"""Serve a stored file with HTTP Range support (RFC 9110 §14), as video players need for seeking.

One byte range gives 206 + Content-Range; an unsatisfiable one gives 416 (JSON error, with
`Content-Range: bytes */size`). A header we do not handle (other units, several ranges, bad
syntax) is ignored and the whole file is sent, which RFC 9110 allows.
"""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.errors import ApiError, error_response
from api.etag import none_match, not_modified, stat_etag
from pipeline.storage import Storage

CHUNK = 256 * 1024
_RANGE_RE = re.compile(r"bytes=([0-9]*)-([0-9]*)")  # fullmatch; ASCII digits only
_MAX_DIGITS = 18  # more than any file's size: longer numbers are read as "beyond the end"
_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mkv": "video/x-matroska",
          ".avi": "video/x-msvideo", ".parquet": "application/vnd.apache.parquet", ".png": "image/png",
          ".json": "application/json", ".npz": "application/octet-stream"}


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte range asked for, or None to send the whole file."""
    if not header:
        return None
    m = _RANGE_RE.fullmatch(header.replace(" ", ""))
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = m.group(1), m.group(2)
    if first == "":  # suffix range: the last N bytes
        n = _position(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), size - 1
    start = _position(first)
    if last and _position(last) < start:
        return None  # syntactically invalid: ignore the header
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(_position(last), size - 1) if last else size - 1


def _position(digits: str) -> int:
    # int() of thousands of digits raises (and costs); anything this long is past any file's end.
    stripped = digits.lstrip("0") or "0"
    return int(stripped) if len(stripped) <= _MAX_DIGITS else 10**_MAX_DIGITS


def media_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


async def _read(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        while length > 0:
            chunk = await f.read(min(CHUNK, length))
            if not chunk:
                raise RuntimeError(f"{path} shrank while being sent")
            length -= len(chunk)
            yield chunk


def local_copy(storage: Storage, key: str) -> tuple[Path, BackgroundTask | None]:
    """A path to read the object from: the file itself for a local store, else a temporary copy."""
    path_of = getattr(storage, "path", None)
    if callable(path_of):
        path = Path(path_of(key))
        # No symlink anywhere below the store's root: a link at sessions/<id>/x.png -> /etc/passwd
        # (or -> auth/signing.key, inside the store) is not the file the key names.
        if path.resolve() != path.absolute():
            raise ApiError(404, "file_not_found", "no such file")
        return path, None
    fd, tmp = tempfile.mkstemp(prefix="motionlens-media-", suffix=Path(key).suffix)
    os.close(fd)
    storage.download_file(key, Path(tmp))
    return Path(tmp), BackgroundTask(Path(tmp).unlink, missing_ok=True)


def file_response(request: Request, path: Path, key: str, *, cache_s: int,
                  cleanup: BackgroundTask | None = None, etag: str | None = None) -> Response:
    """`etag`: the stored object's tag when `path` is a temporary copy (whose stat says nothing)."""
    st = path.stat()
    size = st.st_size
    etag = etag or stat_etag(st)
    last_modified = formatdate(st.st_mtime, usegmt=True)
    headers = {"accept-ranges": "bytes", "etag": etag, "last-modified": last_modified,
               "cache-control": f"private, max-age={max(cache_s, 0)}"}
    if Path(key).suffix.lower() in (".parquet", ".npz", ".json"):
        headers["content-disposition"] = f'attachment; filename="{Path(key).name}"'
    if none_match(request, etag):  # before Range (RFC 9110 §13.2.2)
        unchanged = not_modified(headers)
        unchanged.background = cleanup
        return unchanged

    if_range = request.headers.get("if-range")
    use_range = if_range is None or if_range in (etag, last_modified)
    try:
        byte_range = parse_range(request.headers.get("range"), size) if use_range else None
    except RangeNotSatisfiable:
        refused = error_response(416, "range_not_satisfiable", f"the file has {size} bytes",
                                 {"content-range": f"bytes */{size}"})
        refused.background = cleanup
        return refused
    status, start, length = 200, 0, size
    if byte_range is not None:
        status, start, length = 206, byte_range[0], byte_range[1] - byte_range[0] + 1
        headers["content-range"] = f"bytes {byte_range[0]}-{byte_range[1]}/{size}"
    headers["content-length"] = str(length)
    if request.method == "HEAD":
        return Response(b"", status_code=status, headers=headers, media_type=media_type(key), background=cleanup)
    return StreamingResponse(_read(path, start, length), status_code=status, headers=headers,
                             media_type=media_type(key), background=cleanup)
