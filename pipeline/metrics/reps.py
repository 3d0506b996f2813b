"""Repetition segmentation of one lift signal (hip or bar height over time).

Convention: the first axis is time, NaN = missing. Pure NumPy/SciPy on the whole sequence; the
only Python loops run over the (few) repetitions found.

A repetition is an *excursion* of the signal away from its rest position and (usually) back:

- rest "high" (squats, bench press): the athlete starts at the top, goes down to the bottom and
  comes back up. A rep counts only when it comes back (`returned`).
- rest "low" (deadlift, overhead press, Olympic lifts): the bar starts at the bottom, goes up to
  lockout and maybe comes back down. A rep counts when the rise from the bottom is seen; the
  return is optional (a clip may end at lockout or in the catch).

Peaks of the excursion are found by prominence (`scipy.signal.find_peaks`), so standing still,
sway and bounces smaller than `min_amplitude` are never reps. Consecutive peaks belong to the
same rep until the signal comes back to within `1 - return_fraction` of the rest level (a bounce
in the hole or the catch of a clean does not split a rep). Times where the signal leaves / reaches
a band are linearly interpolated between frames (sub-frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

Rest = Literal["high", "low"]

EDGE_FRACTION = 0.10     # the rep starts/ends when 10 % of its range of motion is covered
RETURN_FRACTION = 0.75   # back to the rest position = 75 % of the range of motion undone
REST_WINDOW_S = 0.5      # the rest level is taken over this window just before the movement


@dataclass(frozen=True)
class Excursion:
    """One repetition of the signal, as frame indices (`*_frame`) and sub-frame times (s).

    `far` is the extreme point (bottom of a squat, top of a deadlift); `arrive`/`depart` bound
    the time spent near it (a pause at the bottom, the lockout of a deadlift).
    """

    start_frame: int
    arrive_frame: int
    far_frame: int
    depart_frame: int
    end_frame: int | None
    start_s: float
    arrive_s: float
    far_s: float
    depart_s: float
    end_s: float | None
    rest_level: float      # signal value at rest before the rep (original orientation)
    far_level: float       # signal value at the extreme
    amplitude: float       # |far_level - rest_level|, signal units
    returned: bool         # came back to the rest position afterwards


def bridge_nans(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """Linear interpolation over NaNs (edges take the nearest value); all-NaN stays all-NaN."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def _cross_time(t: NDArray[np.float64], e: NDArray[np.float64], i: int, j: int, level: float) -> float:
    """Time between frames i and j where e crosses `level` (linear); frame i's time if flat."""
    if j < 0 or j >= len(e) or e[j] == e[i]:
        return float(t[i])
    w = float(np.clip((level - e[i]) / (e[j] - e[i]), 0.0, 1.0))
    return float(t[i] + w * (t[j] - t[i]))


def _last_at_most(e: NDArray[np.float64], lo: int, hi: int, level: float) -> int:
    """Last index in [lo, hi] with e <= level (lo if none)."""
    hits = np.flatnonzero(e[lo:hi + 1] <= level)
    return lo + int(hits[-1]) if len(hits) else lo


def _first_at_most(e: NDArray[np.float64], lo: int, hi: int, level: float) -> int | None:
    hits = np.flatnonzero(e[lo:hi + 1] <= level)
    return lo + int(hits[0]) if len(hits) else None


def _rest_level(e: NDArray[np.float64], lo: int, hi: int, rise_hint: float, window: int, left: bool) -> float:
    """The rest level next to a movement: the lowest e within `window` frames of the rest band's edge.

    The rest band is e <= min + 25 % of the rise; taking the level just before the movement (and
    not the interval's minimum) keeps a slow drift while standing out of the rep's timing.
    """
    seg = e[lo:hi + 1]
    band = np.flatnonzero(seg <= seg.min() + 0.25 * rise_hint)
    edge = lo + int(band[-1] if left else band[0])
    a, b = (max(lo, edge - window), edge) if left else (edge, min(hi, edge + window))
    return float(e[a:b + 1].min())


def find_reps(time_s: NDArray[np.floating], signal: NDArray[np.floating], *, rest: Rest,
              min_amplitude: float, edge_fraction: float = EDGE_FRACTION,
              return_fraction: float = RETURN_FRACTION, unfinished: bool = False) -> list[Excursion]:
    """Every excursion of `signal` from its rest position larger than `min_amplitude`.

    `signal` is higher = more "up" (hip or bar height); `rest` says where a rep starts.
    Excursions whose start is not in the clip are dropped; with rest "high" so are those that
    never come back (check `returned` for rest "low"), unless `unfinished` (then they are kept with
    `returned` False, to be reported as cut off rather than silently lost).
    """
    t = np.asarray(time_s, dtype=np.float64)
    x = np.asarray(signal, dtype=np.float64)
    if len(x) != len(t):
        raise ValueError(f"find_reps: time_s has {len(t)} samples, signal has {len(x)}")
    if len(x) < 3 or np.isfinite(x).sum() < 3:
        return []
    sign = 1.0 if rest == "low" else -1.0
    e = sign * bridge_nans(x)            # excursion coordinate: rest is low, the rep goes up
    # pad the right end with the rest level so a rep still under way when the clip ends is a peak
    peaks, _ = find_peaks(np.append(e, e.min()), prominence=min_amplitude)
    peaks = peaks[peaks < len(e)]
    if len(peaks) == 0:
        return []
    fps = (len(t) - 1) / (t[-1] - t[0]) if t[-1] > t[0] else 30.0
    window = max(1, int(round(REST_WINDOW_S * fps)))

    # group peaks into reps: a new rep begins only once the signal went back to rest
    groups: list[list[int]] = [[int(peaks[0])]]
    bounds = [0]                          # left boundary (frame) of each group
    for p in peaks[1:]:
        cur = groups[-1]
        valley = cur[-1] + int(np.argmin(e[cur[-1]:p + 1]))
        top = e[cur].max()
        base = e[bounds[-1]:cur[0] + 1].min()
        if top - e[valley] >= return_fraction * (top - base):
            groups.append([int(p)])
            bounds.append(valley)
        else:
            cur.append(int(p))
    bounds.append(len(e) - 1)

    reps: list[Excursion] = []
    for k, g in enumerate(groups):
        lo, hi = bounds[k], bounds[k + 1]
        far = g[0] + int(np.argmax(e[g[0]:g[-1] + 1]))
        e_far = e[far]
        rise_hint = e_far - e[lo:far + 1].min()
        if rise_hint < min_amplitude:
            continue                       # the start of this rep is before the clip
        base_l = _rest_level(e, lo, far, rise_hint, window, left=True)
        rise = e_far - base_l
        if rise < min_amplitude:
            continue
        thr = base_l + edge_fraction * rise
        i0 = _last_at_most(e, lo, far, thr)
        start_s = _cross_time(t, e, i0, i0 + 1, thr)
        start = i0 + 1 if i0 < far else i0
        near = e_far - edge_fraction * rise
        ia = start + int(np.argmax(e[start:far + 1] >= near))
        arrive_s = _cross_time(t, e, ia - 1, ia, near) if ia > start else float(t[ia])

        fall_hint = e_far - e[far:hi + 1].min()
        returned = fall_hint >= return_fraction * rise
        end_s: float | None = None
        if returned:
            base_r = _rest_level(e, far, hi, fall_hint, window, left=False)
            fall = e_far - base_r
            thr_r = base_r + edge_fraction * fall
            ie = _first_at_most(e, far, hi, thr_r)
            assert ie is not None             # base_r is reached inside [far, hi]
            end_s = _cross_time(t, e, ie - 1, ie, thr_r)
        elif rest == "high" and not unfinished:
            continue                           # a squat that never stood back up is not a rep
        else:
            fall, ie = rise, hi
        # leaving the far position: measured from the level held there just before leaving
        top = -_rest_level(-e, far, ie, fall, window, left=True)
        near_r = top - edge_fraction * fall
        idp = far + int(np.flatnonzero(e[far:ie + 1] >= near_r)[-1]) if (e[far:ie + 1] >= near_r).any() else far
        depart_s = _cross_time(t, e, idp, idp + 1, near_r) if idp < ie else float(t[idp])
        reps.append(Excursion(
            start_frame=nearest_frame(t, start_s), arrive_frame=nearest_frame(t, arrive_s), far_frame=far,
            depart_frame=nearest_frame(t, depart_s),
            end_frame=None if end_s is None else nearest_frame(t, end_s),
            start_s=start_s, arrive_s=arrive_s, far_s=_vertex_time(t, e, far),
            depart_s=depart_s, end_s=end_s, rest_level=float(sign * base_l), far_level=float(sign * e_far),
            amplitude=float(rise), returned=bool(returned),
        ))
    return reps


def nearest_frame(t: NDArray[np.float64], time_s: float) -> int:
    """Index of the frame whose time is nearest to `time_s`."""
    i = int(np.searchsorted(t, time_s))
    if i <= 0:
        return 0
    if i >= len(t):
        return len(t) - 1
    return i if t[i] - time_s < time_s - t[i - 1] else i - 1


def _vertex_time(t: NDArray[np.float64], e: NDArray[np.float64], i: int) -> float:
    """Sub-frame time of the extreme at frame i: vertex of the parabola through i-1, i, i+1."""
    if i <= 0 or i >= len(e) - 1:
        return float(t[i])
    a, b, c = e[i - 1], e[i], e[i + 1]
    den = a - 2 * b + c
    if den >= 0:
        return float(t[i])
    off = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    j = i + 1 if off > 0 else i - 1
    return float(t[i] + abs(off) * (t[j] - t[i]))
