"""The `analyze-session` Prefect flow: the stages of `pipeline.analysis` as tasks.

Tasks pass paths and small dicts, never frame arrays. Retries only where the network is involved
(fetching the source, publishing to storage).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.pose_cache import cached_pose
from pipeline import analysis as stages
from pipeline.errors import DownloadFailed, PipelineError, StorageUnavailable
from pipeline.manifest import new_manifest
from pipeline.options import AnalysisOptions
from pipeline.session import new_session_id, read_manifest
from pipeline.storage import open_storage
from pipeline.video import VideoLimits



def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry network and storage hiccups; a bad video stays bad however often it is read."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, (StorageUnavailable, DownloadFailed, ConnectionError, TimeoutError)) or (
        isinstance(exc, OSError) and not isinstance(exc, PipelineError))


NETWORK_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 5, 15], "retry_condition_fn": _transient}


@task(name="ingest", cache_policy=NO_CACHE, **NETWORK_RETRIES)
def ingest(source: str, ws: stages.Workspace, limits: VideoLimits) -> tuple[Path, dict[str, Any], Any]:
    return stages.ingest(source, ws, limits)


@task(name="metrics", cache_policy=NO_CACHE)
def metrics(video: Path, pose_path: Path, options: AnalysisOptions) -> Any:
    return stages.compute_metrics(video, pose_path, options)


@task(name="artifacts", cache_policy=NO_CACHE)
def artifacts(session_id: str, date: str, video: Path, pose_path: Path, result: Any, options: AnalysisOptions,
              ws: stages.Workspace, timings: dict[str, float], on_frame: Any = None) -> dict[str, Any]:
    return stages.collect_artifacts(session_id, date, video, pose_path, result, options, ws, timings, on_frame)


@task(name="publish", cache_policy=NO_CACHE, **NETWORK_RETRIES)
def publish(storage_uri: str | None, ws: stages.Workspace, manifest: dict[str, Any]) -> dict[str, Any]:
    try:
        return stages.publish(open_storage(storage_uri), ws, manifest)
    except OSError as exc:  # network and disk errors: retried by Prefect, then reported
        raise StorageUnavailable(f"could not publish to {storage_uri}: {exc}") from exc


@flow(name="analyze-session", log_prints=True)
def analyze_session(source: str, options: dict[str, Any], storage_uri: str | None = None,
                    session_id: str | None = None, on_frame: Any = None) -> dict[str, Any]:
    """Analyse one video into a published session; returns the manifest (failed ones too)."""
    storage = open_storage(storage_uri)
    opts = AnalysisOptions.from_dict(options)
    session_id = session_id or new_session_id()
    base = read_manifest(storage, session_id) or new_manifest(session_id, opts, source)
    ws = stages.Workspace.create(session_id)
    started, timings = time.perf_counter(), {}

    def timed(name: str, t: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = t(*args)
        timings[name] = time.perf_counter() - t0
        return out

    try:
        video, source_info, probe_info = timed("ingest", ingest, source, ws, VideoLimits.from_env())
        pose_path, people = timed("pose", cached_pose, storage_uri, source_info["sha256"], video, opts, ws, on_frame)
        result = timed("metrics", metrics, video, pose_path, opts)
        arts = artifacts(session_id, base["created_at"][:10], video, pose_path, result, opts, ws, timings, on_frame)
        manifest = stages.completed_manifest(base, result, probe_info, source_info, people, arts, timings, started)
        return timed("publish", publish, storage_uri, ws, manifest)
    except PipelineError as exc:
        return stages.record_failure(storage, base, exc)
    except Exception as exc:  # a bug: record it, then let Prefect mark the run failed
        stages.record_failure(storage, base, stages.internal_error(exc))
        raise
    finally:
        ws.cleanup()
