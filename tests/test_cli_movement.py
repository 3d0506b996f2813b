"""A warning, naming the likely activity or exercise, when the movement does not look like what
was asked for (pipeline.metrics.movement, printed by `motionlens analyze` among the warnings)."""

from __future__ import annotations

import pytest

from pipeline.metrics.activity import analyze_pose
from pipeline.metrics.movement import movement_signs, movement_warnings
from pipeline.options import AnalysisOptions
from tests.support.gait import synth_gait
from tests.support.jump_clips import Jump, stick_sequence


def codes_and_text(warnings: list[dict[str, str]]) -> tuple[list[str], str]:
    picked = [w for w in warnings if w["code"] in ("activity_mismatch", "exercise_mismatch")]
    return [w["code"] for w in picked], " ".join(w["message"] for w in picked)


def test_stick_jumps_analysed_as_running_name_jumping() -> None:
    seq = stick_sequence([Jump(0.8, 0.45), Jump(2.2, 0.33)], 3.5, 60.0)
    codes, text = codes_and_text(movement_warnings(seq, AnalysisOptions("running")))
    assert codes == ["activity_mismatch"] and "looks like jumping" in text and "--activity jumping" in text
    assert movement_warnings(seq, AnalysisOptions("jumping")) == []


def test_a_run_analysed_as_a_lift_names_running() -> None:
    seq, _ = synth_gait(px_per_m=300.0)
    assert movement_signs(seq).likely_activity == "running"
    codes, text = codes_and_text(movement_warnings(seq, AnalysisOptions("weightlifting")))
    assert codes == ["activity_mismatch"] and "--activity running" in text
    assert movement_warnings(seq, AnalysisOptions("running")) == []


@pytest.mark.slow
@pytest.mark.parametrize(("clip_name", "options", "expected", "named"), [
    ("jumps_synthetic_30fps.mp4", {"activity": "weightlifting", "exercise": "back_squat"}, "activity_mismatch",
     "--activity jumping"),
    ("deadlift_rear_oblique.mp4", {"activity": "weightlifting"}, "exercise_mismatch", "--exercise deadlift"),
    ("squat_side.mp4", {"activity": "jumping"}, "activity_mismatch", "--activity weightlifting"),
    ("squat_side.mp4", {"activity": "weightlifting", "exercise": "deadlift"}, "exercise_mismatch",
     "--exercise back_squat"),
    ("squat_side.mp4", {"activity": "weightlifting"}, None, None),
    ("deadlift_rear_oblique.mp4", {"activity": "weightlifting", "exercise": "deadlift"}, None, None),
    ("power_clean_side.mp4", {"activity": "weightlifting", "exercise": "clean"}, None, None),
    ("jumps_synthetic_30fps.mp4", {"activity": "jumping"}, None, None),
])
def test_real_clips(raw_pose, clip, clip_name, options, expected, named) -> None:
    analysis = analyze_pose(raw_pose(clip(clip_name)), AnalysisOptions(**options))
    codes, text = codes_and_text(analysis.result.warnings)
    assert codes == ([expected] if expected else []), text
    if named:
        assert named in text, text
