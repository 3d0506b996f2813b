"""Composable frame annotators: style in `__init__`, data in `annotate(frame, ...) -> frame`.

Pure drawing on RGB uint8 arrays (in place, returned for chaining). Sizes scale with the frame,
so labels stay readable on a portrait phone video and on 4K.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import BONES, Landmark as L

Image = NDArray[np.uint8]
LEFT_COLOUR = (255, 140, 0)    # orange (RGB)
RIGHT_COLOUR = (0, 160, 255)   # blue
CENTRE_COLOUR = (235, 235, 235)


def scale_for(frame: Image) -> float:
    """1.0 on a 720-pixel short side."""
    return min(frame.shape[:2]) / 720.0


def _side_colour(a: int, b: int) -> tuple[int, int, int]:
    names = L(a).name + L(b).name
    if "LEFT" in names and "RIGHT" not in names:
        return LEFT_COLOUR
    if "RIGHT" in names and "LEFT" not in names:
        return RIGHT_COLOUR
    return CENTRE_COLOUR


class SkeletonAnnotator:
    """Bones coloured by side (left orange, right blue), faded where the landmark is uncertain."""

    def __init__(self, thickness: float = 3.0, radius: float = 4.0, min_visibility: float = 0.3) -> None:
        self.thickness, self.radius, self.min_visibility = thickness, radius, min_visibility

    def annotate(self, frame: Image, xy: NDArray[np.floating], visibility: NDArray[np.floating]) -> Image:
        s = scale_for(frame)
        th, r = max(1, round(self.thickness * s)), max(2, round(self.radius * s))
        ok = np.isfinite(xy).all(axis=1) & (visibility >= self.min_visibility)
        overlay = frame.copy()
        for a, b in BONES:
            if ok[a] and ok[b]:
                cv2.line(overlay, _pt(xy[a]), _pt(xy[b]), _side_colour(a, b), th, cv2.LINE_AA)
        for i in np.flatnonzero(ok):
            if i > L.MOUTH_RIGHT:
                cv2.circle(overlay, _pt(xy[i]), r, (255, 255, 255), -1, cv2.LINE_AA)
        # confidence fading: blend by the mean visibility of what was drawn
        alpha = float(np.clip(np.mean(visibility[ok]) if ok.any() else 0.0, 0.35, 1.0))
        cv2.addWeighted(overlay, alpha, frame, 1 - alpha, 0, dst=frame)
        return frame


class AngleLabelAnnotator:
    """Joint-angle values next to their joints (e.g. knee flexion at the knee)."""

    def __init__(self, joints: Mapping[str, int], font_scale: float = 0.6) -> None:
        self.joints, self.font_scale = dict(joints), font_scale

    def annotate(self, frame: Image, xy: NDArray[np.floating], angles: Mapping[str, float]) -> Image:
        s = scale_for(frame)
        fs, th = self.font_scale * s, max(1, round(2 * s))
        for name, idx in self.joints.items():
            value = angles.get(name)
            p = xy[idx]
            if value is None or not np.isfinite(value) or not np.isfinite(p).all():
                continue
            text = f"{value:.0f}"
            org = (int(p[0] + 10 * s), int(p[1] - 6 * s))
            colour = LEFT_COLOUR if name.startswith("left") else RIGHT_COLOUR if name.startswith("right") else CENTRE_COLOUR
            cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), th + 2, cv2.LINE_AA)
            cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, fs, colour, th, cv2.LINE_AA)
        return frame


class TextPanelAnnotator:
    """A translucent panel of 'label: value' lines in the top-left corner."""

    def __init__(self, font_scale: float = 0.6, opacity: float = 0.55) -> None:
        self.font_scale, self.opacity = font_scale, opacity

    def annotate(self, frame: Image, lines: Sequence[str]) -> Image:
        if not lines:
            return frame
        s = scale_for(frame)
        fs, th = self.font_scale * s, max(1, round(1.5 * s))
        line_h = int(28 * s * self.font_scale / 0.6)
        w = int(max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, th)[0][0] for t in lines) + 20 * s)
        h = int(line_h * len(lines) + 14 * s)
        x0, y0 = int(10 * s), int(10 * s)
        roi = frame[y0:y0 + h, x0:x0 + w]
        roi[:] = (roi * (1 - self.opacity)).astype(np.uint8)
        for k, text in enumerate(lines):
            org = (x0 + int(10 * s), y0 + int(8 * s) + line_h * (k + 1) - int(6 * s))
            cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), th, cv2.LINE_AA)
        return frame


def _pt(p: NDArray[np.floating]) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))
