"""Getting the video to analyse onto local disk: a path, file://, http(s):// or gs:// URI.

Remote sources are hostile input (an API client names them and the server fetches them):
- http(s) goes through the SSRF guard (`pipeline.url_guard`): public addresses only, each redirect
  hop re-checked, the connection made to the checked address;
- a download has a total deadline and a minimum rate (`FetchLimits`), so a source that trickles
  bytes cannot hold a worker for long;
- whatever fails (refused, DNS, HTTP error, too slow, not a video container, missing or forbidden
  object) is one `SourceUnreachable`, so the session's error tells a port scanner nothing; the
  cause is logged. Only a declared or counted size above the limit keeps its own code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.containers import SNIFF_BYTES, sniff_container
from pipeline.errors import PipelineError, SourceUnreachable, VideoNotFound, VideoTooLarge

log = logging.getLogger("motionlens.sources")

REMOTE_SCHEMES = ("http", "https", "gs")


@dataclass(frozen=True)
class FetchLimits:
    # The whole download must end within this (a read may overrun it by at most `read_timeout_s`).
    deadline_s: float = 600.0
    # After `grace_s`, the average rate must stay above this; 64 kB/s moves 512 MB in ~2 h, so
    # the deadline is what bounds big files and this catches trickles early.
    min_rate_bps: float = 64 * 1024
    grace_s: float = 10.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> FetchLimits:
        """MOTIONLENS_FETCH_DEADLINE_S / _MIN_RATE_BPS / _GRACE_S / _CONNECT_TIMEOUT_S / _READ_TIMEOUT_S."""
        d, env = cls(), os.environ
        return cls(deadline_s=float(env.get("MOTIONLENS_FETCH_DEADLINE_S", d.deadline_s)),
                   min_rate_bps=float(env.get("MOTIONLENS_FETCH_MIN_RATE_BPS", d.min_rate_bps)),
                   grace_s=float(env.get("MOTIONLENS_FETCH_GRACE_S", d.grace_s)),
                   connect_timeout_s=float(env.get("MOTIONLENS_FETCH_CONNECT_TIMEOUT_S", d.connect_timeout_s)),
                   read_timeout_s=float(env.get("MOTIONLENS_FETCH_READ_TIMEOUT_S", d.read_timeout_s)))


class _Refused(Exception):
    """Any reason not to use what the server sent; logged, never shown."""


def is_remote(source: str) -> bool:
    return urlparse(source).scheme in REMOTE_SCHEMES


def fetch_source(source: str, dest_dir: Path, *, max_bytes: int, limits: FetchLimits | None = None) -> Path:
    """A local path to the video: local files are used in place, remote ones streamed to `dest_dir`."""
    local = _prefetched.get(source)
    if local is not None:
        return local
    scheme = urlparse(source).scheme
    if scheme in ("http", "https"):
        return _download_http(source, dest_dir, max_bytes, limits or FetchLimits.from_env())
    if scheme == "gs":
        return _download_gcs(source, dest_dir, max_bytes)
    if scheme not in ("", "file") and "://" in source:
        log.warning("source %s refused: scheme %r", source, scheme)
        raise SourceUnreachable()
    path = Path(unquote(urlparse(source).path)) if scheme == "file" else Path(source)
    if not path.exists():
        raise VideoNotFound(f"no such file: {source}")
    return path


class _Prefetched:
    """Downloads done ahead of the analysis slot, per thread: the analysis that follows in the same
    thread finds the file instead of fetching again (see `prefetched`)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, source: str) -> Path | None:
        entry = getattr(self._local, "entry", None)
        return entry[1] if entry is not None and entry[0] == source else None

    @contextmanager
    def holding(self, source: str, path: Path) -> Iterator[None]:
        self._local.entry = (source, path)
        try:
            yield
        finally:
            self._local.entry = None


_prefetched = _Prefetched()


@contextmanager
def prefetched(source: str, dest_dir: Path, *, max_bytes: int | None = None) -> Iterator[None]:
    """Download a remote `source` now, into `dest_dir`, and let `fetch_source(source)` in this thread
    return that file until the block ends. Lets a caller fetch before taking a CPU slot, so a slow
    source holds only its own thread (the manifest still records the URL). Local sources: no-op."""
    if not is_remote(source):
        yield
        return
    if max_bytes is None:
        from pipeline.video import VideoLimits  # the analysis' own limit (imports the decoder)

        max_bytes = VideoLimits.from_env().max_bytes
    path = fetch_source(source, dest_dir, max_bytes=max_bytes)
    with _prefetched.holding(source, path):
        yield


def _suffix(name: str) -> str:
    suffix = Path(urlparse(name).path).suffix.lower()
    return suffix if suffix and len(suffix) <= 5 and suffix[1:].isalnum() else ".mp4"


def _download_http(url: str, dest_dir: Path, max_bytes: int, limits: FetchLimits) -> Path:
    import httpx  # only for remote sources

    from pipeline.url_guard import UnsafeUrl, guarded_client

    dest = dest_dir / "source.download"
    started = time.monotonic()
    # A read never waits past the deadline or the grace period: both are checked between reads.
    read_timeout = max(0.05, min(limits.read_timeout_s, limits.grace_s, limits.deadline_s))
    timeout = httpx.Timeout(read_timeout, connect=min(limits.connect_timeout_s, limits.deadline_s))
    try:
        with guarded_client(timeout=timeout) as client, client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise _Refused(f"HTTP {resp.status_code}")  # reported like any other failure
            declared = resp.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > max_bytes:
                raise VideoTooLarge(f"the video is {int(declared) / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB")
            written, head, suffix = 0, b"", None
            with dest.open("wb") as f:
                for chunk in resp.iter_bytes():
                    written += len(chunk)
                    if written > max_bytes:
                        raise VideoTooLarge(f"the video exceeds the limit of {max_bytes / 1e6:.0f} MB")
                    if suffix is None:
                        head += chunk
                        if len(head) >= SNIFF_BYTES:
                            suffix = _sniffed(head)
                    f.write(chunk)
                    _check_pace(written, started, limits)
            if suffix is None:
                suffix = _sniffed(head)
    except PipelineError:
        dest.unlink(missing_ok=True)
        raise
    except (UnsafeUrl, httpx.HTTPError, _Refused, OSError) as exc:
        dest.unlink(missing_ok=True)
        log.warning("source %s unreachable: %s: %s", url, type(exc).__name__, exc)
        raise SourceUnreachable() from None
    final = dest.with_name(f"source{suffix}")
    dest.rename(final)
    return final


def _sniffed(head: bytes) -> str:
    suffix = sniff_container(head)
    if suffix is None:
        raise _Refused("not a recognised video container")
    return suffix


def _check_pace(written: int, started: float, limits: FetchLimits) -> None:
    elapsed = time.monotonic() - started
    if elapsed > limits.deadline_s:
        raise _Refused(f"deadline of {limits.deadline_s:g} s passed ({written} bytes)")
    if elapsed > limits.grace_s and written / elapsed < limits.min_rate_bps:
        raise _Refused(f"{written / elapsed:.0f} B/s is below the minimum {limits.min_rate_bps:g} B/s")


def _download_gcs(uri: str, dest_dir: Path, max_bytes: int) -> Path:
    from pipeline.gcs_storage import download_gcs_uri  # google libs only when needed

    dest = dest_dir / f"source{_suffix(uri)}"
    try:
        download_gcs_uri(uri, dest, max_bytes=max_bytes)
    except VideoTooLarge:
        raise
    except PipelineError as exc:  # missing, forbidden, unreachable: the same answer
        log.warning("source %s unreachable: %s: %s", uri, exc.code, exc.message)
        raise SourceUnreachable() from None
    return dest
