"""PyAV probe/decode/write on the real clips and on videos made here (rotation, VFR, bad files)."""

import av
import numpy as np
import pytest

from pipeline import errors
from pipeline.video import Mp4Writer, VideoLimits, iter_frames, probe
from tests.videos import audio_only, frame_times, reencode, synthetic_video


def test_probe_real_clips(clip):
    info = probe(clip("squat_side.mp4"))
    assert (info.width, info.height, info.frame_count, info.codec) == (608, 1080, 614, "h264")
    assert info.fps == pytest.approx(29.97, abs=0.01) and info.duration_s == pytest.approx(20.49, abs=0.05)
    vp9 = probe(clip("sports2d_demo_multi_person.mp4"))
    assert (vp9.codec, vp9.width, vp9.height, vp9.frame_count) == ("vp9", 1768, 994, 230)


def test_decode_vp9_all_frames_contiguous(clip):
    frames = list(iter_frames(clip("sports2d_demo_multi_person.mp4")))
    assert len(frames) == 230
    assert frames[0].image.flags["C_CONTIGUOUS"] and frames[0].image.shape == (994, 1768, 3)
    assert frames[-1].time_s == pytest.approx(229 / 30, abs=1e-6)


def test_rotation_metadata_is_applied(clip, tmp_path):
    src = clip("power_clean_side.mp4")
    rotated = reencode(src, tmp_path / "rot.mp4", rotate_pixels_cw=True, display_rotation=90, max_frames=5)
    info = probe(rotated)
    assert info.rotation == 90 and (info.width, info.height) == (720, 1280)
    original = next(iter(iter_frames(src))).image
    shown = next(iter(iter_frames(rotated))).image
    assert shown.shape == original.shape
    assert np.abs(shown.astype(int) - original.astype(int)).mean() < 8  # same picture, codec noise only


def test_vfr_timestamps_kept_by_writer(tmp_path):
    times = [0.0, 0.033, 0.1, 0.12, 0.3, 0.31, 0.5]
    src = synthetic_video(tmp_path / "vfr.mp4", times_s=times)
    got = [f.time_s for f in iter_frames(src)]
    np.testing.assert_allclose(got, times, atol=1e-3)
    out = tmp_path / "out.mp4"
    with Mp4Writer(out, 320, 240, 30.0) as w:
        for f in iter_frames(src):
            w.write(f.image, f.time_s)
    np.testing.assert_allclose(np.array(frame_times(out)) - frame_times(out)[0], times, atol=1e-3)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart


@pytest.mark.parametrize("make, error", [
    (lambda p: p / "missing.mp4", errors.VideoNotFound),
    (lambda p: (p / "empty.mp4").write_bytes(b"") and p / "empty.mp4" or p / "empty.mp4", errors.EmptyVideo),
    (lambda p: (p / "text.mp4").write_text("hello, not a video\n" * 50) and p / "text.mp4", errors.NotAVideo),
    (lambda p: audio_only(p / "audio.m4a"), errors.NoVideoStream),
])
def test_bad_files_raise_specific_errors(tmp_path, make, error):
    path = make(tmp_path)
    with pytest.raises(error):
        probe(path)


def test_truncated_file(clip, tmp_path):
    data = clip("squat_side.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])   # moov at the end: nothing playable remains
    with pytest.raises((errors.TruncatedVideo, errors.NotAVideo)):
        probe(cut)
        list(iter_frames(cut))


def test_limits(clip):
    with pytest.raises(errors.VideoTooLong):
        probe(clip("squat_side.mp4"), VideoLimits(max_duration_s=10))
    with pytest.raises(errors.VideoTooLarge):
        probe(clip("squat_side.mp4"), VideoLimits(max_pixels=640 * 480))
    with pytest.raises(errors.VideoTooLarge):
        probe(clip("squat_side.mp4"), VideoLimits(max_bytes=1000))
