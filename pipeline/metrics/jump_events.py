"""Flights of a jumping athlete: takeoff and landing between frames, from the foot trajectories.

Conventions: the first axis is time, NaN = missing, image y points DOWN (pixels).

Method (NumPy over all frames, then over all candidate flights at once):

1. Airborne frames. The ground line under every foot point (heel, toe and ankle of both feet)
   is a smooth curve hugging the low side of its y and bridging the flights
   (`ground_line.ground_levels`): it follows a swaying hand-held camera and a landing on another
   row of the picture. A frame is airborne when EVERY foot point is above its ground line by
   more than ~1 % of the athlete's stature: one foot on the ground (walking, a squat, a lunge)
   is never a flight. Each run of airborne frames is a candidate; still feet at its start or
   end are on the ground (long: standing on something higher, a box) and are cut off.
2. Ballistic fit. All foot points share one vertical path a·τ² + b·τ (one offset per point),
   fitted by least squares. The acceleration `a` is pooled over every flight of the clip from
   the whole-body centre of mass, the only point that is exactly ballistic (its fit over many
   landmarks is ~2x less noisy than the feet alone). Takeoff and landing are where the feet
   cross their local ground levels (measured just before takeoff and just after landing), with
   frames weighted towards the event being timed, so that a foot path that bends in the air
   (tucking, MediaPipe lag on the frames around a sudden change of velocity) spoils neither
   edge. The result falls between frames: sub-frame timing.
3. Acceptance. A candidate is a flight only if it is ballistic: upward-opening parabola, apex
   inside the flight, acceleration within a factor ~2 of g at the athlete's pixel scale, the
   hips rising with the feet, a small fit residual, a plausible duration. Tracking glitches (a
   limb jumping to another person) and walking steps fail these tests. A flight is a drop
   (stepping off a box) only if it lands clearly lower AFTER a stand of DROP_STAND_S at the
   takeoff level AND without rising above it first; a jump that lands lower in the picture
   (forward, towards the camera) stays a jump.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics import ground_line
from pipeline.pose.cleaning import fill_gaps
from pipeline.pose.landmarks import Landmark as L

G = 9.81  # m/s²

FOOT_POINTS: tuple[int, ...] = (L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX,
                                L.LEFT_ANKLE, L.RIGHT_ANKLE)

MIN_FLIGHT_S = 0.12          # h = 1.8 cm
MAX_FLIGHT_S = 1.1           # h = 1.48 m: beyond any standing jump
AIR_LOW = 0.010              # clearance thresholds (hysteresis), fraction of stature
AIR_HIGH = 0.022
LEVEL_BEFORE_S = 0.06        # contact frames just before takeoff giving the local ground level
LEVEL_AFTER_S = 0.2          # contact frames just after landing giving the local ground level
EDGE_SIGMA = 0.25            # weight of a frame in timing an event: Gaussian, sigma = 0.25 x flight time
CONTACT_TOL = 0.02           # foot points within 2 % of stature of the lowest one define contact
STILL_M_S = 0.25             # feet slower than this at the edge of a candidate: standing on a box
STILL_MIN_S = 0.15
DROP_MIN = 0.05              # landing this much lower than takeoff (fraction of stature): a drop, if also ...
DROP_STAND_S = 0.5           # ... the feet stood still at the takeoff level this long before (on the box)
DROP_STAND_TOL = 0.03        #     (within this fraction of stature), and never rose above it (no upward takeoff)
POOL_TOL = 0.15              # flights whose own acceleration differs more from the pooled one: not pooled
G_RATIO_RANGE = (0.45, 2.2)  # fitted acceleration / (g x pixels per metre)
RMS_MAX_RISE = 0.15          # fit residual allowed: fraction of the rise + fraction of the stature
RMS_MAX_STATURE = 0.005
HIP_RISE_MIN = 0.3           # the hips rise at least this fraction of the feet's rise


@dataclass(frozen=True)
class Flight:
    """One ballistic flight. Times in seconds, image positions in pixels (y down)."""

    takeoff_s: float
    landing_s: float
    kind: str               # "jump" | "drop" (stepped off something: landed >= DROP_MIN lower)
    accel_px_s2: float      # vertical acceleration used (≈ g x pixels per metre)
    rise_px: float          # apex of the feet above the takeoff ground level
    drop_px: float          # landing ground level below the takeoff ground level (> 0: landed lower)
    rms_px: float           # residual of the ballistic fit of the feet
    hip_fit: tuple[float, float, float] | None  # hip centre y = a·τ² + b·τ + c, τ = t - t_ref
    t_ref: float

    @property
    def flight_time_s(self) -> float:
        return self.landing_s - self.takeoff_s

    def hip_y(self, t: float) -> float:
        if self.hip_fit is None:
            return float("nan")
        a, b, c = self.hip_fit
        tau = t - self.t_ref
        return a * tau * tau + b * tau + c

    def hip_rise_px(self) -> float:
        """Rise of the hip centre from takeoff to its apex above the ground line under the athlete.

        The ground line moves from the takeoff level to the landing level during the flight
        (linearly in time: landing a little forward, backward or sideways, seen in perspective),
        so the height above it is still a parabola; without that, a forward landing reads as a
        higher (or lower) jump by the hip.
        """
        if self.hip_fit is None:
            return float("nan")
        a, b, c = self.hip_fit
        slope = self.drop_px / max(self.flight_time_s, 1e-9) if self.kind == "jump" else 0.0
        b2 = b - slope                                  # hip y minus the ground line's own drift, τ from t_ref
        if a <= 0:
            return float("nan")
        tau0 = self.takeoff_s - self.t_ref
        tau_apex = -b2 / (2 * a)
        return float((a * tau0 * tau0 + b2 * tau0) - (a * tau_apex * tau_apex + b2 * tau_apex))

    @property
    def hip_apex_s(self) -> float:
        if self.hip_fit is None or self.hip_fit[0] <= 0:
            return float("nan")
        return self.t_ref - self.hip_fit[1] / (2 * self.hip_fit[0])


# Simplified Dempster segment model (Winter, Biomechanics and Motor Control of Human Movement,
# 4th ed., table 4.1): (mass fraction, proximal landmarks, distal landmarks, CoM from proximal).
_SEGMENTS: tuple[tuple[float, tuple[int, ...], tuple[int, ...], float], ...] = (
    (0.081, (L.LEFT_EAR, L.RIGHT_EAR), (L.LEFT_EAR, L.RIGHT_EAR), 0.0),            # head and neck
    (0.497, (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP), 0.5),  # trunk
    (0.028, (L.LEFT_SHOULDER,), (L.LEFT_ELBOW,), 0.436), (0.028, (L.RIGHT_SHOULDER,), (L.RIGHT_ELBOW,), 0.436),
    (0.016, (L.LEFT_ELBOW,), (L.LEFT_WRIST,), 0.430), (0.016, (L.RIGHT_ELBOW,), (L.RIGHT_WRIST,), 0.430),
    (0.006, (L.LEFT_WRIST,), (L.LEFT_INDEX,), 0.506), (0.006, (L.RIGHT_WRIST,), (L.RIGHT_INDEX,), 0.506),
    (0.100, (L.LEFT_HIP,), (L.LEFT_KNEE,), 0.433), (0.100, (L.RIGHT_HIP,), (L.RIGHT_KNEE,), 0.433),
    (0.0465, (L.LEFT_KNEE,), (L.LEFT_ANKLE,), 0.433), (0.0465, (L.RIGHT_KNEE,), (L.RIGHT_ANKLE,), 0.433),
    (0.0145, (L.LEFT_HEEL,), (L.LEFT_FOOT_INDEX,), 0.5), (0.0145, (L.RIGHT_HEEL,), (L.RIGHT_FOOT_INDEX,), 0.5),
)


def centre_of_mass(xy: NDArray[np.floating], seen: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
    """(T, 2) whole-body centre of mass in image pixels from (T, 33, 2) landmarks (NaN if a segment is missing).

    In flight it is exactly ballistic: its vertical acceleration is g in pixels, whatever the
    arms and legs do. `seen`: (33,) landmarks the camera really sees; segments with a point
    outside (the head or the hands leaving the top of the frame, where the model only guesses)
    are left out, the same ones in every frame: the centre of the rest is nearly ballistic.
    """
    p = np.asarray(xy, np.float64)
    total = np.zeros((len(p), 2))
    mass = 0.0
    for m, prox, dist, f in _SEGMENTS:
        if seen is not None and not all(seen[i] for i in prox + dist):
            continue
        a, b = _mean_of(p, prox), _mean_of(p, dist)
        total += m * (a + f * (b - a))
        mass += m
    return total / mass if mass > 0 else np.full((len(p), 2), np.nan)


def _mean_of(p: NDArray[np.float64], points: tuple[int, ...]) -> NDArray[np.float64]:
    """p[:, points].mean(axis=1) (the same numbers) without a gather and a reduction over a short axis."""
    if len(points) == 1:
        return p[:, points[0]]
    if len(points) == 2:
        return (p[:, points[0]] + p[:, points[1]]) / 2
    return p[:, list(points)].mean(axis=1)


def ground_levels(feet_y: NDArray[np.floating], fps: float, stature_px: float) -> NDArray[np.float64]:
    """(T, K) the ground line under each foot point (`ground_line.ground_levels`, contact noise within AIR_LOW)."""
    return ground_line.ground_levels(feet_y, fps, AIR_LOW * stature_px)


def clearance(feet_y: NDArray[np.floating], fps: float, stature_px: float,
              ground: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """(T,) height of the LOWEST foot point above its ground line, pixels (NaN when feet are missing).

    The ground line (`ground_line.ground_levels`) follows a swaying camera and a landing on
    another row of the picture; contact noise within AIR_LOW of stature is ground.
    """
    y = np.asarray(feet_y, np.float64)
    with np.errstate(invalid="ignore"):
        up = (ground_levels(y, fps, stature_px) if ground is None else ground) - y
    seen = np.isfinite(up)
    enough = seen.sum(axis=1) >= max(1, y.shape[1] - 2)
    return np.where(enough, np.where(seen, up, np.inf).min(axis=1), np.nan)


@dataclass(frozen=True)
class _Candidate:
    s: int                      # first frame of the airborne run
    e: int                      # one past its last frame
    pre: NDArray[np.float64]    # ground level of each foot point before takeoff
    post: NDArray[np.float64]   # ... after landing
    drop: bool                  # landed >= DROP_MIN lower than it took off


@dataclass(frozen=True)
class _Windows:
    """Every candidate's frames [s-1, e+1) side by side, padded to the longest: (J, W) arrays.

    The fits below run on all candidates at once (one batched solve per step) instead of one
    small solve per candidate and step.
    """

    frame: NDArray[np.int64]    # (J, W) frame index (clipped to the clip in the padding)
    inside: NDArray[np.bool_]   # (J, W) within [s-1, e+1)
    run: NDArray[np.bool_]      # (J, W) within the airborne run [s, e)
    t: NDArray[np.float64]      # (J, W) time
    t_ref: NDArray[np.float64]  # (J,) mean time of the run
    pre: NDArray[np.float64]    # (J, K)
    post: NDArray[np.float64]   # (J, K)
    drop: NDArray[np.bool_]     # (J,)

    @classmethod
    def of(cls, t: NDArray[np.float64], cands: list[_Candidate]) -> "_Windows":
        s = np.array([c.s for c in cands], np.int64)
        e = np.array([c.e for c in cands], np.int64)
        width = int((e - s).max()) + 2 if len(cands) else 0
        frame = (s - 1)[:, None] + np.arange(width)
        inside = frame <= e[:, None]
        run = (frame >= s[:, None]) & (frame < e[:, None])
        frame = np.minimum(frame, len(t) - 1)
        tt = t[frame]
        t_ref = np.array([float(np.mean(t[c.s:c.e])) for c in cands])   # np.mean's own rounding, run by run
        return cls(frame, inside, run, tt, t_ref, np.array([c.pre for c in cands]).reshape(len(cands), -1),
                   np.array([c.post for c in cands]).reshape(len(cands), -1), np.array([c.drop for c in cands], bool))

    def subset(self, keep: NDArray[np.bool_]) -> "_Windows":
        return _Windows(self.frame[keep], self.inside[keep], self.run[keep], self.t[keep], self.t_ref[keep],
                        self.pre[keep], self.post[keep], self.drop[keep])


@dataclass(frozen=True)
class _Fits:
    """Ballistic fits y_k = a·τ² + b·τ + c_k of J candidates (τ = t - t_ref); `ok` False where none."""

    ok: NDArray[np.bool_]       # (J,)
    a: NDArray[np.float64]      # (J,)
    b: NDArray[np.float64]      # (J,)
    c: NDArray[np.float64]      # (J, K), NaN for a column without data
    rms: NDArray[np.float64]    # (J,)


@dataclass(frozen=True)
class _Events:
    """Takeoff and landing of J candidates; `ok` False where the candidate is not a ballistic flight."""

    ok: NDArray[np.bool_]       # (J,)
    t_to: NDArray[np.float64]
    t_ld: NDArray[np.float64]
    fit: _Fits                  # the unweighted fit of the last pass
    sel: NDArray[np.bool_]      # (J, W) frames of that fit

    def subset(self, keep: NDArray[np.bool_]) -> "_Events":
        f = self.fit
        return _Events(self.ok[keep], self.t_to[keep], self.t_ld[keep],
                       _Fits(f.ok[keep], f.a[keep], f.b[keep], f.c[keep], f.rms[keep]), self.sel[keep])

    def where(self, use: NDArray[np.bool_], other: "_Events") -> "_Events":
        """Per candidate: these events where `use`, else `other`'s."""
        def pick(x: NDArray, y: NDArray) -> NDArray:
            return np.where(use.reshape(-1, *[1] * (x.ndim - 1)), x, y)
        f, g = self.fit, other.fit
        return _Events(pick(self.ok, other.ok), pick(self.t_to, other.t_to), pick(self.t_ld, other.t_ld),
                       _Fits(pick(f.ok, g.ok), pick(f.a, g.a), pick(f.b, g.b), pick(f.c, g.c), pick(f.rms, g.rms)),
                       pick(self.sel, other.sel))


def find_flights(time_s: NDArray[np.float64], feet_y: NDArray[np.floating], hip_y: NDArray[np.floating],
                 com_y: NDArray[np.floating], stature_px: float, fps: float,
                 px_per_m: float | None = None, ground: NDArray[np.float64] | None = None) -> list[Flight]:
    """Every ballistic flight of the clip, in time order.

    `feet_y`: (T, len(FOOT_POINTS)) image y of the foot points, ideally unfiltered (sharp
    corners at takeoff and landing); `hip_y`, `com_y`: (T,) image y of the hip centre and of the
    centre of mass; `stature_px`: the athlete's standing height in pixels (scales every
    threshold); `px_per_m`: image scale if known (else from a 1.70 m stature), for the gravity test;
    `ground`: the feet's `ground_levels` if already computed.
    """
    t = np.asarray(time_s, np.float64)
    if len(t) < 5 or not np.isfinite(stature_px) or stature_px <= 0:
        return []
    gap = max(1, int(round(0.05 * fps)))
    y = fill_gaps(np.asarray(feet_y, np.float64), gap)
    hip = fill_gaps(np.asarray(hip_y, np.float64), gap)
    com = fill_gaps(np.asarray(com_y, np.float64), gap)
    scale = px_per_m if px_per_m and px_per_m > 0 else stature_px / 1.70
    tol = CONTACT_TOL * stature_px
    cands = _candidates(t, y, stature_px, fps, scale, ground)
    if not cands:
        return []
    win = _Windows.of(t, cands)
    yy = y[win.frame]                                   # (J, W, K)
    first = _fit_events(win, yy, None, tol)
    keep = first.ok & _plausible(first, win, hip, stature_px, scale)
    if not keep.any():
        return []
    win, first, yy = win.subset(keep), first.subset(keep), yy[keep]
    pooled = _pooled_curvature(win, com, first.sel[~win.drop])
    if pooled is None:                                  # each flight's own centre of mass
        own = _fit_ballistic(win, com[win.frame][..., None], first.sel, None)
        a_fix = np.where(own.ok & (own.a > 0), own.a, np.nan)
    else:
        a_fix = np.full(len(win.t_ref), pooled)
    final = _fit_events(win, yy, a_fix, tol)
    # timed again with the acceleration held; where that fails, the first timing stands
    return _flights(final.where(final.ok, first), win, hip)


def _candidates(t: NDArray[np.float64], y: NDArray[np.float64], stature_px: float, fps: float,
                px_per_m: float, ground: NDArray[np.float64] | None = None) -> list[_Candidate]:
    """Runs of frames with every foot point clearly above its ground level, and their ground levels.

    All runs at once: the ground levels are medians over padded windows, the still edges come
    from one gradient of the whole clip.
    """
    n = len(t)
    clear = np.nan_to_num(clearance(y, fps, stature_px, ground), nan=-np.inf)
    s, e = _runs(clear > AIR_LOW * stature_px)
    high = np.concatenate([[0], np.cumsum(clear > AIR_HIGH * stature_px)])
    keep = high[e] > high[s]                                    # reaching the upper threshold somewhere
    # too short to be a flight: a heel raise with the toes a little above the ground line just
    # before takeoff; dropped here so that its frames still give the takeoff level
    keep &= (t[np.maximum(e - 1, 0)] - t[np.minimum(s, n - 1)] + 1 / fps) >= MIN_FLIGHT_S * 0.5
    s, e = s[keep], e[keep]
    n_before = max(2, int(round(LEVEL_BEFORE_S * fps)))
    n_after = max(3, int(round(LEVEL_AFTER_S * fps)))
    # the level windows stop at the previous / next run only if it is flight-sized: the frames of a
    # short blip next to a takeoff (the heels up, the toes a hair above the line) are still ground
    big = (t[np.maximum(e - 1, 0)] - t[np.minimum(s, n - 1)] + 1 / fps) >= MIN_FLIGHT_S
    prev_end = np.concatenate([[0], np.maximum.accumulate(np.where(big, e, 0))[:-1]])
    next_start = np.concatenate([np.minimum.accumulate(np.where(big, s, n)[::-1])[::-1][1:], [n]])
    inner = (s > 0) & (e < n)                                   # not cut by the start or the end of the clip
    s, e, prev_end, next_start = s[inner], e[inner], prev_end[inner], next_start[inner]
    lead, trail = _still_edges(t, y, s, e, fps, px_per_m)
    # Still feet at the edge of a run are on the ground: cut off. Long (STILL_MIN_S) still edges
    # stand on something higher than the ground line (a box): its level is the takeoff (landing)
    # level; short ones are stance frames the ground line put a little low (a landing on another
    # row of the picture pulls it), taken as ground before the usual level window.
    need = max(2, int(round(STILL_MIN_S * fps)))
    box_lead, box_trail = lead >= need, trail >= need
    s, e = s + lead, e - trail
    # ground level just before takeoff (frame s-1 may be barely in the air: left out) and after
    # landing; standing on a box at either edge: the box's level
    pre = _local_levels(y, np.where(box_lead, s - lead, np.maximum(prev_end + 1, s - 1 - n_before)),
                        np.where(box_lead, s, s - 1))
    post = _local_levels(y, np.where(box_trail, e, e + 1),
                         np.where(box_trail, e + trail, np.minimum(next_start - 1, e + 1 + n_after)))
    ok = ~np.isnan(pre).all(axis=1) & ~np.isnan(post).all(axis=1)
    dur = t[np.maximum(e - 1, 0)] - t[np.minimum(s, n - 1)] + 1 / fps
    ok &= (MIN_FLIGHT_S * 0.5 <= dur) & (dur <= MAX_FLIGHT_S + 2 / fps)
    with np.errstate(invalid="ignore"):
        lower = _nanmean_rows(post - pre) > DROP_MIN * stature_px
    drop = lower & _fell_from_a_stand(t, y, s, e, pre, stature_px, fps)
    return [_Candidate(int(s[i]), int(e[i]), pre[i], post[i], bool(drop[i])) for i in np.flatnonzero(ok)]


def _fell_from_a_stand(t: NDArray[np.float64], y: NDArray[np.float64], s: NDArray[np.int64], e: NDArray[np.int64],
                       pre: NDArray[np.float64], stature_px: float, fps: float) -> NDArray[np.bool_]:
    """(R,) a fall from a box: the feet stood at the takeoff level for DROP_STAND_S and never rose above it.

    A flight that lands lower in the picture is not enough: landing a little forward (towards
    the camera) or on a ground line that perspective tilts does that too, after an upward takeoff.
    """
    if len(s) == 0:
        return np.zeros(0, bool)
    n_stand = max(2, int(round(DROP_STAND_S * fps)))
    tol = DROP_STAND_TOL * stature_px
    before = _gather(y, s - n_stand, s)                        # (R, W, K) the frames before takeoff
    stood = (np.abs(before - pre[:, None, :]) <= tol) | np.isnan(before)
    stood_long = (s >= n_stand) & (stood.all(axis=2).mean(axis=1) >= 0.9)
    rise = pre[:, None, :] - _gather(y, s, e)                  # y down: above the takeoff level is > 0
    top = np.where(np.isfinite(rise), rise, -np.inf).max(axis=1)
    rose = _nanmean_rows(np.where(np.isfinite(top), top, np.nan))
    return stood_long & ~(rose > AIR_HIGH * stature_px)


def _gather(y: NDArray[np.float64], lo: NDArray[np.int64], hi: NDArray[np.int64]) -> NDArray[np.float64]:
    """(R, W, K) frames [lo, hi) of each of R windows, NaN-padded to the longest (and outside the clip)."""
    width = max(int((hi - lo).max(initial=0)), 1)
    idx = lo[:, None] + np.arange(width)
    valid = (idx < hi[:, None]) & (idx >= 0) & (idx < len(y))
    return np.where(valid[..., None], y[np.clip(idx, 0, max(len(y) - 1, 0))], np.nan)


def _still_edges(t: NDArray[np.float64], y: NDArray[np.float64], s: NDArray[np.int64], e: NDArray[np.int64],
                 fps: float, px_per_m: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Frames at the start / end of each run [s, e) where the feet do not move (a raised surface).

    The feet's speed is `np.gradient` of their mean height over each run, taken from gradients of
    the whole clip with the run's own edges and spacing rule (the same numbers as per run).
    """
    zero = np.zeros(len(s), np.int64)
    if len(t) < 2 or len(s) == 0:
        return zero, zero
    seen = np.isfinite(y)
    m = np.where(seen, y, 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    dt = np.diff(t)
    width = int((e - s).max())
    idx = s[:, None] + np.arange(width)
    valid = idx < e[:, None]
    i = np.clip(idx, 1, len(t) - 2) if len(t) > 2 else np.zeros_like(idx)
    lo, hi = np.maximum(i - 1, 0), np.minimum(i + 1, len(t) - 1)
    dx1, dx2 = dt[np.maximum(i - 1, 0)], dt[np.minimum(i, len(dt) - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        # np.gradient over a run: spacing uniform (all its steps equal) or not, one-sided at its edges
        d0 = dt[np.minimum(s, len(dt) - 1)]
        dseg = np.where(valid[:, 1:], dt[np.minimum(idx[:, :-1], len(dt) - 1)], d0[:, None])
        uniform = (dseg == d0[:, None]).all(axis=1)
        g_uni = (m[hi] - m[lo]) / (2.0 * d0[:, None])
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        g_non = a * m[lo] + b * m[i] + c * m[hi]
        grad = np.where(uniform[:, None], g_uni, g_non)
        first = (m[np.minimum(s + 1, len(t) - 1)] - m[s]) / d0
        last_d = np.where(uniform, d0, dt[np.maximum(e - 2, 0)])
        last = (m[e - 1] - m[np.maximum(e - 2, 0)]) / last_d
        cols = np.arange(width)
        grad = np.where(cols == 0, first[:, None], grad)
        grad = np.where(cols == (e - s - 1)[:, None], last[:, None], grad)
        still = np.abs(grad) < STILL_M_S * px_per_m
    moving = valid & ~still
    any_moving = moving.any(axis=1)
    lead = np.where(any_moving, np.argmax(moving, axis=1), 0)
    trail = np.where(any_moving, (e - s) - width + np.argmax(moving[:, ::-1], axis=1), 0)
    long = (e - s) >= 4
    return np.where(long, lead, 0).astype(np.int64), np.where(long, trail, 0).astype(np.int64)


def _fit_events(win: _Windows, yy: NDArray[np.float64], a_fixed: NDArray[np.float64] | None,
                tol: float) -> _Events:
    """Takeoff and landing of every candidate from the ballistic fit of the feet, iterated.

    First pass: the airborne run, one fit. Then the frames strictly between the current
    takeoff and landing estimates, with one fit per event weighted towards that event.
    `a_fixed`: (J,) acceleration held fixed (NaN: that candidate is not timed).
    """
    ok = np.ones(len(win.t_ref), bool) if a_fixed is None else np.isfinite(a_fixed)
    sel = win.run
    t_to = t_ld = np.full(len(win.t_ref), np.nan)
    fit = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for it in range(3):
            if it > 0:
                between = win.inside & (win.t > t_to[:, None]) & (win.t < t_ld[:, None])
                sel = np.where((between.sum(axis=1) < 3)[:, None], win.run, between)
            fit = _fit_ballistic(win, yy, sel, a_fixed)
            ok &= fit.ok & (fit.a > 0)
            if it == 0 or a_fixed is None:
                f_to = f_ld = fit
            else:
                sig = EDGE_SIGMA * (t_ld - t_to)
                f_to = _fit_ballistic(win, yy, sel, a_fixed, np.exp(-0.5 * ((win.t - t_to[:, None]) / sig[:, None]) ** 2))
                f_ld = _fit_ballistic(win, yy, sel, a_fixed, np.exp(-0.5 * ((win.t - t_ld[:, None]) / sig[:, None]) ** 2))
                ok &= f_to.ok & f_ld.ok
            tau_to = _crossing(f_to.a, f_to.b, f_to.c, win.pre, 0, tol)
            stepped_off = ~np.isfinite(tau_to) & win.drop      # stepped off: leaves the box at the apex
            tau_to = np.where(stepped_off, -f_to.b / (2 * f_to.a), tau_to)
            tau_ld = _crossing(f_ld.a, f_ld.b, f_ld.c, win.post, 1, tol)
            ok &= np.isfinite(tau_to) & np.isfinite(tau_ld) & (tau_ld > tau_to)
            t_to = np.where(ok, win.t_ref + tau_to, np.nan)
            t_ld = np.where(ok, win.t_ref + tau_ld, np.nan)
        apex = win.t_ref - fit.b / (2 * fit.a)
    ok &= ((t_to - 1e-9 <= apex) & (apex <= t_ld)) | (win.drop & (apex <= t_ld))
    return _Events(ok, t_to, t_ld, fit, sel)


def _crossing(a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], level: NDArray[np.float64],
              which: int, tol: float) -> NDArray[np.float64]:
    """(J,) τ where the foot crosses its ground level: takeoff (which=0, first root) or landing (second).

    The foot's contact is its lowest points: those within `tol` pixels of the lowest one relative
    to their own ground level (the toes when the foot is pointed, all points when it is flat);
    their mean clearance is crossed. NaN when the path never reaches the level.
    """
    clear = c - level                       # y down: the largest value is the lowest point
    seen = np.isfinite(clear)
    low = np.where(seen, clear, -np.inf).max(axis=1)
    use = seen & (clear >= (low - tol)[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = np.where(use, clear, 0.0).sum(axis=1) / use.sum(axis=1)
        disc = b * b - 4 * a * cc
        root = np.sqrt(np.where(disc >= 0, disc, np.nan))
        tau = (-b - root) / (2 * a) if which == 0 else (-b + root) / (2 * a)
    return np.where(seen.any(axis=1), tau, np.nan)


def _fit_ballistic(win: _Windows, yy: NDArray[np.float64], sel: NDArray[np.bool_],
                   a_fixed: NDArray[np.float64] | None = None, weights: NDArray[np.float64] | None = None) -> _Fits:
    """Weighted least squares y_k(t) = a·τ² + b·τ + c_k, τ = t - t_ref, one c per column, per candidate.

    `yy`: (J, W, K) values on the candidates' frames, used where `sel` (J, W) and finite; `a` is
    held at `a_fixed` (J,) when given. Normal equations from weighted sums of τ powers, solved
    for all candidates at once: each system is tiny (2 + K unknowns) and well conditioned (τ
    within ±1 s). A candidate with fewer than 4 values, or a singular system, gets `ok` False.
    """
    j, _, k = yy.shape
    tau = (win.t - win.t_ref[:, None])[..., None]                     # (J, W, 1)
    y = yy - a_fixed[:, None, None] * tau**2 if a_fixed is not None else yy
    seen = np.isfinite(y) & sel[..., None]
    w = np.where(seen, 1.0 if weights is None else weights[..., None], 0.0)
    y0 = np.where(seen, y, 0.0)
    tau2 = tau * tau
    s0, s1, s2 = w.sum(axis=1), (w * tau).sum(axis=1), (w * tau2).sum(axis=1)      # (J, K)
    r0, r1 = (w * y0).sum(axis=1), (w * y0 * tau).sum(axis=1)
    used = seen.any(axis=1)
    free = 1 if a_fixed is not None else 2
    n = free + k
    normal = np.zeros((j, n, n))
    rhs = np.zeros((j, n))
    cidx = np.arange(free, n)
    if a_fixed is None:
        s3, s4 = (w * tau2 * tau).sum(axis=1), (w * tau2 * tau2).sum(axis=1)
        normal[:, 0, 0], normal[:, 0, 1], normal[:, 1, 0] = s4.sum(axis=1), s3.sum(axis=1), s3.sum(axis=1)
        normal[:, 0, free:], normal[:, free:, 0] = s2, s2
        rhs[:, 0] = (w * y0 * tau2).sum(axis=1).sum(axis=1)
    normal[:, free - 1, free - 1] = s2.sum(axis=1)
    normal[:, free - 1, free:], normal[:, free:, free - 1] = s1, s1
    normal[:, cidx, cidx] = np.where(used, s0, 1.0)                   # a column without data: c = 0, dropped
    rhs[:, free - 1] = r1.sum(axis=1)
    rhs[:, free:] = r0
    count = seen.sum(axis=(1, 2))
    ok = count >= 4
    normal[~ok] = np.eye(n)
    sol, solved = _solve(normal, rhs)
    ok &= solved
    a = sol[:, 0] if a_fixed is None else np.asarray(a_fixed, np.float64)
    b = sol[:, free - 1]
    c = np.where(used, sol[:, free:], np.nan)
    pred = b[:, None, None] * tau + np.where(used, sol[:, free:], 0.0)[:, None, :]
    if a_fixed is None:
        pred = pred + a[:, None, None] * tau2
    resid = np.where(seen, y0 - pred, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt((resid * resid).sum(axis=(1, 2)) / count)
    return _Fits(ok, a, b, c, rms)


def _solve(normal: NDArray[np.float64], rhs: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Batched solve; a singular system fails alone (LAPACK raises for the whole batch)."""
    try:
        return np.linalg.solve(normal, rhs[..., None])[..., 0], np.ones(len(rhs), bool)
    except np.linalg.LinAlgError:
        sol, ok = np.zeros_like(rhs), np.ones(len(rhs), bool)
        for i in range(len(rhs)):               # rare: only when some system is singular
            try:
                sol[i] = np.linalg.solve(normal[i], rhs[i])
            except np.linalg.LinAlgError:
                ok[i] = False
        return sol, ok


def _pooled_curvature(win: _Windows, com: NDArray[np.float64], sel: NDArray[np.bool_]) -> float | None:
    """One acceleration (px/s²) for every flight of the clip from the centre of mass: a joint fit with
    its own velocity and offset per flight (solved by projecting them out flight by flight). None
    when a flight disagrees by more than POOL_TOL (the camera or the athlete's distance changed)
    or the centre of mass is missing.

    `sel`: (J', W) frames of the flights pooled (the jumps, not the drops), rows of `win` where
    `win.drop` is False."""
    jump = ~win.drop
    if not jump.any():
        return None
    v = com[win.frame[jump]]
    m = sel & np.isfinite(v)
    n = m.sum(axis=1)
    if (n < 4).any():
        return None
    tau = np.where(m, win.t[jump] - win.t_ref[jump][:, None], 0.0)
    v = np.where(m, v, 0.0)

    def residual(x: NDArray[np.float64]) -> NDArray[np.float64]:
        """x minus its least-squares fit by [1, τ] over each flight's frames."""
        tc = np.where(m, tau - (tau.sum(axis=1) / n)[:, None], 0.0)
        slope = (tc * x).sum(axis=1) / (tc * tc).sum(axis=1)
        return np.where(m, x - (x.sum(axis=1) / n)[:, None] - slope[:, None] * tc, 0.0)

    q = residual(tau * tau)
    r = residual(v)
    qq = (q * q).sum(axis=1)
    qr = (q * r).sum(axis=1)
    if (qq <= 0).any():
        return None
    den = float(qq.sum())
    if den <= 0:
        return None
    a = float(qr.sum()) / den
    if a <= 0 or np.max(np.abs(qr / qq / a - 1)) > POOL_TOL:
        return None
    return a


def _hip_fits(ev: _Events, win: _Windows, hip: NDArray[np.float64]) -> _Fits:
    """Ballistic fit of the hip centre over each candidate's fitted frames (needs 4 of them)."""
    return _fit_ballistic(win, hip[win.frame][..., None], ev.sel, None)


def _plausible(ev: _Events, win: _Windows, hip: NDArray[np.float64], stature_px: float,
               px_per_m: float) -> NDArray[np.bool_]:
    """(J,) a real flight: duration, gravity, the hips moving with the feet, a small residual."""
    f = ev.fit
    with np.errstate(invalid="ignore", divide="ignore"):
        dur = ev.t_ld - ev.t_to
        ok = ev.ok & (MIN_FLIGHT_S <= dur) & (dur <= MAX_FLIGHT_S)
        ratio = 2 * f.a / (G * px_per_m)
        ok &= (G_RATIO_RANGE[0] <= ratio) & (ratio <= G_RATIO_RANGE[1])
        apex_y = _nanmean_rows(f.c) - f.b**2 / (4 * f.a)
        # feet travel: rise above takeoff level (jump) or fall to the landing level (drop)
        travel = _nanmean_rows(np.where(win.drop[:, None], win.post, win.pre)) - apex_y
        ok &= (travel >= AIR_HIGH * stature_px) & (f.rms <= RMS_MAX_RISE * travel + RMS_MAX_STATURE * stature_px)
        hf = _hip_fits(ev, win, hip)
        ok &= hf.ok & (hf.a > 0)
        a, b, c = hf.a, hf.b, hf.c[:, 0]
        tau = np.where(win.drop, ev.t_ld, ev.t_to) - win.t_ref
        hip_travel = (a * tau * tau + b * tau + c) - (c - b * b / (4 * a))
        ok &= hip_travel >= HIP_RISE_MIN * travel
    return ok


def _flights(ev: _Events, win: _Windows, hip: NDArray[np.float64]) -> list[Flight]:
    hf = _hip_fits(ev, win, hip)
    f = ev.fit
    apex_y = _nanmean_rows(f.c) - f.b**2 / (4 * f.a)
    rise = _nanmean_rows(win.pre) - apex_y
    drop = _nanmean_rows(win.post - win.pre)
    return [Flight(takeoff_s=float(ev.t_to[i]), landing_s=float(ev.t_ld[i]),
                   kind="drop" if win.drop[i] else "jump", accel_px_s2=2 * float(f.a[i]), rise_px=float(rise[i]),
                   drop_px=float(drop[i]), rms_px=float(f.rms[i]),
                   hip_fit=(float(hf.a[i]), float(hf.b[i]), float(hf.c[i, 0])) if hf.ok[i] else None,
                   t_ref=float(win.t_ref[i]))
            for i in range(len(ev.t_to))]


def _nanmean_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """np.nanmean(x, axis=1) without its warning for an all-NaN row (NaN there)."""
    seen = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen, x, 0.0).sum(axis=1) / seen.sum(axis=1)


def _runs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(starts, stops) of the True runs of a 1-D mask, stops exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _local_levels(y: NDArray[np.float64], lo: NDArray[np.int64], hi: NDArray[np.int64]) -> NDArray[np.float64]:
    """(R, K) median y of each point over frames [lo, hi) of each of R windows (NaN where no data).

    One sort of the padded windows (NaN sorts last), then the middle of each column's finite
    values: the numbers of np.median over each window's finite values.
    """
    lo, hi = np.maximum(lo, 0), np.minimum(hi, len(y))
    width = max(int((hi - lo).max(initial=0)), 1)
    idx = lo[:, None] + np.arange(width)
    valid = idx < hi[:, None]
    seg = np.where(valid[..., None], y[np.clip(idx, 0, max(len(y) - 1, 0))], np.nan)
    seg = np.sort(seg, axis=1)
    n = np.isfinite(seg).sum(axis=1)                          # (R, K)
    upper = np.take_along_axis(seg, np.clip(n // 2, 0, width - 1)[:, None, :], axis=1)[:, 0]
    lower = np.take_along_axis(seg, np.clip((n - 1) // 2, 0, width - 1)[:, None, :], axis=1)[:, 0]
    return np.where(n == 0, np.nan, np.where(n % 2 == 1, upper, (lower + upper) / 2))
