"""The `analyze-session` Prefect flow: the stages of `pipeline.analysis` as tasks.

Tasks pass paths and small dicts, never frame arrays. Retries only where the network is involved
(fetching the source, publishing to storage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.pose_cache import cached_pose
from pipeline import analysis as stages
from pipeline.errors import DownloadFailed, PipelineError, StorageUnavailable
from pipeline.options import AnalysisOptions
from pipeline.storage import Storage, open_storage
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
def publish(storage: Storage, ws: stages.Workspace, manifest: dict[str, Any]) -> dict[str, Any]:
    return stages.publish(storage, ws, manifest)


TASKS = stages.Steps(ingest=ingest, pose=cached_pose, metrics=metrics, artifacts=artifacts, publish=publish)


@flow(name="analyze-session", log_prints=True)
def analyze_session(source: str, options: dict[str, Any], storage_uri: str | None = None,
                    session_id: str | None = None, on_frame: Any = None) -> dict[str, Any]:
    """Analyse one video into a published session; returns the manifest (failed ones too). A bug is
    recorded in the session as `internal_error`, then raised so that Prefect marks the run failed."""
    return stages.run_session(open_storage(storage_uri), source, AnalysisOptions.from_dict(options),
                              session_id=session_id, limits=VideoLimits.from_env(), on_frame=on_frame, steps=TASKS)
