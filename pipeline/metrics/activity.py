"""One entry point for all activities: clean the raw pose, detect view, angles, activity metrics."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.angles import compute_angles
from pipeline.metrics.result import ActivityResult
from pipeline.metrics.shots import detect_shots
from pipeline.metrics.view import ViewInfo, detect_view, facing_sign
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import clean
from pipeline.pose.sequence import PoseSequence


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
    return Analysis(raw, seq, view, angles, result, bar_xy)


def angle_summary(angles: dict[str, NDArray[np.float64]]) -> dict[str, dict[str, float | str | None]]:
    """min / max / mean of every angle over the clip (None when never measured)."""
    out: dict[str, dict[str, float | str | None]] = {}
    for name, v in angles.items():
        ok = np.isfinite(v)
        out[name] = {"min": _r(v[ok].min()) if ok.any() else None, "max": _r(v[ok].max()) if ok.any() else None,
                     "mean": _r(v[ok].mean()) if ok.any() else None, "unit": "deg"}
    return out


def _r(x: float) -> float:
    return round(float(x), 2)
