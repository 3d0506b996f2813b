"""Cleaning a raw `PoseSequence`: undo left/right swaps, fill short gaps, zero-phase low-pass.

Pure functions, vectorized along time (the first axis); NaN = missing. Gaps longer than the bound
stay NaN after filtering: the filter runs on interpolated data and the NaNs are put back.

Internally the work is done on channel-first (C, T) float64 copies: the filter and the gap
bookkeeping then run along contiguous memory, and a clip without gaps (the usual case) skips the
gap work entirely.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from pipeline.pose.landmarks import LEFT_RIGHT_PAIRS, NUM_LANDMARKS, Landmark as L
from pipeline.pose.sequence import PoseSequence

# Landmark groups whose left/right labels MediaPipe exchanges together in side views.
LEG_PAIRS = tuple((a, b) for a, b in LEFT_RIGHT_PAIRS
                  if a in (L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX))
ARM_PAIRS = tuple((a, b) for a, b in LEFT_RIGHT_PAIRS
                  if a in (L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB))


def _as_2d(x: NDArray) -> NDArray:
    """(T, ...) -> (T, C) view; works for T = 0 too (reshape(0, -1) does not)."""
    return x.reshape(len(x), int(np.prod(x.shape[1:], dtype=np.int64)))


def _channels(x: NDArray) -> NDArray[np.float64]:
    """(T, ...) -> a new C-contiguous (C, T) float64 array."""
    return np.array(_as_2d(np.asarray(x)).T, dtype=np.float64, order="C", copy=True)


def _unchannel(cols: NDArray, shape: tuple[int, ...], dtype: type = np.float64) -> NDArray:
    """(C, T) -> a new C-contiguous (T, ...) array of `dtype`."""
    return np.ascontiguousarray(cols.T, dtype=dtype).reshape(shape)


def nanmean_quiet(x: NDArray[np.floating], axis: int) -> NDArray[np.float64]:
    """np.nanmean without the 'Mean of empty slice' warning: all-NaN slices give NaN."""
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    total = np.where(ok, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def _run_lengths_rows(m: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True each element of a (C, T) mask belongs to, along each row."""
    c, t = m.shape
    padded = np.zeros((c, t + 1), np.int8)       # a False after each row: runs never span two rows
    padded[:, :t] = m
    flat = padded.ravel()
    edges = np.diff(flat, prepend=np.int8(0))
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    out = np.zeros(flat.shape, np.int64)
    out[flat.view(bool)] = np.repeat(lengths, lengths)
    return out.reshape(c, t + 1)[:, :t]


def nan_run_lengths(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True each element belongs to (0 where False), per column of a (T, ...) mask."""
    m = _as_2d(np.asarray(mask, bool))
    return np.ascontiguousarray(_run_lengths_rows(np.ascontiguousarray(m.T)).T).reshape(mask.shape)


def _interpolate_rows(cols: NDArray[np.float64], extrapolate: bool) -> None:
    """In place: `interpolate_nans` along each row of a (C, T) array.

    Rows are grouped by their pattern of missing samples (often the same for every landmark: the
    frames where nobody was detected), and each group is interpolated at once with the arithmetic
    of `np.interp` (same values, bit for bit).
    """
    ok = np.isfinite(cols)
    rows = np.flatnonzero(~ok.all(axis=1) & ok.any(axis=1))
    if len(rows) == 0:
        return
    _, first, group = np.unique(np.packbits(ok[rows], axis=1), axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    for g, r0 in enumerate(first):                   # one pass per distinct gap pattern, not per row
        members = rows[group == g]
        okr = ok[rows[r0]]
        xp = np.flatnonzero(okr)
        miss = np.flatnonzero(~okr)
        j = np.searchsorted(xp, miss) - 1            # xp[j] < miss < xp[j + 1] inside the data
        inner = (j >= 0) & (j < len(xp) - 1)
        fp = cols[np.ix_(members, xp)]
        ji, xi = j[inner], miss[inner]
        lo, hi = fp[:, ji], fp[:, ji + 1]
        slope = (hi - lo) / (xp[ji + 1] - xp[ji]).astype(np.float64)
        cols[np.ix_(members, xi)] = slope * (xi - xp[ji]).astype(np.float64) + lo
        before, after = miss[j < 0], miss[j >= len(xp) - 1]
        cols[np.ix_(members, before)] = fp[:, :1] if extrapolate else np.nan
        cols[np.ix_(members, after)] = fp[:, -1:] if extrapolate else np.nan


def interpolate_nans(x: NDArray[np.floating], extrapolate: bool = True) -> NDArray[np.float64]:
    """Linear interpolation of NaNs along axis 0, each column on its own; edges hold the nearest value."""
    cols = _channels(x)
    _interpolate_rows(cols, extrapolate)
    return _unchannel(cols, np.shape(x))


def _fill_gaps_rows(cols: NDArray[np.float64], max_gap: int) -> None:
    """In place: `fill_gaps` along each row of a (C, T) array."""
    missing = np.isnan(cols)
    if not missing.any():
        return
    _interpolate_rows(cols, extrapolate=False)
    cols[missing & (_run_lengths_rows(missing) > max_gap)] = np.nan


def fill_gaps(x: NDArray[np.floating], max_gap: int) -> NDArray[np.float64]:
    """Fill interior NaN runs of at most `max_gap` samples linearly; longer runs and edges stay NaN."""
    cols = _channels(x)
    _fill_gaps_rows(cols, max_gap)
    return _unchannel(cols, np.shape(x))


def _lowpass_rows(cols: NDArray[np.float64], fs: float, cutoff_hz: float, order: int) -> NDArray[np.float64]:
    """`lowpass` along each row of a (C, T) array; may return `cols` itself (modified) or a new array."""
    if cutoff_hz >= fs / 2:
        return cols
    sos = butter(order, cutoff_hz, btype="low", output="sos", fs=fs)
    padlen = 3 * (2 * len(sos) + 1)
    missing = np.isnan(cols)
    if cols.shape[1] <= padlen or cols.shape[0] == 0:
        return cols
    if not missing.any():        # the usual case: one filter call, no interpolation or NaN bookkeeping
        return sosfiltfilt(sos, cols, axis=-1)
    if missing.all():
        return cols
    _interpolate_rows(cols, extrapolate=True)
    # rows with no data at all stay NaN through interpolation; filter the rest
    seen = ~np.isnan(cols).any(axis=1)
    cols[seen] = sosfiltfilt(sos, cols[seen], axis=-1)
    cols[missing] = np.nan
    return cols


def lowpass(x: NDArray[np.floating], fs: float, cutoff_hz: float, order: int = 2) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass along axis 0, NaNs kept where they were.

    `sosfiltfilt` runs the filter forward and back, which doubles the effective order and squares
    the gain: at `cutoff_hz` the amplitude is 0.5 (-6 dB), not 1/sqrt(2).
    """
    return _unchannel(_lowpass_rows(_channels(x), fs, cutoff_hz, order), np.shape(x))


def _all_nan_rows(x: NDArray[np.floating]) -> NDArray[np.bool_]:
    """(T,) True where every value of the frame is NaN. Column by column: numpy's boolean reductions
    over a short last axis cost ~40 ns a row, 10x this."""
    missing = np.isnan(_as_2d(x))
    out = np.ones(len(missing), bool)
    for c in range(missing.shape[1]):            # a few columns
        out &= missing[:, c]
    return out


# swap_states: the weight of the links that skip a frame, and the cost of an exchange in units of
# log(1 / ratio). (1 + weight): a one-frame swap whose links all agree is undone when crossing fits
# `ratio` times better, as with the old one-link rule; a lasting exchange, which three links see,
# from ratio ** 0.75 (0.59 for 0.5).
_SKIP_WEIGHT = 0.5
_EXCHANGE_COST = 1.0 + _SKIP_WEIGHT


def _point_dist(p: NDArray[np.floating], q: NDArray[np.floating]) -> NDArray[np.float64]:
    """(T, K, D) x 2 -> (T,) summed Euclidean distances of the K points; NaN points count 0."""
    d = p - q
    sq = d[..., 0] * d[..., 0]
    for k in range(1, d.shape[-1]):          # the Euclidean norm over D (2): as np.linalg.norm, ~5x faster
        sq += d[..., k] * d[..., k]
    return np.nansum(np.sqrt(sq), axis=-1)


_Mat = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def _minplus(x: _Mat, y: _Mat) -> _Mat:
    """Min-plus products of batches of 2x2 matrices, each held as its 4 entries (00, 01, 10, 11):
    out[r, c] = min_k x[r, k] + y[k, c]. Entry arrays rather than (n, 2, 2): 10x faster."""
    x00, x01, x10, x11 = x
    y00, y01, y10, y11 = y
    return (np.minimum(x00 + y00, x01 + y10), np.minimum(x00 + y01, x01 + y11),
            np.minimum(x10 + y00, x11 + y10), np.minimum(x10 + y01, x11 + y11))


def _min_cost_switches(m: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Argmin over x of sum_i m[i, x[i-1], x[i]] (x[-1] = 0) for (n, 2, 2) costs m, exactly.

    Viterbi as two associative scans instead of a loop over frames: prefix and suffix min-plus
    products (Hillis-Steele, log2(n) whole-array passes) give each step's min-marginals.
    """
    n = len(m)
    fwd = tuple(np.ascontiguousarray(m[:, r, c]) for r in (0, 1) for c in (0, 1))
    bwd = tuple(e.copy() for e in fwd)
    d = 1
    while d < n:
        # fwd[i] = m[0] ... m[i] and bwd[i] = m[i] ... m[n-1], from the products of spans d
        new_fwd = _minplus(tuple(e[:-d] for e in fwd), tuple(e[d:] for e in fwd))
        new_bwd = _minplus(tuple(e[:-d] for e in bwd), tuple(e[d:] for e in bwd))
        for e, v in zip(fwd, new_fwd):
            e[d:] = v
        for e, v in zip(bwd, new_bwd):
            e[:-d] = v
        d *= 2
    # the best cost with x[i] = s: the prefix ending in s (x[-1] = 0: row 0), then the best suffix from s
    after0 = np.append(np.minimum(bwd[0][1:], bwd[1][1:]), 0.0)
    after1 = np.append(np.minimum(bwd[2][1:], bwd[3][1:]), 0.0)
    return fwd[1] + after1 < fwd[0] + after0


def swap_states(a: NDArray[np.floating], b: NDArray[np.floating], ratio: float = 0.5,
                min_jump: float = 0.0) -> NDArray[np.bool_]:
    """(T,) True for frames whose `a`/`b` labels are exchanged relative to the clip's majority.

    `a`, `b`: (T, K, D) points of the left and right members; frames where either is missing keep
    the state of the last seen frame. The labelling chosen is the most plausible motion over the
    whole clip: each seen frame is linked to the previous seen frame and, with half the weight, to
    the one before; a link costs log(distance moved + `min_jump`) in the labelling chosen, and each
    exchange costs 1.5 log(1 / `ratio`) (see `_EXCHANGE_COST`). Solved exactly (`_min_cost_switches`).

    Why the skipping links: with links to the previous frame only, each exchange was judged on one
    pair of frames and toggled a state, so one missed exchange (the swap-back of a one-frame swap
    blurred by fast motion, or a gradual one) inverted the rest of the clip. A frame is now also
    tied to the frames on both sides of its neighbour, so a one-frame swap or glitch is bridged.
    `min_jump` keeps sub-noise motion from deciding: ratios of small distances tend to 1.
    Left/right ambiguity remains where a member passes the other (positions alone cannot tell).
    """
    t = len(a)
    seen = ~_all_nan_rows(a) & ~_all_nan_rows(b)
    rows = np.flatnonzero(seen)
    n = len(rows)
    if n < 2:
        return np.zeros(t, bool)
    if n < t:                                    # only the seen frames are linked
        a, b = a[rows], b[rows]
    floor = max(float(min_jump), 1e-9)           # > 0: exact repeats must not give log(0)

    def costs(lag: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """log-costs of the links (i - lag, i), i >= lag, keeping and crossing the labels."""
        pa, pb, ca, cb = a[:-lag], b[:-lag], a[lag:], b[lag:]
        keep = np.log(_point_dist(ca, pa) + _point_dist(cb, pb) + floor)
        cross = np.log(_point_dist(ca, pb) + _point_dist(cb, pa) + floor)
        return keep, cross

    # x[i] = the labels exchange between seen frames i and i+1. m[i, x[i-1], x[i]] = the cost of
    # that step: link 1 depends on x[i], link 2 (frames i-1 -> i+1) on x[i-1] ^ x[i].
    keep1, cross1 = costs(1)
    m = np.empty((n - 1, 2, 2))
    m[:, :, 0] = keep1[:, None]
    m[:, :, 1] = (cross1 - _EXCHANGE_COST * np.log(ratio))[:, None]
    if n > 2:
        keep2, cross2 = costs(2)
        m[1:, 0, 0] += _SKIP_WEIGHT * keep2
        m[1:, 1, 1] += _SKIP_WEIGHT * keep2
        m[1:, 0, 1] += _SKIP_WEIGHT * cross2
        m[1:, 1, 0] += _SKIP_WEIGHT * cross2
    if (m >= m[:, :1, :1]).all():                # every step cheapest unexchanged: so is the clip (exact)
        return np.zeros(t, bool)
    x = _min_cost_switches(m)
    state_seen = np.concatenate([[False], np.cumsum(x) % 2 == 1])
    state = state_seen[np.maximum.accumulate(np.where(seen, np.cumsum(seen) - 1, 0))]
    if state_seen.sum() > n - state_seen.sum():   # the majority of the seen frames is correct
        state = ~state
    return state


def _swap_fixes(seq: PoseSequence) -> list[tuple[NDArray[np.int64], list[int], list[int]]]:
    """(frames, left landmarks, right landmarks) to exchange: the legs and the arms, detected separately."""
    scale = _body_scale(seq)
    fixes = []
    for pairs in (LEG_PAIRS, ARM_PAIRS):
        left = [p[0] for p in pairs]
        right = [p[1] for p in pairs]
        swapped = swap_states(seq.image_xy[:, left], seq.image_xy[:, right], min_jump=0.05 * scale)
        if swapped.any():
            fixes.append((np.flatnonzero(swapped), left, right))
    return fixes


def fix_left_right_swaps(seq: PoseSequence) -> PoseSequence:
    """Undo MediaPipe's left/right label exchanges of the legs and of the arms, separately."""
    fixes = _swap_fixes(seq)
    if not fixes:                                # nothing to undo: no copies
        return seq
    arrays = {k: v.copy() for k, v in seq.arrays().items() if k != "time_s"}
    for rows, left, right in fixes:
        for arr in arrays.values():
            lv = arr[np.ix_(rows, left)].copy()
            arr[np.ix_(rows, left)] = arr[np.ix_(rows, right)]
            arr[np.ix_(rows, right)] = lv
    return seq.with_arrays(**arrays)


def _swap_rows(cols: NDArray[np.float64], fixes: list[tuple[NDArray[np.int64], list[int], list[int]]],
               per_landmark: list[int]) -> None:
    """In place: `fix_left_right_swaps` on the (C, T) rows of landmark arrays stacked with
    `per_landmark` values each (e.g. [2, 1, 3] for image_xy, image_z, world_xyz)."""
    offsets = np.cumsum([0] + [NUM_LANDMARKS * k for k in per_landmark[:-1]])
    for frames, left, right in fixes:
        for off, k in zip(offsets, per_landmark):
            for a, b in zip(left, right):
                for d in range(k):               # a few rows; each exchange is vectorized over frames
                    ra, rb = off + a * k + d, off + b * k + d
                    cols[ra, frames], cols[rb, frames] = cols[rb, frames], cols[ra, frames]


def _body_scale(seq: PoseSequence) -> float:
    """Median shoulder-to-ankle height in pixels (a scale for thresholds)."""
    xy = seq.image_xy
    top = nanmean_quiet(xy[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 1], axis=1)
    bottom = nanmean_quiet(xy[:, [L.LEFT_ANKLE, L.RIGHT_ANKLE], 1], axis=1)
    h = np.abs(bottom - top)
    return float(np.nanmedian(h)) if np.isfinite(h).any() else float(seq.height) / 2


def clean(seq: PoseSequence, cutoff_hz: float, max_gap_s: float = 0.25) -> PoseSequence:
    """Swaps undone, gaps up to `max_gap_s` filled, then low-passed at `cutoff_hz` (zero phase)."""
    fixes = _swap_fixes(seq)
    max_gap = max(1, int(round(max_gap_s * seq.fps)))
    t = len(seq)
    # the coordinates as the rows of one (198, T) array: one swap repair, gap fill and filter call for
    # all (the swaps are undone on this copy rather than on copies of the inputs)
    coords = {"image_xy": seq.image_xy, "image_z": seq.image_z, "world_xyz": seq.world_xyz}
    cols = np.concatenate([_as_2d(a).T for a in coords.values()], axis=0, dtype=np.float64)
    _swap_rows(cols, fixes, [2, 1, 3])
    _fill_gaps_rows(cols, max_gap)
    cols = _lowpass_rows(cols, seq.fps, cutoff_hz, order=2)
    out, at = {}, 0
    for name, a in coords.items():
        width = _as_2d(a).shape[1]
        out[name] = _unchannel(cols[at:at + width], a.shape, np.float32)
        at += width
    scores = np.concatenate([seq.visibility.T, seq.presence.T], axis=0, dtype=np.float64)
    _swap_rows(scores, fixes, [1, 1])
    _fill_gaps_rows(scores, max_gap)
    scores = np.nan_to_num(scores, copy=False)
    n = seq.visibility.shape[1]
    return seq.with_arrays(**out, visibility=_unchannel(scores[:n], (t, n), np.float32),
                           presence=_unchannel(scores[n:], (t, n), np.float32))
