"""Where sessions live: a small storage interface, the local-folder backend, and URI parsing.

Keys are '/'-separated paths relative to the storage root (DESIGN §5). Writes are atomic: a
reader sees the old object or the new one, never a partial file. The GCS backend lives in
`pipeline/gcs_storage.py` and is chosen by `open_storage("gs://bucket/prefix")`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from pipeline.errors import StorageUnavailable

DEFAULT_STORAGE = "./data"
_KEY_RE = re.compile(r"\A[A-Za-z0-9._=\-]+(/[A-Za-z0-9._=\-]+)*\Z")  # \Z: "$" passes a final "\n"


def check_key(key: str) -> str:
    """Reject keys that could escape the root or hide in odd characters."""
    if not _KEY_RE.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    """What the pipeline, the flows and the API need from a store of objects."""

    uri: str

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...

    def read_bytes(self, key: str) -> bytes: ...

    def download_file(self, key: str, path: Path) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def delete(self, key: str) -> None: ...

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Write only if absent; True when this call created it (a lock / claim primitive)."""
        ...


class LocalStorage:
    """A folder on disk. Atomic writes: a temporary file in the same folder, fsync'd, then `os.replace`
    (or `os.link` for an exclusive create); every object is mode 0600."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.uri = self.root.as_uri()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _ensure_parent(self, key: str) -> Path:
        p = self.path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write under {self.root}: {exc}") from exc
        return p

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        p = self._ensure_parent(key)
        tmp = _durable_temp(p, data)
        try:
            os.replace(tmp, p)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        p = self._ensure_parent(key)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def download_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self.path(key), path)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return
        for p in sorted(start.rglob("*")):
            if p.is_file() and not p.name.startswith(".tmp-"):
                key = p.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        # Written in full to a temp file, then linked into place: `link` fails if the name exists,
        # so the claim stays exclusive, and a full disk leaves no empty object behind (it used to
        # leave an empty `auth/signing.key`, and every signed link failed from then on).
        p = self._ensure_parent(key)
        tmp = _durable_temp(p, data)
        try:
            os.link(tmp, p)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True


def _durable_temp(dest: Path, data: bytes) -> Path:
    """`data` in a new file beside `dest`, flushed to disk, mode 0600 (objects may be secrets:
    the signing key, API key records); removed again if the write fails (ENOSPC, EFBIG)."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def open_storage(uri: str | None = None) -> Storage:
    """`gs://bucket/prefix`, `file://...` or a directory path; default `$MOTIONLENS_STORAGE` or ./data."""
    uri = uri or os.environ.get("MOTIONLENS_STORAGE") or DEFAULT_STORAGE
    if uri.startswith("gs://"):
        from pipeline.gcs_storage import GcsStorage  # imported lazily: google libs are slow to import

        return GcsStorage.from_uri(uri)
    if uri.startswith("file://"):
        return LocalStorage(unquote(urlparse(uri).path))
    if "://" in uri:
        raise ValueError(f"unsupported storage URI {uri!r}: use a directory, file:// or gs://")
    return LocalStorage(uri)
