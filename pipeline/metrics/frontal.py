"""Frontal-plane measures of a landing, from a front or back view (image pixels, y down, time first).

- `fppa`: frontal-plane projection angle of each knee (Munro et al. 2012): 180° minus the
  hip-knee-ankle angle in the image, positive when the knee lies medial of the hip-ankle line
  (valgus), negative lateral (varus). Medial is towards the midline of the hips, so it holds from
  the front and from behind.
- `hip_drop`: pelvic obliquity, the angle of the hip line from the horizontal (the lower side).
- `foot_contacts`: when each foot regains the ground at a landing (the left-right landing asymmetry).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L

LEGS = {"left": (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE), "right": (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE)}
FEET = {"left": (L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.LEFT_ANKLE),
        "right": (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_ANKLE)}


def fppa(xy: NDArray[np.floating]) -> dict[str, float | None]:
    """FPPA of each knee (degrees) in one frame's (33, 2) landmarks; None where a point is missing."""
    p = np.asarray(xy, np.float64)
    mid_x = (p[L.LEFT_HIP, 0] + p[L.RIGHT_HIP, 0]) / 2
    out: dict[str, float | None] = {}
    for side, (hp, kn, an) in LEGS.items():
        h, k, a = p[hp], p[kn], p[an]
        if not np.isfinite([h, k, a]).all() or a[1] == h[1]:
            out[side] = None
            continue
        u, v = k - h, a - k
        dev = abs(math.degrees(math.atan2(u[0] * v[1] - u[1] * v[0], u @ v)))
        x_line = h[0] + (a[0] - h[0]) * (k[1] - h[1]) / (a[1] - h[1])
        medial = math.copysign(1.0, mid_x - h[0])
        out[side] = dev if (k[0] - x_line) * medial >= 0 else -dev
    return out


def hip_drop(xy: NDArray[np.floating]) -> tuple[float | None, str | None]:
    """Largest pelvic obliquity over frames of (T, 33, 2) landmarks: (degrees, the lower side) or (None, None)."""
    p = np.asarray(xy, np.float64)
    d = p[:, L.LEFT_HIP] - p[:, L.RIGHT_HIP]
    with np.errstate(invalid="ignore"):
        tilt = np.degrees(np.arctan2(d[:, 1], np.abs(d[:, 0])))        # > 0: the left hip lower (y down)
    ok = np.isfinite(tilt)
    if not ok.any():
        return None, None
    i = int(np.flatnonzero(ok)[np.argmax(np.abs(tilt[ok]))])
    return abs(float(tilt[i])), ("left" if tilt[i] > 0 else "right") if tilt[i] != 0 else None


def foot_contacts(t: NDArray[np.float64], xy: NDArray[np.floating], landing_s: float, tol_px: float,
                  search_s: float = 0.15, level_s: tuple[float, float] = (0.1, 0.3)) -> dict[str, float | None]:
    """Time each foot regains the ground near `landing_s`: its lowest point comes within `tol_px`
    of its own level (median y over `level_s` after the landing), interpolated between frames."""
    p = np.asarray(xy, np.float64)
    after = (t >= landing_s + level_s[0]) & (t <= landing_s + level_s[1])
    near = np.flatnonzero((t >= landing_s - search_s) & (t <= landing_s + search_s))
    out: dict[str, float | None] = {"left": None, "right": None}
    if not after.any() or len(near) < 2:
        return out
    for side, pts in FEET.items():
        y = p[:, list(pts), 1]
        seen = np.isfinite(y[after]).any(axis=0)
        if not seen.any():
            continue
        level = np.nanmedian(y[after][:, seen], axis=0)
        with np.errstate(invalid="ignore"):
            gap = np.nanmin(level - y[near][:, seen], axis=1)          # height of the foot's lowest point
        down = np.flatnonzero(gap <= tol_px)
        if len(down) == 0 or down[0] == 0 or not np.isfinite(gap[down[0] - 1]):
            continue
        i = down[0]
        g0, g1 = gap[i - 1], gap[i]
        f = (g0 - tol_px) / (g0 - g1) if g0 != g1 else 1.0
        out[side] = float(t[near[i - 1]] + f * (t[near[i]] - t[near[i - 1]]))
    return out
