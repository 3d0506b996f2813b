"""The pose task with the storage-wide pose cache (`pipeline/pose_cache.py`) in front of it.

The `pose` step of `flows/analyze.py` (`pipeline.analysis.pose` as a task), given the storage and
the video's sha256 (which `ingest` already computed).

Re-analysing a video (a rerun after a failure, the same clip in a new session, new metric code)
then costs a download instead of pose estimation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pipeline import analysis as stages
from pipeline import pose_cache
from pipeline.options import AnalysisOptions
from pipeline.storage import Storage


@task(name="pose", cache_policy=NO_CACHE)
def cached_pose(storage: Storage, video_sha256: str, video: Path, options: AnalysisOptions,
                ws: stages.Workspace, on_frame: Any = None) -> tuple[Path, dict[str, Any]]:
    path, people, hit = pose_cache.cached_pose(
        storage, video_sha256, options, ws.root / "pose.npz", lambda: stages.run_pose(video, options, ws, on_frame))
    if hit:
        print(f"pose of {video_sha256[:12]} ({options.model}) from the cache")
    return path, people
