"""Weightlifting analysis: reps, depth, trunk, knees, symmetry, bar path and velocity, Olympic phases.

Convention: the first axis is time, NaN = missing; pixels with y DOWN in `seq.image_xy`, heights
y UP. Pure: whole-sequence NumPy/SciPy, loops only over the repetitions found. Definitions,
methods and limitations of every number: docs/metrics/weightlifting.md.

Each exercise follows one point whose height segments the reps (`PROFILES`): the hip centre for
squats (rest at the top: down then up), the bar for the others (rest at the bottom: up then maybe
down; the bench press rests at the top). Heights are measured from the ground (heels and toes,
low-passed so the feet's own hops do not count), or from the shoulders for presses, so a phone
panning up and down does not make reps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d

from pipeline.metrics.bar_path import (bar_point, ground_point, hands_point, horizontal_deviation, midpoint, nanmean,
                                       standing_height_px, vertical_velocity)
from pipeline.metrics.olympic import OlympicKeyFrames, find_key_frames
from pipeline.metrics.reps import Excursion, Rest, bridge_nans, find_reps, nearest_frame
from pipeline.metrics.rep_status import rep_reasons
from pipeline.metrics.result import ActivityResult, Event, Metric
from pipeline.metrics.shots import Shots, detect_shots
from pipeline.metrics.view import ViewInfo
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import lowpass
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

# Zero-phase Butterworth cut-off for lifting: barbell lifts have little content above ~6 Hz
# (Winter's 6 Hz for whole-body kinematics); the fast second pull of a clean is still resolved.
CUTOFF_HZ: float = 6.0
GROUND_CUTOFF_HZ = 1.5            # the floor does not move: only the camera's pan survives this
PLATE_DIAMETER_M = 0.45           # IWF/IPF discs of 10 kg and up (and most 20-25 kg gym plates)
DEFAULT_EXERCISE = "back_squat"
PARALLEL_TOLERANCE_DEG = 5.0      # thigh within +-5 deg of horizontal = "parallel"
IMPLAUSIBLE_LENGTH_RATIO = 0.55   # a trunk or leg shorter than 55 % of its usual length = a bad pose
LOCKOUT_WINDOW_S = 0.5            # down-first lifts: the lockout is looked for this long after the rep


@dataclass(frozen=True)
class ExerciseProfile:
    tracked: Literal["hip", "bar"]          # which point's height segments the reps
    reference: Literal["ground", "shoulders"]
    rest: Rest                              # where a rep starts: "high" (squat) or "low" (deadlift)
    min_rom: float                          # smallest rep, as a share of the athlete's height
    bar_source: Literal["hands", "shoulders"] = "hands"
    squat: bool = False                     # depth and knee travel at the bottom
    olympic: bool = False
    lockout_joint: Literal["hip", "elbow"] | None = None
    # bar velocity is taken from the bar height low-passed again at this cut-off: strength lifts
    # move the bar slowly and the hands' landmarks jitter; the second pull of a snatch or clean
    # is fast, so Olympic lifts keep the clip's cut-off
    velocity_cutoff_hz: float = 4.0


# Squats carry the bar on the shoulders (back: upper trapezius; front: front deltoids), and
# MediaPipe loses hands held beside the head, so the shoulders stand for the bar there.
_SQUAT = ExerciseProfile("hip", "ground", "high", 0.08, bar_source="shoulders", squat=True, lockout_joint="hip")
_OLYMPIC = ExerciseProfile("bar", "ground", "low", 0.15, squat=True, olympic=True, velocity_cutoff_hz=CUTOFF_HZ)
PROFILES: dict[str, ExerciseProfile] = {
    "back_squat": _SQUAT,
    "front_squat": _SQUAT,
    "deadlift": ExerciseProfile("bar", "ground", "low", 0.08, lockout_joint="hip"),
    "bench_press": ExerciseProfile("bar", "shoulders", "high", 0.05, lockout_joint="elbow"),
    "overhead_press": ExerciseProfile("bar", "shoulders", "low", 0.08, lockout_joint="elbow"),
    "snatch": _OLYMPIC,
    "clean": _OLYMPIC,
    "clean_and_jerk": _OLYMPIC,
}


# ---------------------------------------------------------------- signals

def reliable_frames(seq: PoseSequence) -> NDArray[np.bool_]:
    """(T,) False where the pose is implausible, and on the undetected frames joined to it.

    A trunk or leg shorter than `IMPLAUSIBLE_LENGTH_RATIO` of its usual (75th percentile) length
    is a pose collapsed onto something else (plates hiding the body). Gap filling drew the
    neighbouring undetected frames toward it, so the whole run goes, plus two frames either side
    for the low-pass smear.
    """
    n = len(seq)
    if n == 0:
        return np.ones(0, bool)
    xy = seq.image_xy.astype(np.float64)

    def length(a: int, b: int) -> FloatArray:
        return np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)

    trunk = np.linalg.norm(midpoint(seq, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) - midpoint(seq, L.LEFT_HIP, L.RIGHT_HIP),
                           axis=-1)
    leg = nanmean(np.stack([length(L.LEFT_HIP, L.LEFT_KNEE) + length(L.LEFT_KNEE, L.LEFT_ANKLE),
                            length(L.RIGHT_HIP, L.RIGHT_KNEE) + length(L.RIGHT_KNEE, L.RIGHT_ANKLE)], axis=1), axis=1)
    bad = np.zeros(n, bool)
    for v in (trunk, leg):
        if np.isfinite(v).any():
            bad |= np.isfinite(v) & (v < IMPLAUSIBLE_LENGTH_RATIO * np.nanpercentile(v, 75))
    if not bad.any():
        return np.ones(n, bool)
    suspect = bad | (seq.presence.max(axis=1) <= 0)
    run_id = np.cumsum(np.diff(np.concatenate([[0], suspect.astype(np.int8)])) == 1) * suspect  # 0 = fine
    drop = np.isin(run_id, np.unique(run_id[bad]))
    return ~(maximum_filter1d(drop.astype(np.uint8), size=5, mode="constant") > 0)


def primary_side(seq: PoseSequence) -> str:
    """The side the camera sees best (higher mean visibility of hip, knee, ankle)."""
    if len(seq) == 0:
        return "left"
    vis = seq.visibility
    left = float(np.mean(vis[:, [L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE]]))
    right = float(np.mean(vis[:, [L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE]]))
    return "left" if left >= right else "right"


def _lm(side: str, name: str) -> int:
    return L[f"{side.upper()}_{name}"].value


@dataclass(frozen=True)
class Signals:
    """Whole-clip arrays the rep metrics read (pixels; heights y UP above the ground)."""

    t: FloatArray
    reliable: NDArray[np.bool_]
    bar: FloatArray          # (T, 2) image pixels
    ground: FloatArray       # (T, 2) mid-foot on the floor, low-passed
    bar_h: FloatArray        # bar above the ground
    hip_h: FloatArray        # hip centre above the ground
    knee_h: FloatArray       # knee (primary side) above the ground
    segment_h: FloatArray    # the signal reps are segmented on
    bar_forward: FloatArray  # bar ahead of the mid-foot, in the facing direction
    bar_v: FloatArray        # d(bar_h)/dt, pixels/s
    knee_forward: FloatArray  # knee (primary side) ahead of its ankle
    knee_past_toes: FloatArray  # knee ahead of the toes
    bar_tilt: FloatArray     # line through the wrists against the horizontal, deg (front view)


def build_signals(seq: PoseSequence, profile: ExerciseProfile, facing: float, side: str,
                  bar_xy: NDArray[np.floating] | None = None) -> Signals:
    """The clip's signals; a tracked bar end (`bar_xy`) replaces the pose's bar for the bar path
    and velocity where finite, but reps are always segmented on the pose."""
    reliable = reliable_frames(seq)
    keep = reliable[:, None]
    pose_bar = midpoint(seq, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) if profile.bar_source == "shoulders" \
        else hands_point(seq)
    pose_bar = np.where(keep, pose_bar, np.nan)
    bar = pose_bar if bar_xy is None else bar_point(seq, bar_xy, fallback=pose_bar)
    ground = np.where(keep, ground_point(seq), np.nan)
    if np.isfinite(ground[:, 1]).mean() < 0.5:          # feet not seen: the image bottom, camera assumed still
        ground = np.where(np.isfinite(ground), ground, np.array([np.nan, float(seq.height)]))
    ground = lowpass(ground, seq.fps, GROUND_CUTOFF_HZ)
    gx, gy = bridge_nans(ground[:, 0]), bridge_nans(ground[:, 1])
    hip = np.where(keep, midpoint(seq, L.LEFT_HIP, L.RIGHT_HIP), np.nan)
    knee = np.where(keep, seq.image_xy[:, _lm(side, "KNEE")].astype(np.float64), np.nan)
    hip_h, knee_h = gy - hip[:, 1], gy - knee[:, 1]
    if profile.reference == "shoulders":
        segment = np.where(reliable, midpoint(seq, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)[:, 1], np.nan) - pose_bar[:, 1]
    else:
        segment = hip_h if profile.tracked == "hip" else gy - pose_bar[:, 1]
    t = seq.time_s.astype(np.float64)
    xy = seq.image_xy
    knee_x = xy[:, _lm(side, "KNEE"), 0].astype(np.float64)
    wrists = (xy[:, L.LEFT_WRIST] - xy[:, L.RIGHT_WRIST]).astype(np.float64)
    return Signals(t, reliable, bar, ground, gy - bar[:, 1], hip_h, knee_h, segment, (bar[:, 0] - gx) * facing,
                   bar_v=vertical_velocity(t, lowpass(gy - bar[:, 1], seq.fps, profile.velocity_cutoff_hz)),
                   knee_forward=(knee_x - xy[:, _lm(side, "ANKLE"), 0]) * facing,
                   knee_past_toes=(knee_x - xy[:, _lm(side, "FOOT_INDEX"), 0]) * facing,
                   bar_tilt=np.degrees(np.arctan2(np.abs(wrists[:, 1]), np.abs(wrists[:, 0]))))


# ---------------------------------------------------------------- small helpers

def _num(x: Any, nd: int = 3) -> float | None:
    """JSON-safe rounded float; None for NaN, inf or None."""
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


def _at(a: FloatArray, i: int | None) -> float:
    return float(a[i]) if i is not None and 0 <= i < len(a) else float("nan")


def _span(a: FloatArray, lo: int, hi: int, fn: Any) -> float:
    seg = a[max(0, lo):hi + 1]
    ok = np.isfinite(seg)
    return float(fn(seg[ok])) if ok.any() else float("nan")


def _m(px: float, m_per_px: float | None) -> float:
    return px * m_per_px if m_per_px is not None else float("nan")


@dataclass(frozen=True)
class Scale:
    """Metres per pixel. `body` comes from the athlete's height (None without it). `bar` comes from
    the tracked plate when there is one: a 45 cm disc measured in the plane the bar moves in, which
    from the side is nearer the camera than the athlete's mid-plane (0.3-0.4 m nearer, seen from
    3-4 m: ≈ 10 % larger, by geometry); else it is `body`."""

    body: float | None
    bar: float | None
    plate_radius_px: float | None = None

    @classmethod
    def of(cls, athlete_height_m: float | None, height_px: float, plate_radius_px: float | None) -> "Scale":
        body = athlete_height_m / height_px if athlete_height_m and np.isfinite(height_px) else None
        if plate_radius_px is not None and np.isfinite(plate_radius_px) and plate_radius_px > 0:
            return cls(body, PLATE_DIAMETER_M / 2 / plate_radius_px, plate_radius_px)
        return cls(body, body)

    def summary(self, height_px: float) -> dict[str, Any]:
        plate = self.plate_radius_px is not None
        return {"standing_height_px": _num(height_px, 1), "m_per_px": _num(self.body, 6),
                "source": "athlete_height" if self.body is not None else None,
                "plate_radius_px": _num(self.plate_radius_px, 1), "bar_m_per_px": _num(self.bar, 6),
                "bar_source": "plate" if plate else "athlete_height" if self.bar is not None else None}


def bar_m_per_px(summary: Mapping[str, Any]) -> float | None:
    """The bar's metres per pixel from a lift summary: the plate's scale, else the body's (older
    summaries have only `m_per_px`); None when there is none."""
    scale = summary.get("scale")
    if not isinstance(scale, Mapping):
        return None
    value = scale.get("bar_m_per_px", scale.get("m_per_px"))
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0
    return float(value) if ok else None


def _thigh_angle(seq: PoseSequence, side: str, i: int) -> float:
    """Thigh inclination at frame i: degrees the hip is above the knee (negative = below)."""
    hip = seq.image_xy[i, _lm(side, "HIP")].astype(np.float64)
    knee = seq.image_xy[i, _lm(side, "KNEE")].astype(np.float64)
    return float(np.degrees(np.arctan2(knee[1] - hip[1], abs(hip[0] - knee[0]))))


def depth_class(thigh_deg: float | None) -> str | None:
    if thigh_deg is None or not np.isfinite(thigh_deg):
        return None
    if thigh_deg > PARALLEL_TOLERANCE_DEG:
        return "above_parallel"
    return "below_parallel" if thigh_deg < -PARALLEL_TOLERANCE_DEG else "parallel"


def _depth(seq: PoseSequence, sig: Signals, side: str, i: int, m_per_px: float | None,
           prefix: str = "") -> dict[str, Any]:
    ok = bool(sig.reliable[i])
    below = float(seq.image_xy[i, _lm(side, "HIP"), 1] - seq.image_xy[i, _lm(side, "KNEE"), 1]) if ok else np.nan
    thigh = _thigh_angle(seq, side, i) if ok else np.nan
    return {f"{prefix}hip_below_knee_m": _num(_m(below, m_per_px)),
            f"{prefix}thigh_angle_deg": _num(thigh, 1),
            f"{prefix}depth": depth_class(thigh)}


# ---------------------------------------------------------------- one rep

@dataclass(frozen=True)
class RepFrames:
    """Key frames and times of one rep in the exercise's own terms."""

    start: int
    bottom: int
    lockout: int                  # first frame at lockout
    lockout_end: int              # last frame at lockout (before lowering / the next rep)
    end: int                      # last frame of the rep (the clip's last one if it never ended)
    start_s: float
    bottom_s: float
    lockout_s: float
    end_s: float | None
    concentric: tuple[int, int]   # frames of the lifting phase
    eccentric_s: float | None
    concentric_s: float | None
    complete: bool


def rep_frames(ex: Excursion, profile: ExerciseProfile, t: FloatArray, last: int | None = None) -> RepFrames:
    """`last`: the last frame of the rep's shot (default the clip's): a rep never runs past it."""
    last = len(t) - 1 if last is None else last
    if profile.rest == "high":               # down first: bottom = far point, lockout = end
        assert ex.end_frame is not None and ex.end_s is not None
        lock_end = min(last, int(np.searchsorted(t, ex.end_s + LOCKOUT_WINDOW_S)))
        return RepFrames(ex.start_frame, ex.far_frame, ex.end_frame, lock_end, ex.end_frame,
                         ex.start_s, ex.far_s, ex.end_s, ex.end_s, (ex.far_frame, ex.end_frame),
                         ex.far_s - ex.start_s, ex.end_s - ex.far_s, True)
    end = ex.end_frame if ex.end_frame is not None else last
    return RepFrames(ex.start_frame, ex.start_frame, ex.arrive_frame, ex.depart_frame, end,
                     ex.start_s, ex.start_s, ex.arrive_s, ex.end_s, (ex.start_frame, ex.arrive_frame),
                     None if ex.end_s is None else ex.end_s - ex.depart_s, ex.arrive_s - ex.start_s, ex.returned)


def _rep_metrics(k: int, ex: Excursion, rf: RepFrames, seq: PoseSequence, sig: Signals,
                 angles: dict[str, FloatArray], profile: ExerciseProfile, view: ViewInfo, height_px: float,
                 scale: Scale, side: str) -> dict[str, Any]:
    s, b, e = rf.start, rf.bottom, rf.end
    knee, hip, trunk = angles[f"{side}_knee_flexion"], angles[f"{side}_hip_flexion"], angles["trunk"]
    out: dict[str, Any] = {
        "index": k, "start_s": _num(rf.start_s), "bottom_s": _num(rf.bottom_s), "end_s": _num(rf.end_s),
        "lockout_s": _num(rf.lockout_s), "complete": rf.complete,
        "concentric_start_s": _num(sig.t[rf.concentric[0]]), "concentric_end_s": _num(sig.t[rf.concentric[1]]),
        "eccentric_s": _num(rf.eccentric_s), "concentric_s": _num(rf.concentric_s),
        "duration_s": _num(None if rf.end_s is None else rf.end_s - rf.start_s),
        "range_of_motion_m": _num(_m(ex.amplitude, scale.body)),
        "range_of_motion_pct_height": _num(100 * ex.amplitude / height_px, 1),
        "knee_flexion_max_deg": _num(_span(knee, s, e, np.max), 1),
        "hip_flexion_max_deg": _num(_span(hip, s, e, np.max), 1),
        "knee_rom_deg": _num(_span(knee, s, e, np.max) - _span(knee, s, e, np.min), 1),
        "hip_rom_deg": _num(_span(hip, s, e, np.max) - _span(hip, s, e, np.min), 1),
        "trunk_angle_deg": _num(_at(trunk, b), 1),
        "trunk_lean_max_deg": _num(_span(90.0 - trunk, s, e, np.max), 1),
    }
    if profile.squat and not profile.olympic:
        out.update(_depth(seq, sig, side, b, scale.body))
        sideways = view.view in ("side", "oblique")
        travel = _span(sig.knee_forward, s, e, np.max) - _at(sig.knee_forward, s)
        out["knee_travel_m"] = _num(_m(travel, scale.body)) if sideways else None
        out["knee_ahead_of_toes_m"] = _num(_m(_at(sig.knee_past_toes, b), scale.body)) if sideways else None
    out.update(_symmetry(angles, sig, view, s, b, e))
    c0, c1 = rf.concentric
    out["bar_horizontal_deviation_m"] = _num(_m(horizontal_deviation(sig.bar_forward, s, e), scale.bar))
    out["bar_drift_m"] = _num(_m(_at(sig.bar_forward, e) - _at(sig.bar_forward, s), scale.bar))
    out["bar_to_midfoot_m"] = _num(_m(_span(sig.bar_forward, c0, c1, np.mean), scale.bar))
    out.update(_velocity(sig, c0, c1, scale.bar))
    if profile.lockout_joint is not None:
        # the lockout hold: its most extended frame is the "top" (the picture of the lockout)
        joint = angles[f"{side}_{profile.lockout_joint}_flexion"]
        lo, hi = rf.lockout, max(rf.lockout, rf.lockout_end)
        seg = joint[lo:hi + 1]
        top = lo + int(np.nanargmin(seg)) if np.isfinite(seg).any() else rf.lockout
        out[f"lockout_{profile.lockout_joint}_flexion_deg"] = _num(_at(joint, top), 1)
        out["top_s"] = _num(seq.time_s[top])
    return out


def _symmetry(angles: dict[str, FloatArray], sig: Signals, view: ViewInfo, s: int, b: int,
              e: int) -> dict[str, Any]:
    """Left vs right at the bottom. A side view hides the far leg, so no asymmetry is claimed there;
    the bar's tilt (hands' line against the horizontal) needs the front or back view."""
    kl, kr = _at(angles["left_knee_flexion"], b), _at(angles["right_knee_flexion"], b)
    out: dict[str, Any] = {"knee_flexion_left_deg": _num(kl, 1), "knee_flexion_right_deg": _num(kr, 1),
                           "knee_asymmetry_deg": _num(abs(kl - kr), 1) if view.view in ("front", "oblique") else None,
                           "bar_tilt_max_deg": None}
    if view.view == "front":
        out["bar_tilt_max_deg"] = _num(_span(sig.bar_tilt, s, e, np.max), 1)
    return out


def _velocity(sig: Signals, c0: int, c1: int, m_per_px: float | None) -> dict[str, Any]:
    if m_per_px is None or c1 <= c0:
        return {"mean_concentric_velocity_m_s": None, "peak_concentric_velocity_m_s": None}
    v = sig.bar_v[c0:c1 + 1] * m_per_px
    ok = np.isfinite(v)
    return {"mean_concentric_velocity_m_s": _num(v[ok].mean() if ok.any() else np.nan),
            "peak_concentric_velocity_m_s": _num(v[ok].max() if ok.any() else np.nan)}


def _olympic(ex: Excursion, seq: PoseSequence, sig: Signals, angles: dict[str, FloatArray],
             both: dict[str, FloatArray], side: str, height_px: float, scale: Scale,
             jerk: bool, shot_last: int) -> tuple[dict[str, Any], OlympicKeyFrames]:
    """Phases and catch of one Olympic lift; the knees of both sides find the phases (the far knee
    shows the double knee bend as well), the primary side's angles are reported."""
    last = ex.end_frame if ex.end_frame is not None else shot_last     # never past the shot's end
    kf = find_key_frames(sig.t, sig.bar_h, sig.hip_h, sig.knee_h, both["knee"], ex.start_frame, last, height_px,
                         jerk=jerk)
    t = sig.t
    peak_h = _at(sig.bar_h, kf.peak_bar)
    out: dict[str, Any] = {
        "bottom_s": _num(t[kf.catch]),
        "end_s": _num(t[kf.recovery]),
        "lockout_s": _num(t[kf.jerk_lockout if kf.jerk_lockout is not None else kf.recovery]),
        "duration_s": _num(t[kf.recovery] - t[kf.liftoff]),
        "concentric_s": _num(t[kf.peak_bar] - t[kf.liftoff]),
        "concentric_start_s": _num(t[kf.liftoff]), "concentric_end_s": _num(t[kf.peak_bar]),
        "eccentric_s": None,
        "phases": {name: {"start_s": _num(t[a]), "end_s": _num(t[b])} for name, (a, b) in kf.phases().items()},
        "double_knee_bend": kf.double_knee_bend,
        "full_extension_s": _num(t[kf.full_extension]),
        "peak_bar_s": _num(t[kf.peak_bar]),
        "peak_bar_height_m": _num(_m(peak_h, scale.bar)),
        "peak_bar_height_pct_height": _num(100 * peak_h / height_px, 1),
        "catch_s": _num(t[kf.catch]),
        "catch_knee_flexion_deg": _num(_at(angles[f"{side}_knee_flexion"], kf.catch), 1),
        "trunk_angle_deg": _num(_at(angles["trunk"], kf.catch), 1),
        "early_arm_bend_deg": _num(_span(both["elbow"], kf.liftoff, kf.power_position, np.max), 1),
        "bar_forward_in_turnover_m": _num(_m(_span(sig.bar_forward, kf.full_extension, kf.catch, np.max)
                                             - _at(sig.bar_forward, kf.full_extension), scale.bar)),
        "bar_drop_to_catch_m": _num(_m(peak_h - _at(sig.bar_h, kf.catch), scale.bar)),
    }
    out.update(_depth(seq, sig, side, kf.catch, scale.body, prefix="catch_"))
    out.update(_velocity(sig, kf.liftoff, kf.peak_bar, scale.bar))
    if kf.jerk_lockout is not None:
        out["jerk_lockout_s"] = _num(t[kf.jerk_lockout])
        out["jerk_dip_s"] = _num(t[kf.jerk_dip]) if kf.jerk_dip is not None else None
    return out, kf


# ---------------------------------------------------------------- rows

_UNITS = (("_m_s", "m/s"), ("_pct_height", "%"), ("_deg", "deg"), ("_s", "s"), ("_m", "m"))
_TIMES = {"start_s", "bottom_s", "end_s", "lockout_s", "catch_s", "peak_bar_s", "full_extension_s",
          "jerk_lockout_s", "jerk_dip_s", "concentric_start_s", "concentric_end_s", "top_s"}


def _metric_rows(rep: dict[str, Any]) -> list[Metric]:
    """Every numeric per-rep quantity (not the event times) as a Metric row."""
    rows = []
    for name, value in rep.items():
        unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), None)
        if name in _TIMES or unit is None or not isinstance(value, float):
            continue
        side = "left" if "_left_" in name else "right" if "_right_" in name else None
        rows.append(Metric(name, value, unit, side, rep["index"]))
    return rows


def _event(kind: str, t: FloatArray, time_s: float, index: int) -> Event:
    return Event(kind, round(float(time_s), 4), nearest_frame(t, time_s), None, index)


# ---------------------------------------------------------------- entry point

def analyze(seq: PoseSequence, angles: dict[str, NDArray[np.float64]], view: ViewInfo, options: AnalysisOptions,
            *, bar_xy: NDArray[np.floating] | None = None, plate_radius_px: float | None = None,
            shots: Shots | None = None) -> ActivityResult:
    """Reps and their metrics for `options.exercise` (back squat when not given, with a warning).

    `seq` is the cleaned sequence (`clean(raw, CUTOFF_HZ)`); `bar_xy` optionally a tracked bar
    end (T, 2) in pixels (`bar_tracker.track_bar`), used for the bar path where finite, and
    `plate_radius_px` the radius of its plate, the scale of the bar's distances and velocities.
    `shots`: the clip's shots (`shots.detect_shots` on the raw pose; detected on `seq` when not
    given): reps are found in each shot alone, and only reps seen whole are counted (`rep_status`).
    """
    warnings: list[dict[str, str]] = []
    exercise = options.exercise
    if exercise is None:
        exercise = DEFAULT_EXERCISE
        warnings.append({"code": "exercise_defaulted",
                         "message": f"no exercise given; analysed as {DEFAULT_EXERCISE.replace('_', ' ')}"})
    profile = PROFILES[exercise]
    summary: dict[str, Any] = {"exercise": exercise, "rep_count": 0, "reps": [], "incomplete_reps": [],
                               "mean_concentric_velocity_m_s": None, "velocity_loss_pct": None}
    result = ActivityResult("weightlifting", summary, warnings=warnings)
    if len(seq) == 0 or not seq.detected.any():
        return _no_reps(result, "no athlete was seen in the clip")

    facing = -1.0 if view.facing == "left" else 1.0
    side = primary_side(seq)
    sig = build_signals(seq, profile, facing, side, bar_xy)
    angles = {k: np.where(sig.reliable, v, np.nan) for k, v in angles.items()}
    height_px = standing_height_px(seq, sig.reliable)
    tracked = bar_xy is not None and bool(np.isfinite(np.asarray(bar_xy, np.float64)).all(axis=1).any())
    scale = Scale.of(options.athlete_height_m, height_px, plate_radius_px if tracked else None)
    summary["view"] = view.view
    summary["facing"] = view.facing
    summary["bar_source"] = "tracked" if tracked else profile.bar_source
    summary["primary_side"] = side
    summary["scale"] = scale.summary(height_px)
    if not np.isfinite(height_px) or np.isfinite(sig.segment_h).sum() < 3:
        return _no_reps(result, "the athlete's body was not seen well enough to follow the lift")
    warnings.extend(_quality_warnings(scale, view, profile, sig))

    shots = shots if shots is not None else detect_shots(seq)
    found, seg_bounds = _reps_per_shot(sig, profile, height_px, shots)
    reasons = rep_reasons(found, seg_bounds, profile.rest, sig.t, sig.reliable & seq.detected)
    excursions = [ex for ex, why in zip(found, reasons) if why is None]
    shot_last = [b for (_, b), why in zip(seg_bounds, reasons) if why is None]
    summary["incomplete_reps"] = [_incomplete(ex, why, shots, sig.t, height_px)
                                  for ex, why in zip(found, reasons) if why is not None]
    if summary["incomplete_reps"]:
        warnings.append(_incomplete_warning(summary["incomplete_reps"]))
    if not excursions:
        what = "hips" if profile.tracked == "hip" else "bar"
        why = (f"no complete {exercise.replace('_', ' ')} repetition: {len(found)} incomplete (see incomplete_reps)"
               if found else f"no {exercise.replace('_', ' ')} repetition found: the {what} never moved "
                             f"more than {profile.min_rom * 100:.0f} % of the athlete's height and back")
        return _no_reps(result, why)
    reps: list[dict[str, Any]] = []
    t = sig.t
    both = {j: nanmean(np.stack([angles[f"left_{j}_flexion"], angles[f"right_{j}_flexion"]], axis=1), axis=1)
            for j in ("knee", "elbow")} if profile.olympic else {}
    for k, (ex, last) in enumerate(zip(excursions, shot_last)):
        rf = rep_frames(ex, profile, t, last)
        rep = _rep_metrics(k, ex, rf, seq, sig, angles, profile, view, height_px, scale, side)
        rep["complete"] = True                 # counted: seen whole (rep_status); `lowered` says if it came back down
        rep["lowered"] = ex.returned
        rep["segment"] = int(shots.segment_of(np.array([ex.start_frame]))[0])
        result.events.append(_event("rep_start", t, rf.start_s, k))
        if profile.olympic:
            oly, kf = _olympic(ex, seq, sig, angles, both, side, height_px, scale, exercise == "clean_and_jerk", last)
            rep.update(oly)
            result.events += [_event(f"{name}_start", t, t[a], k) for name, (a, _) in kf.phases().items()]
            result.events += [_event("peak_bar_height", t, t[kf.peak_bar], k),
                              _event("rep_bottom", t, t[kf.catch], k), _event("rep_end", t, t[kf.recovery], k)]
        else:
            result.events.append(_event("rep_bottom", t, rf.bottom_s, k))
            if profile.rest == "low":
                result.events.append(_event("rep_lockout", t, rf.lockout_s, k))
            if rf.end_s is not None:
                result.events.append(_event("rep_end", t, rf.end_s, k))
            else:
                warnings.append({"code": "rep_not_lowered",
                                 "message": f"rep {k + 1}: the clip ends before the bar is lowered"})
        reps.append(rep)
        result.metrics += _metric_rows(rep)

    summary["rep_count"] = len(reps)
    summary["reps"] = reps
    summary.update(_session(reps))
    result.metrics.append(Metric("rep_count", float(len(reps)), "count"))
    result.metrics += [Metric(name, summary[name], unit) for name, unit in
                       (("mean_concentric_velocity_m_s", "m/s"), ("velocity_loss_pct", "%"))
                       if summary[name] is not None]
    result.events.sort(key=lambda ev: (ev.time_s, ev.index or 0))
    return result


def _reps_per_shot(sig: Signals, profile: ExerciseProfile, height_px: float,
                   shots: Shots) -> tuple[list[Excursion], list[tuple[int, int]]]:
    """Excursions found in each shot on its own (none spans a cut or a fade), in clip frames, and the
    first and last frame of the shot each is in."""
    found: list[Excursion] = []
    bounds: list[tuple[int, int]] = []
    for a, b in zip(shots.first.tolist(), shots.last.tolist()):
        part = find_reps(sig.t[a:b + 1], sig.segment_h[a:b + 1], rest=profile.rest,
                         min_amplitude=profile.min_rom * height_px, unfinished=True)
        found += [replace(ex, start_frame=ex.start_frame + a, arrive_frame=ex.arrive_frame + a,
                          far_frame=ex.far_frame + a, depart_frame=ex.depart_frame + a,
                          end_frame=None if ex.end_frame is None else ex.end_frame + a) for ex in part]
        bounds += [(a, b)] * len(part)
    return found, bounds


_REASON_TEXT = {"lost_tracking": "the athlete was not seen through it",
                "cut_off": "the clip or the shot ends before it is over",
                "partial_range": "it covered much less range than the other reps"}


def _incomplete(ex: Excursion, reason: str, shots: Shots, t: FloatArray, height_px: float) -> dict[str, Any]:
    return {"start_s": _num(ex.start_s), "far_s": _num(ex.far_s), "end_s": _num(ex.end_s), "reason": reason,
            "segment": int(shots.segment_of(np.array([ex.start_frame]))[0]),
            "range_of_motion_pct_height": _num(100 * ex.amplitude / height_px, 1)}


def _incomplete_warning(items: list[dict[str, Any]]) -> dict[str, str]:
    listed = "; ".join(f"at {it['start_s']:.1f} s, {it['reason']} ({_REASON_TEXT[it['reason']]})" for it in items)
    return {"code": "incomplete_reps",
            "message": f"{len(items)} incomplete rep{'s' if len(items) > 1 else ''} not counted: {listed}"}


def _quality_warnings(scale: Scale, view: ViewInfo, profile: ExerciseProfile,
                      sig: Signals) -> list[dict[str, str]]:
    out = []
    if scale.body is None:
        out.append({"code": "athlete_height_missing", "message": (
            "no athlete height given: body distances in m are not reported; the bar's are measured "
            "against its 45 cm plate" if scale.bar is not None else
            "no athlete height given: distances in m and bar velocities are not reported")})
    if view.view == "front" and profile.squat:
        out.append({"code": "view_not_side",
                    "message": "filmed from the front: depth, trunk angle and knee travel need a side view"})
    elif view.view == "oblique":
        out.append({"code": "oblique_view",
                    "message": "filmed at an angle: horizontal distances and 2-D angles are foreshortened"})
    bad = int((~sig.reliable).sum())
    if bad:
        out.append({"code": "pose_unreliable_frames",
                    "message": f"{bad} frames with an implausible pose (body hidden) were bridged"})
    return out


def _session(reps: list[dict[str, Any]]) -> dict[str, Any]:
    v = [r["mean_concentric_velocity_m_s"] for r in reps if r.get("mean_concentric_velocity_m_s") is not None]
    # velocity loss over the set: the fastest rep vs the last one (Pareja-Blanco et al. 2017)
    loss = 100 * (max(v) - v[-1]) / max(v) if len(v) >= 2 and max(v) > 0 else None
    return {"mean_concentric_velocity_m_s": _num(np.mean(v)) if v else None, "velocity_loss_pct": _num(loss, 1)}


def _no_reps(result: ActivityResult, message: str) -> ActivityResult:
    result.summary["rep_count"] = 0
    result.summary["reps"] = []
    result.warnings.append({"code": "no_reps_found", "message": message})
    result.metrics.append(Metric("rep_count", 0.0, "count"))
    return result
