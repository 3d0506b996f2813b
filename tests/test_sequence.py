import numpy as np
import pytest

from pipeline.pose.sequence import PoseSequence


def test_validation_names_expected_and_actual_shape():
    seq = PoseSequence.empty(3)
    with pytest.raises(ValueError, match=r"image_xy: expected shape \(3, 33, 2\), got \(3, 32, 2\)"):
        seq.with_arrays(image_xy=np.zeros((3, 32, 2), np.float32))
    with pytest.raises(ValueError, match="strictly increasing"):
        seq.with_arrays(time_s=np.array([0.0, 0.1, 0.1]))
    with pytest.raises(ValueError, match="dtype"):
        seq.with_arrays(visibility=np.zeros((3, 33)))


def test_empty_mask_and_roundtrip(tmp_path):
    seq = PoseSequence.empty(5, fps=60.0)
    assert len(seq) == 5 and not seq.detected.any()
    sub = seq[np.array([True, False, True, False, True])]
    assert len(sub) == 3 and sub.fps == 60.0
    xy = seq.image_xy.copy()
    xy[1] = 1.5
    seq = seq.with_arrays(image_xy=xy)
    seq.save_npz(str(tmp_path / "p.npz"))
    back = PoseSequence.load_npz(str(tmp_path / "p.npz"))
    np.testing.assert_array_equal(back.image_xy, seq.image_xy)
    assert back.detected.tolist() == [False, True, False, False, False]
    assert len(PoseSequence.empty(0)) == 0


def test_mirrored_twice_is_identity():
    seq = PoseSequence.empty(2, width=100)
    xy = np.random.default_rng(0).uniform(0, 100, (2, 33, 2)).astype(np.float32)
    seq = seq.with_arrays(image_xy=xy)
    np.testing.assert_allclose(seq.mirrored().mirrored().image_xy, xy, atol=1e-4)
