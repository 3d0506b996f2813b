"""What real footage does to a side-view gait, applied to a synthetic one (tests/support/gait.py)
whose events stay known: the pose model exchanging the legs' names for a stretch, a zoom, a
portrait frame. Resampling to 24/25 fps is `synth_gait(fps=...)` (events are exact, not frames).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import MIRROR_PERMUTATION, Landmark as L
from pipeline.pose.sequence import PoseSequence


def leg_crossings(seq: PoseSequence) -> NDArray[np.float64]:
    """Times at which the ankles pass each other in image x (where a pose model confuses the legs)."""
    d = (seq.image_xy[:, L.LEFT_ANKLE, 0] - seq.image_xy[:, L.RIGHT_ANKLE, 0]).astype(np.float64)
    i = np.flatnonzero(np.sign(d[1:]) * np.sign(d[:-1]) < 0)
    t = seq.time_s
    return t[i] + (t[i + 1] - t[i]) * d[i] / (d[i] - d[i + 1])


def swap_leg_labels(seq: PoseSequence, start_s: float, stop_s: float, ramp_s: float = 0.08) -> PoseSequence:
    """Left and right names exchanged from `start_s` to `stop_s`, blended over `ramp_s` at each end
    as a pose model drifts from one leg to the other where they overlap: no landmark jumps, so the
    cleaner's continuity check does not see it (an abrupt exchange it undoes)."""
    t = seq.time_s
    a = np.clip((t - (start_s - ramp_s / 2)) / ramp_s, 0, 1) * np.clip(((stop_s + ramp_s / 2) - t) / ramp_s, 0, 1)
    perm = list(MIRROR_PERMUTATION)
    xy = seq.image_xy.astype(np.float64)
    out = (1 - a)[:, None, None] * xy + a[:, None, None] * xy[:, perm]
    return seq.with_arrays(image_xy=out.astype(np.float32))


def zoom(seq: PoseSequence, start: float, stop: float) -> PoseSequence:
    """The camera zooming in steadily from `start` to `stop` (about the image centre)."""
    z = np.linspace(start, stop, len(seq))[:, None, None]
    c = np.array([seq.width / 2, seq.height / 2])
    xy = (seq.image_xy.astype(np.float64) - c) * z + c
    return seq.with_arrays(image_xy=xy.astype(np.float32))
