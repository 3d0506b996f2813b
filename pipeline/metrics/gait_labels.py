"""Leg-label swaps the cleaner cannot see, undone with the one thing a gait guarantees: left and
right foot strikes alternate.

Conventions: the first axis is time, NaN = missing; image y points down.

Seen from the side the legs pass each other twice a stride, and there a pose model may carry on with
the labels exchanged (`pose.cleaning.swap_states` undoes exchanges that make the landmarks jump; one
made while the legs overlap does not). From then on every foot has the other's name, so the
strikes come as R -> R and L -> L, and the foot planted while it happened changes its name in the
middle of its stance. Both leave a mark on the contacts found with the labels as they are:

- a *handover*: one side's contact ends and the other side's begins within `HANDOVER_GAP_S`, on the
  same footprint (the same foot, still on the ground): the exchange is between the two;
- two strikes of one side a single step apart (`SAME_SIDE_STEP` of the local step time; a missed
  strike leaves two steps): the exchange is where the ankles cross between them.

Each exchange toggles the labelling; the frames in the minority labelling are the swapped ones
(as in `swap_states`) and get their left and right landmarks exchanged back, after which the
contacts are found again.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.gait_events import Contacts, ground_velocity, leg_length_px
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.landmarks import MIRROR_PERMUTATION
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]

HANDOVER_GAP_S = 0.17       # one side's contact ends and the other's begins within this ...
HANDOVER_FOOTPRINT = 0.3    # ... with the toe this close on the ground (leg lengths): one foot, renamed
SAME_SIDE_STEP = (0.6, 1.5)  # two strikes of one side this many local step times apart: a swap between


def _footprints(seq: PoseSequence) -> tuple[FloatArray, FloatArray]:
    """(T,) toe position along the ground of the left and right foot (leg lengths), as in gait_events."""
    xy = seq.image_xy.astype(np.float64)
    leg_px = leg_length_px(xy)
    t = seq.time_s
    feet = [L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX]
    g = ground_velocity(np.gradient(xy[:, feet, 0], t, axis=0).ravel() / leg_px) if len(t) > 2 else 0.0
    return (xy[:, L.LEFT_FOOT_INDEX, 0] / leg_px - g * t, xy[:, L.RIGHT_FOOT_INDEX, 0] / leg_px - g * t)


def handovers(seq: PoseSequence, contacts: Contacts) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(frames where the labels exchange, index of the contact that continues another foot's stance)."""
    if len(contacts) < 2 or len(seq) < 3:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    fp = np.stack(_footprints(seq), axis=1)                       # (T, 2)
    gap = max(1, int(round(HANDOVER_GAP_S * seq.fps)))
    # for each contact, the first contact of the other side starting at or after its last frame
    frames, cont = [], []
    for s in (0, 1):
        mine = np.flatnonzero(contacts.side == s)
        other = np.flatnonzero(contacts.side != s)
        if len(mine) == 0 or len(other) == 0:
            continue
        o_first = contacts.first[other]
        order = np.argsort(o_first)
        k = np.searchsorted(o_first[order], contacts.last[mine])
        ok = k < len(other)
        j = other[order[np.minimum(k, len(other) - 1)]]
        near = ok & (contacts.first[j] - contacts.last[mine] <= gap)
        with np.errstate(invalid="ignore"):
            same = np.abs(fp[contacts.last[mine], s] - fp[contacts.first[j], 1 - s]) <= HANDOVER_FOOTPRINT
        hit = near & same
        frames.append((contacts.last[mine][hit] + contacts.first[j][hit] + 1) // 2)
        cont.append(j[hit])
    if not frames:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(frames).astype(np.int64), np.concatenate(cont).astype(np.int64)


def same_side_swaps(seq: PoseSequence, contacts: Contacts, skip: NDArray[np.int64], step_s: float) -> NDArray[np.int64]:
    """Frames where the ankles cross between two strikes of one side a single step apart."""
    keep = np.isfinite(contacts.foot_strike_s)
    keep[skip] = False
    idx = np.flatnonzero(keep)
    if len(idx) < 2 or not np.isfinite(step_s):
        return np.zeros(0, np.int64)
    idx = idx[np.argsort(contacts.foot_strike_s[idx])]
    fs, side, first = contacts.foot_strike_s[idx], contacts.side[idx], contacts.first[idx]
    gap = np.diff(fs)
    pairs = np.flatnonzero((side[1:] == side[:-1]) & (gap >= SAME_SIDE_STEP[0] * step_s)
                           & (gap <= SAME_SIDE_STEP[1] * step_s))
    xy = seq.image_xy
    sep = np.abs(xy[:, L.LEFT_ANKLE, 0] - xy[:, L.RIGHT_ANKLE, 0]).astype(np.float64)
    out = []
    for p in pairs.tolist():                      # a few pairs: where the ankles are closest between them
        a, b = int(first[p]), int(first[p + 1])
        seg = sep[a:b + 1]
        out.append(a + int(np.nanargmin(seg)) if np.isfinite(seg).any() else (a + b) // 2)
    return np.asarray(out, np.int64)


def _toggled(n: int, at: NDArray[np.int64]) -> NDArray[np.bool_]:
    toggles = np.zeros(n, np.int64)
    np.add.at(toggles, np.clip(at, 0, n - 1), 1)
    return np.cumsum(toggles) % 2 == 1


def swapped_frames(seq: PoseSequence, contacts: Contacts, step_s: float) -> NDArray[np.bool_]:
    """(T,) True where the leg labels are exchanged relative to the clip's majority labelling.

    Handovers first; the strikes renamed by them are then checked for two of one side in a row."""
    n = len(seq)
    at, continued = handovers(seq, contacts)
    state = _toggled(n, at)
    renamed = Contacts(contacts.side ^ state[contacts.first].astype(np.int64), contacts.foot_strike_s,
                       contacts.toe_off_s, contacts.first, contacts.last)
    at = np.concatenate([at, same_side_swaps(seq, renamed, continued, step_s)])
    if len(at) == 0:
        return np.zeros(n, bool)
    state = _toggled(n, at)
    seen = seq.detected
    if state[seen].sum() > (~state[seen]).sum():
        state = ~state
    return state


def exchange_legs(seq: PoseSequence, frames: NDArray[np.bool_]) -> PoseSequence:
    """The sequence with every left and right landmark exchanged in `frames` (positions kept)."""
    if not frames.any():
        return seq
    perm = list(MIRROR_PERMUTATION)
    arrays = {}
    for name, arr in seq.arrays().items():
        if name == "time_s":
            continue
        out = arr.copy()
        out[frames] = arr[frames][:, perm]
        arrays[name] = out
    return seq.with_arrays(**arrays)


def exchange_angles(angles: dict[str, np.ndarray], frames: NDArray[np.bool_]) -> dict[str, np.ndarray]:
    """Per-side angles (`left_*` / `right_*`) exchanged in `frames`, the others as they are."""
    if not frames.any():
        return angles
    out = dict(angles)
    for key in angles:
        if key.startswith("left_") and "right_" + key[5:] in angles:
            lv, rv = np.asarray(angles[key]).copy(), np.asarray(angles["right_" + key[5:]]).copy()
            lv[frames], rv[frames] = angles["right_" + key[5:]][frames], angles[key][frames]
            out[key], out["right_" + key[5:]] = lv, rv
    return out
