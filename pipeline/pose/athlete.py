"""Video file -> the athlete's raw `PoseSequence` (detect every person, track, select)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import NoPersonFound
from pipeline.pose.estimate import MAX_PEOPLE, detect, frame_diff
from pipeline.pose.models import resolve_model
from pipeline.pose.sequence import PoseSequence
from pipeline.pose.tracking import select_athlete
from pipeline.video import Frame, iter_frames, probe


def estimate_athlete(video: str | Path, *, model: str = "full", select: str = "largest",
                     num_poses: int = MAX_PEOPLE,
                     on_frame: Callable[[Frame], None] | None = None) -> tuple[PoseSequence, dict[str, Any]]:
    """Raw (uncleaned) landmarks of the athlete, and what was seen of the people in view."""
    info = probe(video)
    det = detect(iter_frames(video), resolve_model(model), num_poses=num_poses, on_frame=on_frame)
    if len(det) == 0:
        raise NoPersonFound("the video has no frames to look for a person in")
    seq, people = select_athlete(det, select, fps=info.fps)
    return seq.with_arrays(frame_diff=frame_diff(det.thumbs)), people
