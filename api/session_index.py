"""Summaries of every stored session (owner, activity, status, dates), kept in memory per process.

Listing sessions must not read every manifest for every page. Each refresh asks the store only for
the manifests' versions — a folder's `os.stat` signature, a GCS object's generation, all from one
directory scan or one object listing — and reads again only the manifests whose version changed
(new sessions, and queued/processing ones moving on). A cold process reads each manifest once
(over GCS on a few threads). A store that exposes no versions is read in full on every refresh.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.cache import cacheable
from pipeline.session import is_valid_session_id, manifest_key
from pipeline.storage import LocalStorage, Storage

_MANIFEST = "session.json"
_READ_THREADS = 8  # parallel manifest reads over a network store (each a round trip)


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    activity: str
    owner: str
    status: str
    created_at: datetime  # aware, UTC
    created_at_utc: str
    updated_at_utc: str | None
    exercise: str | None
    error: dict[str, Any] | None

    @property
    def order(self) -> tuple[datetime, str]:
        """Newest first, ties broken by id: a stable total order for cursors."""
        return self.created_at, self.session_id


def parse_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def summarize(manifest: dict[str, Any]) -> SessionSummary | None:
    """None for a manifest that cannot be listed (no owner, no creation time)."""
    try:
        created = str(manifest["created_at"])
        return SessionSummary(
            session_id=str(manifest["session_id"]), activity=str(manifest["activity"]),
            owner=str(manifest["owner"]), status=str(manifest.get("status")), created_at=parse_utc(created),
            created_at_utc=created, updated_at_utc=manifest.get("updated_at"),
            exercise=(manifest.get("options") or {}).get("exercise"), error=manifest.get("error"))
    except (KeyError, TypeError, ValueError):
        return None


class SessionIndex:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._entries: dict[str, tuple[Hashable, SessionSummary | None]] = {}
        self._lock = threading.Lock()  # one refresh at a time; the others wait and share its result
        self.reads = 0  # manifests read since start (tests and the benchmark check it)

    def refresh(self) -> list[SessionSummary]:
        with self._lock:
            versions = dict(self._versions())
            stale = [sid for sid, version in versions.items()
                     if version is None or sid not in self._entries or self._entries[sid][0] != version]
            for sid, summary in zip(stale, self._read_all(stale), strict=True):
                self._entries[sid] = (versions[sid], summary)
            for sid in self._entries.keys() - versions.keys():
                del self._entries[sid]
            return [summary for _, summary in self._entries.values() if summary is not None]

    def _read_all(self, session_ids: list[str]) -> list[SessionSummary | None]:
        self.reads += len(session_ids)
        if cacheable(self.storage) or len(session_ids) < 2:
            return [self._read(sid) for sid in session_ids]
        with ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="session-index") as pool:
            return list(pool.map(self._read, session_ids))

    def _read(self, session_id: str) -> SessionSummary | None:
        try:
            manifest = json.loads(self.storage.read_bytes(manifest_key(session_id)))
        except FileNotFoundError:  # deleted between the listing and the read
            return None
        except ValueError:  # a torn or foreign file: not listable, and not a reason to fail the page
            return None
        if not isinstance(manifest, dict) or manifest.get("session_id") != session_id:
            return None
        return summarize(manifest)

    def _versions(self) -> Iterator[tuple[str, Hashable]]:
        """(session id, version of its manifest); version None when the store cannot tell."""
        if isinstance(self.storage, LocalStorage):
            yield from _local_versions(self.storage)
            return
        if hasattr(self.storage, "client") and hasattr(self.storage, "bucket"):
            yield from _gcs_versions(self.storage)
            return
        for key in self.storage.list("sessions/"):
            session_id = _session_of(key)
            if session_id:
                yield session_id, None


def _session_of(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) == 3 and parts[0] == "sessions" and parts[2] == _MANIFEST and is_valid_session_id(parts[1]):
        return parts[1]
    return None


def _local_versions(storage: LocalStorage) -> Iterator[tuple[str, Hashable]]:
    # One scandir and one stat per session: the artifacts beside the manifests are never walked.
    try:
        entries = list(os.scandir(storage.root / "sessions"))
    except FileNotFoundError:
        return
    for entry in entries:
        if not is_valid_session_id(entry.name):
            continue
        try:
            st = os.stat(os.path.join(entry.path, _MANIFEST))
        except (FileNotFoundError, NotADirectoryError):
            continue  # a session whose manifest is not published yet
        yield entry.name, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _gcs_versions(storage: Any) -> Iterator[tuple[str, Hashable]]:
    # One listing returns every manifest's generation: no per-session request. `match_glob` keeps
    # the artifacts out of the listing where the server supports it; the name check below keeps
    # the result right where it does not (the emulator).
    from pipeline.gcs_storage import _storage_errors

    prefix = f"{storage.prefix}/" if storage.prefix else ""
    with _storage_errors(f"could not list gs://{storage.bucket_name}/{prefix}sessions/"):
        blobs = [(b.name, b.generation, b.size) for b in storage.client.list_blobs(
            storage.bucket, prefix=f"{prefix}sessions/", match_glob=f"{prefix}sessions/*/{_MANIFEST}",
            fields="items(name,generation,size),nextPageToken", timeout=storage.settings.request_timeout_s)]
    for name, generation, size in blobs:
        session_id = _session_of(name[len(prefix):])
        if session_id:
            yield session_id, (generation, size)
