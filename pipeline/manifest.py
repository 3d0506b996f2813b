"""Building the session manifest (docs/manifest.md) for each state of a session."""

from __future__ import annotations

import math
from typing import Any

from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.options import AnalysisOptions
from pipeline.session import utc_now_iso


def new_manifest(session_id: str, options: AnalysisOptions, source_uri: str,
                 created_at: str | None = None) -> dict[str, Any]:
    return {
        "session_id": session_id, "activity": options.activity, "owner": options.owner, "status": "queued",
        "error": None, "created_at": created_at or utc_now_iso(), "updated_at": utc_now_iso(),
        "source": {"uri": source_uri}, "probe": None, "options": options.to_dict(), "quality": None,
        "metrics": None, "angle_summary": None, "events": [], "segments": [], "warnings": [], "artifacts": {},
        "timings_s": {}, "processing_time_s": None, "model": {"name": options.model},
        "pipeline_version": __version__,
    }


def with_status(manifest: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    return json_safe({**manifest, **fields, "status": status, "updated_at": utc_now_iso()})


def failed(manifest: dict[str, Any], error: PipelineError) -> dict[str, Any]:
    """A failed session keeps what was learnt (source, probe) but no artifacts."""
    return with_status(manifest, "failed", error=error.as_dict(), artifacts={})


def json_safe(value: Any) -> Any:
    """NaN/inf -> None, tuples -> lists, numpy scalars -> Python (the manifest is strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
