"""The annotated video's size cap (MOTIONLENS_RENDER_MAX_SIDE): a tall phone clip is rendered at
720x1280, every frame and time kept, the overlay drawn before scaling; small clips are untouched."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.metrics.angles import compute_angles
from pipeline.pipelined import render_overlapped
from pipeline.render.frame import FrameAnnotator
from pipeline.render.video import capped, render_analysis, render_max_side, render_with
from pipeline.video import iter_frames
from tests.test_render_support import analyse, figure_sequence
from tests.videos import frame_times, synthetic_video


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.width, v.height


@pytest.fixture
def tall_clip(tmp_path: Path) -> Path:
    return synthetic_video(tmp_path / "tall.mp4", frames=12, size=(1080, 1920), noise=False)


def test_capped_render_is_720x1280_with_every_frame_and_time(tmp_path: Path, tall_clip: Path) -> None:
    times = frame_times(tall_clip)
    seq = figure_sequence(times, 1080, 1920, bend=np.linspace(0, 1, len(times)))
    annot = FrameAnnotator(seq, compute_angles(seq, np.ones(len(times))), activity="jumping")
    draw = capped(annot.annotate, 1280)
    for render in (render_with, render_overlapped):
        out = render(tall_clip, draw, tmp_path / f"{render.__name__}.mp4")
        assert _size(out) == (720, 1280)
        assert frame_times(out) == pytest.approx(times, abs=1e-4)
        # the overlay was drawn at full size, then scaled: the pictures match up to the lossy encode
        for rendered, source in zip(iter_frames(out), iter_frames(tall_clip)):
            expected = draw(source.image, source.index)
            assert np.abs(rendered.image.astype(int) - expected.astype(int)).mean() < 3.0
    uncapped = render_with(tall_clip, capped(annot.annotate, None), tmp_path / "full.mp4")
    assert _size(uncapped) == (1080, 1920)


def test_render_analysis_caps_by_default_and_the_setting_lifts_it(tmp_path: Path, tall_clip: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    times = frame_times(tall_clip)
    analysis = analyse(figure_sequence(times, 1080, 1920, bend=np.linspace(0, 1, len(times))), "jumping")
    monkeypatch.delenv("MOTIONLENS_RENDER_MAX_SIDE", raising=False)
    assert render_max_side() == 1280
    assert _size(render_analysis(tall_clip, analysis, tmp_path / "a.mp4")) == (720, 1280)
    monkeypatch.setenv("MOTIONLENS_RENDER_MAX_SIDE", "0")
    assert _size(render_analysis(tall_clip, analysis, tmp_path / "b.mp4")) == (1080, 1920)
    assert _size(render_analysis(tall_clip, analysis, tmp_path / "c.mp4", max_side=640)) == (360, 640)


def test_a_clip_within_the_cap_is_not_scaled(tmp_path: Path) -> None:
    src = synthetic_video(tmp_path / "small.mp4", frames=6, size=(320, 240))
    out = render_with(src, capped(lambda image, i: image, 1280), tmp_path / "out.mp4")
    assert _size(out) == (320, 240)
