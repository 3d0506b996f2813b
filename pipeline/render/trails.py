"""Trails: where a point has been (hip path in jumps and runs, bar path in lifts).

`trail_points` is the vectorized part (the whole clip at once); `TrailAnnotator` draws the
recent stretch of it, older parts fainter, the current position as a ringed dot.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.render import style
from pipeline.render.style import Image, Layer, px


def _nanmean_pts(xy: NDArray[np.floating], idx: list[int]) -> NDArray[np.float64]:
    sub = xy[:, idx].astype(np.float64)
    ok = np.isfinite(sub).all(axis=-1, keepdims=True)
    n = ok.sum(axis=1)
    total = np.where(ok, sub, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def hip_path(seq: PoseSequence) -> NDArray[np.float64]:
    """(T, 2) midpoint of the hips, pixels."""
    return _nanmean_pts(seq.image_xy, [L.LEFT_HIP, L.RIGHT_HIP])


def bar_path(seq: PoseSequence) -> NDArray[np.float64]:
    """(T, 2) the bar as the hands hold it: the weightlifting analysis' hands point, else the wrists' midpoint."""
    try:
        from pipeline.metrics.bar_path import hands_point
    except ImportError:  # pragma: no cover - the metrics module is optional for drawing
        return _nanmean_pts(seq.image_xy, [L.LEFT_WRIST, L.RIGHT_WRIST])
    return np.asarray(hands_point(seq), np.float64)


def trail_points(seq: PoseSequence, activity: str, bar_source: str | None = None) -> tuple[NDArray[np.float64], str]:
    """(T, 2) the tracked point for this activity and its name ('bar' or 'hip').

    For lifts, `bar_source` is the weightlifting summary's: squats carry the bar on the shoulders.
    """
    if activity == "weightlifting":
        if bar_source == "shoulders":
            return _nanmean_pts(seq.image_xy, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER]), "bar"
        return bar_path(seq), "bar"
    return hip_path(seq), "hip"


def trail_window(time_s: NDArray[np.float64], seconds: float) -> NDArray[np.int64]:
    """(T,) index of the first frame within `seconds` before each frame (VFR-safe)."""
    return np.searchsorted(time_s, time_s - seconds, side="left").astype(np.int64)


class TrailAnnotator:
    """A polyline that fades with age, split into `bands` steps of opacity, and a dot at its head."""

    def __init__(self, colour: style.RGB = style.HIP_TRAIL, thickness: float = 3.0, bands: int = 4,
                 head_radius: float = 6.0, min_opacity: float = 0.25) -> None:
        self.colour, self.thickness, self.bands = colour, thickness, max(1, bands)
        self.head_radius, self.min_opacity = head_radius, min_opacity

    def annotate(self, frame: Image, points: NDArray[np.floating]) -> Image:
        """`points` (K, 2) oldest first; the last one is the current position (NaN = gap)."""
        s = style.scale_for(frame)
        th = px(self.thickness, s, 2)
        pts = np.asarray(points, np.float64)
        if len(pts) >= 2:
            edges = np.linspace(0, len(pts) - 1, self.bands + 1).round().astype(int)
            for k in range(self.bands):
                chunk = pts[edges[k]:edges[k + 1] + 1]
                opacity = self.min_opacity + (1 - self.min_opacity) * (k + 1) / self.bands
                self._polyline(frame, chunk, th, s, opacity)
        head = pts[-1] if len(pts) else None
        if head is not None and np.isfinite(head).all():
            r = px(self.head_radius, s, 3)
            c = style.pt(head)
            cv2.circle(frame, c, r + px(2, s), style.OUTLINE, -1, cv2.LINE_AA)
            cv2.circle(frame, c, r, self.colour, -1, cv2.LINE_AA)
            cv2.circle(frame, c, max(1, r // 3), (255, 255, 255), -1, cv2.LINE_AA)
        return frame

    def _polyline(self, frame: Image, chunk: NDArray[np.float64], th: int, s: float, opacity: float) -> None:
        ok = np.isfinite(chunk).all(axis=1)
        if ok.sum() < 2:
            return
        good = chunk[ok]
        m = th * 3
        layer = Layer(frame, (good[:, 0].min() - m, good[:, 1].min() - m, good[:, 0].max() + m, good[:, 1].max() + m))
        # split at gaps: each finite run is its own polyline
        breaks = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        for run in np.split(np.arange(len(chunk)), breaks):
            if len(run) >= 2 and ok[run[0]]:
                line = np.round(chunk[run]).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(frame, [line], False, style.OUTLINE, th + px(2, s), cv2.LINE_AA)
                cv2.polylines(frame, [line], False, self.colour, th, cv2.LINE_AA)
        layer.blend(opacity)
