"""Angle maths checked against geometry: right angles, straight limbs, NaN, facing direction."""

import numpy as np
import pytest

from pipeline.metrics.angles import compute_angles, signed_angle_deg
from pipeline.metrics.view import detect_view, facing_sign
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence


def standing_figure(n: int = 5, facing: int = 1) -> PoseSequence:
    """A side-view figure in pixels (y down) facing +x (facing=1) or -x, standing straight."""
    seq = PoseSequence.empty(n, width=640, height=960, fps=30.0)
    xy = np.full((n, 33, 2), np.nan, np.float32)
    pts = {
        L.NOSE: (20, 100), L.LEFT_EAR: (0, 110), L.RIGHT_EAR: (0, 110),
        L.LEFT_SHOULDER: (0, 200), L.RIGHT_SHOULDER: (2, 200), L.LEFT_ELBOW: (0, 330), L.RIGHT_ELBOW: (2, 330),
        L.LEFT_WRIST: (0, 450), L.RIGHT_WRIST: (2, 450), L.LEFT_HIP: (0, 500), L.RIGHT_HIP: (2, 500),
        L.LEFT_KNEE: (0, 700), L.RIGHT_KNEE: (2, 700), L.LEFT_ANKLE: (0, 900), L.RIGHT_ANKLE: (2, 900),
        L.LEFT_HEEL: (-20, 920), L.RIGHT_HEEL: (-18, 920), L.LEFT_FOOT_INDEX: (60, 920), L.RIGHT_FOOT_INDEX: (62, 920),
    }
    for i, (x, y) in pts.items():
        xy[:, i] = (320 + facing * x, y)
    return seq.with_arrays(image_xy=xy, visibility=np.ones((n, 33), np.float32))


def test_signed_angle_right_angle_and_straight():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0], [0.0, -1.0], [-1.0, 1e-12]])
    np.testing.assert_allclose(signed_angle_deg(a, b), [90.0, -90.0, 180.0], atol=1e-6)


def test_standing_straight_is_zero_flexion():
    seq = standing_figure()
    ang = compute_angles(seq, facing_sign(seq))
    for name in ("left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "left_elbow_flexion",
                 "left_shoulder_flexion", "left_ankle_dorsiflexion"):
        np.testing.assert_allclose(ang[name], 0.0, atol=1.0, err_msg=name)
    np.testing.assert_allclose(ang["trunk"], 90.0, atol=1.0)
    np.testing.assert_allclose(ang["left_shank"], 90.0, atol=0.5)
    np.testing.assert_allclose(ang["left_foot"], 0.0, atol=0.5)


@pytest.mark.parametrize("facing", [1, -1])
def test_knee_bent_to_right_angle_and_hip_flexed(facing):
    seq = standing_figure(facing=facing)
    xy = seq.image_xy.copy()
    # thigh horizontal forward (hip flexion 90), shank vertical down (knee flexion 90)
    xy[:, L.LEFT_KNEE] = (320 + facing * 200, 500)
    xy[:, L.LEFT_ANKLE] = (320 + facing * 200, 700)
    xy[:, L.LEFT_HEEL] = (320 + facing * 180, 720)
    xy[:, L.LEFT_FOOT_INDEX] = (320 + facing * 260, 720)
    seq = seq.with_arrays(image_xy=xy)
    ang = compute_angles(seq, facing_sign(seq))
    np.testing.assert_allclose(ang["left_knee_flexion"], 90.0, atol=0.5)
    np.testing.assert_allclose(ang["left_hip_flexion"], 90.0, atol=0.5)
    np.testing.assert_allclose(ang["left_thigh"], 180.0, atol=0.5)   # knee->hip points backwards


def test_hip_extension_is_negative():
    seq = standing_figure()
    xy = seq.image_xy.copy()
    xy[:, L.LEFT_KNEE] = (320 - 100, 673)      # thigh 30 deg behind the trunk line
    xy[:, L.LEFT_ANKLE] = (320 - 200, 846)
    ang = compute_angles(seq.with_arrays(image_xy=xy), 1.0)
    np.testing.assert_allclose(ang["left_hip_flexion"], -30.0, atol=0.5)


def test_nan_propagates_only_where_missing():
    seq = standing_figure(4)
    xy = seq.image_xy.copy()
    xy[2, L.LEFT_KNEE] = np.nan
    ang = compute_angles(seq.with_arrays(image_xy=xy), 1.0)
    assert np.isnan(ang["left_knee_flexion"][2]) and np.isnan(ang["left_hip_flexion"][2])
    assert np.isfinite(ang["left_knee_flexion"][[0, 1, 3]]).all()
    assert np.isfinite(ang["right_knee_flexion"]).all()


def test_mirrored_clip_gives_same_angles_with_sides_swapped():
    seq = standing_figure(6)
    xy = seq.image_xy.copy()
    xy[:, L.LEFT_KNEE] = (320 + 150, 640)
    xy[:, L.RIGHT_ELBOW] = (320 + 80, 300)
    seq = seq.with_arrays(image_xy=xy)
    m = seq.mirrored()
    assert facing_sign(seq)[0] == 1 and facing_sign(m)[0] == -1
    a, b = compute_angles(seq, facing_sign(seq)), compute_angles(m, facing_sign(m))
    for name in a:
        other = name.replace("left", "RIGHT").replace("right", "left").replace("RIGHT", "right")
        if name == "pelvis":
            continue  # left->right hip vector flips by construction
        np.testing.assert_allclose(a[name], b[other], atol=1e-4, err_msg=name)


def test_view_side_and_front():
    side = standing_figure()
    assert detect_view(side).view == "side" and detect_view(side).facing == "right"
    assert detect_view(side.mirrored()).facing == "left"
    xy = side.image_xy.copy()
    for lft, rgt in ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP)):
        xy[:, lft, 0] += 110
        xy[:, rgt, 0] -= 110
    front = side.with_arrays(image_xy=xy)
    info = detect_view(front)
    assert info.view == "front" and info.facing == "camera"


def test_zero_frames():
    seq = PoseSequence.empty(0)
    ang = compute_angles(seq, facing_sign(seq))
    assert all(v.shape == (0,) for v in ang.values())
    assert detect_view(seq).view == "unknown"
