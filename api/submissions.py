"""Turning a submitted video into a session: options, the queued manifest, the analysis run.

Before answering 202 the API stores the uploaded original under the session, takes a lease on the
session (`api.leases`) and writes the queued manifest, so the session id it returns is readable at
once and survives a crash. The `Submitter` then owns the session (it may rewrite that manifest) and
must end it `completed` or `failed`. If it raises instead, the session is marked failed here.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from api import leases
from api.background import Background
from api.errors import ApiError
from api.webhooks import notify_session_end
from api.shutdown import Lifecycle
from pipeline import __version__ as pipeline_version
from pipeline.errors import InvalidOption, PipelineError
from pipeline.manifest import with_status
from pipeline.options import AnalysisOptions
from pipeline.recovery import record_failed
from pipeline.session import artifact_key, read_manifest, utc_now_iso, write_manifest
from pipeline.sources import prefetched
from pipeline.storage import LocalStorage, Storage
from pipeline.tempdirs import make_temp_dir

log = logging.getLogger("motionlens.api")



class Submitter(Protocol):
    def __call__(self, storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                 *, session_id: str) -> str: ...


def default_submitter(storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                      *, session_id: str) -> str:
    from pipeline.analysis import submit_local  # imported on first use: pulls in mediapipe

    return submit_local(storage, activity, source, options, owner, session_id=session_id)


# Analyses in this process: `Submissions` downloads a remote source before the CPU slot is taken.
default_submitter.prefetch = True  # type: ignore[attr-defined]


def parse_options(raw: Mapping[str, Any], activity: str, owner: str) -> dict[str, Any]:
    """Validate client options (form strings or JSON values) into `AnalysisOptions.to_dict()`; 422 if wrong."""
    try:
        return AnalysisOptions.from_client(raw, activity, owner).to_dict()
    except InvalidOption as exc:
        raise ApiError(422, exc.code, exc.message) from exc


class Submissions:
    """Runs accepted sessions in this process, each under a lease (`api.leases`) that lets another
    process requeue it if this one dies. `draining` (a shutdown) refuses new work and leaves queued
    sessions queued for whoever runs next."""

    def __init__(self, storage: Storage, submitter: Submitter, background: Background, max_parallel: int,
                 lifecycle: Lifecycle | None = None) -> None:
        self.storage = storage
        self.submitter = submitter
        self.background = background
        self.lifecycle = lifecycle or Lifecycle()
        self._slots = threading.BoundedSemaphore(max_parallel)  # analyses are CPU-bound: queue the rest
        self._mine: dict[str, leases.Lease] = {}  # leases this process holds: renewed, handed back
        self._mine_lock = threading.Lock()

    def submit(self, *, session_id: str, activity: str, source: str, options: dict[str, Any], owner: str,
               filename: str | None, size_bytes: int | None, upload: Path | None = None) -> dict[str, Any]:
        """Record the session (its original video stored, a lease taken, the queued manifest written)
        and start it; once this returns the session survives a crash of this process."""
        self.lifecycle.check_accepting()
        now = utc_now_iso()
        manifest = {
            "session_id": session_id, "activity": activity, "owner": owner, "status": "queued", "error": None,
            "created_at": now, "updated_at": now,
            "source": {"uri": None if upload is not None else source, "filename": filename, "sha256": None,
                       "size_bytes": size_bytes},
            "options": options, "artifacts": {}, "pipeline_version": pipeline_version,
        }
        stored: str | None = None
        lease: leases.Lease | None = None
        try:
            if upload is not None:
                stored = artifact_key(session_id, "original" + (upload.suffix.lower() or ".mp4"))
                self.storage.upload_file(stored, upload, content_type="application/octet-stream")
                source = stored_source(self.storage, stored)
            lease = leases.Lease(session_id, activity, source, options, owner)
            leases.take(self.storage, lease)
            write_manifest(self.storage, manifest)
        except BaseException:
            if stored is not None:
                self.storage.delete(stored)
            if lease is not None:
                leases.release(self.storage, lease)
            raise
        self.start(lease)
        return manifest

    def start(self, lease: leases.Lease) -> None:
        with self._mine_lock:
            self._mine[lease.session_id] = lease
        self.background.start(f"analysis-{lease.session_id}", self._run, lease)

    def held(self) -> list[leases.Lease]:
        with self._mine_lock:
            return list(self._mine.values())

    def renew_leases(self) -> None:
        for lease in self.held():
            fresh = leases.renew(self.storage, lease)
            with self._mine_lock:
                if lease.session_id in self._mine:
                    self._mine[lease.session_id] = fresh

    def _run(self, lease: leases.Lease) -> None:
        session_id = lease.session_id
        handed_back = False
        workdir: Path | None = None
        try:
            # A remote source is fetched before taking a CPU slot: a slow one holds only its own thread.
            workdir = make_temp_dir(f"fetch-{session_id}")
            prefetch = getattr(self.submitter, "prefetch", False)
            with prefetched(lease.source, workdir) if prefetch else nullcontext():
                while not self._slots.acquire(timeout=0.5):
                    if self.lifecycle.draining:
                        handed_back = True  # still queued: the next process to start runs it
                        return
                try:
                    self.submitter(self.storage, lease.activity, lease.source, lease.options, lease.owner,
                                   session_id=session_id)
                finally:
                    self._slots.release()
        except Exception as exc:
            log.exception("analysis of session %s failed", session_id)
            self._mark_failed(session_id, exc)
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            if not handed_back:
                with self._mine_lock:
                    self._mine.pop(session_id, None)
                leases.release(self.storage, lease)
                leases.forget_takeovers(self.storage, session_id)
                notify_session_end(self.storage, session_id)  # webhooks of the owner, if the session ended

    def _mark_failed(self, session_id: str, exc: Exception) -> None:
        manifest = read_manifest(self.storage, session_id)
        if manifest is None or manifest.get("status") in ("completed", "failed"):
            return  # the submitter already recorded the outcome
        error = exc if isinstance(exc, PipelineError) else PipelineError(
            "the analysis stopped unexpectedly; it has been logged", code="internal_error")
        record_failed(self.storage, session_id, error)

    def hand_back(self) -> list[str]:
        """At shutdown, after the grace period: every session this process still holds goes back to
        `queued` with its lease marked handed back, so the next process takes it over at once."""
        returned = []
        for lease in self.held():
            held = leases.read(self.storage, lease.session_id)
            if held is None or held.token != lease.token:
                continue
            manifest = read_manifest(self.storage, lease.session_id)
            if manifest is not None and manifest.get("status") == "processing":
                write_manifest(self.storage, with_status(manifest, "queued"))
            leases.write(self.storage, replace(lease, handed_back=True))
            returned.append(lease.session_id)
        return returned


def stored_source(storage: Storage, key: str) -> str:
    """How the pipeline reads a stored object: a path for a local store, else the store's URI + key."""
    if isinstance(storage, LocalStorage):
        return str(storage.path(key))
    return f"{storage.uri.rstrip('/')}/{key}"
