"""Cleaning a raw `PoseSequence`: undo left/right swaps, fill short gaps, zero-phase low-pass.

Pure functions, vectorized along time (the first axis); NaN = missing. Gaps longer than the bound
stay NaN after filtering: the filter runs on interpolated data and the NaNs are put back.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from pipeline.pose.landmarks import LEFT_RIGHT_PAIRS, Landmark as L
from pipeline.pose.sequence import PoseSequence

# Landmark groups whose left/right labels MediaPipe exchanges together in side views.
LEG_PAIRS = tuple((a, b) for a, b in LEFT_RIGHT_PAIRS
                  if a in (L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX))
ARM_PAIRS = tuple((a, b) for a, b in LEFT_RIGHT_PAIRS
                  if a in (L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB))


def _as_2d(x: NDArray) -> NDArray:
    """(T, ...) -> (T, C) view; works for T = 0 too (reshape(0, -1) does not)."""
    return x.reshape(len(x), int(np.prod(x.shape[1:], dtype=np.int64)))


def nanmean_quiet(x: NDArray[np.floating], axis: int) -> NDArray[np.float64]:
    """np.nanmean without the 'Mean of empty slice' warning: all-NaN slices give NaN."""
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    total = np.where(ok, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def nan_run_lengths(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True each element belongs to (0 where False), per column of a (T, ...) mask."""
    m = _as_2d(mask)
    t = len(m)
    if t == 0:
        return np.zeros(mask.shape, np.int64)
    pad = np.zeros((1, m.shape[1]), bool)
    edges = np.diff(np.vstack([pad, m, pad]).astype(np.int8), axis=0)
    run_id = np.cumsum(edges[:-1] == 1, axis=0)   # increments at each run start
    # length of each run: where it ends minus where it starts, looked up by run id per column
    out = np.zeros(m.shape, np.int64)
    for c in np.flatnonzero(m.any(axis=0)):      # loop over columns (<= 99), not frames
        starts = np.flatnonzero(edges[:, c] == 1)
        ends = np.flatnonzero(edges[:, c] == -1)
        lengths = ends - starts
        out[m[:, c], c] = lengths[run_id[m[:, c], c] - 1]
    return out.reshape(mask.shape)


def interpolate_nans(x: NDArray[np.floating], extrapolate: bool = True) -> NDArray[np.float64]:
    """Linear interpolation of NaNs along axis 0, each column on its own; edges hold the nearest value."""
    flat = _as_2d(x).astype(np.float64)
    out = flat.copy()
    t = np.arange(len(flat))
    for c in range(flat.shape[1]):               # columns, not frames
        ok = np.isfinite(flat[:, c])
        if ok.all() or not ok.any():
            continue
        filled = np.interp(t, t[ok], flat[ok, c])
        if not extrapolate:
            filled[: ok.argmax()] = np.nan
            filled[len(ok) - ok[::-1].argmax():] = np.nan
        out[:, c] = filled
    return out.reshape(x.shape)


def fill_gaps(x: NDArray[np.floating], max_gap: int) -> NDArray[np.float64]:
    """Fill interior NaN runs of at most `max_gap` samples linearly; longer runs and edges stay NaN."""
    missing = np.isnan(x)
    filled = interpolate_nans(x, extrapolate=False)
    return np.where(missing & (nan_run_lengths(missing) > max_gap), np.nan, filled)


def lowpass(x: NDArray[np.floating], fs: float, cutoff_hz: float, order: int = 2) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass along axis 0, NaNs kept where they were.

    `sosfiltfilt` runs the filter forward and back, which doubles the effective order and squares
    the gain: at `cutoff_hz` the amplitude is 0.5 (-6 dB), not 1/sqrt(2).
    """
    x = np.asarray(x, dtype=np.float64)
    if cutoff_hz >= fs / 2:
        return x.copy()
    sos = butter(order, cutoff_hz, btype="low", output="sos", fs=fs)
    padlen = 3 * (2 * len(sos) + 1)
    missing = np.isnan(x)
    if len(x) <= padlen or missing.all():
        return x.copy()
    filled = interpolate_nans(x)
    # columns with no data at all stay NaN through interpolate; filter the rest
    flat = _as_2d(filled)
    ok_cols = ~np.isnan(flat).any(axis=0)
    flat[:, ok_cols] = sosfiltfilt(sos, flat[:, ok_cols], axis=0)
    out = flat.reshape(x.shape)
    out[missing] = np.nan
    return out


def swap_states(a: NDArray[np.floating], b: NDArray[np.floating], ratio: float = 0.5,
                min_jump: float = 0.0) -> NDArray[np.bool_]:
    """(T,) True for frames whose `a`/`b` labels are exchanged relative to the clip's majority.

    `a`, `b`: (T, K, D) points of the left and right members. A label exchange between frames t-1
    and t is declared when crossing the labels fits the motion much better (`ratio`) than keeping
    them and the kept labels moved more than `min_jump`. Exchanges toggle a state (cumsum mod 2);
    the majority state is taken as correct. Missing frames compare with the last seen frame.
    """
    t = len(a)
    if t < 2:
        return np.zeros(t, bool)
    seen = ~np.isnan(a).all(axis=(1, 2)) & ~np.isnan(b).all(axis=(1, 2))
    idx = np.maximum.accumulate(np.where(seen, np.arange(t), 0))
    prev_idx = np.concatenate([[0], idx[:-1]])
    pa, pb = a[prev_idx], b[prev_idx]

    def dist(p: NDArray[np.floating], q: NDArray[np.floating]) -> NDArray[np.float64]:
        return np.nansum(np.linalg.norm(p - q, axis=-1), axis=-1)

    same = dist(a, pa) + dist(b, pb)
    crossed = dist(a, pb) + dist(b, pa)
    event = seen & (np.arange(t) > 0) & (crossed < ratio * same) & (same > min_jump)
    state = np.cumsum(event) % 2 == 1
    if state.sum() > (~state).sum():
        state = ~state
    return state


def fix_left_right_swaps(seq: PoseSequence) -> PoseSequence:
    """Undo MediaPipe's left/right label exchanges of the legs and of the arms, separately."""
    arrays = {k: v.copy() for k, v in seq.arrays().items() if k != "time_s"}
    scale = _body_scale(seq)
    for pairs in (LEG_PAIRS, ARM_PAIRS):
        left = [p[0] for p in pairs]
        right = [p[1] for p in pairs]
        swapped = swap_states(seq.image_xy[:, left], seq.image_xy[:, right], min_jump=0.05 * scale)
        if not swapped.any():
            continue
        rows = np.flatnonzero(swapped)
        for arr in arrays.values():
            lv = arr[np.ix_(rows, left)].copy()
            arr[np.ix_(rows, left)] = arr[np.ix_(rows, right)]
            arr[np.ix_(rows, right)] = lv
    return seq.with_arrays(**arrays)


def _body_scale(seq: PoseSequence) -> float:
    """Median shoulder-to-ankle height in pixels (a scale for thresholds)."""
    xy = seq.image_xy
    top = nanmean_quiet(xy[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 1], axis=1)
    bottom = nanmean_quiet(xy[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], 1], axis=1)
    h = np.abs(bottom - top)
    return float(np.nanmedian(h)) if np.isfinite(h).any() else float(seq.height) / 2


def clean(seq: PoseSequence, cutoff_hz: float, max_gap_s: float = 0.25) -> PoseSequence:
    """Swaps undone, gaps up to `max_gap_s` filled, then low-passed at `cutoff_hz` (zero phase)."""
    seq = fix_left_right_swaps(seq)
    max_gap = max(1, int(round(max_gap_s * seq.fps)))
    fs = seq.fps

    def smooth(x: NDArray[np.floating]) -> NDArray[np.float32]:
        return lowpass(fill_gaps(x, max_gap), fs, cutoff_hz).astype(np.float32)

    return seq.with_arrays(
        image_xy=smooth(seq.image_xy),
        image_z=smooth(seq.image_z),
        world_xyz=smooth(seq.world_xyz),
        visibility=np.nan_to_num(fill_gaps(seq.visibility, max_gap)).astype(np.float32),
        presence=np.nan_to_num(fill_gaps(seq.presence, max_gap)).astype(np.float32),
    )
