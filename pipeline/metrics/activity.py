"""One entry point for all activities: clean the raw pose, detect view, angles, activity metrics."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.angles import SEGMENT_ANGLES, compute_angles
from pipeline.metrics.movement import movement_warnings
from pipeline.metrics.result import ActivityResult
from pipeline.metrics.shots import detect_shots
from pipeline.metrics.view import ViewInfo, detect_view, facing_sign
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import clean
from pipeline.pose.sequence import PoseSequence


# directions that wrap at ±180° (segment angles from horizontal), unlike joint angles
CIRCULAR_ANGLES = frozenset(d.name for d in SEGMENT_ANGLES)


@dataclass(frozen=True)
class Analysis:
    raw: PoseSequence
    seq: PoseSequence                       # cleaned: swaps undone, gaps filled, low-passed
    view: ViewInfo
    angles: dict[str, NDArray[np.float64]]
    result: ActivityResult
    bar_xy: NDArray[np.float64] | None = None


def activity_module(activity: str) -> Any:
    return importlib.import_module(f"pipeline.metrics.{activity}")


def analyze_pose(raw: PoseSequence, options: AnalysisOptions, *, bar_xy: NDArray[np.float64] | None = None,
                 plate_radius_px: float | None = None) -> Analysis:
    """`bar_xy`: (T, 2) tracked bar end for lifts and `plate_radius_px` its plate's radius (see
    `pipeline.metrics.bar_tracker.BarTrack`), if any."""
    module = activity_module(options.activity)
    seq = clean(raw, cutoff_hz=module.CUTOFF_HZ)
    view = detect_view(seq)
    angles = compute_angles(seq, facing_sign(seq))
    shots = detect_shots(raw)     # on the raw pose: the low-pass and gap filling smear a jump
    extra: dict[str, Any] = {"jumping": {"raw": raw},
                             "weightlifting": {"bar_xy": bar_xy, "plate_radius_px": plate_radius_px, "shots": shots},
                             "running": {"shots": shots},
                             }.get(options.activity, {})
    result = module.analyze(seq, angles, view, options, **extra)
    result.warnings += movement_warnings(seq, options)
    return Analysis(raw, seq, view, angles, result, bar_xy)


def angle_summary(angles: dict[str, NDArray[np.float64]]) -> dict[str, dict[str, float | str | bool | None]]:
    """min / max / mean of every angle over the clip (None when never measured).

    Segment angles (thigh, trunk, ...) are directions in (-180, 180]: a thigh near vertical-behind
    reads 179° then -179°, whose arithmetic mean (0°) points the other way. Their mean is the
    circular mean, and min/max are taken after unwrapping around it (so they may pass ±180°:
    a max of 190° is 10° past the wrap), flagged `circular: true`."""
    out: dict[str, dict[str, float | str | bool | None]] = {}
    for name, v in angles.items():
        ok = np.isfinite(v)
        if not ok.any():
            out[name] = {"min": None, "max": None, "mean": None, "unit": "deg", "circular": name in CIRCULAR_ANGLES}
            continue
        x = v[ok]
        if name in CIRCULAR_ANGLES:
            rad = np.deg2rad(x)
            mean = float(np.rad2deg(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())))
            x = mean + (x - mean + 180.0) % 360.0 - 180.0    # each value within ±180° of the mean
        else:
            mean = float(x.mean())
        out[name] = {"min": _r(x.min()), "max": _r(x.max()), "mean": _r(mean), "unit": "deg",
                     "circular": name in CIRCULAR_ANGLES}
    return out


def _r(x: float) -> float:
    return round(float(x), 2)
