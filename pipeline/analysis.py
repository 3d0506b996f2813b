"""The analysis stages of one session, as plain functions on paths (the Prefect flow wraps them).

Stages write into a per-session work folder; only `publish` touches the storage, uploading every
artifact first and the manifest last, so a reader never sees a half-published session.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline import export, pose_cache
from pipeline.errors import PipelineError, StorageUnavailable
from pipeline.manifest import failed, new_manifest, with_status
from pipeline.metrics.activity import Analysis, analyze_pose, angle_summary
from pipeline.metrics.shots import detect_shots
from pipeline.options import AnalysisOptions
from pipeline.pose.models import model_sha256, resolve_model
from pipeline.pose.parallel import estimate_athlete_parallel, pose_settings
from pipeline.pose.sequence import PoseSequence
from pipeline.quality import quality_block
from pipeline.recovery import remove_partial_artifacts
from pipeline.session import artifact_key, export_key, new_session_id, read_manifest, write_manifest
from pipeline.sources import fetch_source
from pipeline.storage import Storage
from pipeline.tempdirs import make_temp_dir
from pipeline.video import WHOLE, Frame, ProbeInfo, TimeWindow, VideoLimits, check_complete, probe

ProgressFn = Callable[[Frame], None]


@dataclass
class Workspace:
    """Local files of one session while it is being analysed."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)   # storage key -> local file

    @classmethod
    def create(cls, session_id: str) -> "Workspace":
        return cls(make_temp_dir(session_id[:8]))  # tagged with this process: removed if it dies

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def ingest(source: str, ws: Workspace, limits: VideoLimits) -> tuple[Path, dict[str, Any], ProbeInfo]:
    """Bring the video into the workspace and probe it (raises a specific PipelineError)."""
    path = fetch_source(source, ws.root, max_bytes=limits.max_bytes)
    info = probe(path, limits)
    check_complete(path)  # a cut-short upload fails as truncated_video now, not as fewer frames later
    src = {"uri": source, "filename": Path(source).name, "sha256": sha256_file(path),
           "size_bytes": path.stat().st_size}
    return path, src, info


def run_pose(video: Path, options: AnalysisOptions, ws: Workspace,
             on_frame: ProgressFn | None = None) -> tuple[Path, dict[str, Any]]:
    """Raw athlete pose saved as NPZ in the workspace, posed on MOTIONLENS_WORKERS threads (default:
    every core this process may use; the result means the same for any count, see pose.parallel)."""
    workers, num_poses = pose_settings(options.activity, options.exercise)
    seq, people = estimate_athlete_parallel(video, model=options.model, select=pose_cache.athlete_selection(options),
                                            workers=workers, num_poses=num_poses, on_frame=on_frame,
                                            window=options.window)
    path = ws.root / "pose.npz"
    seq.save_npz(str(path))
    return path, people


def pose(storage: Storage, video_sha256: str, video: Path, options: AnalysisOptions, ws: Workspace,
         on_frame: ProgressFn | None = None) -> tuple[Path, dict[str, Any]]:
    """The athlete's raw pose from the storage-wide cache (video hash + model + selection), else estimated."""
    path, people, _ = pose_cache.cached_pose(storage, video_sha256, options, ws.root / "pose.npz",
                                             lambda: run_pose(video, options, ws, on_frame))
    return path, people


def compute_metrics(video: Path, pose_path: Path, options: AnalysisOptions) -> Analysis:
    """Clean, angles and activity metrics; lifts also track the bar end in the video when visible."""
    raw = PoseSequence.load_npz(str(pose_path))
    if options.activity != "weightlifting":
        return analyze_pose(raw, options)
    from pipeline.metrics.bar_tracker import track_bar  # reads frames: only for lifts

    bar = track_bar(video, raw, window=options.window)
    return analyze_pose(raw, options, bar_xy=bar.xy, plate_radius_px=bar.plate_radius_px)


def lift_analysis(session_id: str, video: Path, analysis: Analysis, ws: Workspace) -> dict[str, Any]:
    """Key-position images, charts and recommendations, stored under sessions/{id}/lift-analysis/."""
    from pipeline.render.lift_report import build_lift_report

    out_dir = ws.root / "lift-analysis"
    report = build_lift_report(video, analysis.seq, analysis.angles, analysis.result, out_dir, bar_xy=analysis.bar_xy)

    def stored(item: dict[str, Any]) -> dict[str, Any]:
        key = artifact_key(session_id, f"lift-analysis/{item['file']}")
        ws.files[key] = out_dir / item["file"]
        return {"key": key, **{k: v for k, v in item.items() if k != "file"}}

    return {"images": [stored(i) for i in report["images"]], "charts": [stored(c) for c in report["charts"]],
            "recommendations": report["recommendations"]}


def session_images(session_id: str, video: Path, analysis: Analysis, ws: Workspace) -> dict[str, str]:
    """The angle-over-time chart and the key-frame contact sheet (PNG)."""
    from pipeline.render.session_charts import session_images as make_images

    keys = {}
    for name, path in make_images(video, analysis, ws.root / "images").items():
        key = artifact_key(session_id, path.name)
        ws.files[key] = path
        keys[name] = key
    return keys


def export_tables(session_id: str, date: str, analysis: Analysis, ws: Workspace,
                  options: AnalysisOptions | None = None) -> dict[str, str]:
    """Write the Parquet tables (but `sessions`, written with the manifest); returns table -> storage key."""
    activity = analysis.result.activity
    model = options.model if options else "full"
    processing = export.processing_metadata(analysis, model, model_sha256(resolve_model(model)))
    tables = {
        "keypoints": export.keypoints_table(session_id, analysis.seq),
        "angles": export.angles_table(session_id, analysis.seq, analysis.angles),
        "events": export.events_table(session_id, analysis.result),
        "metrics": export.metrics_table(session_id, analysis.result),
    }
    paths = export.write_tables({name: (export.with_processing(table, processing),
                                        ws.root / "exports" / f"{name}.parquet") for name, table in tables.items()})
    keys = {name: export_key(name, activity, date, session_id) for name in tables}
    ws.files.update({keys[name]: path for name, path in paths.items()})
    return keys


def render(video: Path, analysis: Analysis, ws: Workspace, on_frame: ProgressFn | None = None,
           window: TimeWindow = WHOLE) -> Path:
    from pipeline.render.video import render_analysis  # cv2 drawing only when rendering

    return render_analysis(video, analysis, ws.root / "analyzed.mp4", on_frame=on_frame, window=window)


def completed_manifest(base: dict[str, Any], analysis: Analysis, probe_info: ProbeInfo, source: dict[str, Any],
                       people: dict[str, Any], artifacts: dict[str, Any], timings: dict[str, float],
                       started: float) -> dict[str, Any]:
    window = _window_block(base["options"], probe_info, len(analysis.raw))
    seen = replace(probe_info, frame_count=window["expected_frames"]) if window["expected_frames"] else probe_info
    quality = quality_block(analysis.result.activity, analysis.raw, analysis.view, seen, people,
                            decoded_frames=len(analysis.raw))
    events = [{"type": e.type, "time_s": round(e.time_s, 4), "frame": e.frame, "side": e.side, "index": e.index}
              for e in analysis.result.events]
    model_path = resolve_model(base["options"]["model"])
    return with_status(
        base, "completed", source=source, probe={**probe_info.to_dict(), "window": window}, quality=quality,
        metrics=analysis.result.summary, angle_summary=angle_summary(analysis.angles), events=events,
        segments=detect_shots(analysis.raw).as_dicts(analysis.raw.time_s),
        warnings=quality["warnings"] + analysis.result.warnings, artifacts=artifacts,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        processing_time_s=round(time.perf_counter() - started, 3),
        model={"name": base["options"]["model"], "sha256": model_sha256(model_path)},
    )


def _window_block(options: dict[str, Any], probe_info: ProbeInfo, decoded: int) -> dict[str, Any]:
    """The part of the clip analysed (its own time): times in events, metrics and exports are the
    clip's; the annotated video shows the window only. `expected_frames` (None for the whole clip:
    the header's count applies) is what the quality checks compare the decoded frames with."""
    start, end = options.get("start_s"), options.get("end_s")
    if start is None and end is None:
        return {"start_s": 0.0, "end_s": round(probe_info.duration_s, 4), "frames": decoded, "expected_frames": None}
    stop = probe_info.duration_s if end is None else min(end, probe_info.duration_s)
    expected = max(1, int(round((stop - (start or 0.0)) * probe_info.fps)))
    return {"start_s": start or 0.0, "end_s": round(stop, 4), "frames": decoded, "expected_frames": expected}


def publish(storage: Storage, ws: Workspace, manifest: dict[str, Any]) -> dict[str, Any]:
    """Upload every artifact, then the `sessions` row, then the manifest (last: it is the commit)."""
    try:
        for key, path in ws.files.items():
            storage.upload_file(key, path, content_type=_content_type(key))
        date = manifest["created_at"][:10]
        key = export_key("sessions", manifest["activity"], date, manifest["session_id"])
        path = export.write_table(export.sessions_table(manifest), ws.root / "exports" / "sessions.parquet")
        storage.upload_file(key, path, content_type="application/vnd.apache.parquet")
        manifest["artifacts"].setdefault("exports", {})["sessions"] = key
        write_manifest(storage, manifest)
    except OSError as exc:  # network and disk errors (the flow's task retries them first)
        raise StorageUnavailable(f"could not publish to {storage.uri}: {exc}") from exc
    return manifest


def _content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return {".mp4": "video/mp4", ".mov": "video/quicktime", ".png": "image/png", ".json": "application/json",
            ".parquet": "application/vnd.apache.parquet", ".npz": "application/octet-stream",
            ".webm": "video/webm"}.get(suffix, "application/octet-stream")


def record_failure(storage: Storage, manifest: dict[str, Any], error: PipelineError) -> dict[str, Any]:
    """Only the manifest is written for a failed session: what a failed publish had already uploaded
    (artifacts, this session's export rows) is removed first, on this path as on Prefect's."""
    remove_partial_artifacts(storage, manifest)
    out = failed(manifest, error)
    write_manifest(storage, out)
    return out


@dataclass(frozen=True)
class Steps:
    """What `analyze_into` calls for each step: these plain functions, or the Prefect flow's tasks
    around them (`flows/analyze.py`), so both paths share one sequence and one failure policy."""

    ingest: Callable[..., tuple[Path, dict[str, Any], ProbeInfo]]
    pose: Callable[..., tuple[Path, dict[str, Any]]]
    metrics: Callable[..., Analysis]
    artifacts: Callable[..., dict[str, Any]]
    publish: Callable[..., dict[str, Any]]


def run_session(storage: Storage, source: str, options: AnalysisOptions, *, session_id: str | None = None,
                limits: VideoLimits | None = None, on_frame: ProgressFn | None = None,
                steps: Steps | None = None) -> dict[str, Any]:
    """One session from source to published manifest; a failure is recorded as such (nothing else is
    published) and returned, a bug is recorded as `internal_error` and raised."""
    session_id = session_id or new_session_id()
    base = read_manifest(storage, session_id) or new_manifest(session_id, options, source)
    ws = Workspace.create(session_id)
    try:
        return analyze_into(storage, base, source, options, ws, limits or VideoLimits.from_env(), on_frame,
                            steps or PLAIN_STEPS)
    except PipelineError as exc:
        return record_failure(storage, base, exc)
    except Exception as exc:  # a bug: still never leave the session 'processing'
        record_failure(storage, base, internal_error(exc))
        raise
    finally:
        ws.cleanup()


def internal_error(exc: BaseException) -> PipelineError:
    return PipelineError(f"internal error ({type(exc).__name__}): {exc}", code="internal_error")


def analyze_into(storage: Storage, base: dict[str, Any], source: str, options: AnalysisOptions, ws: Workspace,
                 limits: VideoLimits, on_frame: ProgressFn | None, steps: Steps) -> dict[str, Any]:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    session_id = base["session_id"]

    def timed(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        t = time.perf_counter()
        out = fn(*args)
        timings[name] = time.perf_counter() - t
        return out

    own = own_upload(storage, session_id, source)
    if own is not None:  # the session's stored upload: read through the store, not as a client's gs:// source
        local = ws.root / f"upload{Path(own).suffix}"
        storage.download_file(own, local)
    video, source_info, probe_info = timed("ingest", steps.ingest, str(local) if own else source, ws, limits)
    options.check_window(probe_info.duration_s)   # a window outside the clip fails before any pose runs
    if own is not None:
        source_info.update(uri=source, filename=Path(own).name)
    pose_path, people = timed("pose", steps.pose, storage, source_info["sha256"], video, options, ws, on_frame)
    analysis = timed("metrics", steps.metrics, video, pose_path, options)
    artifacts = steps.artifacts(session_id, base["created_at"][:10], video, pose_path, analysis, options, ws,
                                timings, on_frame)
    manifest = completed_manifest(base, analysis, probe_info, source_info, people, artifacts, timings, started)
    return timed("publish", steps.publish, storage, ws, manifest)


def own_upload(storage: Storage, session_id: str, source: str) -> str | None:
    """The key of this session's own stored original when `source` names it inside `storage`.

    Only the session's own `sessions/{id}/original.*` qualifies: another session's upload (or any
    other object of the store) stays a client `gs://` source under `MOTIONLENS_ALLOWED_SOURCES`."""
    prefix = storage.uri.rstrip("/") + "/"
    if not source.startswith(prefix):
        return None
    key = source[len(prefix):]
    return key if re.fullmatch(rf"sessions/{re.escape(session_id)}/original\.[a-z0-9]{{1,5}}", key) else None


def collect_artifacts(session_id: str, date: str, video: Path, pose_path: Path, analysis: Analysis,
                      options: AnalysisOptions, ws: Workspace, timings: dict[str, float],
                      on_frame: ProgressFn | None) -> dict[str, Any]:
    """Exports, then the pictures (charts, lift analysis) in a thread while the video renders: the
    render's pipeline leaves gaps on the cores that matplotlib and the key-frame reads fill."""
    original_key = artifact_key(session_id, "original" + (video.suffix.lower() or ".mp4"))
    ws.files[original_key] = video
    ws.files[artifact_key(session_id, "pose.npz")] = pose_path
    t = time.perf_counter()
    artifacts: dict[str, Any] = {"original": original_key, "pose": artifact_key(session_id, "pose.npz"),
                                 "exports": export_tables(session_id, date, analysis, ws, options), "analyzed_video": None}
    timings["export"] = time.perf_counter() - t
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pictures") as pool:
        pictures = pool.submit(_pictures, session_id, video, analysis, options, ws)
        if options.render:
            t = time.perf_counter()
            key = artifact_key(session_id, "analyzed.mp4")
            ws.files[key] = render(video, analysis, ws, on_frame, options.window)
            artifacts["analyzed_video"] = key
            timings["render"] = time.perf_counter() - t
        drawn, took = pictures.result()
        artifacts.update(drawn)
        timings.update(took)
    return artifacts


def _pictures(session_id: str, video: Path, analysis: Analysis, options: AnalysisOptions,
              ws: Workspace) -> tuple[dict[str, Any], dict[str, float]]:
    """The session's charts and, for lifts, the lift analysis (one thread: matplotlib is not re-entrant),
    and what each took. Runs beside the render: its files go into `ws.files` under keys of its own."""
    took: dict[str, float] = {}
    t = time.perf_counter()
    out: dict[str, Any] = {"images": session_images(session_id, video, analysis, ws)}
    took["images"] = time.perf_counter() - t
    if options.activity == "weightlifting":
        t = time.perf_counter()
        out["lift_analysis"] = lift_analysis(session_id, video, analysis, ws)
        took["lift_analysis"] = time.perf_counter() - t
    return out, took


PLAIN_STEPS = Steps(ingest=ingest, pose=pose, metrics=compute_metrics, artifacts=collect_artifacts, publish=publish)


def mark_processing(storage: Storage, manifest: dict[str, Any]) -> dict[str, Any]:
    out = with_status(manifest, "processing")
    write_manifest(storage, out)
    return out


def submit_local(storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str, *,
                 session_id: str) -> str:
    """Run a submitted session in this process (the API's default when no Prefect API is configured).

    The caller has written the queued manifest; this marks it processing and ends it completed or failed.
    """
    opts = AnalysisOptions.from_dict({**options, "activity": activity, "owner": owner})
    base = read_manifest(storage, session_id) or new_manifest(session_id, opts, source)
    mark_processing(storage, base)
    run_session(storage, source, opts, session_id=session_id)
    return session_id
