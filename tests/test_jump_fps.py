"""The frame-rate check counts NTSC rates (23.976 / 29.97 / 59.94) as 24 / 30 / 60 (issue 14)."""

from __future__ import annotations

import pytest

from pipeline.metrics.view import detect_view
from pipeline.quality import MIN_FPS, nominal_fps, quality_block
from pipeline.video import ProbeInfo
from tests.support.jump_clips import stick_sequence


def _low_fps(activity: str, fps: float) -> list[str]:
    raw = stick_sequence([], 1.0, 30)
    probe = ProbeInfo(1.0, fps, 30, raw.width, raw.height, 0, "h264", "yuv420p", False, 1000)
    q = quality_block(activity, raw, detect_view(raw), probe, {}, len(raw))
    return [w["message"] for w in q["warnings"] if w["code"] == "low_fps"]


@pytest.mark.parametrize(("fps", "nominal"), [(30000 / 1001, 30.0), (24000 / 1001, 24.0), (60000 / 1001, 60.0),
                                              (29.95, 30.0), (25.0, 25.0), (29.5, 29.5), (120.0, 120.0)])
def test_nominal_rate(fps: float, nominal: float) -> None:
    assert nominal_fps(fps) == nominal


@pytest.mark.parametrize("activity", sorted(MIN_FPS))
def test_ntsc_rates_meet_their_whole_number(activity: str) -> None:
    need = MIN_FPS[activity]
    ntsc = need * 1000 / 1001                                     # 29.97 for 30, 23.976 for 24, 49.95 for 50
    assert _low_fps(activity, ntsc) == []
    below = _low_fps(activity, need - 1)
    assert len(below) == 1 and f"{activity} needs at least {need:.0f} fps" in below[0]


def test_the_message_names_the_rate_as_filmed() -> None:
    (msg,) = _low_fps("running", 30000 / 1001)                   # running needs 50: 29.97 is too low
    assert msg.startswith("the video has 29.97 fps; running needs at least 50 fps")
    (msg,) = _low_fps("jumping", 25.0)
    assert msg.startswith("the video has 25 fps; jumping needs at least 30 fps")


def test_the_quality_block_names_the_view_with_its_confidence() -> None:
    raw = stick_sequence([], 1.0, 30, view="front")
    probe = ProbeInfo(1.0, 30.0, 30, raw.width, raw.height, 0, "h264", "yuv420p", False, 1000)
    q = quality_block("jumping", raw, detect_view(raw), probe, {}, len(raw))
    assert (q["view"], q["view_label"], q["facing"]) == ("front", "front", "camera") and q["view_confidence"] >= 0.8
