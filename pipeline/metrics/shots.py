"""Shot boundaries: where a user's video cuts or cross-fades to another scene, so that every shot is
analysed as its own segment and no event, rep or step spans a boundary.

Conventions: the first axis is time, NaN = missing. Pure NumPy / pandas on whole arrays.

Two signals, either enough for a cut:

- the image (`PoseSequence.frame_diff`, how much the typical pixel of a 32x18 grey thumbnail changed
  since the previous frame, measured while posing; local motion leaves it near 0): a *cut* is one
  frame whose change is `CUT_RATIO`
  times the largest change of its neighbours on either side (so a camera shake, a strobe of
  duplicated frames or a pan, whose changes come in runs, are not cuts) and at least `CUT_MIN`
  grey levels. A *cross-fade* blends two scenes a little more each frame: a run of `FADE_MIN_S` or
  more whose (rolling-median) change stands `FADE_RATIO` times above the clip's usual change and is
  even (each frame's change close to the previous one's, `FADE_EVEN`; motion is uneven). A pan
  or a walk towards the camera can do that too, so a fade counts only when the athlete's pose
  changes with it: lost for a good share of the run, or somewhere else after it.
- the landmarks: every landmark moving at once (`JUMP_QUANTILE` of them more than `JUMP_SHARE` of
  the body's height between consecutive seen frames) is the pose jumping to another scene or
  another person; nobody moves a whole body that far in a frame. A pose that comes back within
  `JUMP_RETURN_S` was a glitch (the model collapsing onto a plate, someone crossing), not a cut;
  and where the image change was measured, a jump without a step in the picture at the same frame
  (`JUMP_IMAGE_MIN`, `JUMP_IMAGE_RATIO`) is the pose model switching people, not the video
  switching scenes (the backlit demo's sun flare flickers by 8 grey levels: no step).

A cut ends one segment at the frame before it; a fade's frames belong to no segment (the scene in
them is half one, half the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CUT_MIN = 10.0             # grey levels (0-255) of thumbnail change: below this nothing is a cut
CUT_RATIO = 3.0            # ... and this many times the largest change among its neighbours
CUT_NEIGHBOURS_S = 0.25    # neighbours on each side a cut is compared with
FADE_MIN = 1.0             # grey levels per frame: a fade changes the image at least this much ...
FADE_RATIO = 2.0           # ... and this many times the clip's median change
FADE_SMOOTH_S = 0.2        # rolling median that turns the image change into runs (spikes and strobes out)
FADE_MIN_S = 0.2           # fades shorter than this are cuts, or motion
FADE_EVEN = 0.25           # ... each frame's change within this share of the previous one's (median)
FADE_MAX_S = 4.0           # longer elevated runs are camera motion, not a transition
FADE_LOST_SHARE = 0.3      # a fade loses the athlete in at least this share of its frames, or ...
FADE_MOVED_SHARE = 0.25    # ... finds him this many body heights away after it
JUMP_SHARE = 0.3           # body heights every landmark moves between two seen frames at a jump ...
JUMP_QUANTILE = 0.2        # ... "every": this quantile of the 33 landmarks' displacements
JUMP_IMAGE_MIN = 3.0       # grey levels of the typical pixel's change a jump needs, when it was measured ...
JUMP_IMAGE_RATIO = 2.0     # ... and this many times its neighbours' (a step, not a flickering scene)
JUMP_RETURN_S = 0.5        # a pose back where it was within this after a jump was a glitch
JUMP_GAP_SPEED = 1.0       # body heights per second allowed on top across undetected frames


@dataclass(frozen=True)
class Shots:
    """Segments of the clip, as inclusive frame ranges in time order, and what ends each one."""

    first: IntArray
    last: IntArray
    ends_with: tuple[str, ...]          # "cut", "fade" or "end" (the clip's end)

    def __len__(self) -> int:
        return len(self.first)

    @classmethod
    def whole(cls, n_frames: int) -> "Shots":
        if n_frames == 0:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), ())
        return cls(np.array([0]), np.array([n_frames - 1]), ("end",))

    def segment_of(self, frames: NDArray[np.integer]) -> IntArray:
        """Segment index of each frame (-1 inside a fade or out of range)."""
        f = np.asarray(frames, dtype=np.int64)
        k = np.searchsorted(self.first, f, side="right") - 1
        inside = (k >= 0) & (f <= self.last[np.maximum(k, 0)]) if len(self) else np.zeros(len(f), bool)
        return np.where(inside, k, -1)

    def segment_at(self, t: FloatArray, times: FloatArray) -> IntArray:
        """Segment index at each time (nearest earlier frame; -1 for NaN, inside a fade or out of range)."""
        times = np.asarray(times, dtype=np.float64)
        ok = np.isfinite(times)
        frames = np.searchsorted(t, np.where(ok, times, 0.0) + 1e-9, side="right") - 1
        return np.where(ok & (frames >= 0), self.segment_of(np.maximum(frames, 0)), -1)

    def as_dicts(self, t: FloatArray) -> list[dict[str, Any]]:
        """The manifest's `segments` (docs/manifest.md)."""
        return [{"index": k, "first_frame": int(a), "last_frame": int(b), "start_s": round(float(t[a]), 4),
                 "end_s": round(float(t[b]), 4), "ends_with": e}
                for k, (a, b, e) in enumerate(zip(self.first.tolist(), self.last.tolist(), self.ends_with))]


def _neighbour_max(x: FloatArray, w: int) -> FloatArray:
    """Largest value among the `w` frames before and among the `w` after each frame (NaN-safe)."""
    s = pd.Series(np.nan_to_num(x, nan=0.0))
    before = s.shift(1).rolling(w, min_periods=1).max().to_numpy()
    after = s[::-1].shift(1).rolling(w, min_periods=1).max().to_numpy()[::-1]
    return np.fmax(np.nan_to_num(before), np.nan_to_num(after))


def _runs(mask: NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def body_height_px(seq: PoseSequence) -> float:
    """Median height of the landmarks' bounding box over the seen frames (NaN if never seen)."""
    y = seq.image_xy[..., 1].astype(np.float64)
    seen = np.isfinite(y).any(axis=1)
    if not seen.any():
        return float("nan")
    return float(np.median(np.nanmax(y[seen], axis=1) - np.nanmin(y[seen], axis=1)))


def _dist(p: FloatArray, q: FloatArray) -> FloatArray:
    """Per-landmark distance of two (..., 33, 2) arrays (np.hypot: ~5x faster than np.linalg.norm)."""
    d = p - q
    return np.hypot(d[..., 0], d[..., 1])


def _low_quantile(d: FloatArray) -> FloatArray:
    """(n, 33) landmark displacements -> (n,) their `JUMP_QUANTILE` ("all of them moved at least";
    the lower order statistic, no interpolation), NaN for rows with none seen. A sort, not
    np.nanquantile, which loops over rows."""
    if len(d) == 0:
        return np.zeros(0)
    srt = np.sort(d, axis=1)                                  # NaN last
    count = np.isfinite(d).sum(axis=1)
    k = np.floor(JUMP_QUANTILE * np.maximum(count - 1, 0)).astype(np.int64)
    out = np.take_along_axis(srt, k[:, None], axis=1)[:, 0]
    return np.where(count > 0, out, np.nan)


def landmark_jumps(seq: PoseSequence) -> IntArray:
    """Frames at which every landmark jumps at once from the previous seen frame (a new scene or
    person). Across undetected frames the athlete may have moved: `JUMP_GAP_SPEED` body heights per
    second of gap are allowed on top."""
    xy = seq.image_xy.astype(np.float64)
    seen = np.flatnonzero(np.isfinite(xy[..., 0]).any(axis=1))
    h = body_height_px(seq)
    if len(seen) < 2 or not np.isfinite(h) or h <= 0:
        return np.zeros(0, np.int64)
    a, b = seen[:-1], seen[1:]
    all_moved = _low_quantile(_dist(xy[b], xy[a])) / h
    gap_s = seq.time_s[b] - seq.time_s[a] - 1.0 / seq.fps
    with np.errstate(invalid="ignore"):
        jump = np.flatnonzero(all_moved > JUMP_SHARE + JUMP_GAP_SPEED * np.maximum(gap_s, 0.0))
    # a glitch (the pose collapsing onto a plate, another person crossing) comes back: not a new shot
    back = max(1, int(round(JUMP_RETURN_S * seq.fps)))
    keep = []
    for k in jump.tolist():                                   # a handful of candidates
        # back where it was soon after, or back to where it was just before (the glitch's end)
        after = seen[(seen > b[k]) & (seen <= b[k] + back)]
        before = seen[(seen < a[k]) & (seen >= a[k] - back)]
        again = np.concatenate([_low_quantile(_dist(xy[after], xy[a[k]])),
                                _low_quantile(_dist(xy[before], xy[b[k]]))]) / h
        with np.errstate(invalid="ignore"):
            if not (again <= JUMP_SHARE / 2).any():
                keep.append(k)
    return b[np.asarray(keep, np.int64)]


def image_cuts(diff: FloatArray, fps: float) -> IntArray:
    """Frames that differ from the previous one far more than any of their neighbours do."""
    w = max(1, int(round(CUT_NEIGHBOURS_S * fps)))
    with np.errstate(invalid="ignore"):
        cut = (diff >= CUT_MIN) & (diff > CUT_RATIO * _neighbour_max(diff, w))
    return np.flatnonzero(cut)


def image_fades(diff: FloatArray, fps: float) -> tuple[IntArray, IntArray]:
    """First and last frame of each run of sustained image change (fade candidates)."""
    if not np.isfinite(diff).any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w = max(3, int(round(FADE_SMOOTH_S * fps)) | 1)
    smooth = pd.Series(diff).rolling(w, center=True, min_periods=1).median().to_numpy()
    base = float(np.nanmedian(diff))
    with np.errstate(invalid="ignore"):
        first, last = _runs(smooth > max(FADE_MIN, FADE_RATIO * base))
    n = (last - first + 1) / fps
    # a blend changes each frame by about as much as the one before; motion (and duplicated frames)
    # is uneven. A few runs: a loop over them.
    even = np.array([np.median(np.abs(np.diff(np.nan_to_num(diff[a:b + 1])))) <= FADE_EVEN * np.median(
        np.nan_to_num(diff[a:b + 1])) if b > a else False for a, b in zip(first, last)], dtype=bool)
    keep = (n >= FADE_MIN_S) & (n <= FADE_MAX_S) & even
    return first[keep], last[keep]


def _pose_changes(seq: PoseSequence, first: IntArray, last: IntArray, h: float) -> NDArray[np.bool_]:
    """Whether the athlete is lost in much of each run, or found elsewhere after it."""
    det = seq.detected
    cum = np.concatenate([[0], np.cumsum(~det)])
    lost = (cum[last + 1] - cum[first]) / (last - first + 1) >= FADE_LOST_SHARE
    seen = np.flatnonzero(det)
    out = lost.copy()
    if len(seen) == 0 or not np.isfinite(h):
        return out | ~det.any()
    xy = seq.image_xy.astype(np.float64)
    i_before = np.searchsorted(seen, first) - 1
    i_after = np.searchsorted(seen, last, side="right")
    has = (i_before >= 0) & (i_after < len(seen))
    b = seen[np.clip(i_before, 0, len(seen) - 1)]
    a = seen[np.clip(i_after, 0, len(seen) - 1)]
    moved = _low_quantile(_dist(xy[a], xy[b])) / h
    with np.errstate(invalid="ignore"):
        return out | ~has | (has & (moved > FADE_MOVED_SHARE))


def detect_shots(seq: PoseSequence) -> Shots:
    """The clip's shots (segments) from the image change (when posing measured it) and the landmarks."""
    n = len(seq)
    if n == 0:
        return Shots.whole(0)
    jumps = landmark_jumps(seq)
    cuts = [jumps]
    fade_first, fade_last = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if seq.frame_diff is not None:
        diff = seq.frame_diff.astype(np.float64)
        # with the image at hand, a landmark jump is a cut only where the picture changed at once too
        # (a lower bar than an image cut alone): a person moving, a pose glitch or the sun flaring
        # in a backlit clip leave no such step
        step = np.nan_to_num(diff)
        with np.errstate(invalid="ignore"):
            spike = (step >= JUMP_IMAGE_MIN) & (step >= JUMP_IMAGE_RATIO * _neighbour_max(diff, max(
                1, int(round(CUT_NEIGHBOURS_S * seq.fps)))))
        cuts = [jumps[spike[jumps] | spike[np.maximum(jumps - 1, 0)]]]
        cuts.append(image_cuts(diff, seq.fps))
        f0, f1 = image_fades(diff, seq.fps)
        real = _pose_changes(seq, f0, f1, body_height_px(seq)) if len(f0) else np.zeros(0, bool)
        fade_first, fade_last = f0[real], f1[real]
    cut = np.unique(np.concatenate(cuts))
    excluded = np.zeros(n, bool)
    for a, b in zip(fade_first.tolist(), fade_last.tolist()):      # a handful of fades
        excluded[a:b + 1] = True
    cut = cut[(cut > 0) & ~excluded[cut]]
    starts = np.zeros(n, bool)
    starts[cut] = True
    keep = ~excluded
    # a segment starts at a cut, after a fade, or at the first frame
    starts |= keep & np.concatenate([[True], ~keep[:-1]])
    starts &= keep
    first = np.flatnonzero(starts)
    if len(first) == 0:
        return Shots(np.zeros(0, np.int64), np.zeros(0, np.int64), ())
    nxt = np.append(first[1:], n)
    # each segment runs to the frame before the next start, or to the frame before a fade
    excl_cum = np.concatenate([[0], np.cumsum(excluded)])
    last = nxt - 1
    has_fade = excl_cum[nxt] - excl_cum[first] > 0
    fade_start = np.searchsorted(np.flatnonzero(excluded), first)
    fade_frames = np.flatnonzero(excluded)
    last = np.where(has_fade, fade_frames[np.minimum(fade_start, max(len(fade_frames) - 1, 0))] - 1
                    if len(fade_frames) else last, last)
    ends = tuple("fade" if f else ("end" if nx >= n else "cut") for f, nx in zip(has_fade.tolist(), nxt.tolist()))
    return Shots(first.astype(np.int64), last.astype(np.int64), ends)
