"""Jumping analysis: every jump of a clip, timed and measured like on a force plate.

Conventions: the first axis is time, NaN = missing, image y points DOWN (pixels); angles follow
`pipeline.metrics.angles` (knee/hip flexion 0° when straight). Metric definitions, methods and
limitations: `docs/metrics/jumping.md`.

Flow: flights (takeoff/landing between frames, `jump_events.find_flights`) on the UNFILTERED
landmarks (the low-pass rounds the corners that time the events) -> jump or drop -> per jump the
countermovement, angles and landing on the cleaned sequence -> bounds, norms, summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter

from pipeline.metrics import frontal, norms
from pipeline.metrics.jump_events import FOOT_POINTS, G, Flight, centre_of_mass, find_flights, ground_levels
from pipeline.metrics.result import ActivityResult, Event, Metric
from pipeline.metrics.view import ViewInfo, detect_view
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import LEG_PAIRS, fill_gaps
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

# Low-pass cut-off of the cleaned sequence (angles, countermovement). 12 Hz keeps the knee's
# landing flexion and the bottom of a fast countermovement (content < 10 Hz) while removing the
# frame-to-frame jitter of the landmarks; takeoff/landing are timed on the raw landmarks.
CUTOFF_HZ = 12.0

MAX_CONTACT_S = 1.0        # a takeoff this soon after a landing: contact time and RSI are reported
HOP_CONTACT_S = 0.5        # ... this soon: a rebound (hops); any jump within MAX_CONTACT_S of a drop: drop jump
SETTLE_S = 0.5             # after a landing, the next countermovement is looked for this much later
CM_MIN_STATURE = 0.03      # hip lowered by more than 3 % of stature before takeoff: a countermovement
SQUAT_HOLD_S = 0.4         # still at the bottom this long before pushing: a squat jump
CM_WINDOW_S = 5.0          # how far before takeoff the countermovement (or held squat) is looked for
LANDING_WINDOW_S = 0.6     # landing phase for peak knee flexion and valgus
EYE_HEIGHT = 0.936         # eye height / stature (Drillis & Contini 1966, in Winter 2009)
SHOULDER_HEIGHT = 0.818    # shoulder (acromion) height / stature (same source)
FOOT_LANDMARK_HEIGHT = 0.015  # heel/toe landmarks above the floor, fraction of stature
IN_FRAME_SHARE = 0.97      # a landmark out of the picture more often: the head or hands leave the frame


@dataclass(frozen=True)
class Bound:
    lo: float
    hi: float
    unit: str


# Physiological / plausible ranges: a value outside is kept and reported with a warning.
BOUNDS: dict[str, Bound] = {
    "flight_time_s": Bound(0.10, 1.00, "s"),
    "jump_height_m": Bound(0.02, 0.90, "m"),
    "jump_height_hip_m": Bound(0.0, 0.90, "m"),
    "takeoff_velocity_m_s": Bound(0.5, 4.2, "m/s"),
    "countermovement_depth_m": Bound(0.03, 0.70, "m"),
    "eccentric_duration_s": Bound(0.10, 2.00, "s"),
    "concentric_duration_s": Bound(0.10, 1.00, "s"),
    "min_knee_angle_deg": Bound(30.0, 180.0, "deg"),
    "min_hip_angle_deg": Bound(20.0, 200.0, "deg"),
    "landing_knee_flexion_deg": Bound(0.0, 90.0, "deg"),
    "landing_peak_knee_flexion_deg": Bound(5.0, 150.0, "deg"),
    "knee_valgus_left_deg": Bound(-30.0, 40.0, "deg"),
    "knee_valgus_right_deg": Bound(-30.0, 40.0, "deg"),
    "knee_frontal_angle_left_deg": Bound(-30.0, 40.0, "deg"),
    "knee_frontal_angle_right_deg": Bound(-30.0, 40.0, "deg"),
    "hip_drop_deg": Bound(0.0, 20.0, "deg"),
    "landing_asymmetry_s": Bound(0.0, 0.15, "s"),
    "contact_time_s": Bound(0.08, MAX_CONTACT_S, "s"),
    "rsi_m_s": Bound(0.05, 3.5, "m/s"),
    "rsi_mod_m_s": Bound(0.05, 1.2, "m/s"),
    "peak_power_w": Bound(200.0, 9000.0, "W"),
    "drop_height_m": Bound(0.10, 1.20, "m"),
}

UNITS: dict[str, str] = {k: b.unit for k, b in BOUNDS.items()}
FRONTAL_KEYS = ("knee_frontal_angle_left_deg", "knee_frontal_angle_right_deg", "hip_drop_deg", "hip_drop_side",
                "landing_asymmetry_s", "first_foot_down")


def sayers_peak_power_w(jump_height_m: float, body_mass_kg: float) -> float:
    """Sayers et al. 1999 (Med Sci Sports Exerc 31:572-577): P = 60.7·h[cm] + 45.3·m[kg] − 2055, watts."""
    return 60.7 * jump_height_m * 100.0 + 45.3 * body_mass_kg - 2055.0


def flight_height_m(flight_time_s: float) -> float:
    """Rise of the centre of mass from takeoff to apex for a flight of T seconds: h = g·T²/8."""
    return G * flight_time_s**2 / 8.0


def rsi(jump_height_m: float | None, contact_time_s: float | None) -> float | None:
    """Reactive strength index: jump height (m) / ground contact time (s) before it, m/s."""
    if jump_height_m is None or contact_time_s is None or contact_time_s <= 0:
        return None
    return jump_height_m / contact_time_s


# ------------------------------------------------------------------ entry point


def analyze(seq: PoseSequence, angles: dict[str, FloatArray], view: ViewInfo, options: AnalysisOptions,
            raw: PoseSequence | None = None) -> ActivityResult:
    """Every jump of the clip. `seq`: cleaned at CUTOFF_HZ; `raw`: the same frames unfiltered (sharper events)."""
    warn: list[dict[str, str]] = []
    ev = _event_sequence(seq, raw)
    side = _leg_side(seq, view)
    knee = _despike(_side_angle(angles, "knee_flexion", side, len(seq)), seq.fps)
    hip_flex = _despike(_side_angle(angles, "hip_flexion", side, len(seq)), seq.fps)
    in_frame = in_frame_share(ev)
    stature_px = estimate_stature_px(seq, knee, in_frame)
    px_per_m = stature_px / options.athlete_height_m if options.athlete_height_m and np.isfinite(stature_px) else None

    flights: list[Flight] = []
    ground = None
    if len(ev) >= 5 and np.isfinite(stature_px):
        xy = ev.image_xy.astype(np.float64)
        feet = xy[:, list(FOOT_POINTS), 1]
        ground = ground_levels(fill_gaps(feet, max(1, int(round(0.05 * seq.fps)))), seq.fps, stature_px)
        flights = find_flights(ev.time_s, feet, _mean_y(xy, L.LEFT_HIP, L.RIGHT_HIP),
                               centre_of_mass(xy, in_frame >= IN_FRAME_SHARE)[:, 1], stature_px, seq.fps, px_per_m,
                               ground)
    is_drop = [f.kind == "drop" for f in flights]
    view = _view_of_jumps(seq, flights, view)
    side = _leg_side(seq, view)
    knee = _despike(_side_angle(angles, "knee_flexion", side, len(seq)), seq.fps)
    hip_flex = _despike(_side_angle(angles, "hip_flexion", side, len(seq)), seq.fps)

    t = seq.time_s
    hip_y = _mean_y(seq.image_xy, L.LEFT_HIP, L.RIGHT_HIP)
    curves = _Finite.of(t, hip_y), _Finite.of(t, knee)
    jumps: list[dict[str, Any]] = []
    drops: list[dict[str, Any]] = []
    moments: list[tuple[str, float, int]] = []          # (type, time, index): frames found at once below
    prev_landing: float | None = None
    prev_was_drop = False
    for f, drop in zip(flights, is_drop):
        if drop:
            drops.append({"index": len(drops), "takeoff_s": _r(f.takeoff_s, 4), "landing_s": _r(f.landing_s, 4),
                          "drop_height_m": _r(f.drop_px / px_per_m, 4) if px_per_m else None})
            moments += [("drop_takeoff", f.takeoff_s, len(jumps)), ("drop_landing", f.landing_s, len(jumps))]
        else:
            j = _jump(len(jumps), f, prev_landing, prev_was_drop, t, hip_y, knee, hip_flex, curves, seq, view,
                      stature_px, px_per_m, options)
            j.update(_frontal(f, seq, ev, stature_px) if view.frontal else dict.fromkeys(FRONTAL_KEYS))
            jumps.append(j)
            moments += _jump_moments(j)
        prev_landing, prev_was_drop = f.landing_s, drop
    events = _events(moments, t)

    detected = _session_type(jumps)
    jump_type = options.jump_type or detected
    if options.jump_type and detected and detected != options.jump_type:
        warn.append({"code": "jump_type_mismatch",
                     "message": f"jump type given as {options.jump_type} but the clip looks like {detected}"})
    for j in jumps:
        j.pop("_kind_detected", None)

    if not jumps:
        warn.append({"code": "no_jumps_found",
                     "message": "no flight phase (both feet off the ground, body moving ballistically) was found"
                     + (" - only a drop from a box" if drops else "")})
    else:
        if px_per_m is None:
            warn.append({"code": "athlete_height_missing",
                         "message": "give the athlete's height for hip-displacement jump height and "
                                    "countermovement depth in metres"})
        if seq.fps < 50:
            warn.append({"code": "low_frame_rate",
                         "message": f"{seq.fps:.0f} fps: takeoff and landing are interpolated between frames "
                                    f"{1000 / seq.fps:.0f} ms apart; 60 fps or more gives tighter timing"})
        warn += _scale_check(flights, is_drop, px_per_m)
        warn += _view_warnings(view)
        warn += _out_of_frame_warnings(in_frame)
        warn += _camera_motion_warnings(ev.time_s, ground, flights, stature_px, px_per_m)
        warn += _consistency_warnings(jumps)
    warn += _bounds_warnings(jumps, drops)

    summary = _summary(jumps, drops, jump_type, options, view, side, px_per_m)
    metrics = _metric_rows(jumps, summary)
    return ActivityResult("jumping", summary, events=events, metrics=metrics, warnings=warn)


# ------------------------------------------------------------------ inputs


def _event_sequence(seq: PoseSequence, raw: PoseSequence | None) -> PoseSequence:
    """Unfiltered landmarks with the cleaning's left/right leg exchanges carried over (else the cleaned sequence).

    A raw leg point is exchanged with its twin where it lies closer to the cleaned twin than to
    its own cleaned point: the cleaned sequence already went through the swap repair.
    """
    if raw is None or len(raw) != len(seq):
        return seq
    xy = raw.image_xy.copy()
    left = [a for a, _ in LEG_PAIRS]
    right = [b for _, b in LEG_PAIRS]
    rl, rr, cl, cr = xy[:, left], xy[:, right], seq.image_xy[:, left], seq.image_xy[:, right]
    with np.errstate(invalid="ignore"):
        same = np.nansum(_norm2(rl - cl) + _norm2(rr - cr), axis=1)
        cross = np.nansum(_norm2(rl - cr) + _norm2(rr - cl), axis=1)
    swap = cross < same
    if swap.any():
        rows = np.flatnonzero(swap)
        xy[np.ix_(rows, left)], xy[np.ix_(rows, right)] = rr[rows], rl[rows]
    return raw.with_arrays(image_xy=xy)


def _norm2(d: NDArray[np.floating]) -> NDArray[np.floating]:
    """np.linalg.norm(d, axis=-1) for 2-D points (the same numbers, several times faster)."""
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])


EDGE = 0.02               # a landmark this close to the picture's edge with low visibility: cut off, not hidden


def in_frame_share(seq: PoseSequence) -> NDArray[np.float64]:
    """(33,) share of the frames where each landmark lies inside the picture.

    Out: beyond the edge (the model's guess), or at the edge with low visibility. A low-visibility
    landmark inside the picture is hidden (the far arm in a side view), not cut off: its guess holds.
    """
    if len(seq) == 0:
        return np.zeros(seq.image_xy.shape[1])
    x, y = seq.image_xy[..., 0], seq.image_xy[..., 1]
    mx, my = EDGE * seq.width, EDGE * seq.height
    with np.errstate(invalid="ignore"):
        inside = (x >= 0) & (x <= seq.width) & (y >= 0) & (y <= seq.height)
        at_edge = (x < mx) | (x > seq.width - mx) | (y < my) | (y > seq.height - my)
    seen = np.isfinite(x) & np.isfinite(y)               # frames without the athlete do not count
    out = seen & ~(inside & ~(at_edge & (seq.visibility < 0.3)))
    return 1.0 - out.sum(axis=0) / np.maximum(seen.sum(axis=0), 1)


def estimate_stature_px(seq: PoseSequence, knee_flexion: FloatArray | None = None,
                        in_frame: NDArray[np.float64] | None = None) -> float:
    """Standing height of the athlete in pixels: floor (heels/toes) to eyes over eye height / stature.

    Uses frames with a fairly straight knee (< 20°) when the knee angle is known. When the eyes are
    out of the picture too often (`in_frame` share below IN_FRAME_SHARE: the head cut off), the
    shoulders stand in for them (shoulder height 0.818 of stature, Drillis & Contini).
    """
    if len(seq) == 0:
        return float("nan")
    xy = seq.image_xy.astype(np.float64)
    floor = _mean_y(xy, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
    eyes_seen = in_frame is None or min(in_frame[L.LEFT_EYE], in_frame[L.RIGHT_EYE]) >= IN_FRAME_SHARE
    top, ratio = ((L.LEFT_EYE, L.RIGHT_EYE), EYE_HEIGHT) if eyes_seen else \
        ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), SHOULDER_HEIGHT)
    h = floor - _mean_y(xy, *top)
    ok = np.isfinite(h) & (h > 0)
    if knee_flexion is not None:
        straight = ok & (np.nan_to_num(knee_flexion, nan=90.0) < 20.0)
        if straight.sum() >= 5:
            ok = straight
    if not ok.any():
        return float("nan")
    return float(np.median(h[ok])) / (ratio - FOOT_LANDMARK_HEIGHT)


VIEW_AROUND_S = 0.75       # the view is read from the frames this close to a flight (the athlete may turn between)


def _view_of_jumps(seq: PoseSequence, flights: list[Flight], view: ViewInfo) -> ViewInfo:
    """The camera view while jumping: from the frames around the flights (≥ 1 s of them), else the clip's."""
    if not flights:
        return view
    t = seq.time_s
    near = np.zeros(len(t), bool)
    for f in flights:
        near |= (t >= f.takeoff_s - VIEW_AROUND_S) & (t <= f.landing_s + VIEW_AROUND_S)
    if near.sum() < seq.fps:
        return view
    jumping_view = detect_view(seq[near])
    return jumping_view if jumping_view.view != "unknown" else view


def _leg_side(seq: PoseSequence, view: ViewInfo) -> str:
    """The leg whose angles are reported: the one nearer the camera in a side view, both (mean) otherwise."""
    if view.view == "front" or len(seq) == 0:
        return "both"
    vis = seq.visibility
    left = float(np.mean(vis[:, [L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE]]))
    right = float(np.mean(vis[:, [L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE]]))
    return "left" if left >= right else "right"


def _side_angle(angles: dict[str, FloatArray], name: str, side: str, n: int) -> FloatArray:
    left = np.asarray(angles.get(f"left_{name}", np.full(n, np.nan)), np.float64)
    right = np.asarray(angles.get(f"right_{name}", np.full(n, np.nan)), np.float64)
    if side == "left":
        return np.where(np.isfinite(left), left, right)
    if side == "right":
        return np.where(np.isfinite(right), right, left)
    both = np.stack([left, right])
    ok = np.isfinite(both)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok.any(axis=0), np.where(ok, both, 0.0).sum(axis=0) / ok.sum(axis=0), np.nan)


# ------------------------------------------------------------------ one jump


def _jump(index: int, f: Flight, prev_landing: float | None, prev_was_drop: bool, t: FloatArray, hip_y: FloatArray,
          knee: FloatArray, hip_flex: FloatArray, curves: tuple[_Finite, _Finite], seq: PoseSequence,
          view: ViewInfo, stature_px: float, px_per_m: float | None, options: AnalysisOptions) -> dict[str, Any]:
    """`curves`: the finite samples of the hip height and of the knee flexion (for interpolation)."""
    ft = f.flight_time_s
    h = flight_height_m(ft)
    hip_rise_px = f.hip_rise_px()
    gap = f.takeoff_s - prev_landing if prev_landing is not None else math.inf
    contact = gap if gap <= MAX_CONTACT_S else None
    after_drop = prev_was_drop and gap <= MAX_CONTACT_S    # a drop jump: any jump soon after the drop
    rebound = gap <= HOP_CONTACT_S or after_drop
    contact_start = prev_landing if rebound else None
    not_before = prev_landing + SETTLE_S if prev_landing is not None and not rebound else None
    cm = _countermovement(f.takeoff_s, contact_start, not_before, t, hip_y, curves[0], stature_px)
    lo = cm["start_s"] if cm["start_s"] is not None else (contact_start if contact_start is not None
                                                          else f.takeoff_s - 1.0)
    push = _between(t, lo, f.takeoff_s)
    landing = _between(t, f.landing_s, f.landing_s + LANDING_WINDOW_S)
    sagittal = not view.frontal              # joint flexion is measured in a side (or oblique) view only
    kmax = _nanmax(knee[push]) if sagittal else None
    hmax = _nanmax(hip_flex[push]) if sagittal else None
    peak_knee = _nanmax(knee[landing]) if sagittal else None
    valgus = _valgus(seq, landing, hip_y) if view.frontal else {"left": None, "right": None}
    kind = "drop_jump" if after_drop else "hop" if rebound else cm["kind"]
    depth_m = cm["depth_px"] / px_per_m if px_per_m and cm["depth_px"] is not None else None
    rsi_mod = None
    if contact_start is None and cm["start_s"] is not None and cm["kind"] == "cmj":
        rsi_mod = h / (f.takeoff_s - cm["start_s"])
    return {
        "index": index,
        "kind": kind,
        "_kind_detected": kind,
        "takeoff_s": _r(f.takeoff_s, 4),
        "landing_s": _r(f.landing_s, 4),
        "flight_time_s": _r(ft, 4),
        "jump_height_m": _r(h, 4),
        "jump_height_hip_m": _r(hip_rise_px / px_per_m, 4) if px_per_m else None,
        "takeoff_velocity_m_s": _r(G * ft / 2, 3),
        "countermovement_start_s": _r(cm["start_s"], 4),
        "countermovement_bottom_s": _r(cm["bottom_s"], 4),
        "countermovement_depth_m": _r(depth_m, 4),
        "eccentric_duration_s": _r(cm["eccentric_s"], 4),
        "concentric_duration_s": _r(cm["concentric_s"], 4),
        "min_knee_angle_deg": _r(180.0 - kmax, 1) if kmax is not None else None,
        "min_hip_angle_deg": _r(180.0 - hmax, 1) if hmax is not None else None,
        "landing_knee_flexion_deg": _r(_interp(curves[1], f.landing_s), 1) if sagittal else None,
        "landing_peak_knee_flexion_deg": _r(peak_knee, 1),
        "knee_valgus_left_deg": _r(valgus["left"], 1),
        "knee_valgus_right_deg": _r(valgus["right"], 1),
        "contact_time_s": _r(contact, 4),
        "rsi_m_s": _r(rsi(h, contact), 3),
        "rsi_mod_m_s": _r(rsi_mod, 3),
        "peak_power_w": _r(sayers_peak_power_w(h, options.body_mass_kg), 0) if options.body_mass_kg else None,
    }


def _countermovement(takeoff_s: float, contact_start: float | None, not_before: float | None, t: FloatArray,
                     hip_y: FloatArray, hip_curve: _Finite, stature_px: float) -> dict[str, Any]:
    """Lowering of the hip centre before takeoff (image y down: lowering = y increasing).

    Standing jump: reference = the standing hip level (upper decile of the hip over the window),
    start = last time the hip was within 5 % of the depth of that level, bottom = lowest hip
    (sub-frame, parabola through 3 samples). Rebound: reference and start = the landing before.
    A hip held at the bottom (within 1 % of stature) for SQUAT_HOLD_S or more makes a squat jump:
    bottom = start of the hold, concentric from its end, no eccentric phase. No lowering at all
    (less than CM_MIN_STATURE) is a jump without countermovement, counted as a squat jump.
    """
    none = {"start_s": None, "bottom_s": None, "depth_px": None, "eccentric_s": None, "concentric_s": None,
            "kind": "squat_jump"}
    i_to = int(np.searchsorted(t, takeoff_s, side="right")) - 1
    lo_t = contact_start if contact_start is not None else max(takeoff_s - CM_WINDOW_S, not_before or -math.inf)
    i0 = int(np.searchsorted(t, lo_t, side="left"))
    if i_to - i0 < 3:
        return none
    seg = hip_y[i0:i_to + 1]
    if not np.isfinite(seg).any():
        return none
    k = int(np.nanargmax(seg))
    ib = i0 + k
    if contact_start is not None:
        ref = _interp(hip_curve, contact_start)
        start_s = contact_start
    else:
        before = seg[: k + 1]
        ref = float(np.nanpercentile(before, 10)) if np.isfinite(before).any() else math.nan
        start_s = None
    if ref is None or not np.isfinite(ref):
        return none
    depth = float(hip_y[ib] - ref)
    if depth < CM_MIN_STATURE * stature_px:
        return none
    # the stretch of time the hip stays at the bottom (within 1 % of stature): long = a held squat
    near = np.nan_to_num(hip_y[i0:i_to + 1], nan=-np.inf) >= hip_y[ib] - 0.01 * stature_px
    h0, h1 = _run_around(near, k)
    h0, h1 = i0 + h0, i0 + h1
    hold = contact_start is None and t[h1] - t[h0] >= SQUAT_HOLD_S
    bottom_s = float(t[h0]) if hold else _subframe_peak(t, hip_y, ib)
    if start_s is None:
        thr = ref + max(0.05 * depth, 0.005 * stature_px)
        above = np.flatnonzero(np.nan_to_num(seg[: h0 - i0 + 1], nan=-np.inf) <= thr)
        if len(above) == 0:
            return none
        a = i0 + int(above[-1])                      # last frame near standing before the bottom
        start_s = _crossing(t, hip_y, a, thr)
    if hold:                                         # squat jump: concentric from the end of the hold
        return {"start_s": start_s, "bottom_s": bottom_s, "depth_px": depth, "eccentric_s": None,
                "concentric_s": takeoff_s - float(t[h1]), "kind": "squat_jump"}
    return {"start_s": start_s, "bottom_s": bottom_s, "depth_px": depth, "eccentric_s": bottom_s - start_s,
            "concentric_s": takeoff_s - bottom_s, "kind": "cmj"}


def _run_around(mask: NDArray[np.bool_], k: int) -> tuple[int, int]:
    """First and last index of the run of True in `mask` that contains index k."""
    false = np.flatnonzero(~mask)
    lo = false[false < k]
    hi = false[false > k]
    return (int(lo[-1]) + 1 if len(lo) else 0), (int(hi[0]) - 1 if len(hi) else len(mask) - 1)


def _valgus(seq: PoseSequence, landing: slice, hip_y: FloatArray) -> dict[str, float | None]:
    """Frontal-plane projection angle (FPPA, `frontal.fppa`) of each knee at the deepest point of the landing.

    Front or back view only. The deepest point (lowest hip) stands for peak knee flexion, which
    a frontal view cannot measure.
    """
    idx = landing.start + np.flatnonzero(np.isfinite(hip_y[landing]))
    if len(idx) == 0:
        return {"left": None, "right": None}
    return frontal.fppa(seq.image_xy[int(idx[np.argmax(hip_y[idx])])])


def _frontal(f: Flight, seq: PoseSequence, ev: PoseSequence, stature_px: float) -> dict[str, Any]:
    """Frontal-plane landing measures (front or back view): knee FPPA at touchdown, hip drop, L/R asymmetry."""
    t = seq.time_s
    at = int(np.clip(np.searchsorted(t, f.landing_s), 0, len(t) - 1))
    touch = frontal.fppa(seq.image_xy[at])
    drop_deg, drop_side = frontal.hip_drop(seq.image_xy[_between(t, f.landing_s, f.landing_s + LANDING_WINDOW_S)])
    feet = frontal.foot_contacts(ev.time_s, ev.image_xy, f.landing_s, 0.02 * stature_px)
    asym = first = None
    if feet["left"] is not None and feet["right"] is not None:
        asym = abs(feet["left"] - feet["right"])
        first = None if asym < 1e-3 else "left" if feet["left"] < feet["right"] else "right"
    return {"knee_frontal_angle_left_deg": _r(touch["left"], 1), "knee_frontal_angle_right_deg": _r(touch["right"], 1),
            "hip_drop_deg": _r(drop_deg, 1), "hip_drop_side": drop_side if drop_deg is not None else None,
            "landing_asymmetry_s": _r(asym, 4), "first_foot_down": first}


# ------------------------------------------------------------------ session


def _session_type(jumps: list[dict[str, Any]]) -> str | None:
    if not jumps:
        return None
    kinds = [j["_kind_detected"] for j in jumps]
    if "drop_jump" in kinds:
        return "drop_jump"
    rebounds = kinds.count("hop")
    if rebounds and rebounds >= (len(jumps) - 1) / 2:
        return "hops"
    standing = [k for k in kinds if k in ("cmj", "squat_jump")]
    return "squat_jump" if standing.count("squat_jump") > standing.count("cmj") else "cmj"


def _summary(jumps: list[dict[str, Any]], drops: list[dict[str, Any]], jump_type: str | None,
             options: AnalysisOptions, view: ViewInfo, side: str, px_per_m: float | None) -> dict[str, Any]:
    def col(key: str) -> list[float]:
        return [j[key] for j in jumps if j.get(key) is not None]

    def best(key: str) -> float | None:
        v = col(key)
        return max(v) if v else None

    def mean(key: str, nd: int = 4) -> float | None:
        v = col(key)
        return _r(float(np.mean(v)), nd) if v else None

    best_h = best("jump_height_m")
    interp = {}
    if jumps:
        interp["jump_height_m"] = norms.interpret("jump_height_m", best_h, options.sex, options.age, options.level)
        if any(j["knee_valgus_left_deg"] is not None or j["knee_valgus_right_deg"] is not None for j in jumps):
            worst = max((abs(v), v) for k in ("knee_valgus_left_deg", "knee_valgus_right_deg") for v in col(k))[1]
            interp["knee_valgus_deg"] = norms.interpret("knee_valgus_deg", worst, options.sex, options.age,
                                                        options.level)
        lk = col("landing_knee_flexion_deg")
        if lk:
            interp["landing_knee_flexion_deg"] = norms.interpret("landing_knee_flexion_deg", min(lk), options.sex,
                                                                 options.age, options.level)
    return {
        "jump_count": len(jumps),
        "jump_type": jump_type if jumps else options.jump_type,
        "jump_type_source": "given" if options.jump_type else "detected",
        "jumps": jumps,
        "best_jump_height_m": best_h,
        "mean_jump_height_m": mean("jump_height_m"),
        "best_flight_time_s": best("flight_time_s"),
        "mean_flight_time_s": mean("flight_time_s"),
        "best_jump_height_hip_m": best("jump_height_hip_m"),
        "mean_takeoff_velocity_m_s": mean("takeoff_velocity_m_s", 3),
        "mean_contact_time_s": mean("contact_time_s"),
        "best_rsi_m_s": best("rsi_m_s"),
        "mean_rsi_m_s": mean("rsi_m_s", 3),
        "best_peak_power_w": best("peak_power_w"),
        "drops": drops,
        "view": view.view,
        "view_label": view.label,
        "view_confidence": _r(view.confidence, 3),
        "view_yaw_deg": _r(view.yaw_deg, 1),
        "leg_side": side,
        "scale": {"px_per_m": _r(px_per_m, 2), "m_per_px": _r(1 / px_per_m, 6) if px_per_m else None,
                  "source": "athlete_height" if px_per_m else None},
        "filter_cutoff_hz": CUTOFF_HZ,
        "norms": interp or None,
    }


def _metric_rows(jumps: list[dict[str, Any]], summary: dict[str, Any]) -> list[Metric]:
    rows = [Metric("jump_count", float(summary["jump_count"]), "count")]
    for key in ("best_jump_height_m", "mean_jump_height_m", "best_flight_time_s", "mean_flight_time_s",
                "best_jump_height_hip_m", "mean_takeoff_velocity_m_s", "mean_contact_time_s", "best_rsi_m_s",
                "mean_rsi_m_s", "best_peak_power_w"):
        v = summary.get(key)
        if v is not None:
            rows.append(Metric(key, float(v), UNITS[key.removeprefix("best_").removeprefix("mean_")]))
    for j in jumps:
        for key, unit in UNITS.items():
            if key == "drop_height_m" or j.get(key) is None:
                continue
            if key.startswith("knee_valgus_"):
                rows.append(Metric("knee_valgus_deg", float(j[key]), unit, side=key.split("_")[2], index=j["index"]))
            elif key.startswith("knee_frontal_angle_"):
                rows.append(Metric("knee_frontal_angle_deg", float(j[key]), unit, side=key.split("_")[3],
                                   index=j["index"]))
            elif key == "hip_drop_deg":
                rows.append(Metric(key, float(j[key]), unit, side=j.get("hip_drop_side"), index=j["index"]))
            else:
                rows.append(Metric(key, float(j[key]), unit, index=j["index"]))
    return rows


def _jump_moments(j: dict[str, Any]) -> list[tuple[str, float, int]]:
    out = []
    for typ, key in (("countermovement_start", "countermovement_start_s"),
                     ("countermovement_bottom", "countermovement_bottom_s"),
                     ("takeoff", "takeoff_s"), ("landing", "landing_s")):
        if j.get(key) is not None:
            out.append((typ, j[key], j["index"]))
    return out


def _events(moments: list[tuple[str, float, int]], t: FloatArray) -> list[Event]:
    """Events at the given (type, time, index), each with its nearest frame (found for all at once)."""
    if not moments:
        return []
    times = np.array([m[1] for m in moments], np.float64)
    frame = np.clip(np.searchsorted(t, times), 0, max(len(t) - 1, 0))
    prev = np.maximum(frame - 1, 0)
    if len(t):
        frame = np.where((frame > 0) & (frame < len(t)) & (np.abs(t[prev] - times) < np.abs(t[frame] - times)),
                         frame - 1, frame)
    return [Event(typ, float(time_s), int(fr), None, index) for (typ, time_s, index), fr in zip(moments, frame)]


# ------------------------------------------------------------------ checks


def _bounds_warnings(jumps: list[dict[str, Any]], drops: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for kind, rows in (("jump", jumps), ("drop", drops)):
        for j in rows:
            for key, b in BOUNDS.items():
                v = j.get(key)
                if v is not None and not b.lo <= v <= b.hi:
                    out.append({"code": "metric_out_of_bounds",
                                "message": f"{kind} {j['index']}: {key} = {v:g} {b.unit} is outside the "
                                           f"plausible range {b.lo:g}-{b.hi:g} {b.unit}"})
    return out


def _consistency_warnings(jumps: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for j in jumps:
        a, b = j["jump_height_m"], j["jump_height_hip_m"]
        if a is not None and b is not None and abs(a - b) > max(0.05, 0.25 * a):
            out.append({"code": "height_methods_disagree",
                        "message": f"jump {j['index']}: height by flight time {a:.3f} m vs by hip displacement "
                                   f"{b:.3f} m (landing with bent legs lengthens the flight; a wrong athlete "
                                   f"height or a camera not square to the jump skews the hip method)"})
    return out


def _view_warnings(view: ViewInfo) -> list[dict[str, str]]:
    """One line: what the camera's view leaves out (none for a confident side view)."""
    sure = "" if not np.isfinite(view.confidence) or view.confidence >= 0.5 else \
        f" (view uncertain: confidence {view.confidence:.2f})"
    yaw = f" (turned {view.yaw_deg:.0f}° from square)" if np.isfinite(view.yaw_deg) else ""
    if view.frontal:
        text = (f"{view.label} view{yaw}: knee and hip flexion are not measured (the bend is towards the camera); "
                "knee valgus, hip drop and left-right landing are — film from the side for joint angles")
    elif view.view == "oblique":
        text = (f"{view.label.replace('_', '-')} view{yaw}: knee and hip angles are projected and read straighter "
                "than they are, and knee valgus needs a front or back view — film square to the side or the front")
    elif view.view == "unknown":
        text = "the camera view could not be told: joint angles may be projected — film from the side or the front"
    elif sure:
        text = "side view"
    else:
        return []
    return [{"code": "view_limits_metrics", "message": text + sure}]


_PARTS = {"head": (L.NOSE, L.LEFT_EYE, L.RIGHT_EYE, L.LEFT_EAR, L.RIGHT_EAR),
          "hands": (L.LEFT_WRIST, L.RIGHT_WRIST), "feet": FOOT_POINTS}


def _out_of_frame_warnings(in_frame: NDArray[np.float64]) -> list[dict[str, str]]:
    """One line: the body parts the picture cut off (the centre of mass does without them)."""
    cut = {part: 1 - float(np.min(in_frame[list(idx)])) for part, idx in _PARTS.items()}
    cut = {p: v for p, v in cut.items() if v > 1 - IN_FRAME_SHARE}
    if not cut:
        return []
    parts = ", ".join(f"the {p} in {v:.0%} of frames" for p, v in cut.items())
    fix = "takeoff and landing need the feet in view" if "feet" in cut else "the centre of mass leaves them out"
    return [{"code": "body_out_of_frame",
             "message": f"out of the picture or hidden: {parts}; {fix} — step back to keep the whole body in frame"}]


CAMERA_MOTION_MIN = 0.05   # the ground line moving this much (fraction of stature) while standing: a moving camera


def _camera_motion_warnings(t: FloatArray, ground: FloatArray | None, flights: list[Flight], stature_px: float,
                            px_per_m: float | None) -> list[dict[str, str]]:
    """One line when the ground under the feet moved in the picture while the athlete stood (a hand-held camera).

    Measured within each stance between flights (a landing on another row of the picture is a
    step of the ground line at a flight, not camera motion): the largest 5-95 % range.
    """
    if ground is None or len(t) < 5 or not np.isfinite(stature_px):
        return []
    seen = np.isfinite(ground)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(seen, ground, 0.0).sum(axis=1) / seen.sum(axis=1)       # mean over the foot points
    edges = np.array([[f.takeoff_s - 0.3, f.landing_s + 0.3] for f in flights]).reshape(-1, 2)
    stance = np.searchsorted(edges[:, 1], t)             # index of the stance each frame belongs to
    inside = (stance < len(edges)) & (t > edges[np.minimum(stance, len(edges) - 1), 0]) if len(edges) else \
        np.zeros(len(t), bool)
    ok = ~inside & np.isfinite(level)
    sways = [_sway(level[ok & (stance == k)]) for k in np.unique(stance[ok]) if (ok & (stance == k)).sum() >= 5]
    sway = max(sways, default=0.0)
    if sway < CAMERA_MOTION_MIN * stature_px:
        return []
    size = f"{100 * sway / px_per_m:.0f} cm" if px_per_m else f"{sway / stature_px:.0%} of the athlete's height"
    return [{"code": "camera_motion",
             "message": f"the ground under the feet moved {size} in the picture while standing (a moving camera, or "
                        "stepping onto another level); takeoff and landing are judged against it — a phone on a "
                        "tripod or propped up gives tighter timing"}]


def _sway(level: FloatArray) -> float:
    """5-95 % range of a stance's ground line (pixels)."""
    return float(np.percentile(level, 95) - np.percentile(level, 5))


def _scale_check(flights: list[Flight], is_drop: list[bool], px_per_m: float | None) -> list[dict[str, str]]:
    """The flights' vertical acceleration is g: it measures the image scale independently of the athlete height."""
    acc = [f.accel_px_s2 for f, d in zip(flights, is_drop) if not d]
    if not px_per_m or not acc:
        return []
    ratio = float(np.median(acc)) / G / px_per_m
    if abs(ratio - 1) <= 0.2:
        return []
    return [{"code": "scale_mismatch",
             "message": f"the flight's acceleration gives {ratio * px_per_m:.0f} px/m but the athlete height gives "
                        f"{px_per_m:.0f} px/m: check the athlete height, or the camera is not square to the jump"}]


# ------------------------------------------------------------------ small helpers


def _despike(x: FloatArray, fps: float) -> FloatArray:
    """Running median over ~0.1 s (>= 3 samples): removes one-frame landmark glitches before taking extremes."""
    size = max(3, int(round(0.1 * fps)) | 1)
    ok = np.isfinite(x)
    if ok.sum() < size:
        return x
    filled = np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])
    return np.where(ok, median_filter(filled, size=size, mode="nearest"), np.nan)


def _mean_y(xy: NDArray[np.floating], *points: int) -> FloatArray:
    """(T,) mean image y of the given landmarks, ignoring missing ones (NaN when all are missing)."""
    y = np.asarray(xy, np.float64)[:, list(points), 1]
    ok = np.isfinite(y)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, y, 0.0).sum(axis=1) / n, np.nan)


def _r(x: float | None, nd: int) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def _nanmax(x: FloatArray) -> float | None:
    return float(np.nanmax(x)) if len(x) and np.isfinite(x).any() else None


@dataclass(frozen=True)
class _Finite:
    """The finite samples of a series, gathered once for the many look-ups of a long clip."""

    t: FloatArray
    y: FloatArray

    @classmethod
    def of(cls, t: FloatArray, y: FloatArray) -> "_Finite":
        ok = np.isfinite(y)
        return cls(t[ok], y[ok])


def _interp(curve: _Finite, at: float) -> float | None:
    if len(curve.t) < 2 or not curve.t[0] <= at <= curve.t[-1]:
        return None
    return float(np.interp(at, curve.t, curve.y))


def _between(t: FloatArray, lo: float, hi: float) -> slice:
    """The samples with lo <= t <= hi (t increasing), as a slice."""
    return slice(int(np.searchsorted(t, lo, side="left")), int(np.searchsorted(t, hi, side="right")))


def _subframe_peak(t: FloatArray, y: FloatArray, i: int) -> float:
    """Time of the maximum of y near sample i: vertex of the parabola through i-1, i, i+1."""
    if 0 < i < len(y) - 1 and np.isfinite(y[i - 1:i + 2]).all():
        a, b, c = y[i - 1], y[i], y[i + 1]
        den = a - 2 * b + c
        if den < 0:
            off = 0.5 * (a - c) / den
            return float(t[i] + np.clip(off, -1, 1) * (t[i + 1] - t[i - 1]) / 2)
    return float(t[i])


def _crossing(t: FloatArray, y: FloatArray, i: int, level: float) -> float:
    """Time between samples i and i+1 where y crosses `level` (linear), else t[i]."""
    if i + 1 < len(y) and np.isfinite(y[i:i + 2]).all() and y[i + 1] != y[i]:
        f = (level - y[i]) / (y[i + 1] - y[i])
        if 0 <= f <= 1:
            return float(t[i] + f * (t[i + 1] - t[i]))
    return float(t[i])
