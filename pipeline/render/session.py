"""Re-render a stored session's annotated video from its stored pose, without running pose again.

    manifest = render_session(storage, session_id)

Downloads `artifacts.original` and `artifacts.pose` (the raw PoseSequence NPZ) to a temporary
folder, re-runs the analysis' own metric step (`pipeline.analysis.compute_metrics`: the cheap analysis,
and the bar tracker for lifts) with the session's options, renders, uploads
`sessions/{id}/analyzed.mp4`, and only then updates the manifest (written last, as everywhere:
a reader never sees a manifest pointing at a video that is not there). Missing images
(`artifacts.images`) are made on the way. The API's render route and the render flow call this.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.manifest import with_status
from pipeline.metrics.activity import Analysis
from pipeline.options import AnalysisOptions
from pipeline.tempdirs import owner_tag  # a dead render's folder is removed at the next start-up
from pipeline.session import artifact_key, read_manifest, write_manifest
from pipeline.storage import Storage
from pipeline.video import Frame

ANALYZED_VIDEO = "analyzed.mp4"


class SessionNotFound(PipelineError):
    code = "session_not_found"


class NotRenderable(PipelineError):
    code = "not_renderable"


def options_from_manifest(manifest: dict[str, Any]) -> AnalysisOptions:
    """The session's options, ignoring keys this version does not know (manifests outlive code)."""
    known = {f.name for f in dataclasses.fields(AnalysisOptions)}
    data = {k: v for k, v in (manifest.get("options") or {}).items() if k in known}
    data.setdefault("activity", manifest.get("activity"))
    return AnalysisOptions.from_dict(data)


def render_session(storage: Storage, session_id: str, *, on_frame: Callable[[Frame], None] | None = None,
                   images: bool = True) -> dict[str, Any]:
    """Render `sessions/{id}/analyzed.mp4` from the stored pose and original; returns the updated manifest."""
    from pipeline.analysis import compute_metrics  # the use-case layer above render/: imported when used
    from pipeline.render.session_charts import session_images
    from pipeline.render.video import render_analysis

    manifest = read_manifest(storage, session_id)
    if manifest is None:
        raise SessionNotFound(f"no session {session_id}")
    arts = manifest.get("artifacts") or {}
    original, pose = arts.get("original"), arts.get("pose")
    if manifest.get("status") != "completed" or not original or not pose:
        raise NotRenderable(f"session {session_id} has no stored pose and original video to render from "
                            f"(status {manifest.get('status')})")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"motionlens-render-{session_id[:8]}.{owner_tag()}.") as tmp:
        work = Path(tmp)
        video = work / ("original" + (Path(original).suffix or ".mp4"))
        storage.download_file(original, video)
        storage.download_file(pose, work / "pose.npz")
        # the analysis' own metric step: a lift's bar is tracked again (plate path and scale), as first drawn
        options = options_from_manifest(manifest)
        analysis: Analysis = compute_metrics(video, work / "pose.npz", options)
        out = render_analysis(video, analysis, work / ANALYZED_VIDEO, on_frame=on_frame, window=options.window)
        video_key = artifact_key(session_id, ANALYZED_VIDEO)
        storage.upload_file(video_key, out, content_type="video/mp4")
        image_keys: dict[str, str] = {}
        have = arts.get("images") if isinstance(arts.get("images"), dict) else {}
        if images and not all(have.get(k) for k in ("angle_chart", "contact_sheet")):
            for name, path in session_images(video, analysis, work / "images").items():
                key = artifact_key(session_id, path.name)
                storage.upload_file(key, path, content_type="image/png")
                image_keys[name] = key
    # re-read: the manifest may have changed while rendering; only our keys are updated
    latest = read_manifest(storage, session_id) or manifest
    artifacts = dict(latest.get("artifacts") or {})
    artifacts["analyzed_video"] = video_key
    if image_keys:
        artifacts["images"] = {**(artifacts.get("images") or {}), **image_keys}
    timings = dict(latest.get("timings_s") or {})
    timings["render"] = round(time.perf_counter() - started, 3)
    updated = with_status(latest, latest.get("status", "completed"), artifacts=artifacts, timings_s=timings)
    write_manifest(storage, updated)
    return updated
