"""Ending a session that its run could not end: failed, with the reason, and nothing half-published.

Used when an analysis run fails, crashes or is cancelled outside the pipeline's own error handling
(Prefect hooks), and later by the scheduled inbox flow for runs whose failure could not be written
at the time (the storage itself was down).
"""

from __future__ import annotations

from typing import Any

from pipeline import errors
from pipeline.errors import PipelineError
from pipeline.manifest import failed, new_manifest
from pipeline.options import AnalysisOptions
from pipeline.session import export_key, read_manifest, session_prefix, write_manifest

TABLES = ("keypoints", "angles", "events", "metrics", "sessions")
# Failures worth another attempt: the video is fine, the infrastructure was not.
TRANSIENT_CODES = frozenset({"storage_unavailable", "download_failed", "orchestrator_unavailable", "worker_crashed"})
# Objects under sessions/{id}/ that outlive a failure: the manifest, the source video, the API's render bookkeeping.
_KEEP = ("session.json", "original.", "render.lock", "render-error.json")


def error_class(name: str) -> type[PipelineError] | None:
    """`StorageUnavailable` -> the class, for errors known only by name (a Prefect state message)."""
    found = getattr(errors, name, None)
    return found if isinstance(found, type) and issubclass(found, PipelineError) else None


def remove_partial_artifacts(storage: Any, manifest: dict[str, Any]) -> list[str]:
    """Delete what an interrupted publish left: session artifacts and this session's export rows.

    Exports matter most: a data scientist reading `exports/angles` must not see a failed session.
    """
    session_id = manifest["session_id"]
    removed = []
    for key in list(storage.list(session_prefix(session_id) + "/")):
        if not key.rsplit("/", 1)[-1].startswith(_KEEP):
            storage.delete(key)
            removed.append(key)
    date = (manifest.get("created_at") or "")[:10]
    if date and manifest.get("activity"):
        for table in TABLES:
            key = export_key(table, manifest["activity"], date, session_id)
            if storage.exists(key):
                storage.delete(key)
                removed.append(key)
    return removed


def record_failed(storage: Any, session_id: str, error: PipelineError,
                  parameters: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Mark the session failed unless it already ended; returns the manifest written, or None.

    `parameters` (the run's) rebuild a manifest when the run died before writing any.
    """
    manifest = read_manifest(storage, session_id)
    if manifest is not None and manifest.get("status") in ("completed", "failed"):
        return None
    if manifest is None:
        params = parameters or {}
        try:
            options = AnalysisOptions.from_dict(params.get("options") or {})
        except (PipelineError, TypeError):
            return None  # not even the options are known: nothing meaningful to record
        manifest = new_manifest(session_id, options, str(params.get("source")))
    remove_partial_artifacts(storage, manifest)
    out = failed(manifest, error)
    write_manifest(storage, out)
    return out
