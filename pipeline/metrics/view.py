"""Camera view (side / front / oblique) and the athlete's facing direction, detected from the pose.

The first axis is time, NaN = missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

# Shoulder width over trunk length, projected: ~0.1-0.3 from the side, ~0.6-0.9 from the front.
SIDE_MAX_RATIO = 0.35
FRONT_MIN_RATIO = 0.55


@dataclass(frozen=True)
class ViewInfo:
    view: str          # "side" | "front" | "oblique" | "unknown"
    facing: str        # "right" | "left" (side/oblique) | "camera" | "away" (front) | "unknown"
    width_ratio: float  # median projected shoulder+hip width / trunk length
    facing_right_share: float  # share of frames facing +x

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mid(xy: NDArray[np.floating], a: int, b: int) -> NDArray[np.floating]:
    return (xy[:, a] + xy[:, b]) / 2


def _points(seq: PoseSequence, *idx: int) -> NDArray[np.float64]:
    """(T, len(idx), 2) float64 copy of a few landmarks (not of all 33: this is all the view needs)."""
    return seq.image_xy[:, list(idx)].astype(np.float64)


def _norm(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """np.linalg.norm(v, axis=-1) of 2-D vectors (the same numbers, without the generic reduction)."""
    return np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def width_ratio(seq: PoseSequence) -> NDArray[np.float64]:
    """(T,) projected body width (mean of shoulder and hip widths) over trunk length."""
    ls, rs, lh, rh = 0, 1, 2, 3
    xy = _points(seq, L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP)
    shoulders = _norm(xy[:, ls] - xy[:, rs])
    hips = _norm(xy[:, lh] - xy[:, rh])
    trunk = _norm(_mid(xy, ls, rs) - _mid(xy, lh, rh))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (shoulders + hips) / 2 / trunk


def facing_evidence(seq: PoseSequence) -> NDArray[np.float64]:
    """(T,) signed evidence, > 0 when facing +x: toes ahead of heels and nose ahead of the ears."""
    xy = _points(seq, L.LEFT_FOOT_INDEX, L.LEFT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_HEEL, L.NOSE, L.LEFT_EAR,
                 L.RIGHT_EAR, L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP)
    feet = (xy[:, 0, 0] - xy[:, 1, 0]) + (xy[:, 2, 0] - xy[:, 3, 0])
    head = xy[:, 4, 0] - _mid(xy, 5, 6)[:, 0]
    trunk = _norm(_mid(xy, 7, 8) - _mid(xy, 9, 10))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(np.stack([feet / 2, head]), axis=0) / trunk


def facing_sign(seq: PoseSequence, window_s: float = 1.0) -> NDArray[np.float64]:
    """(T,) +1 facing +x (right in the image), -1 facing -x; smoothed over `window_s` to ignore flickers.

    Frames with no evidence take the clip's majority direction.
    """
    ev = facing_evidence(seq)
    sign = np.sign(ev)
    majority = 1.0 if np.nansum(sign) >= 0 else -1.0
    sign = np.where(np.isfinite(sign) & (sign != 0), sign, majority)
    if len(sign) == 0:
        return sign
    size = max(1, int(round(window_s * seq.fps)) | 1)
    smoothed = median_filter(sign, size=size, mode="nearest")
    return np.where(smoothed == 0, majority, smoothed)


def detect_view(seq: PoseSequence) -> ViewInfo:
    ratio = width_ratio(seq)
    r = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan")
    sign = facing_sign(seq)
    share = float(np.mean(sign > 0)) if len(sign) else float("nan")
    if not np.isfinite(r):
        return ViewInfo("unknown", "unknown", r, share)
    if r <= SIDE_MAX_RATIO:
        view = "side"
    elif r >= FRONT_MIN_RATIO:
        view = "front"
    else:
        view = "oblique"
    if view == "front":
        facing = _front_facing(seq)
    else:
        facing = "right" if share >= 0.5 else "left"
    return ViewInfo(view, facing, r, share)


def _front_facing(seq: PoseSequence) -> str:
    """Toward the camera when the athlete's left shoulder is on the image's right."""
    dx = seq.image_xy[:, L.LEFT_SHOULDER, 0] - seq.image_xy[:, L.RIGHT_SHOULDER, 0]
    if not np.isfinite(dx).any():
        return "unknown"
    return "camera" if np.nanmedian(dx) > 0 else "away"
