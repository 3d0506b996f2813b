"""Foot strikes and toe-offs per side from a side view: where each foot is planted (still over the
ground), and when it lands and leaves (from its heights, or from its speed over the ground).

Conventions: the first axis is time, NaN = missing; image y points down, so heights are `-y`.
Thresholds are in leg lengths (thigh + shank in pixels), so they hold at any image scale.

Method:

1. Ground velocity, speed over the ground, footprint. The ground's image velocity is the mode of the
   feet's horizontal image velocities (feet are planted 30-65 % of a cycle, all at the ground's
   velocity, and swing at widely spread ones): 0 for a fixed camera overground, minus the belt speed
   on a treadmill. A foot's speed over the ground is that of the stiller of its heel and toe (a
   planted foot pivots about the heel, then about the toe); its footprint is the toe's position
   along the ground (image x minus the ground's displacement), which only a swing moves.
2. Ground lines: each foot point (heel, toe) gets its own, a rolling high quantile of its image y
   over a few strides. Per point and per foot, so perspective (the far foot lands higher in the
   image), a slightly tilted camera and landmark offsets (MediaPipe's heel sits above the sole)
   cancel out.
3. Stances: a foot is planted while its speed over the ground is below `STILL_SHARE` of the
   athlete's (at least `STILL_MIN`) and its lower point is within `NEAR_GROUND` of its ground.
   Heights alone cannot do this on real footage: MediaPipe's heel and toe heights jitter as much as
   a walker lifts the feet (toe clearance 1-2 cm), while a planted foot's horizontal position is
   steady to a few pixels and a swinging foot moves at 2-3 times the athlete's speed. Jitter and
   occlusion glitches still split stances: consecutive fragments with one footprint and a gap
   shorter than `MERGE_SHARE` of the feet's rhythm (the stride period from `running`) are one
   stance. A stance touches the ground (within `CONTACT_HEIGHT`) somewhere and lasts at least
   `MIN_STANCE_SHARE` of that stride and at most `MAX_CONTACT_S` (longer is standing).
4. Sub-frame times from the heights when they are clean (plateau noise below `HEIGHT_NOISE_MAX`):
   going out of the stance, the lower point's height above the stance's own plateau first crosses a
   floor just above the landmark noise and the corner that the zero-phase low-pass rounds at an
   impact, then `REFINE_HIGH`; the line through both crossing times (interpolated between frames)
   is followed down to the ground. That is the mean approach speed over the last few centimetres
   rather than the local slope, so a foot that slows before a strike or speeds up after a toe-off is
   timed within a few ms at 60-240 fps, and within a frame at 30. With noisier heights (real
   footage) the same construction runs on the speed over the ground, between half the planted
   limit and the limit: jitter-proof, biased by 10-35 ms (45 ms at worst on the synthetic gaits).
5. Zoom: a camera zooming about the image centre (phones) is undone first, from the leg length
   over time (`unzoomed`): it would move planted feet outwards and stretch every length.
6. Edges: a contact whose start (end) touches missing frames or the clip's ends has no foot strike
   (toe-off): the athlete entered or left the frame mid-stance. Nor has one without a swing in
   view: the foot must arrive from behind before a strike and leave forward after a toe-off
   (`SWING_MIN` within `SWING_CHECK_S`; where the track ends sooner, at least not backwards), which
   rejects a track breaking up at the clip's end and a foot whose labels were exchanged.

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

CONTACT_HEIGHT = 0.04       # leg lengths (~3.5 cm): a stance has its lowest foot point this close to its ground
NEAR_GROUND = 0.15          # leg lengths: a still foot higher than this is not planted
GROUND_WINDOW_S = 2.5       # rolling window of the ground estimate: at least two strides of slow walking
GROUND_QUANTILE = 0.9       # of image y: a point on the ground >= 10 % of the time is found
GROUND_V_BIN = 0.2          # leg lengths/s: histogram bin of the ground-velocity mode
STILL_SHARE = 0.5           # a foot slower over the ground than this share of the athlete's speed is planted
STILL_MIN = 0.5             # leg lengths/s: ... and never below this (landmark jitter, a standing athlete)
MIN_CONTACT_S = 0.06        # sprinters' contacts are >= 0.08 s
MIN_STANCE_SHARE = 0.15     # of the rhythm's stride: sprinters' duty factor is >= ~0.2, walking's > 0.5
MAX_CONTACT_S = 1.5         # slow walking stays below ~1 s; longer is standing
MERGE_GAP_S = 0.03          # planted runs split by a flicker this short are one run
FOOTPRINT_TOL = 0.5         # leg lengths: fragments with their toe this close on the ground are one stance
MERGE_SHARE = 0.3           # of the stride: ... if the gap between them is shorter (swing is >= 35 %)
MERGE_FRAGMENT_S = 0.15     # ... without a rhythm
SWING_CHECK_S = 0.15        # a strike is preceded, a toe-off followed, within this by a swing ...
SWING_MIN = 0.1             # leg lengths: ... that moves the foot forward at least this far over the ground
REFINE_LOW = 0.015          # leg lengths (~1 cm): the lowest height used to time an event
REFINE_HIGH = 0.05          # leg lengths: ... and the highest
REFINE_SPAN_S = 0.15        # an approach is searched this long before a strike / after a toe-off
ZOOM_WINDOW_S = 1.5         # the camera's zoom: the leg length's rolling median over this ...
ZOOM_MIN = 0.03             # ... undone when it changes by more than this share
HEIGHT_NOISE_MAX = 0.01     # leg lengths (~1 cm): noisier stance heights time events by the speed instead


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


def unzoomed(xy: FloatArray, fps: float, width: int, height: int) -> FloatArray:
    """Image coordinates with a zoom of the camera undone: phones zoom about the image centre, which
    moves a planted foot outwards as if it slid, and changes every length. The zoom is the leg length
    (rolling median over `ZOOM_WINDOW_S`, a couple of strides) against its median over the clip;
    below `ZOOM_MIN` of change the coordinates are returned as they are."""
    legs = np.stack([
        np.linalg.norm(xy[:, L[p + "HIP"]] - xy[:, L[p + "KNEE"]], axis=-1)
        + np.linalg.norm(xy[:, L[p + "KNEE"]] - xy[:, L[p + "ANKLE"]], axis=-1) for p in ("LEFT_", "RIGHT_")], axis=1)
    ok = np.isfinite(legs)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_frame = np.where(ok, legs, 0.0).sum(axis=1) / ok.sum(axis=1)     # NaN where neither leg is seen
    window = max(3, int(round(ZOOM_WINDOW_S * fps)) | 1)
    rolling = pd.Series(per_frame).rolling(window, center=True, min_periods=3).median().to_numpy()
    ref = np.nanmedian(per_frame) if np.isfinite(per_frame).any() else np.nan
    zoom = pd.Series(rolling / ref).ffill().bfill().to_numpy()
    if not np.isfinite(zoom).any() or np.nanmax(np.abs(zoom - 1)) < ZOOM_MIN:
        return xy
    centre = np.array([width / 2, height / 2])
    return centre + (xy - centre) / zoom[:, None, None]


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


def _speed_crossing(t: FloatArray, v: FloatArray, i: NDArray[np.int64], limit: float | FloatArray) -> FloatArray:
    """Where `v` crosses `limit` between frames i and i + 1 (linear)."""
    v0, v1 = v[i], v[np.minimum(i + 1, len(v) - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((limit - v0) / (v1 - v0), 0.0, 1.0)
    return t[i] + np.where(np.isfinite(frac), frac, 0.5) * (t[np.minimum(i + 1, len(t) - 1)] - t[i])


def ground_velocity(vx: FloatArray) -> float:
    """Horizontal image velocity of the ground (leg lengths/s): the most common velocity of the foot
    points. Feet spend 30-65 % of a gait cycle planted, all at the ground's velocity, and swing at
    widely spread ones, so the mode is 0 for a fixed camera overground and minus the belt speed on a
    treadmill. Histogram peak, refined by the median of the velocities near it; 0 if too few."""
    v = vx[np.isfinite(vx)]
    if len(v) < 20:
        return 0.0
    lo, hi = np.percentile(v, [1, 99])
    n_bins = max(1, int(np.ceil((hi - lo) / GROUND_V_BIN)))
    hist, edges = np.histogram(v, bins=n_bins, range=(lo, lo + n_bins * GROUND_V_BIN))
    hist = np.convolve(np.pad(hist, 1), [1, 2, 1], mode="valid")
    peak = 0.5 * (edges[np.argmax(hist)] + edges[np.argmax(hist) + 1])
    near = v[np.abs(v - peak) <= 2 * GROUND_V_BIN]
    return float(np.median(near)) if len(near) else float(peak)


@dataclass(frozen=True)
class _Foot:
    """Per-frame signals of one foot, in leg lengths (per second)."""

    c: FloatArray                   # height of the lower point (heel or toe) above its ground
    known: NDArray[np.bool_]
    speed: FloatArray               # horizontal speed over the ground of the stiller point (heel or toe)
    footprint: FloatArray           # toe position along the ground (moves only in swing)
    still_below: float              # a foot slower than this over the ground is planted
    forward: FloatArray             # +1 / -1 per frame: the direction the athlete faces in image x


def _foot(xy: FloatArray, t: FloatArray, side: int, leg_px: float, fps: float, g: float,
          still_below: float, forward: FloatArray) -> _Foot:
    p = SIDES[side].upper() + "_"
    rows = np.arange(len(t))
    pts = xy[:, [L[p + "HEEL"], L[p + "FOOT_INDEX"]]]                 # (T, 2 points, 2)
    clear = ground_clearance(pts[..., 1], fps, leg_px)                  # (T, 2)
    known = np.isfinite(clear).all(axis=1)
    lower = np.argmin(np.where(known[:, None], clear, 0.0), axis=1)
    # per point: differentiating a switching point would jump a foot length
    vx = np.gradient(pts[..., 0], t, axis=0) / leg_px - g
    # a planted foot pivots about the heel early in stance and about the toe late: either is still
    speed = np.fmin(np.abs(vx[:, 0]), np.abs(vx[:, 1]))
    footprint = pts[:, 1, 0] / leg_px - g * t
    return _Foot(np.where(known, clear[rows, lower], np.nan), known, speed, footprint,
                 still_below, forward)


def _run_any(mask: NDArray[np.bool_], first: NDArray[np.int64], last: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Whether `mask` is True anywhere in each run [first, last], via a cumulative sum."""
    n = np.concatenate([[0], np.cumsum(mask)])
    return n[last + 1] - n[first] > 0


def _stances(foot: _Foot, t: FloatArray, fps: float, stride_s: float | None
             ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First and last frame of every stance.

    A foot is planted while it is still over the ground (the slower of heel and toe below
    `still_below`) and near it (lower point within `NEAR_GROUND`). Landmark jitter splits a real
    stance into fragments (a flicker of speed, a glitch lifting the foot for a few frames):
    consecutive fragments with the same footprint (the toe's place on the ground; a swing moves it
    a stride, over a leg length) and a gap shorter than `MERGE_SHARE` of the rhythm's stride are one
    stance. A stance must touch the ground (within `CONTACT_HEIGHT`) somewhere; stances too short
    for the rhythm (`MIN_STANCE_SHARE` of its stride) or too long (standing) are dropped."""
    stride = stride_s if stride_s is not None and np.isfinite(stride_s) and stride_s > 0 else None
    with np.errstate(invalid="ignore"):
        # a speed unknown next to a missing frame does not end a stance
        on = foot.known & ~(foot.speed >= foot.still_below) & (foot.c <= NEAR_GROUND)
    first, last = runs(on, max_gap=int(MERGE_GAP_S * fps))
    if len(first) == 0:
        return first, last
    if len(first) > 1:
        where = _run_mean(foot.footprint, first, last)
        gap_s = (first[1:] - last[:-1] - 1) / fps
        max_gap = MERGE_SHARE * stride if stride else MERGE_FRAGMENT_S
        with np.errstate(invalid="ignore"):
            same = (gap_s <= max_gap) & (np.abs(np.diff(where)) <= FOOTPRINT_TOL)
        keep = np.concatenate([[True], ~same])
        first, last = first[keep], np.concatenate([last[:-1][keep[1:]], last[-1:]])
    duration = t[last] - t[first] + 1.0 / fps
    shortest = max(MIN_CONTACT_S, MIN_STANCE_SHARE * stride) if stride else MIN_CONTACT_S
    with np.errstate(invalid="ignore"):
        touches = _run_any(on & (foot.c <= CONTACT_HEIGHT), first, last)
    keep = touches & (duration >= shortest) & (duration <= MAX_CONTACT_S)
    return first[keep], last[keep]


def _approach_times(t: FloatArray, x: FloatArray, first: NDArray[np.int64], last: NDArray[np.int64],
                    floor: float) -> tuple[FloatArray, FloatArray]:
    """Strike and toe-off of each stance from a signal that is flat in stance and rises out of it
    (height, or speed over the ground): `touch_times` from the stance's plateau (mean over its
    middle half) and the first / last frame within `floor` of it."""
    n_t = len(t)
    rows = np.arange(n_t)
    quarter = (last - first) // 4
    plateau = _run_mean(x, first + quarter, last - quarter)
    rid = np.maximum(np.searchsorted(first, rows, side="right") - 1, 0)
    in_run = (rows >= first[rid]) & (rows <= last[rid])
    with np.errstate(invalid="ignore"):
        grounded = in_run & (x - plateau[rid] <= floor)
    nxt = np.minimum.accumulate(np.where(grounded, rows, n_t)[::-1])[::-1]
    prv = np.maximum.accumulate(np.where(grounded, rows, -1))
    h = _Heights(x, plateau)
    fs = touch_times(t, h, np.where(nxt[first] <= last, nxt[first], first), -1, floor)
    to = touch_times(t, h, np.where(prv[last] >= first, prv[last], last), +1, floor)
    return fs, to


def side_contacts(foot: _Foot, t: FloatArray, fps: float, side: int, stride_s: float | None = None) -> Contacts:
    """Every stance of one foot, with its sub-frame strike and toe-off.

    Timing: from the heights when they are clean (their noise on the stance plateaus below
    `HEIGHT_NOISE_MAX`), which is exact to a few ms; else from the speed over the ground, which
    jittery heights (real footage) do not disturb and which is biased by 10-35 ms."""
    first, last = _stances(foot, t, fps, stride_s)
    if len(first) == 0:
        return Contacts.empty()
    n_t = len(t)
    rows = np.arange(n_t)
    c, known = foot.c, foot.known
    # the side's landmark noise: robust spread of the heights about each stance's plateau (the mean
    # over its middle half); approaches are timed from heights above three times that noise
    quarter = (last - first) // 4
    plateau = _run_mean(c, first + quarter, last - quarter)
    rid = np.maximum(np.searchsorted(first, rows, side="right") - 1, 0)
    middle = (rows >= first[rid] + quarter[rid]) & (rows <= last[rid] - quarter[rid])
    dev = np.abs(c - plateau[rid])[middle]
    noise = 1.4826 * float(np.nanmedian(dev)) if np.isfinite(dev).any() else 0.0
    fs_h, to_h = _approach_times(t, c, first, last, float(np.clip(3 * noise, REFINE_LOW, 0.75 * CONTACT_HEIGHT)))
    # speed over the ground in units of the planted-foot limit, timed between half the limit and the
    # limit (touch_times' upper level is twice the floor) and followed down to the plateau
    fs_v, to_v = _approach_times(t, foot.speed / foot.still_below, first, last, 0.5)
    by_height = noise <= HEIGHT_NOISE_MAX
    fs = np.where(np.isfinite(fs_h) & by_height | ~np.isfinite(fs_v), fs_h, fs_v)
    to = np.where(np.isfinite(to_h) & by_height | ~np.isfinite(to_v), to_h, to_v)
    # neither approach in view (a foot sliding in, a swing foot skimming away): when it stops / starts
    prev, after = np.maximum(first - 1, 0), np.minimum(last + 1, n_t - 1)
    fs = np.where(np.isfinite(fs), fs, _speed_crossing(t, foot.speed, prev, foot.still_below))
    to = np.where(np.isfinite(to), to, _speed_crossing(t, foot.speed, last, foot.still_below))
    # never before the last frame off the ground / after the first one off it again (noise guard)
    fs, to = np.maximum(fs, t[prev]), np.minimum(to, t[after])
    # a stance that starts (ends) next to a missing frame or the clip's edge has no strike (toe-off)
    fs = np.where((first > 0) & known[prev], fs, np.nan)
    to = np.where((last < n_t - 1) & known[after], to, np.nan)
    # ... and one without a swing in view: a foot arrives from behind before a strike and leaves
    # forward after a toe-off (not a track jumping at the clip's end, a glitch, a shuffle in place).
    # Where the clip or the track ends within the window, the foot must at least not go backwards.
    k = max(1, int(round(SWING_CHECK_S * fps)))
    x = foot.footprint
    seen = np.isfinite(x)
    next_unseen = np.minimum.accumulate(np.where(seen, n_t, rows)[::-1])[::-1]
    prev_unseen = np.maximum.accumulate(np.where(seen, -1, rows))

    def advance(a: NDArray[np.int64], b: NDArray[np.int64], full: NDArray[np.bool_]) -> NDArray[np.bool_]:
        with np.errstate(invalid="ignore"):
            moved = foot.forward[a] * (x[b] - x[a])
            return (b > a) & np.where(full, moved >= SWING_MIN, moved > 0)

    a = np.maximum(first - k, prev_unseen[prev] + 1)
    fs = np.where(advance(a, first, a == first - k), fs, np.nan)
    b = np.minimum(last + k, next_unseen[after] - 1)
    to = np.where(advance(last, b, b == last + k), to, np.nan)
    # the frames in contact: a planted run can begin before the strike (a foot slowing as it lands)
    with np.errstate(invalid="ignore"):
        first = np.where(np.isfinite(fs), np.maximum(first, np.searchsorted(t, fs)), first)
        last = np.where(np.isfinite(to), np.minimum(last, np.searchsorted(t, to, side="right") - 1), last)
    last = np.maximum(last, first)
    return Contacts(np.full(len(first), side), fs, to, first, last)


def detect_contacts(seq: PoseSequence, facing: FloatArray | float, stride_s: float | None = None) -> Contacts:
    """Stances of both feet, sorted by their first contact frame. `facing`: +1 / -1 (per frame or
    for the clip), the direction the athlete faces in image x; `stride_s`: the stride period of the
    feet's rhythm, if known (bounds how short a stance and how long a fragment gap can be)."""
    if len(seq) < 3:
        return Contacts.empty()
    xy = unzoomed(seq.image_xy.astype(np.float64), seq.fps, seq.width, seq.height)
    leg_px = leg_length_px(xy)
    if not np.isfinite(leg_px) or leg_px <= 0:
        return Contacts.empty()
    t = seq.time_s
    feet = [L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX]
    g = ground_velocity(np.gradient(xy[:, feet, 0], t, axis=0).ravel() / leg_px)
    # the athlete's speed over the ground (either way: an out-and-back clip), hip centre vs ground
    hip_v = np.gradient(xy[:, [L.LEFT_HIP, L.RIGHT_HIP], 0].mean(axis=1), t) / leg_px
    speed = float(np.nanmedian(np.abs(hip_v - g))) if np.isfinite(hip_v).any() else 0.0
    still_below = max(STILL_SHARE * speed, STILL_MIN)
    forward = np.broadcast_to(np.asarray(facing, dtype=np.float64), (len(seq),))
    parts = [side_contacts(_foot(xy, t, s, leg_px, seq.fps, g, still_below, forward), t, seq.fps, s, stride_s)
             for s in range(len(SIDES))]
    merged = Contacts(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                        ("side", "foot_strike_s", "toe_off_s", "first", "last")))
    return merged[np.argsort(merged.first, kind="stable")]
