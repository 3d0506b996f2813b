"""Camera view (side / front / back / oblique) and the athlete's facing direction, detected from the pose.

The first axis is time, NaN = missing.

The view is the athlete's yaw to the camera: 0° when the shoulders and hips are square to it
(front or back), 90° in profile (side). Two cues, each per frame, then the median:
- width: the projected shoulder and hip widths over the trunk length, `FRONTAL_RATIO` when
  square (it shrinks as cos(yaw));
- depth: MediaPipe's world landmarks give the shoulder and hip lines in 3-D: their angle to the
  image plane is the yaw directly (when the model gave world landmarks).
Front or back: the athlete's left shoulder on the image's right, and the nose nearer the camera
than the ears, mean facing the camera. `confidence` (0-1) falls with disagreeing cues, frames
that read another view, and a yaw near a class boundary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

# Mean of shoulder and hip widths over trunk length when square to the camera (landmark joint
# centres; measured 0.44-0.50 on the front-view jumper of sports2d_demo_multi_person.mp4); ~0.1-0.25 in profile.
FRONTAL_RATIO = 0.50
FRONT_MAX_YAW = 30.0          # degrees: below, a front (or back) view; above SIDE_MIN_YAW a side view
SIDE_MIN_YAW = 60.0
MARGIN_DEG = 10.0             # a yaw this far from a class boundary is fully confident


@dataclass(frozen=True)
class ViewInfo:
    view: str          # "side" | "front" (square to the camera: front or back, see `facing`) | "oblique" | "unknown"
    facing: str        # "right" | "left" (side/oblique) | "camera" | "away" (front) | "unknown"
    width_ratio: float  # median projected shoulder+hip width / trunk length
    facing_right_share: float  # share of frames facing +x
    confidence: float = float("nan")   # 0-1
    yaw_deg: float = float("nan")      # 0 square to the camera, 90 in profile
    toward_camera: bool | None = None  # front half (face seen) or back half, from every frame

    @property
    def label(self) -> str:
        """front | back | side | oblique | rear_oblique | unknown: what a user calls the view."""
        if self.view == "front":
            return "back" if self.facing == "away" else "front"
        if self.view == "oblique" and self.toward_camera is False:
            return "rear_oblique"
        return self.view

    @property
    def frontal(self) -> bool:
        """Square to the camera (front or back): frontal-plane angles are seen, sagittal ones are not."""
        return self.view == "front"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


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


def width_yaw(seq: PoseSequence) -> NDArray[np.float64]:
    """(T,) yaw from the projected widths, degrees: arccos(width ratio / FRONTAL_RATIO)."""
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arccos(np.clip(width_ratio(seq) / FRONTAL_RATIO, 0.0, 1.0)))


def depth_yaw(seq: PoseSequence) -> NDArray[np.float64]:
    """(T,) yaw from the world landmarks' shoulder and hip lines, degrees (NaN without world landmarks)."""
    w = seq.world_xyz[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP]].astype(np.float64)
    d = np.stack([w[:, 0] - w[:, 1], w[:, 2] - w[:, 3]], axis=1)          # (T, 2 lines, xyz)
    flat = np.hypot(d[..., 0], d[..., 2]) < 1e-6                         # no depth given (all zeros)
    with np.errstate(invalid="ignore"):
        yaw = np.degrees(np.arctan2(np.abs(d[..., 2]), np.abs(d[..., 0])))
    return _nanmean_rows(np.where(flat, np.nan, yaw)) if (~flat).any() else np.full(len(seq), np.nan)


def _nanmean_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """np.nanmean(x, axis=1) without its warning for an all-NaN row (NaN there)."""
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=1) / ok.sum(axis=1)


def _classify(yaw: NDArray[np.float64]) -> NDArray[np.int8]:
    """0 front, 1 oblique, 2 side (NaN: -1)."""
    return np.where(np.isnan(yaw), -1, np.where(yaw < FRONT_MAX_YAW, 0, np.where(yaw <= SIDE_MIN_YAW, 1, 2))
                    ).astype(np.int8)


def toward_camera_votes(seq: PoseSequence) -> NDArray[np.float64]:
    """(T,) > 0 facing the camera, < 0 facing away: left shoulder on the image's right, nose nearer than the ears."""
    xy = seq.image_xy
    order = np.sign(xy[:, L.LEFT_SHOULDER, 0].astype(np.float64) - xy[:, L.RIGHT_SHOULDER, 0])
    z = seq.world_xyz[:, :, 2].astype(np.float64)
    nose = np.sign((z[:, L.LEFT_EAR] + z[:, L.RIGHT_EAR]) / 2 - z[:, L.NOSE])      # z smaller = nearer the camera
    nose = np.where(np.abs(z).sum(axis=1) > 0, nose, np.nan)
    return _nanmean_rows(np.stack([order, nose], axis=1)) if len(seq) else np.zeros(0)


def detect_view(seq: PoseSequence) -> ViewInfo:
    ratio = width_ratio(seq)
    r = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan")
    sign = facing_sign(seq)
    share = float(np.mean(sign > 0)) if len(sign) else float("nan")
    if not np.isfinite(r):
        return ViewInfo("unknown", "unknown", r, share, 0.0)
    by_width, by_depth = width_yaw(seq), depth_yaw(seq)
    both = np.isfinite(by_depth)
    per_frame = np.where(both, (by_width + by_depth) / 2, by_width)
    yaw = float(np.nanmedian(per_frame))
    view = ("front", "oblique", "side")[int(_classify(np.array([yaw]))[0])]
    votes = toward_camera_votes(seq)
    toward = bool(np.nanmean(votes) > 0) if np.isfinite(votes).any() else None
    if view == "front":
        facing = "unknown" if toward is None else "camera" if toward else "away"
    else:
        facing = "right" if share >= 0.5 else "left"
    return ViewInfo(view, facing, r, share, _confidence(per_frame, by_width, by_depth, yaw), yaw, toward)


def _confidence(per_frame: NDArray[np.float64], by_width: NDArray[np.float64], by_depth: NDArray[np.float64],
                yaw: float) -> float:
    """Share of frames reading the clip's view x closeness to a class boundary x agreement of the two cues."""
    cls = _classify(per_frame)
    seen = cls >= 0
    agree = float(np.mean(cls[seen] == _classify(np.array([yaw]))[0])) if seen.any() else 0.0
    margin = min(abs(yaw - FRONT_MAX_YAW), abs(yaw - SIDE_MIN_YAW))
    near = 0.5 + 0.5 * min(1.0, margin / MARGIN_DEG)
    both = np.isfinite(by_depth) & np.isfinite(by_width)
    cues = 1.0
    if both.any():
        gap = float(np.median(np.abs(by_width[both] - by_depth[both])))
        cues = 1.0 - 0.5 * min(1.0, gap / 45.0)
    return round(agree * near * cues, 3)
