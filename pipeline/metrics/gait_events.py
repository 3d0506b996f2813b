"""Foot strikes and toe-offs per side, from the heel and toe (FOOT_INDEX) heights of a side view.

Conventions: the first axis is time, NaN = missing; image y points down, so heights are `-y`.
Thresholds are in leg lengths (thigh + shank in pixels), so they hold at any image scale.

Method (height-based, with a velocity check):

1. Ground: each foot point (heel, toe) gets its own ground line, a rolling high quantile of its
   image y over a few strides. Per point and per foot, so perspective (the far foot lands higher in
   the image), a slightly tilted camera and landmark offsets (MediaPipe's heel sits above the sole)
   cancel out.
2. Contact: a foot is down while the lower of its heel and toe is within `CONTACT_HEIGHT` of its
   ground and not moving forward relative to the hip (velocity check, per frame): a stance foot is
   still on the ground overground and carried back by the belt on a treadmill, so relative to the
   hip it always goes backwards, while a swing foot skimming the ground (walking toe clearance is
   1-2 cm) goes forwards fast. Runs of contact frames that are too short (noise), too long
   (standing) or moving vertically (a foot passing through the band) are dropped.
3. Sub-frame times: going out of the stance, the lower point's height (above the stance's own
   plateau) first crosses a floor just above the landmark noise and the corner that the zero-phase
   low-pass rounds at an impact, then `REFINE_HIGH`; the line through both crossing times
   (interpolated between frames) is followed down to the ground. That is the mean approach speed
   over the last few centimetres rather than the local slope, so a foot that slows before a strike
   or speeds up after a toe-off is timed within a few ms at 60-240 fps, and within a frame at 30.
4. A contact whose start (end) touches missing frames or the clip's ends has no foot strike
   (toe-off): the runner entered or left the frame mid-stance.

Why not Zeni et al. (2008), heel and toe extremes relative to the sacrum: it was derived for
treadmill walking. Running has swing-leg retraction (the heel's most forward point comes ~20-50 ms
before contact) and toe-off after the toe's most backward point, with biases that change with
speed and strike pattern; and it knows nothing of the ground, so it cannot reject a skimming swing
foot or a standing athlete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]
SIDES = ("left", "right")

CONTACT_HEIGHT = 0.04       # leg lengths (~3.5 cm): lowest foot point this close to its ground = contact
GROUND_WINDOW_S = 2.5       # rolling window of the ground estimate: at least two strides of slow walking
GROUND_QUANTILE = 0.9       # of image y: a point on the ground >= 10 % of the time is found
MIN_CONTACT_S = 0.06        # sprinters' contacts are >= 0.08 s
MAX_CONTACT_S = 1.5         # slow walking stays below ~1 s; longer is standing
MAX_FORWARD_SPEED = 0.5     # leg lengths/s: a stance foot moves backwards relative to the hip
MAX_VERTICAL_SPEED = 1.0    # leg lengths/s: median vertical speed of a stance foot
MERGE_GAP_S = 0.03          # contact runs split by a flicker this short are one contact
REFINE_LOW = 0.015          # leg lengths (~1 cm): the lowest height used to time an event
REFINE_HIGH = 0.05          # leg lengths: ... and the highest
REFINE_SPAN_S = 0.15        # an approach is searched this long before a strike / after a toe-off


@dataclass(frozen=True)
class Contacts:
    """Stances of both feet as parallel arrays, sorted by first frame. NaN time = not observable."""

    side: NDArray[np.int64]          # 0 = left, 1 = right (index into SIDES)
    foot_strike_s: FloatArray        # sub-frame
    toe_off_s: FloatArray
    first: NDArray[np.int64]         # first frame in contact
    last: NDArray[np.int64]          # last frame in contact

    def __len__(self) -> int:
        return len(self.side)

    @property
    def contact_time_s(self) -> FloatArray:
        return self.toe_off_s - self.foot_strike_s

    @classmethod
    def empty(cls) -> "Contacts":
        i, f = np.zeros(0, np.int64), np.zeros(0)
        return cls(i, f, f.copy(), i.copy(), i.copy())

    def __getitem__(self, index: NDArray[np.bool_] | NDArray[np.integer] | slice) -> "Contacts":
        return Contacts(self.side[index], self.foot_strike_s[index], self.toe_off_s[index],
                        self.first[index], self.last[index])


def leg_length_px(xy: FloatArray) -> float:
    """Median thigh + shank length in pixels over frames and sides (NaN if never seen)."""
    lengths = np.concatenate([
        np.linalg.norm(xy[:, L[p + "HIP"]] - xy[:, L[p + "KNEE"]], axis=-1)
        + np.linalg.norm(xy[:, L[p + "KNEE"]] - xy[:, L[p + "ANKLE"]], axis=-1)
        for p in ("LEFT_", "RIGHT_")
    ])
    return float(np.nanmedian(lengths)) if np.isfinite(lengths).any() else float("nan")


def ground_clearance(y_down: FloatArray, fps: float, leg_px: float) -> FloatArray:
    """(T, K) height of each column above its own rolling ground line, in leg lengths."""
    window = max(3, int(round(GROUND_WINDOW_S * fps)) | 1)
    ground = pd.DataFrame(y_down).rolling(window, center=True, min_periods=max(3, window // 4)) \
        .quantile(GROUND_QUANTILE).to_numpy()
    return (ground - y_down) / leg_px


def runs(mask: NDArray[np.bool_], max_gap: int = 0) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First and last index of every run of True; runs split by at most `max_gap` False frames merge."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if len(first) > 1 and max_gap > 0:
        keep = np.concatenate([[True], first[1:] - last[:-1] - 1 > max_gap])
        first, last = first[keep], np.concatenate([last[:-1][keep[1:]], last[-1:]])
    return first, last


def _run_mean(x: FloatArray, first: NDArray[np.int64], last: NDArray[np.int64]) -> FloatArray:
    """Mean of the finite values of `x` over each run [first, last] (NaN if none), via cumulative sums."""
    ok = np.isfinite(x)
    s = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    n = np.concatenate([[0], np.cumsum(ok)])
    cnt = n[last + 1] - n[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (s[last + 1] - s[first]) / cnt, np.nan)


class _Heights:
    """(n_contacts, T) view of one height signal minus each contact's plateau, without materialising
    the matrix: only the gathered windows are computed."""

    def __init__(self, c: FloatArray, plateau: FloatArray) -> None:
        self.c, self.plateau = c, plateau
        self.shape = (len(plateau), len(c))

    def gather(self, idx: NDArray[np.int64]) -> FloatArray:
        return self.c[idx] - self.plateau[:, None]


def touch_times(t: FloatArray, h: _Heights, near: NDArray[np.int64], direction: int, floor: float) -> FloatArray:
    """When each approach to the ground reaches height 0.

    `h` holds each stance's heights above its own plateau. `near[i]` is the frame of event i where
    the stance is first (strike, `direction=-1`) or last (toe-off, `+1`) within `floor` of the
    ground; the approach lies before it (strike) or after it (toe-off). Going out from `near`, the
    approach first crosses `floor` (just above the noise and the corner that the low-pass rounds at
    an impact) and then `REFINE_HIGH`; both crossing times are interpolated between frames and the
    line through them is followed down to the ground. At low frame rates both crossings fall in one
    frame interval and this is the chord across it; at high ones it is the mean approach speed over
    the last few centimetres, not the local tangent.
    """
    n_ev, n_t = len(near), len(t)
    if n_ev == 0:
        return np.zeros(0)
    w = int(np.ceil(REFINE_SPAN_S / np.median(np.diff(t)))) + 1
    offsets = np.arange(-w, w + 1)
    idx = near[:, None] + direction * offsets[None, :]                   # column w = near
    inside = (idx >= 0) & (idx < n_t)
    idx_c = np.clip(idx, 0, n_t - 1)
    hw = np.where(inside, h.gather(idx_c), np.nan)
    u = np.where(inside, direction * (t[idx_c] - t[near][:, None]), np.nan)   # > 0 on the approach side
    rows = np.arange(n_ev)
    out = hw[:, w:]
    uo = u[:, w:]

    def crossing(level: float) -> tuple[FloatArray, FloatArray]:
        """Distance from `near` at which the approach first rises through `level`, and the slope of
        the frame interval it does it in (NaN if not seen)."""
        with np.errstate(invalid="ignore"):
            above = out > level
        j = np.argmax(above, axis=1)
        seen = above[rows, j] & (j > 0)
        j = np.maximum(j, 1)
        h0, h1, u0, u1 = out[rows, j - 1], out[rows, j], uo[rows, j - 1], uo[rows, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (h1 - h0) / (u1 - u0)
            return np.where(seen, u0 + (level - h0) / slope, np.nan), np.where(seen, slope, np.nan)

    hi = max(REFINE_HIGH, 2 * floor)
    (u_lo, slope_lo), (u_hi, _) = crossing(floor), crossing(hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = (hi - floor) / (u_hi - u_lo)
        # the upper crossing out of view (clip edge, missing frames): the local slope instead
        speed = np.where(np.isfinite(speed) & (speed > 0), speed, slope_lo)
        best = np.where(np.isfinite(speed) & (speed > 0), u_lo - floor / speed, u_lo)
        # into the stance: the ground is reached at the latest a frame after the plateau is
        flat = (offsets[None, :] <= -1) & (hw <= 0)
        flat[:, 0] = True
        depth = -u[rows, np.argmax(np.where(flat, offsets[None, :], -w - 1), axis=1)]
        best = np.clip(best, -np.where(np.isfinite(depth), depth, 0.0), u_lo)
    return t[near] + direction * best


def _speed_crossing(t: FloatArray, v: FloatArray, i: NDArray[np.int64], limit: float) -> FloatArray:
    """Where `v` crosses `limit` between frames i and i + 1 (linear)."""
    v0, v1 = v[i], v[np.minimum(i + 1, len(v) - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((limit - v0) / (v1 - v0), 0.0, 1.0)
    return t[i] + np.where(np.isfinite(frac), frac, 0.5) * (t[np.minimum(i + 1, len(t) - 1)] - t[i])


@dataclass(frozen=True)
class _Foot:
    """Per-frame signals of one foot's lower point (heel or toe), in leg lengths (per second)."""

    c: FloatArray                   # height above its ground
    known: NDArray[np.bool_]
    v_fwd: FloatArray               # forward speed relative to the hip centre
    v_up: FloatArray                # vertical speed


def _foot(xy: FloatArray, t: FloatArray, fps: float, side: int, facing: FloatArray, leg_px: float) -> _Foot:
    p = SIDES[side].upper() + "_"
    rows = np.arange(len(t))
    pts = xy[:, [L[p + "HEEL"], L[p + "FOOT_INDEX"]]]                 # (T, 2 points, 2)
    clear = ground_clearance(pts[..., 1], fps, leg_px)                  # (T, 2)
    known = np.isfinite(clear).all(axis=1)
    lower = np.argmin(np.where(known[:, None], clear, 0.0), axis=1)
    hip = xy[:, [L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=1)
    # per point, then the lower one's: differentiating a switching point would jump a foot length
    v_fwd = np.gradient(facing[:, None] * (pts[..., 0] - hip[:, None, 0]), t, axis=0) / leg_px
    v_up = -np.gradient(pts[..., 1], t, axis=0) / leg_px
    return _Foot(np.where(known, clear[rows, lower], np.nan), known, v_fwd[rows, lower], v_up[rows, lower])


def _stances(foot: _Foot, t: FloatArray, fps: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First and last frame of every stance."""
    with np.errstate(invalid="ignore"):
        on = foot.known & (foot.c <= CONTACT_HEIGHT) & ~(foot.v_fwd >= MAX_FORWARD_SPEED)
    first, last = runs(on, max_gap=int(MERGE_GAP_S * fps))
    duration = t[last] - t[first] + 1.0 / fps
    with np.errstate(invalid="ignore"):
        keep = (duration >= MIN_CONTACT_S) & (duration <= MAX_CONTACT_S) \
            & (_run_mean(np.abs(foot.v_up), first, last) < MAX_VERTICAL_SPEED)
    return first[keep], last[keep]


def side_contacts(foot: _Foot, t: FloatArray, fps: float, side: int) -> Contacts:
    """Every stance of one foot, with its sub-frame strike and toe-off."""
    first, last = _stances(foot, t, fps)
    if len(first) == 0:
        return Contacts.empty()
    n_t = len(t)
    rows = np.arange(n_t)
    c, known = foot.c, foot.known
    # each stance's plateau (mean over its middle half) and the side's landmark noise (robust
    # spread about it): approaches are timed from heights above three times that noise
    quarter = (last - first) // 4
    plateau = _run_mean(c, first + quarter, last - quarter)
    run_id = np.cumsum(np.isin(rows, first)) - 1
    rid = np.maximum(run_id, 0)
    in_run = (run_id >= 0) & (rows <= last[rid])
    middle = in_run & (rows >= first[rid] + quarter[rid]) & (rows <= last[rid] - quarter[rid])
    dev = np.abs(c - plateau[rid])[middle]
    noise = 1.4826 * float(np.nanmedian(dev)) if np.isfinite(dev).any() else 0.0
    floor = float(np.clip(3 * noise, REFINE_LOW, 0.75 * CONTACT_HEIGHT))
    with np.errstate(invalid="ignore"):
        grounded = in_run & (c - plateau[rid] <= floor)
    nxt = np.minimum.accumulate(np.where(grounded, rows, n_t)[::-1])[::-1]
    prv = np.maximum.accumulate(np.where(grounded, rows, -1))
    h = _Heights(c, plateau)
    fs = touch_times(t, h, np.where(nxt[first] <= last, nxt[first], first), -1, floor)
    to = touch_times(t, h, np.where(prv[last] >= first, prv[last], last), +1, floor)
    # no approach in view: a foot sliding in / a swing foot skimming away is timed by its speed
    prev, after = np.maximum(first - 1, 0), np.minimum(last + 1, n_t - 1)
    with np.errstate(invalid="ignore"):
        low = known & (c <= CONTACT_HEIGHT)
    fs = np.where(np.isfinite(fs), fs,
                  np.where(low[prev], _speed_crossing(t, foot.v_fwd, prev, MAX_FORWARD_SPEED), t[first]))
    to = np.where(np.isfinite(to), to,
                  np.where(low[after], _speed_crossing(t, foot.v_fwd, last, MAX_FORWARD_SPEED), t[last]))
    # never before the last frame off the ground / after the first one off it again (noise guard)
    fs, to = np.maximum(fs, t[prev]), np.minimum(to, t[after])
    # a stance that starts (ends) next to a missing frame or the clip's edge has no strike (toe-off)
    fs = np.where((first > 0) & known[prev], fs, np.nan)
    to = np.where((last < n_t - 1) & known[after], to, np.nan)
    return Contacts(np.full(len(first), side), fs, to, first, last)


def detect_contacts(seq: PoseSequence, facing: FloatArray | float) -> Contacts:
    """Stances of both feet, sorted by their first contact frame."""
    if len(seq) < 3:
        return Contacts.empty()
    xy = seq.image_xy.astype(np.float64)
    leg_px = leg_length_px(xy)
    if not np.isfinite(leg_px) or leg_px <= 0:
        return Contacts.empty()
    facing_t = np.broadcast_to(np.asarray(facing, dtype=np.float64), (len(seq),))
    parts = [side_contacts(_foot(xy, seq.time_s, seq.fps, s, facing_t, leg_px), seq.time_s, seq.fps, s)
             for s in range(len(SIDES))]
    merged = Contacts(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                        ("side", "foot_strike_s", "toe_off_s", "first", "last")))
    return merged[np.argsort(merged.first, kind="stable")]
