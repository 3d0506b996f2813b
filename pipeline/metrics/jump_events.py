"""Flights of a jumping athlete: takeoff and landing between frames, from the foot trajectories.

Conventions: the first axis is time, NaN = missing, image y points DOWN (pixels).

Method (NumPy over all frames; Python loops only over the few candidate flights):

1. Airborne frames. The ground level of every foot point (heel, toe and ankle of both feet) is
   followed with a rolling high percentile of its y (the feet are on the ground most of the
   time, where y is largest). A frame is airborne when EVERY foot point is above its ground
   level by more than ~1 % of the athlete's stature: one foot on the ground (walking, a squat,
   a lunge) is never a flight. Each run of airborne frames is a candidate; a still part at its
   start or end is standing on something higher (a box) and is cut off.
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
   limb jumping to another person) and walking steps fail these tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.cleaning import fill_gaps, interpolate_nans
from pipeline.pose.landmarks import Landmark as L

G = 9.81  # m/s²

FOOT_POINTS: tuple[int, ...] = (L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX,
                                L.LEFT_ANKLE, L.RIGHT_ANKLE)

MIN_FLIGHT_S = 0.12          # h = 1.8 cm
MAX_FLIGHT_S = 1.1           # h = 1.48 m: beyond any standing jump
AIR_LOW = 0.010              # clearance thresholds (hysteresis), fraction of stature
AIR_HIGH = 0.022
BASELINE_WINDOW_S = 1.6      # rolling ground level: window and percentile of the foot y
BASELINE_PERCENTILE = 80
LEVEL_BEFORE_S = 0.06        # contact frames just before takeoff giving the local ground level
LEVEL_AFTER_S = 0.2          # contact frames just after landing giving the local ground level
EDGE_SIGMA = 0.25            # weight of a frame in timing an event: Gaussian, sigma = 0.25 x flight time
CONTACT_TOL = 0.02           # foot points within 2 % of stature of the lowest one define contact
STILL_M_S = 0.25             # feet slower than this at the edge of a candidate: standing on a box
STILL_MIN_S = 0.15
DROP_MIN = 0.05              # landing this much lower than takeoff (fraction of stature): a drop
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


def centre_of_mass(xy: NDArray[np.floating]) -> NDArray[np.float64]:
    """(T, 2) whole-body centre of mass in image pixels from (T, 33, 2) landmarks (NaN if a segment is missing).

    In flight it is exactly ballistic: its vertical acceleration is g in pixels, whatever the
    arms and legs do.
    """
    p = np.asarray(xy, np.float64)
    total = np.zeros((len(p), 2))
    for m, prox, dist, f in _SEGMENTS:
        a = p[:, list(prox)].mean(axis=1)
        b = p[:, list(dist)].mean(axis=1)
        total += m * (a + f * (b - a))
    return total / sum(s[0] for s in _SEGMENTS)


def ground_levels(feet_y: NDArray[np.floating], fps: float) -> NDArray[np.float64]:
    """(T, K) rolling ground level of each foot point: the 80th percentile of its y over ~1.6 s.

    Evaluated every ~0.1 s on ~32 samples of the window and interpolated in between (the level moves slowly), which keeps a
    10-minute clip in a few milliseconds.
    """
    filled = interpolate_nans(np.asarray(feet_y, np.float64))
    n = len(filled)
    if filled.size == 0 or np.isnan(filled).all():
        return np.full(filled.shape, np.nan)
    filled = np.where(np.isnan(filled), np.nanmedian(filled), filled)   # columns never seen
    half = max(1, int(round(BASELINE_WINDOW_S * fps / 2)))
    step = max(1, int(round(0.1 * fps)))
    at = np.unique(np.append(np.arange(0, n, step), n - 1))
    padded = np.pad(filled, ((half, half), (0, 0)), mode="edge")
    stride = max(1, (2 * half + 1) // 32)                    # ~32 samples of each window are plenty
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0)[..., ::stride][at])
    level = windows[..., int(round(BASELINE_PERCENTILE / 100 * (windows.shape[-1] - 1)))]
    return np.stack([np.interp(np.arange(n), at, level[:, k]) for k in range(filled.shape[1])], axis=1)


def clearance(feet_y: NDArray[np.floating], fps: float) -> NDArray[np.float64]:
    """(T,) height of the LOWEST foot point above its ground level, pixels (NaN when feet are missing)."""
    y = np.asarray(feet_y, np.float64)
    with np.errstate(invalid="ignore"):
        up = ground_levels(y, fps) - y
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
class _Fit:
    t_to: float
    t_ld: float
    a: float
    b: float
    c: NDArray[np.float64]
    rms: float
    sel: NDArray[np.int64]      # frames of the fit
    t_ref: float


def find_flights(time_s: NDArray[np.float64], feet_y: NDArray[np.floating], hip_y: NDArray[np.floating],
                 com_y: NDArray[np.floating], stature_px: float, fps: float,
                 px_per_m: float | None = None) -> list[Flight]:
    """Every ballistic flight of the clip, in time order.

    `feet_y`: (T, len(FOOT_POINTS)) image y of the foot points, ideally unfiltered (sharp
    corners at takeoff and landing); `hip_y`, `com_y`: (T,) image y of the hip centre and of the
    centre of mass; `stature_px`: the athlete's standing height in pixels (scales every
    threshold); `px_per_m`: image scale if known (else from a 1.70 m stature), for the gravity test.
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
    accepted: list[tuple[_Candidate, _Fit]] = []
    for cand in _candidates(t, y, stature_px, fps, scale):
        fit = _fit_events(t, y, cand, None, tol)
        if fit is not None and _plausible(fit, cand, hip, t, stature_px, scale):
            accepted.append((cand, fit))
    a_pool = _pooled_curvature(t, com, [f for c, f in accepted if not c.drop])
    flights = []
    for cand, fit in accepted:
        a_fix = a_pool
        if a_fix is None:                       # this flight's own centre of mass
            own = _fit_ballistic(t[fit.sel], com[fit.sel, None], fit.t_ref)
            a_fix = own[0] if own is not None and own[0] > 0 else None
        final = _fit_events(t, y, cand, a_fix, tol) if a_fix is not None else None
        flights.append(_flight(final or fit, cand, t, hip))
    return flights


def _candidates(t: NDArray[np.float64], y: NDArray[np.float64], stature_px: float, fps: float,
                px_per_m: float) -> list[_Candidate]:
    """Runs of frames with every foot point clearly above its ground level, and their ground levels."""
    n = len(t)
    clear = np.nan_to_num(clearance(y, fps), nan=-np.inf)
    runs = [(s, e) for s, e in _runs(clear > AIR_LOW * stature_px) if (clear[s:e] > AIR_HIGH * stature_px).any()]
    n_before = max(2, int(round(LEVEL_BEFORE_S * fps)))
    n_after = max(3, int(round(LEVEL_AFTER_S * fps)))
    out = []
    for j, (s, e) in enumerate(runs):
        if s == 0 or e >= n:                    # cut by the start or the end of the clip
            continue
        prev_end = runs[j - 1][1] if j > 0 else 0
        next_start = runs[j + 1][0] if j + 1 < len(runs) else n
        # ground level just before takeoff (frame s-1 may be barely in the air: left out)
        pre = _local_level(y, max(prev_end + 1, s - 1 - n_before), s - 1)
        post = _local_level(y, e + 1, min(next_start - 1, e + 1 + n_after))
        lead, trail = _still_edges(t, y, s, e, fps, px_per_m)
        if lead:                                # standing on a box, then stepping off
            pre = _local_level(y, s, s + lead)
            s += lead
        if trail:                               # landing on a box
            post = _local_level(y, e - trail, e)
            e -= trail
        if np.isnan(pre).all() or np.isnan(post).all():
            continue
        if not MIN_FLIGHT_S * 0.5 <= t[e - 1] - t[s] + 1 / fps <= MAX_FLIGHT_S + 2 / fps:
            continue
        drop = float(np.nanmean(post - pre)) > DROP_MIN * stature_px
        out.append(_Candidate(s, e, pre, post, drop))
    return out


def _still_edges(t: NDArray[np.float64], y: NDArray[np.float64], s: int, e: int, fps: float,
                 px_per_m: float) -> tuple[int, int]:
    """Frames at the start / end of the run [s, e) where the feet do not move (a raised surface)."""
    if e - s < 4:
        return 0, 0
    seen = np.isfinite(y[s:e])
    m = np.where(seen, y[s:e], 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
    speed = np.abs(np.gradient(m, t[s:e]))
    still = speed < STILL_M_S * px_per_m
    need = max(2, int(round(STILL_MIN_S * fps)))
    lead = int(np.argmin(still)) if not still.all() else 0
    trail = int(np.argmin(still[::-1])) if not still.all() else 0
    return (lead if lead >= need else 0), (trail if trail >= need else 0)


def _fit_events(t: NDArray[np.float64], y: NDArray[np.float64], cand: _Candidate, a_fixed: float | None,
                tol: float) -> _Fit | None:
    """Takeoff and landing of a candidate from the ballistic fit of the feet, iterated.

    First pass: the airborne run, one fit. Then the frames strictly between the current
    takeoff and landing estimates, with one fit per event weighted towards that event.
    """
    s, e = cand.s, cand.e
    run = np.arange(s, e)
    t_ref = float(np.mean(t[run]))
    sel = run
    t_to = t_ld = float("nan")
    fit = None
    for it in range(3):
        if it > 0:
            wide = np.arange(max(s - 1, 0), min(e + 1, len(t)))
            sel = wide[(t[wide] > t_to) & (t[wide] < t_ld)]
            if len(sel) < 3:
                sel = run
        fit = _fit_ballistic(t[sel], y[sel], t_ref, a_fixed)
        if fit is None or fit[0] <= 0:
            return None
        if it == 0 or a_fixed is None:
            f_to = f_ld = fit
        else:
            sig = EDGE_SIGMA * (t_ld - t_to)
            f_to = _fit_ballistic(t[sel], y[sel], t_ref, a_fixed, np.exp(-0.5 * ((t[sel] - t_to) / sig) ** 2))
            f_ld = _fit_ballistic(t[sel], y[sel], t_ref, a_fixed, np.exp(-0.5 * ((t[sel] - t_ld) / sig) ** 2))
            if f_to is None or f_ld is None:
                return None
        tau_to = _crossing(f_to[0], f_to[1], f_to[2], cand.pre, 0, tol)
        if not np.isfinite(tau_to) and cand.drop:          # stepped off: leaves the box at the apex
            tau_to = -f_to[1] / (2 * f_to[0])
        tau_ld = _crossing(f_ld[0], f_ld[1], f_ld[2], cand.post, 1, tol)
        if not (np.isfinite(tau_to) and np.isfinite(tau_ld)) or tau_ld <= tau_to:
            return None
        t_to, t_ld = t_ref + tau_to, t_ref + tau_ld
    a, b, c, rms = fit
    apex = t_ref - b / (2 * a)
    if not (t_to - 1e-9 <= apex <= t_ld) and not (cand.drop and apex <= t_ld):
        return None
    return _Fit(t_to, t_ld, a, b, c, rms, sel, t_ref)


def _crossing(a: float, b: float, c: NDArray[np.float64], level: NDArray[np.float64], which: int,
              tol: float) -> float:
    """τ where the foot crosses its ground level: takeoff (which=0, first root) or landing (second).

    The foot's contact is its lowest points: those within `tol` pixels of the lowest one relative
    to their own ground level (the toes when the foot is pointed, all points when it is flat);
    their mean clearance is crossed. NaN when the path never reaches the level.
    """
    clear = c - level                       # y down: the largest value is the lowest point
    if not np.isfinite(clear).any():
        return float("nan")
    low = float(np.nanmax(clear))
    use = np.isfinite(clear) & (clear >= low - tol)
    cc = float(np.mean(clear[use]))
    disc = b * b - 4 * a * cc
    if disc < 0:
        return float("nan")
    root = np.sqrt(disc)
    return float((-b - root) / (2 * a) if which == 0 else (-b + root) / (2 * a))


def _fit_ballistic(t: NDArray[np.float64], y: NDArray[np.float64], t_ref: float, a_fixed: float | None = None,
                   weights: NDArray[np.float64] | None = None
                   ) -> tuple[float, float, NDArray[np.float64], float] | None:
    """Weighted least squares y_k(t) = a·τ² + b·τ + c_k, τ = t - t_ref, one c per column of y (NaN skipped).

    Returns (a, b, c, rms residual); `a` is held at `a_fixed` when given. Normal equations: the
    system is tiny (2 + K unknowns) and well conditioned (τ within ±1 s).
    """
    tau = t - t_ref
    y = y - a_fixed * tau[:, None] ** 2 if a_fixed is not None else y
    ok = np.isfinite(y)
    if ok.sum() < 4:
        return None
    rows, cols = np.nonzero(ok)
    used = np.unique(cols)
    col_of = np.searchsorted(used, cols)
    free = 1 if a_fixed is not None else 2
    mat = np.zeros((len(rows), free + len(used)))
    if a_fixed is None:
        mat[:, 0] = tau[rows] ** 2
    mat[:, free - 1] = tau[rows]
    mat[np.arange(len(rows)), free + col_of] = 1.0
    w = np.ones(len(rows)) if weights is None else weights[rows]
    target = y[rows, cols]
    normal = mat.T @ (mat * w[:, None])
    try:
        sol = np.linalg.solve(normal, mat.T @ (w * target))
    except np.linalg.LinAlgError:
        return None
    resid = target - mat @ sol
    a = float(sol[0]) if a_fixed is None else float(a_fixed)
    c = np.full(y.shape[1], np.nan)
    c[used] = sol[free:]
    return a, float(sol[free - 1]), c, float(np.sqrt(np.mean(resid**2)))


def _pooled_curvature(t: NDArray[np.float64], com: NDArray[np.float64], fits: list[_Fit]) -> float | None:
    """One acceleration (px/s²) for every flight of the clip from the centre of mass: a joint fit with
    its own velocity and offset per flight (solved by projecting them out flight by flight). None
    when a flight disagrees by more than POOL_TOL (the camera or the athlete's distance changed)
    or the centre of mass is missing."""
    num = den = 0.0
    own = []
    for f in fits:
        sel = f.sel[np.isfinite(com[f.sel])]
        if len(sel) < 4:
            return None
        tau = t[sel] - f.t_ref
        basis = np.stack([np.ones_like(tau), tau], axis=1)
        proj = basis @ np.linalg.pinv(basis)             # least-squares projection on [1, τ]
        q = tau**2 - proj @ tau**2
        r = com[sel] - proj @ com[sel]
        qq = float(q @ q)
        if qq <= 0:
            return None
        own.append(float(q @ r) / qq)
        num += float(q @ r)
        den += qq
    if not fits or den <= 0:
        return None
    a = num / den
    if a <= 0 or np.max(np.abs(np.array(own) / a - 1)) > POOL_TOL:
        return None
    return a


def _plausible(fit: _Fit, cand: _Candidate, hip: NDArray[np.float64], t: NDArray[np.float64],
               stature_px: float, px_per_m: float) -> bool:
    """A real flight: duration, gravity, the hips moving with the feet, a small residual."""
    if not MIN_FLIGHT_S <= fit.t_ld - fit.t_to <= MAX_FLIGHT_S:
        return False
    if not G_RATIO_RANGE[0] <= 2 * fit.a / (G * px_per_m) <= G_RATIO_RANGE[1]:
        return False
    apex_y = float(np.nanmean(fit.c)) - fit.b**2 / (4 * fit.a)
    # feet travel: rise above takeoff level (jump) or fall to the landing level (drop)
    travel = float(np.nanmean(cand.post if cand.drop else cand.pre)) - apex_y
    if travel < AIR_HIGH * stature_px or fit.rms > RMS_MAX_RISE * travel + RMS_MAX_STATURE * stature_px:
        return False
    hsel = fit.sel[np.isfinite(hip[fit.sel])]
    hf = _fit_ballistic(t[hsel], hip[hsel, None], fit.t_ref) if len(hsel) >= 4 else None
    if hf is None or hf[0] <= 0:
        return False
    a, b, c = hf[0], hf[1], float(hf[2][0])
    tau = (fit.t_ld if cand.drop else fit.t_to) - fit.t_ref
    hip_travel = (a * tau * tau + b * tau + c) - (c - b * b / (4 * a))
    return bool(hip_travel >= HIP_RISE_MIN * travel)


def _flight(fit: _Fit, cand: _Candidate, t: NDArray[np.float64], hip: NDArray[np.float64]) -> Flight:
    hsel = fit.sel[np.isfinite(hip[fit.sel])]
    hf = _fit_ballistic(t[hsel], hip[hsel, None], fit.t_ref) if len(hsel) >= 4 else None
    apex_y = float(np.nanmean(fit.c)) - fit.b**2 / (4 * fit.a)
    return Flight(
        takeoff_s=fit.t_to, landing_s=fit.t_ld, kind="drop" if cand.drop else "jump",
        accel_px_s2=2 * fit.a, rise_px=float(np.nanmean(cand.pre)) - apex_y,
        drop_px=float(np.nanmean(cand.post - cand.pre)), rms_px=fit.rms,
        hip_fit=(hf[0], hf[1], float(hf[2][0])) if hf is not None else None, t_ref=fit.t_ref)


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, stop) of the True runs of a 1-D mask, stop exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _local_level(y: NDArray[np.float64], lo: int, hi: int) -> NDArray[np.float64]:
    """Median y of each point over frames [lo, hi) (NaN where no data)."""
    lo, hi = max(lo, 0), min(hi, len(y))
    if hi <= lo:
        return np.full(y.shape[1], np.nan)
    seg = y[lo:hi]
    if np.isfinite(seg).all():
        return np.median(seg, axis=0)
    out = np.full(y.shape[1], np.nan)
    for k in range(seg.shape[1]):                       # a few columns
        v = seg[:, k][np.isfinite(seg[:, k])]
        if len(v):
            out[k] = np.median(v)
    return out
