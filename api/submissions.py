"""Turning a submitted video into a session: options, the queued manifest, the analysis run.

The API writes the queued manifest itself before answering 202, so the session id it returns
is readable at once; the `Submitter` then owns the session (it may rewrite that manifest) and
must end it `completed` or `failed`. If it raises instead, the session is marked failed here.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, get_type_hints

from api.background import Background
from api.errors import ApiError
from pipeline import __version__ as pipeline_version
from pipeline.errors import InvalidOption, PipelineError
from pipeline.manifest import failed
from pipeline.options import AnalysisOptions
from pipeline.sources import prefetched
from pipeline.session import read_manifest, utc_now_iso, write_manifest
from pipeline.storage import Storage

log = logging.getLogger("motionlens.api")

_NOT_CLIENT_OPTIONS = ("activity", "owner")  # from the route and the API key, never from the body
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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
    hints = get_type_hints(AnalysisOptions)
    allowed = {f.name for f in fields(AnalysisOptions)} - set(_NOT_CLIENT_OPTIONS)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in allowed:
            raise ApiError(422, "invalid_option", f"unknown option {name!r}; known: {', '.join(sorted(allowed))}")
        values[name] = _coerce(name, value, hints[name])
    try:
        return AnalysisOptions(activity=activity, owner=owner, **values).to_dict()
    except InvalidOption as exc:
        raise ApiError(422, exc.code, exc.message) from exc


def _coerce(name: str, value: Any, hint: Any) -> Any:
    if value is None or value == "":
        return None
    kinds = getattr(hint, "__args__", (hint,))
    try:
        if bool in kinds:
            if isinstance(value, bool):
                return value
            if str(value).lower() in _TRUE + _FALSE:
                return str(value).lower() in _TRUE
            raise ValueError
        if float in kinds:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ApiError(422, "invalid_option", f"option {name!r} has an invalid value {value!r}") from None


class Submissions:
    def __init__(self, storage: Storage, submitter: Submitter, background: Background, max_parallel: int) -> None:
        self.storage = storage
        self.submitter = submitter
        self.background = background
        self._slots = threading.BoundedSemaphore(max_parallel)  # analyses are CPU-bound: queue the rest

    def submit(self, *, session_id: str, activity: str, source: str, options: dict[str, Any], owner: str,
               filename: str | None, size_bytes: int | None, workdir: Path) -> dict[str, Any]:
        now = utc_now_iso()
        manifest = {
            "session_id": session_id, "activity": activity, "owner": owner, "status": "queued", "error": None,
            "created_at": now, "updated_at": now,
            "source": {"uri": None if size_bytes is not None else source, "filename": filename, "sha256": None,
                       "size_bytes": size_bytes},
            "options": options, "artifacts": {}, "pipeline_version": pipeline_version,
        }
        write_manifest(self.storage, manifest)
        self.background.start(f"analysis-{session_id}", self._run, session_id, activity, source, options, owner,
                              workdir)
        return manifest

    def _run(self, session_id: str, activity: str, source: str, options: dict[str, Any], owner: str,
             workdir: Path) -> None:
        try:
            # A remote source is fetched before taking a CPU slot: a slow one holds only its own thread.
            fetch_first = prefetched(source, workdir) if getattr(self.submitter, "prefetch", False) else nullcontext()
            with fetch_first, self._slots:
                self.submitter(self.storage, activity, source, options, owner, session_id=session_id)
        except Exception as exc:
            log.exception("analysis of session %s failed", session_id)
            self._mark_failed(session_id, exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _mark_failed(self, session_id: str, exc: Exception) -> None:
        manifest = read_manifest(self.storage, session_id)
        if manifest is None or manifest.get("status") in ("completed", "failed"):
            return  # the submitter already recorded the outcome
        error = exc if isinstance(exc, PipelineError) else PipelineError(
            "the analysis stopped unexpectedly; it has been logged", code="internal_error")
        write_manifest(self.storage, failed(manifest, error))
