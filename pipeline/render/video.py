"""Render the annotated video: the original frames, same timestamps, with the pose drawn on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.render.annotators import AngleLabelAnnotator, SkeletonAnnotator, TextPanelAnnotator
from pipeline.video import Frame, Mp4Writer, iter_frames

# Which joint-angle labels each activity shows, and where.
ACTIVITY_JOINTS: dict[str, dict[str, int]] = {
    "jumping": {"left_knee_flexion": L.LEFT_KNEE, "right_knee_flexion": L.RIGHT_KNEE,
                "left_hip_flexion": L.LEFT_HIP, "right_hip_flexion": L.RIGHT_HIP},
    "running": {"left_knee_flexion": L.LEFT_KNEE, "right_knee_flexion": L.RIGHT_KNEE,
                "left_hip_flexion": L.LEFT_HIP, "right_hip_flexion": L.RIGHT_HIP,
                "left_ankle_dorsiflexion": L.LEFT_ANKLE, "right_ankle_dorsiflexion": L.RIGHT_ANKLE},
    "weightlifting": {"left_knee_flexion": L.LEFT_KNEE, "right_knee_flexion": L.RIGHT_KNEE,
                      "left_hip_flexion": L.LEFT_HIP, "right_hip_flexion": L.RIGHT_HIP,
                      "left_elbow_flexion": L.LEFT_ELBOW, "right_elbow_flexion": L.RIGHT_ELBOW},
}


def panel_lines(activity: str, angles: dict[str, NDArray[np.float64]], i: int) -> list[str]:
    knee = np.nanmean([angles["left_knee_flexion"][i], angles["right_knee_flexion"][i]]) \
        if np.isfinite([angles["left_knee_flexion"][i], angles["right_knee_flexion"][i]]).any() else np.nan
    trunk = 90 - angles["trunk"][i] if np.isfinite(angles["trunk"][i]) else np.nan
    lines = [activity.capitalize()]
    if np.isfinite(knee):
        lines.append(f"knee flexion {knee:.0f} deg")
    if np.isfinite(trunk):
        lines.append(f"trunk lean {trunk:.0f} deg")
    return lines


def render_video(video: Path, seq: PoseSequence, angles: dict[str, NDArray[np.float64]], activity: str,
                 out_path: Path, on_frame: Callable[[Frame], None] | None = None) -> Path:
    """Write `out_path`: every source frame, at its source time, annotated. Returns the path."""
    skeleton = SkeletonAnnotator()
    labels = AngleLabelAnnotator(ACTIVITY_JOINTS[activity])
    panel = TextPanelAnnotator()
    with Mp4Writer(out_path, seq.width, seq.height, seq.fps) as writer:
        for frame in iter_frames(video):
            i = frame.index
            img = frame.image
            if i < len(seq):
                skeleton.annotate(img, seq.image_xy[i], seq.visibility[i])
                labels.annotate(img, seq.image_xy[i], {k: v[i] for k, v in angles.items()})
                panel.annotate(img, panel_lines(activity, angles, i))
            writer.write(img, frame.time_s)
            if on_frame is not None:
                on_frame(frame)
    return out_path
