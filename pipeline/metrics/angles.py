"""Joint and segment angles of a whole sequence at once, in degrees.

Conventions (Sports2D's, so users can compare): the first axis is time, NaN = missing.
Angles are measured in the image plane after mirroring every frame so that the athlete faces +x
(`facing_sign`: +1 facing right, -1 facing left), with y pointing up. Then:

- knee / elbow flexion: 0° at full extension, positive when bent (unsigned: 0..180);
- hip / shoulder flexion: 0° with the thigh (arm) aligned with the trunk, positive forward,
  negative in extension (behind the trunk line);
- ankle dorsiflexion: the shank-foot angle relative to 90°, positive when the shin tilts over
  the toes, negative in plantarflexion;
- segment angles (foot, shank, thigh, arm, forearm, trunk, pelvis): anticlockwise from the
  horizontal pointing where the athlete faces, in (-180, 180].

Every angle is `atan2(cross, dot)`, which stays accurate near 0° and 180° (unlike `arccos`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class JointAngleDef:
    """Signed angle from vector a->b (`from_`) to vector c->d (`to`), times `sign`, plus `offset_deg`."""

    name: str
    from_: tuple[int, int]
    to: tuple[int, int]
    offset_deg: float = 0.0
    sign: float = 1.0
    unsigned: bool = False


@dataclass(frozen=True)
class SegmentAngleDef:
    """Direction of the vector start->end, anticlockwise from the forward horizontal."""

    name: str
    start: tuple[int, ...]   # several indices = their midpoint
    end: tuple[int, ...]


def _side_defs(side: str) -> tuple[list[JointAngleDef], list[SegmentAngleDef]]:
    p = side.upper() + "_"

    def i(name: str) -> int:
        return L[p + name].value

    sh, el, wr, hip, kn, an, he, toe = (i(n) for n in ("SHOULDER", "ELBOW", "WRIST", "HIP", "KNEE", "ANKLE",
                                                        "HEEL", "FOOT_INDEX"))
    joints = [
        # thigh (hip->knee) against the trunk line continued downwards (shoulder->hip)
        JointAngleDef(f"{side}_hip_flexion", (sh, hip), (hip, kn)),
        JointAngleDef(f"{side}_knee_flexion", (hip, kn), (kn, an), unsigned=True),
        # 90° minus the angle from the foot (heel->toe) to the shank (ankle->knee)
        JointAngleDef(f"{side}_ankle_dorsiflexion", (he, toe), (an, kn), offset_deg=90.0, sign=-1.0),
        JointAngleDef(f"{side}_shoulder_flexion", (sh, hip), (sh, el)),
        JointAngleDef(f"{side}_elbow_flexion", (sh, el), (el, wr), unsigned=True),
    ]
    segments = [
        SegmentAngleDef(f"{side}_foot", (he,), (toe,)),
        SegmentAngleDef(f"{side}_shank", (an,), (kn,)),
        SegmentAngleDef(f"{side}_thigh", (kn,), (hip,)),
        SegmentAngleDef(f"{side}_arm", (sh,), (el,)),
        SegmentAngleDef(f"{side}_forearm", (el,), (wr,)),
    ]
    return joints, segments


_LEFT = _side_defs("left")
_RIGHT = _side_defs("right")
JOINT_ANGLES: tuple[JointAngleDef, ...] = (*_LEFT[0], *_RIGHT[0])
SEGMENT_ANGLES: tuple[SegmentAngleDef, ...] = (
    *_LEFT[1], *_RIGHT[1],
    SegmentAngleDef("trunk", (L.LEFT_HIP, L.RIGHT_HIP), (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)),
    SegmentAngleDef("pelvis", (L.LEFT_HIP,), (L.RIGHT_HIP,)),
)
ANGLE_NAMES: tuple[str, ...] = tuple(d.name for d in (*JOINT_ANGLES, *SEGMENT_ANGLES))


def signed_angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Anticlockwise angle from 2-D vectors `a` to `b` (..., 2), in degrees, in (-180, 180]."""
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    dot = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]
    return np.degrees(np.arctan2(cross, dot))


def canonical_xy(seq: PoseSequence, facing_sign: FloatArray | float) -> FloatArray:
    """(T, 33, 2) image points mirrored to face +x, y up (float64)."""
    xy = seq.image_xy.astype(np.float64)
    sign = np.broadcast_to(np.asarray(facing_sign, dtype=np.float64), (len(seq),))
    return np.stack([xy[..., 0] * sign[:, None], -xy[..., 1]], axis=-1)


def _point(xy: FloatArray, idx: tuple[int, ...]) -> FloatArray:
    return xy[:, list(idx)].mean(axis=1)


def joint_angle(xy: FloatArray, d: JointAngleDef) -> FloatArray:
    a = xy[:, d.from_[1]] - xy[:, d.from_[0]]
    b = xy[:, d.to[1]] - xy[:, d.to[0]]
    ang = signed_angle_deg(a, b)
    if d.unsigned:
        ang = np.abs(ang)
    return d.offset_deg + d.sign * ang


def segment_angle(xy: FloatArray, d: SegmentAngleDef) -> FloatArray:
    v = _point(xy, d.end) - _point(xy, d.start)
    return np.degrees(np.arctan2(v[:, 1], v[:, 0]))


def compute_angles(seq: PoseSequence, facing_sign: FloatArray | float) -> dict[str, FloatArray]:
    """Every angle of `ANGLE_NAMES` as a (T,) float64 array in degrees (NaN where a point is missing).

    The same arithmetic as `joint_angle` / `segment_angle` on `canonical_xy`, on landmark-major
    copies of the coordinates: each landmark's x and y are then contiguous over time and every
    angle is a few whole-array operations, instead of strided ones through (T, 33, 2).
    """
    sign = np.broadcast_to(np.asarray(facing_sign, dtype=np.float64), (len(seq),))
    x = np.ascontiguousarray((seq.image_xy[..., 0] * sign[:, None]).T)     # (33, T) float64, facing +x
    y = np.ascontiguousarray(-seq.image_xy[..., 1].T, dtype=np.float64)      # (33, T) float64, y up

    def point(idx: tuple[int, ...]) -> tuple[FloatArray, FloatArray]:
        if len(idx) == 1:
            return x[idx[0]], y[idx[0]]
        if len(idx) == 2:                        # the mean of two, as `_point`
            return (x[idx[0]] + x[idx[1]]) / 2, (y[idx[0]] + y[idx[1]]) / 2
        return x[list(idx)].mean(axis=0), y[list(idx)].mean(axis=0)

    out = {}
    for d in JOINT_ANGLES:
        ax, ay = x[d.from_[1]] - x[d.from_[0]], y[d.from_[1]] - y[d.from_[0]]
        bx, by = x[d.to[1]] - x[d.to[0]], y[d.to[1]] - y[d.to[0]]
        ang = np.degrees(np.arctan2(ax * by - ay * bx, ax * bx + ay * by))
        if d.unsigned:
            ang = np.abs(ang)
        out[d.name] = d.offset_deg + d.sign * ang
    for s in SEGMENT_ANGLES:
        (ex, ey), (sx, sy) = point(s.end), point(s.start)
        out[s.name] = np.degrees(np.arctan2(ey - sy, ex - sx))
    return out
