"""Receive a submitted video without holding it in memory: stream it to a file while counting.

The size limit is enforced as bytes arrive (413 as soon as it is passed, and at once when
Content-Length already says so); the container is recognised from its first bytes (415 before
the rest is read), whatever the client claims the content type is.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from api.errors import ApiError
from pipeline.containers import SNIFF_BYTES as _SNIFF_BYTES
from pipeline.containers import sniff_container  # noqa: F401 - part of this module's interface
from pipeline.url_guard import is_allowed

VIDEO_FIELD = "video"
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 4096
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and option fields on top of the video itself


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "video_too_large", f"the video exceeds the limit of {max_bytes} bytes")


def not_a_video(detail: str) -> ApiError:
    return ApiError(415, "unsupported_video_type",
                    f"{detail}; send an MP4/MOV, WebM/MKV or AVI video")


@dataclass
class Upload:
    dest_dir: Path
    max_bytes: int
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    _head: bytearray = field(default_factory=bytearray)
    _pending: bytearray = field(default_factory=bytearray)
    _file: IO[bytes] | None = None

    def feed(self, data: bytes) -> None:
        """Count and buffer; the file is written by `flush` off the event loop."""
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if self.path is None:
            self._head += data
            if len(self._head) >= _SNIFF_BYTES:
                self._open()  # moves the head into the pending bytes
            return
        self._pending += data

    def _open(self) -> None:
        suffix = sniff_container(bytes(self._head))
        if suffix is None:
            raise not_a_video("the uploaded file is not a recognised video container")
        self.path = self.dest_dir / f"upload{suffix}"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by `finish`/`close`
        self._pending += self._head

    async def flush(self) -> None:
        if self._pending and self._file is not None:
            data, self._pending = bytes(self._pending), bytearray()
            await anyio.to_thread.run_sync(self._file.write, data)

    async def finish(self) -> Path:
        if self.path is None:  # shorter than the sniff window
            if not self._head:
                raise ApiError(400, "empty_video", "the uploaded video is empty")
            self._open()
        await self.flush()
        self.close()
        assert self.path is not None
        return self.path

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _check_declared_length(request: Request, limit: int, error: ApiError) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise error


async def receive_raw(request: Request, upload: Upload) -> None:
    """A request whose body is the video itself (`Content-Type: video/*`)."""
    _check_declared_length(request, upload.max_bytes, too_large(upload.max_bytes))
    try:
        async for chunk in request.stream():
            upload.feed(chunk)
            await upload.flush()
        await upload.finish()
    finally:
        upload.close()


class _FormSink:
    """python-multipart callbacks: the `video` file part goes to `upload`, small fields to memory."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.fields: dict[str, str] = {}
        self.got_video = False
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_video = False
        self._data = bytearray()

    def on_part_begin(self) -> None:
        self._headers, self._data, self._is_video = {}, bytearray(), False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._is_video = self._name == VIDEO_FIELD
        if self._is_video:
            if self.got_video:
                raise ApiError(400, "invalid_upload", "send exactly one 'video' part")
            declared = self._headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            if declared and not (declared.startswith("video/") or declared == "application/octet-stream"):
                raise not_a_video(f"the 'video' part is declared as {declared!r}")
            self.got_video = True
            raw_name = params.get(b"filename")
            self.upload.filename = Path(raw_name.decode("utf-8", "replace")).name[:200] if raw_name else None
        elif len(self.fields) >= _MAX_FIELDS:
            raise ApiError(400, "invalid_upload", f"at most {_MAX_FIELDS} form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_video:
            self.upload.feed(data[start:end])
            return
        self._data += data[start:end]
        if len(self._data) > _MAX_FIELD_BYTES:
            raise ApiError(400, "invalid_upload", f"form field {self._name!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if not self._is_video and self._name:
            self.fields[self._name] = self._data.decode("utf-8", "replace")


async def receive_multipart(request: Request, upload: Upload) -> dict[str, str]:
    """Stream a multipart/form-data body; returns the non-file fields."""
    limit = upload.max_bytes + _FORM_OVERHEAD
    _check_declared_length(request, limit, too_large(upload.max_bytes))
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "invalid_upload", "multipart body without a boundary")
    sink = _FormSink(upload)
    callbacks = {name: getattr(sink, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in _limited(request.stream(), limit, too_large(upload.max_bytes)):
            parser.write(chunk)
            await upload.flush()
        parser.finalize()
        if not sink.got_video:
            raise ApiError(400, "missing_video", f"the form has no '{VIDEO_FIELD}' file part")
        await upload.finish()
    except FormParserError as exc:
        raise ApiError(400, "invalid_upload", "malformed multipart body") from exc
    finally:
        upload.close()
    return sink.fields


async def _limited(stream: AsyncIterator[bytes], limit: int, error: ApiError) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise error
        yield chunk


async def read_json(request: Request, limit: int = 64 * 1024) -> bytes:
    error = ApiError(413, "body_too_large", f"a JSON submission is limited to {limit} bytes")
    _check_declared_length(request, limit, error)
    body = bytearray()
    async for chunk in _limited(request.stream(), limit, error):
        body += chunk
    return bytes(body)


def check_video_url(url: object, allow_private: bool) -> str:
    """Only http(s) and gs URLs; refuses at once a host that is spelled as a non-public address
    (any spelling: `2130706433`, `127.1`, `[::ffff:127.0.0.1]`...). Names are resolved and judged
    when fetched (`pipeline.url_guard`), where every failure reads the same: `source_unreachable`."""
    if not isinstance(url, str) or len(url) > 2048:
        raise ApiError(422, "invalid_video_url", "video_url must be a URL string")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https", "gs") or not parsed.netloc:
        raise ApiError(422, "invalid_video_url", "video_url must be an http(s):// or gs:// URL")
    host = (parsed.hostname or "").lower()
    local = host == "localhost" or host.endswith(".localhost") or _is_private_ip(host)
    if parsed.scheme != "gs" and local and not allow_private:
        raise ApiError(422, "invalid_video_url", "video_url may not point at a private or loopback address")
    return url


def _is_private_ip(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:  # the C library's spellings of IPv4: 2130706433, 127.1, 0x7f000001, 0177.0.0.1, 0
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    return not is_allowed(ip)
