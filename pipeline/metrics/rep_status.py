"""Which repetitions count: a rep is counted only when it was seen whole; the others are listed
apart with the reason (docs/metrics/weightlifting.md, "Reps that count").

- `lost_tracking`: the athlete was not seen (or not plausibly) in `LOST_SHARE` of the rep's frames,
  so its shape is the gap filler's, not the lift's;
- `cut_off`: the clip or the shot (a cut, a cross-fade) ends before the rep is over (a squat that
  has not stood back up, a pull that has not reached and held lockout for `LOCKOUT_HOLD_S`), or
  starts when it is already under way;
- `partial_range`: the rep covered less than `PARTIAL_SHARE` of the range of motion of the set's
  other reps (a half rep, a re-grip, a step).

Loops run over the reps (a handful), never over frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.reps import Excursion, Rest

LOST_SHARE = 0.3
LOCKOUT_HOLD_S = 0.2
PARTIAL_SHARE = 0.6
REASONS = ("lost_tracking", "cut_off", "partial_range")


def rep_reasons(reps: Sequence[Excursion], segment: Sequence[tuple[int, int]], rest: Rest, t: NDArray[np.float64],
                seen: NDArray[np.bool_]) -> list[str | None]:
    """None for a rep that counts, else the first reason (in `REASONS` order) it does not.

    `segment[i]`: the first and last frame of the shot rep i is in; `seen`: (T,) frames where the
    pose is the athlete's (detected and plausible)."""
    unseen = np.concatenate([[0], np.cumsum(~seen)])
    out: list[str | None] = []
    for ex, (first, last) in zip(reps, segment):
        stop = ex.end_frame if ex.end_frame is not None else last
        share = (unseen[stop + 1] - unseen[ex.start_frame]) / max(1, stop + 1 - ex.start_frame)
        if share >= LOST_SHARE:
            out.append("lost_tracking")
        elif ex.start_frame <= first + 1 or (not ex.returned and (rest == "high" or t[last] - ex.arrive_s < LOCKOUT_HOLD_S)):
            out.append("cut_off")
        else:
            out.append(None)
    amplitude = np.array([ex.amplitude for ex in reps])
    whole = np.array([r is None for r in out])
    for i in np.flatnonzero(whole):
        others = whole.copy()
        others[i] = False
        if others.any() and amplitude[i] < PARTIAL_SHARE * np.median(amplitude[others]):
            out[i] = "partial_range"
    return out
