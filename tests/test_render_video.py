"""The annotated MP4: source timing kept (VFR), audio carried over, H.264 High yuv420p fast-start."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.metrics.angles import compute_angles
from pipeline.render.frame import FrameAnnotator
from pipeline.render.video import render_analysis, render_video, render_with
from pipeline.video import iter_frames
from tests.test_render_support import analyse, audio_packets, figure_sequence, streams, video_with_audio
from tests.videos import frame_times, reencode, synthetic_video


def faststart(path: Path) -> bool:
    data = path.read_bytes()
    return data.index(b"moov") < data.index(b"mdat")


def test_vfr_timestamps_and_frame_count_are_the_sources(tmp_path: Path) -> None:
    times = [0.0, 0.033, 0.05, 0.1, 0.2, 0.21, 0.4, 0.45, 0.6, 0.733, 0.75, 1.0]
    src = synthetic_video(tmp_path / "vfr.mp4", size=(320, 240), times_s=times)
    seq = figure_sequence(times, 320, 240, bend=np.linspace(0, 1, len(times)))
    out = render_video(src, seq, compute_angles(seq, np.ones(len(seq))), "jumping", tmp_path / "out.mp4")
    got, want = frame_times(out), frame_times(src)
    assert len(got) == len(want) == len(times)
    assert np.allclose(got, want, atol=1e-4), (got, want)
    facts = streams(out)["video"]
    assert facts["codec"] == "h264" and facts["profile"] == "High" and facts["pix_fmt"] == "yuv420p"
    assert faststart(out)
    assert "audio" not in streams(out)                    # none in, none out


def test_a_late_first_frame_starts_the_output_at_zero(tmp_path: Path) -> None:
    times = [0.5, 0.55, 0.6, 0.7, 0.72, 0.9]
    src = synthetic_video(tmp_path / "late.mp4", size=(320, 240), times_s=times)
    rel = np.asarray(times) - times[0]
    seq = figure_sequence(rel, 320, 240)
    out = render_video(src, seq, compute_angles(seq, np.ones(len(seq))), "jumping", tmp_path / "out.mp4")
    assert np.allclose(frame_times(out), rel, atol=1e-4)


def test_a_rotated_phone_clip_comes_out_upright(tmp_path: Path) -> None:
    src = synthetic_video(tmp_path / "land.mp4", frames=8, size=(320, 240), noise=False)
    rotated = reencode(src, tmp_path / "rot.mp4", rotate_pixels_cw=True, display_rotation=90)   # stored 240x320
    first = next(iter_frames(rotated))
    h, w = first.image.shape[:2]
    seq = figure_sequence(np.arange(8) / 30, w, h)
    out = render_video(rotated, seq, compute_angles(seq, np.ones(8)), "jumping", tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        frame = next(c.decode(c.streams.video[0]))
        assert (frame.width, frame.height) == (w, h) and frame.rotation == 0


def test_odd_sizes_are_cropped_to_even_and_every_frame_is_annotated(tmp_path: Path) -> None:
    src = synthetic_video(tmp_path / "odd.mp4", frames=10, size=(322, 242), noise=False)
    seq = figure_sequence(np.arange(10) / 30, 322, 242)
    seen: list[int] = []
    out = render_video(src, seq, compute_angles(seq, np.ones(10)), "running", tmp_path / "out.mp4",
                       on_frame=lambda f: seen.append(f.index))
    assert seen == list(range(10))
    frames = list(iter_frames(out))
    assert len(frames) == 10 and frames[0].image.shape[:2] == (242, 322)
    assert all(f.image.mean() > 2 for f in frames)        # the overlay is on every (black) frame


@pytest.mark.parametrize("codec, container, copied", [("aac", "mp4", True), ("pcm_s16le", "mov", False)])
def test_audio_is_carried_over(tmp_path: Path, codec: str, container: str, copied: bool) -> None:
    src = video_with_audio(tmp_path / f"src.{container}", audio_codec=codec, container=container)
    seq = figure_sequence(np.arange(45) / 30, 320, 240)
    out = render_video(src, seq, compute_angles(seq, np.ones(45)), "jumping", tmp_path / "out.mp4")
    facts = streams(out)
    assert facts["audio"]["codec"] == "aac"
    if copied:   # packet for packet, same times: no re-encoding
        assert audio_packets(out) == audio_packets(src)
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert float(a.duration * a.time_base) == pytest.approx(1.5, abs=0.1)
    assert len(frame_times(out)) == 45 and faststart(out)


def test_audio_can_be_left_out(tmp_path: Path) -> None:
    src = video_with_audio(tmp_path / "src.mp4")
    seq = figure_sequence(np.arange(45) / 30, 320, 240)
    out = render_video(src, seq, compute_angles(seq, np.ones(45)), "jumping", tmp_path / "out.mp4", audio=False)
    assert "audio" not in streams(out)


def test_render_draws_what_the_per_frame_api_draws(tmp_path: Path) -> None:
    src = synthetic_video(tmp_path / "src.mp4", frames=15, size=(320, 240), noise=False)
    seq = figure_sequence(np.arange(15) / 30, 320, 240, bend=np.linspace(0, 1, 15))
    annot = FrameAnnotator(seq, compute_angles(seq, np.ones(15)), activity="jumping")
    out = render_with(src, annot, tmp_path / "out.mp4")
    for rendered, source in zip(iter_frames(out), iter_frames(src)):
        expected = annot.annotate(source.image, source.index)
        assert np.abs(rendered.image.astype(int) - expected.astype(int)).mean() < 3.0   # lossy encode only


@pytest.mark.slow
def test_real_clip_keeps_frames_times_and_audio(tmp_path: Path, clip, raw_pose) -> None:
    src = clip("power_clean_side.mp4")
    analysis = analyse(raw_pose(src), "weightlifting", exercise="clean")
    out = render_analysis(src, analysis, tmp_path / "analyzed.mp4")
    assert frame_times(out) == pytest.approx(frame_times(src), abs=1e-4)
    assert len(frame_times(out)) == 62
    facts = streams(out)
    assert facts["video"]["profile"] == "High" and facts["video"]["pix_fmt"] == "yuv420p"
    assert facts["audio"]["codec"] == "aac" and audio_packets(out) == audio_packets(src)
    assert faststart(out)
    # the overlay is there: the annotated frames differ from the source where the athlete is
    a, b = next(iter_frames(out)), next(iter_frames(src))
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() > 1.0
