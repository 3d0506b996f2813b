"""What the movement looks like, from the pose alone: a check of the activity and exercise asked for.

A coach who picks the wrong `--activity` (a jump analysed as a squat) or no `--exercise` (a deadlift
analysed as the default back squat) gets numbers that mean nothing and, before this, no hint. Three
whole-clip signs, each a share of the athlete's height so that the camera distance does not matter:

- both feet off the ground together (both ankles above their own ground level) — a jump;
- one foot up while the other is down, in turn — running or walking;
- where the hands are when the hips are lowest — below the hips for a hinge (deadlift, the pulls
  of a clean or snatch), at the shoulders or above for a squat or press.

The first axis is time; NaN means not seen. No per-frame Python loops.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

FOOT_OFF = 0.05          # an ankle this share of stature above its ground level is off the ground
JUMP_MIN_S = 0.12        # both feet off together for at least this long: a flight, not noise
ALTERNATE_SHARE = 0.35   # this share of the clip with one foot up and the other down: gait
GROUND_WINDOW_S = 2.0    # the ground is the feet's level within this window (longer than any flight)
HINGE_HANDS = 0.12       # hands this share of stature below the hips at the lowest hip: a hinge
# (measured: deadlift 0.27, power clean 0.25; back squat -0.27, jumps -0.27 to 0.02)
SQUAT_LIKE = frozenset({"back_squat", "front_squat", "overhead_press", "bench_press"})
HINGE_LIKE = frozenset({"deadlift", "clean", "snatch", "clean_and_jerk"})


@dataclass(frozen=True)
class MovementSigns:
    both_feet_off_s: float       # longest time with both feet off the ground together
    alternating_share: float     # share of the seen frames with one foot up and the other down
    hands_below_hips: float      # (wrist - hip) height at the lowest hip, share of stature (+ = below)

    @property
    def likely_activity(self) -> str | None:
        if self.both_feet_off_s >= JUMP_MIN_S and self.alternating_share < ALTERNATE_SHARE and not self.hinge:
            return "jumping"   # (a clean's or snatch's jump under the bar starts from a hinge)
        if self.alternating_share >= ALTERNATE_SHARE:
            return "running"
        return "weightlifting" if np.isfinite(self.hands_below_hips) else None

    @property
    def hinge(self) -> bool | None:
        return None if not np.isfinite(self.hands_below_hips) else bool(self.hands_below_hips > HINGE_HANDS)


def _mean2(xy: FloatArray, a: int, b: int) -> FloatArray:
    return np.nanmean(xy[:, [a, b], 1], axis=1) if xy.size else np.empty(0)


def movement_signs(seq: PoseSequence) -> MovementSigns:
    xy = np.asarray(seq.image_xy, np.float64)
    if len(seq) < 3:
        return MovementSigns(0.0, 0.0, float("nan"))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices: a landmark never seen
        ankles = xy[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], 1]                      # (T, 2), y down
        stature = np.nanmedian(np.nanmax(ankles, axis=1) - xy[:, L.NOSE, 1])
        if not np.isfinite(stature) or stature <= 0:
            return MovementSigns(0.0, 0.0, float("nan"))
        lift = (_local_ground(ankles, round(GROUND_WINDOW_S / _frame_s(seq))) - ankles) / stature   # >0: up
        off = lift > FOOT_OFF
        seen = np.isfinite(lift).all(axis=1)
        both = off.all(axis=1) & seen
        alternating = (off[:, 0] ^ off[:, 1]) & seen
        hips = _mean2(xy, L.LEFT_HIP, L.RIGHT_HIP)
        wrists = _mean2(xy, L.LEFT_WRIST, L.RIGHT_WRIST)
        ok = np.isfinite(hips) & np.isfinite(wrists)
        low = np.flatnonzero(ok & (hips >= np.nanpercentile(hips[ok], 90))) if ok.any() else np.empty(0, int)
        hands = float(np.median(wrists[low] - hips[low]) / stature) if low.size else float("nan")
    return MovementSigns(_longest_run(both) * _frame_s(seq), float(alternating.sum() / max(seen.sum(), 1)), hands)


def _local_ground(y: FloatArray, window: int) -> FloatArray:
    """Each ankle's ground level around each frame: a running high percentile of its y (y down), so
    that a slow camera tilt or zoom is not taken for the feet leaving the ground."""
    from scipy.ndimage import percentile_filter

    filled = np.where(np.isfinite(y), y, np.nanmedian(y, axis=0))
    return percentile_filter(filled, 90, size=(max(window, 3), 1), mode="nearest")


def _frame_s(seq: PoseSequence) -> float:
    return float(np.nanmedian(np.diff(seq.time_s))) if len(seq) > 1 else 1 / seq.fps


def _longest_run(mask: NDArray[np.bool_]) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def movement_warnings(seq: PoseSequence, options: AnalysisOptions) -> list[dict[str, str]]:
    """`activity_mismatch` / `exercise_mismatch` when the clip does not look like what was asked for,
    naming what it looks like and the option to give."""
    signs = movement_signs(seq)
    likely = signs.likely_activity
    if likely is not None and likely != options.activity:
        why = {"jumping": f"both feet left the ground together for {signs.both_feet_off_s:.2f} s",
               "running": f"one foot was up while the other was down in {signs.alternating_share:.0%} of the frames",
               "weightlifting": "the feet never left the ground"}[likely]
        return [{"code": "activity_mismatch",
                 "message": f"analysed as {options.activity}, but this clip looks like {likely} ({why}); "
                            f"analyse it with --activity {likely}"}]
    if options.activity != "weightlifting" or signs.hinge is None:
        return []
    exercise = options.exercise or "back_squat"
    given = "" if options.exercise else "no exercise given, so "
    if signs.hinge and exercise in SQUAT_LIKE:
        return [{"code": "exercise_mismatch",
                 "message": f"{given}analysed as a {exercise.replace('_', ' ')}, but the hands were below the hips "
                            f"at the lowest point, as in a deadlift; analyse it with --exercise deadlift "
                            f"(or clean / snatch for a pull to the shoulders or overhead)"}]
    if not signs.hinge and exercise == "deadlift":
        return [{"code": "exercise_mismatch",
                 "message": "analysed as a deadlift, but the hands stayed above the hips at the lowest point, "
                            "as in a squat; analyse it with --exercise back_squat (or front_squat)"}]
    return []
