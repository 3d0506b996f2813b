"""MediaPipe PoseLandmarker (VIDEO mode) over decoded frames -> every person's raw landmarks.

Output is `Detections`: arrays with a person axis (T, P, 33, ...), NaN where no person, ready for
`tracking.select_athlete`. Frames are consumed one at a time, so memory does not grow with the
frames of the video, only with the (small) landmark arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions
from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode
from numpy.typing import NDArray

from pipeline.pose.landmarks import NUM_LANDMARKS
from pipeline.pose.quiet import native_stderr_silenced
from pipeline.video import Frame

MAX_PEOPLE = 3
THUMB_SIZE = (32, 18)   # (w, h) grey thumbnail per frame for the image-difference signal (shot cuts)


@dataclass(frozen=True)
class Detections:
    """Raw MediaPipe output for up to P people per frame, unordered across frames."""

    time_s: NDArray[np.float64]    # (T,)
    image_xy: NDArray[np.float32]  # (T, P, 33, 2) pixels
    image_z: NDArray[np.float32]   # (T, P, 33)
    world_xyz: NDArray[np.float32]  # (T, P, 33, 3) metres
    visibility: NDArray[np.float32]  # (T, P, 33)
    presence: NDArray[np.float32]  # (T, P, 33)
    width: int
    height: int
    thumbs: NDArray[np.float32] | None = None   # (T, 18, 32) grey thumbnails (`thumbnail`)

    def __len__(self) -> int:
        return len(self.time_s)


def thumbnail(image: NDArray[np.uint8]) -> NDArray[np.float32]:
    """A small grey picture of the frame: every 4th pixel each way, area-averaged to `THUMB_SIZE`
    (in floats: a slow cross-fade changes a pixel by about one grey level a frame). ~0.1 ms a frame,
    read from the frame the pose stage decoded anyway."""
    small = cv2.resize(image[::4, ::4].astype(np.float32), THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return small.mean(axis=2)


THUMB_CONTRAST = 50.0   # thumbnails are compared at this contrast (std of grey levels)


def frame_diff(thumbs: NDArray[np.float32] | None) -> NDArray[np.float32] | None:
    """(T,) how much the typical pixel of the thumbnail changed since the previous frame: the median
    over its pixels of the absolute change (NaN for the first frame), each thumbnail first brought to
    zero mean and `THUMB_CONTRAST` contrast. The median, not the mean: an athlete moving fast in part
    of the frame leaves it near 0; a cut or a fade, which change every pixel, do not. The
    normalisation: a phone's exposure following the sun changes every pixel, not the scene."""
    if thumbs is None:
        return None
    flat = thumbs.reshape(len(thumbs), -1).astype(np.float64)
    z = (flat - flat.mean(axis=1, keepdims=True)) / (flat.std(axis=1, keepdims=True) + 1.0) * THUMB_CONTRAST
    d = np.median(np.abs(np.diff(z, axis=0)), axis=1) if len(thumbs) > 1 else np.zeros(0)
    return np.concatenate([[np.nan], d]).astype(np.float32)


def open_landmarker(model_path: Path, num_poses: int = MAX_PEOPLE) -> PoseLandmarker:
    options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=RunningMode.VIDEO,
        num_poses=num_poses,
        min_pose_detection_confidence=0.5,
        min_pose_presence_confidence=0.5,
        min_tracking_confidence=0.5,
    )
    return PoseLandmarker.create_from_options(options)


def _empty_rows(p: int) -> tuple[NDArray[np.float32], ...]:
    nan = np.float32(np.nan)
    return (np.full((p, NUM_LANDMARKS, 2), nan, np.float32), np.full((p, NUM_LANDMARKS), nan, np.float32),
            np.full((p, NUM_LANDMARKS, 3), nan, np.float32), np.zeros((p, NUM_LANDMARKS), np.float32),
            np.zeros((p, NUM_LANDMARKS), np.float32))


def _frame_rows(result: object, width: int, height: int, p: int) -> tuple[NDArray[np.float32], ...]:
    xy, z, world, vis, pres = _empty_rows(p)
    for k, (lms, wlms) in enumerate(zip(result.pose_landmarks[:p], result.pose_world_landmarks[:p])):
        a = np.array([(lm.x, lm.y, lm.z, lm.visibility or 0.0, lm.presence or 0.0) for lm in lms], np.float32)
        xy[k] = a[:, :2] * (width, height)
        z[k], vis[k], pres[k] = a[:, 2], a[:, 3], a[:, 4]
        world[k] = np.array([(lm.x, lm.y, lm.z) for lm in wlms], np.float32)
    return xy, z, world, vis, pres


def detect(frames: Iterable[Frame], model_path: Path, *, num_poses: int = MAX_PEOPLE,
           on_frame: Callable[[Frame], None] | None = None) -> Detections:
    """Run the landmarker on every frame (VIDEO mode: tracking between frames, strictly increasing ms)."""
    rows: list[tuple[NDArray[np.float32], ...]] = []
    times: list[float] = []
    thumbs: list[NDArray[np.uint8]] = []
    width = height = 0
    last_ms = -1
    with native_stderr_silenced():
        landmarker = open_landmarker(model_path, num_poses)
    try:
        for frame in frames:
            height, width = frame.image.shape[:2]
            ms = max(int(round(frame.time_s * 1000)), last_ms + 1)  # VIDEO mode needs strictly increasing ms
            last_ms = ms
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image)
            if not times:  # the first inference logs alignment warnings natively
                with native_stderr_silenced():
                    result = landmarker.detect_for_video(image, ms)
            else:
                result = landmarker.detect_for_video(image, ms)
            rows.append(_frame_rows(result, width, height, num_poses))
            times.append(frame.time_s)
            thumbs.append(thumbnail(frame.image))
            if on_frame is not None:
                on_frame(frame)
    finally:
        with native_stderr_silenced():
            landmarker.close()
    return _stack(rows, times, width, height, num_poses, thumbs)


def _stack(rows: list[tuple[NDArray[np.float32], ...]], times: list[float], width: int, height: int,
           p: int, thumbs: list[NDArray[np.uint8]]) -> Detections:
    if not rows:
        empty = _empty_rows(p)
        return Detections(np.zeros(0), *(np.zeros((0, *a.shape), a.dtype) for a in empty),
                          width=max(width, 1), height=max(height, 1))
    cols = [np.stack(c) for c in zip(*rows)]
    return Detections(np.asarray(times, np.float64), *cols, width=width, height=height, thumbs=np.stack(thumbs))
