"""Getting the video to analyse onto local disk: a path, file://, https:// or gs:// URI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.errors import DownloadFailed, VideoNotFound, VideoTooLarge


def fetch_source(source: str, dest_dir: Path, *, max_bytes: int) -> Path:
    """A local path to the video: local files are used in place, remote ones streamed to `dest_dir`."""
    if source.startswith(("http://", "https://")):
        return _download_http(source, dest_dir, max_bytes)
    if source.startswith("gs://"):
        return _download_gcs(source, dest_dir, max_bytes)
    path = Path(unquote(urlparse(source).path)) if source.startswith("file://") else Path(source)
    if not path.exists():
        raise VideoNotFound(f"no such file: {source}")
    return path


def _suffix(name: str) -> str:
    suffix = Path(urlparse(name).path).suffix.lower()
    return suffix if suffix and len(suffix) <= 5 else ".mp4"


def _download_http(url: str, dest_dir: Path, max_bytes: int) -> Path:
    import httpx  # only for remote sources

    dest = dest_dir / f"source{_suffix(url)}"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as resp:
            if resp.status_code == 404:
                raise VideoNotFound(f"{url} answered 404 Not Found")
            if resp.status_code >= 400:
                raise DownloadFailed(f"{url} answered HTTP {resp.status_code}")
            declared = int(resp.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise VideoTooLarge(f"{url} is {declared / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB")
            written = 0
            with dest.open("wb") as f:
                for chunk in resp.iter_bytes(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise VideoTooLarge(f"{url} exceeds the limit of {max_bytes / 1e6:.0f} MB")
                    f.write(chunk)
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"could not download {url}: {exc}") from exc
    return dest


def _download_gcs(uri: str, dest_dir: Path, max_bytes: int) -> Path:
    from pipeline.gcs_storage import download_gcs_uri  # google libs only when needed

    dest = dest_dir / f"source{_suffix(uri)}"
    download_gcs_uri(uri, dest, max_bytes=max_bytes)
    return dest
