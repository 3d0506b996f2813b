"""Bar path, body scale and bar velocity from a `PoseSequence` (pure, whole-sequence NumPy).

Conventions: the first axis is time, NaN = missing; image pixels with y DOWN (as in
`PoseSequence.image_xy`); heights are returned y UP (larger = higher).

- The bar is where the hands grip it: the mean of wrist, index and pinky landmarks of each hand,
  then the midpoint of both hands (one hand when the other is missing). A tracked bar end
  (`pipeline.metrics.bar_tracker.track_bar`) can replace it where it is finite.
- The ground is under the feet: its row is the lowest heel or toe landmark, the lowest over
  `FLOOR_WINDOW_S` (feet leave the floor only upwards, and feet hidden behind a plate are placed
  too high, by up to half a metre on the power clean); heights measured from it cancel the
  up/down panning of a hand-held phone.
- The athlete's standing height in pixels comes from the summed lengths of trunk, thigh and shank
  (posture-independent, so it works in a squat, a deadlift set-up or lying on a bench).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

# Shoulder->hip + hip->knee + knee->ankle as a share of stature: 0.779 from Winter's segment
# heights (shoulder 0.818 H, ankle 0.039 H); MediaPipe's landmarks sit slightly differently and
# the fixture clips (eye height 0.936 H while standing) give 0.78-0.81, so 0.80.
SEGMENT_SUM_SHARE_OF_HEIGHT = 0.80
HAND_POINTS = ((L.LEFT_WRIST, L.LEFT_INDEX, L.LEFT_PINKY), (L.RIGHT_WRIST, L.RIGHT_INDEX, L.RIGHT_PINKY))
GROUND_POINTS = (L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
FLOOR_WINDOW_S = 1.0


def nanmean(x: NDArray[np.floating], axis: int) -> FloatArray:
    """`np.nanmean` without the 'Mean of empty slice' warning (all-NaN gives NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(x, dtype=np.float64), axis=axis)


def midpoint(seq: PoseSequence, *indices: int) -> FloatArray:
    """(T, 2) mean position of the landmarks given (NaN-aware)."""
    return nanmean(seq.image_xy[:, list(indices)], axis=1)


def hands_point(seq: PoseSequence) -> FloatArray:
    """(T, 2) where the hands hold the bar: each hand's grip centre, then their midpoint."""
    hands = np.stack([midpoint(seq, *pts) for pts in HAND_POINTS], axis=1)   # (T, 2 hands, 2)
    return nanmean(hands, axis=1)


def ground_point(seq: PoseSequence) -> FloatArray:
    """(T, 2) mid-foot on the ground: x the mean of heels and toes, y the floor's row (`floor_row`)."""
    x = midpoint(seq, *GROUND_POINTS)[:, 0]
    return np.stack([x, floor_row(seq)], axis=1)


def floor_row(seq: PoseSequence) -> FloatArray:
    """(T,) image row of the floor: the lowest heel or toe, then the lowest over `FLOOR_WINDOW_S`
    around each frame (NaN where no foot was seen in the window)."""
    feet = seq.image_xy[:, list(GROUND_POINTS), 1].astype(np.float64)
    if len(feet) == 0:
        return np.zeros(0)
    lowest = np.where(np.isfinite(feet), feet, -np.inf).max(axis=1)
    size = max(1, int(round(FLOOR_WINDOW_S * seq.fps)) | 1)
    floor = maximum_filter1d(lowest, size=size, mode="nearest")
    return np.where(np.isfinite(floor), floor, np.nan)


def bar_point(seq: PoseSequence, tracked: NDArray[np.floating] | None = None,
              fallback: NDArray[np.floating] | None = None) -> FloatArray:
    """(T, 2) bar position: the tracked bar end where finite; elsewhere `fallback` (default the hands)
    moved by the tracked end's offset from it, interpolated in time between the frames where both
    are seen. The hub sits tens of pixels from the hands' landmarks (50 px median on the looped
    power clean), so taking the hands as they are in a gap of the track made the bar jump by that
    much, a velocity spike of metres per second."""
    pose = hands_point(seq) if fallback is None else np.asarray(fallback, dtype=np.float64)
    if tracked is None:
        return pose
    tracked = np.asarray(tracked, dtype=np.float64)
    if tracked.shape != pose.shape:
        raise ValueError(f"bar_point: tracked bar path must have shape {pose.shape}, got {tracked.shape}")
    have = np.isfinite(tracked).all(axis=1)
    both = np.flatnonzero(have & np.isfinite(pose).all(axis=1))
    if len(both) == 0:
        return np.where(have[:, None], tracked, pose)
    frames = np.arange(len(pose))
    offset = np.stack([np.interp(frames, both, (tracked - pose)[both, k]) for k in (0, 1)], axis=1)
    return np.where(have[:, None], tracked, pose + offset)


def standing_height_px(seq: PoseSequence, reliable: NDArray[np.bool_] | None = None) -> float:
    """The athlete's stature in pixels, or NaN when the legs and trunk were never seen."""
    xy = seq.image_xy.astype(np.float64)
    if len(xy) == 0:
        return float("nan")

    def seg(a: int, b: int) -> FloatArray:
        return np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)

    sides = np.stack([seg(L.LEFT_SHOULDER, L.LEFT_HIP) + seg(L.LEFT_HIP, L.LEFT_KNEE) + seg(L.LEFT_KNEE, L.LEFT_ANKLE),
                      seg(L.RIGHT_SHOULDER, L.RIGHT_HIP) + seg(L.RIGHT_HIP, L.RIGHT_KNEE)
                      + seg(L.RIGHT_KNEE, L.RIGHT_ANKLE)], axis=1)
    total = nanmean(sides, axis=1)
    if reliable is not None:
        total = np.where(reliable, total, np.nan)
    if not np.isfinite(total).any():
        return float("nan")
    # projected lengths only ever shrink (foreshortening, occlusion): take a high percentile
    return float(np.nanpercentile(total, 90) / SEGMENT_SUM_SHARE_OF_HEIGHT)


def vertical_velocity(time_s: FloatArray, height: FloatArray) -> FloatArray:
    """(T,) d(height)/dt with real timestamps (VFR-safe); NaN where height is NaN."""
    if len(height) < 2:
        return np.full(len(height), np.nan)
    return np.gradient(np.asarray(height, dtype=np.float64), np.asarray(time_s, dtype=np.float64))


def horizontal_deviation(x_forward: FloatArray, lo: int, hi: int) -> float:
    """Largest horizontal distance of the bar from the vertical through its position at `lo`."""
    seg = x_forward[lo:hi + 1]
    if not np.isfinite(seg).any() or not np.isfinite(seg[0]):
        return float("nan")
    return float(np.nanmax(np.abs(seg - seg[0])))
