"""Shot boundaries (cuts, cross-fades) and the reps that count across them.

Fast tests: a stick-figure deadlifter (its hands follow a known bar path) and image-change signals
made as the pose stage measures them. Slow ones: real clips edited as users' videos are
(tests/support/edited_clips.py: a cross-fade or a hard cut to another scene, 25 fps, zoom and
captions), each keeping the truth of its source.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.metrics.activity import analyze_pose
from pipeline.metrics.shots import FADE_MIN, detect_shots, image_cuts, image_fades, landmark_jumps
from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from tests.conftest import clip_path
from tests.support.edited_clips import Edit, cached_pose, edited_clip, main_part_s
from tests.test_weightlifting import stick_squatter

FPS = 30.0
HANDS = [L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_INDEX, L.RIGHT_INDEX, L.LEFT_PINKY, L.RIGHT_PINKY,
         L.LEFT_THUMB, L.RIGHT_THUMB]


def bar_path(t: np.ndarray, pulls: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Bar height (0 floor .. 1 lockout): each pull (start, rise_s, hold_s, lower_s) is a cosine up,
    a hold and a cosine down (if it ends in the clip)."""
    h = np.zeros_like(t)
    for a, up, hold, down in pulls:
        r = (t >= a) & (t < a + up)
        h[r] = (1 - np.cos(np.pi * (t[r] - a) / up)) / 2
        h[(t >= a + up) & (t < a + up + hold)] = 1.0
        d = (t >= a + up + hold) & (t < a + up + hold + down)
        h[d] = (1 + np.cos(np.pi * (t[d] - a - up - hold) / down)) / 2
    return h


def stick_deadlifter(bar: np.ndarray) -> PoseSequence:
    """A standing stick figure whose hands move 200 px up at lockout (bar height 1)."""
    seq = stick_squatter(np.zeros(len(bar)), np.zeros(len(bar)))
    xy = seq.image_xy.copy()
    hip_y = xy[:, L.LEFT_HIP, 1]
    xy[:, HANDS, 1] = (hip_y + 200.0 - 200.0 * bar)[:, None]
    return seq.with_arrays(image_xy=xy)


def deadlifts(seq: PoseSequence) -> dict:
    return analyze_pose(seq, AnalysisOptions("weightlifting", exercise="deadlift")).result.summary


def flat_diff(n: int, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """A still camera's image change: small, noisy."""
    d = np.abs(np.random.default_rng(seed).normal(level, 0.1, n))
    d[0] = np.nan
    return d.astype(np.float32)


# ------------------------------------------------------------------ reps that count

def test_a_pull_cut_off_by_the_clip_end_is_listed_not_counted() -> None:
    """The issue's 5th deadlift: a pull still rising when the clip ends was counted (complete: false)."""
    t = np.arange(0, 14.0, 1 / FPS)
    pulls = [(1.0 + 2.8 * k, 0.6, 0.8, 0.8) for k in range(4)] + [(13.6, 0.6, 0.0, 0.0)]
    s = deadlifts(stick_deadlifter(bar_path(t, pulls)))
    assert s["rep_count"] == 4 and len(s["reps"]) == 4 and all(r["complete"] for r in s["reps"])
    assert [r["reason"] for r in s["incomplete_reps"]] == ["cut_off"]
    assert s["incomplete_reps"][0]["start_s"] == pytest.approx(13.6, abs=0.15)
    json.dumps(s, allow_nan=False)


def test_a_held_lockout_at_the_clip_end_counts_and_says_it_was_not_lowered() -> None:
    t = np.arange(0, 6.0, 1 / FPS)
    s = deadlifts(stick_deadlifter(bar_path(t, [(1.0, 0.6, 0.8, 0.8), (4.0, 0.6, 9.0, 0.0)])))
    assert s["rep_count"] == 2 and s["incomplete_reps"] == []
    assert [r["lowered"] for r in s["reps"]] == [True, False]


def test_a_half_pull_is_partial_range_and_a_pull_in_the_dark_lost_tracking() -> None:
    t = np.arange(0, 14.0, 1 / FPS)
    pulls = [(1.0, 0.6, 0.8, 0.8), (4.0, 0.6, 0.8, 0.8), (7.0, 0.6, 0.8, 0.8), (10.0, 0.6, 0.8, 0.8)]
    bar = bar_path(t, pulls)
    bar[(t >= 7.0) & (t < 9.2)] *= 0.4                       # the third pull only 40 % of the way
    seq = stick_deadlifter(bar)
    xy = seq.image_xy.copy()
    xy[(t > 10.2) & (t < 11.4)] = np.nan                     # the fourth: the athlete not seen for 1.2 s
    s = deadlifts(seq.with_arrays(image_xy=xy))
    assert s["rep_count"] == 2
    assert sorted(r["reason"] for r in s["incomplete_reps"]) == ["lost_tracking", "partial_range"]


# ------------------------------------------------------------------ shot boundaries

def test_a_hard_cut_splits_the_clip_and_no_rep_spans_it() -> None:
    """Cut in the middle of a pull (image change spike, the figure jumps across the frame)."""
    t = np.arange(0, 10.0, 1 / FPS)
    seq = stick_deadlifter(bar_path(t, [(1.0, 0.6, 0.8, 0.8), (5.6, 0.6, 0.8, 0.8)]))
    cut = int(6.0 * FPS)
    xy = seq.image_xy.copy()
    xy[cut:, :, 0] += 250.0                                    # the next shot frames him elsewhere
    diff = flat_diff(len(t))
    diff[cut] = 40.0
    seq = seq.with_arrays(image_xy=xy, frame_diff=diff)
    assert landmark_jumps(seq).tolist() == [cut] and image_cuts(diff.astype(float), FPS).tolist() == [cut]
    shots = detect_shots(seq)
    assert shots.first.tolist() == [0, cut] and shots.ends_with == ("cut", "end")
    s = deadlifts(seq)
    # the pull the cut goes through: its start in one shot, its end in the next; neither half counts
    assert s["rep_count"] == 1 and [r["reason"] for r in s["incomplete_reps"]] == ["cut_off", "cut_off"]
    assert [r["segment"] for r in s["incomplete_reps"]] == [0, 1]


def test_a_cross_fade_to_another_person_is_no_rep() -> None:
    """During a 0.7 s fade the pose model drifts to someone else in the next scene (smaller, arms up):
    the bar seems to rise and stay up, which the old count took for a third pull."""
    t = np.arange(0, 9.0, 1 / FPS)
    seq = stick_deadlifter(bar_path(t, [(1.0, 0.6, 0.8, 0.8), (4.0, 0.6, 0.8, 0.8)]))
    fade = (t >= 7.0) & (t < 7.7)
    other = seq.image_xy.copy()
    c = other[:, [L.LEFT_HIP]].copy()
    other = (other - c) * 0.7 + c + [150.0, 40.0]
    other[:, HANDS, 1] -= 250.0                               # arms up
    w = np.clip((t - 7.0) / 0.7, 0, 1)[:, None, None]
    xy = ((1 - w) * seq.image_xy + w * other).astype(np.float32)
    diff = flat_diff(len(t))
    diff[fade] = 2.5 + np.random.default_rng(1).normal(0, 0.05, fade.sum())
    seq = seq.with_arrays(image_xy=xy, frame_diff=diff.astype(np.float32))
    shots = detect_shots(seq)
    assert shots.ends_with[0] == "fade" and shots.last[0] == int(7.0 * FPS) - 1
    assert shots.first[1] == int(7.7 * FPS)
    s = deadlifts(seq)
    assert s["rep_count"] == 2 and s["incomplete_reps"] == []


def test_camera_motion_and_duplicated_frames_are_not_boundaries() -> None:
    rng = np.random.default_rng(2)
    n = int(8 * FPS)
    strobe = np.tile([0.1, 0.1, 5.0], n // 3)                 # 10 fps content in a 30 fps file
    assert len(image_cuts(strobe, FPS)) == 0 and len(image_fades(strobe, FPS)[0]) == 0
    pan = flat_diff(n)
    pan[60:150] = np.abs(rng.normal(3.0, 2.0, 90))             # a hand-held pan: large, uneven changes
    assert len(image_cuts(pan, FPS)) == 0 and len(image_fades(pan, FPS)[0]) == 0
    # an even rise of the image change while the athlete stays put (a slow zoom): no pose change, no fade
    t = np.arange(n) / FPS
    seq = stick_deadlifter(np.zeros(n))
    zoom = flat_diff(n)
    zoom[90:120] = 2 * FADE_MIN
    seq = seq.with_arrays(frame_diff=zoom)
    assert len(image_fades(zoom.astype(float), FPS)[0]) == 1 and len(detect_shots(seq)) == 1
    assert detect_shots(seq).as_dicts(t) == [{"index": 0, "first_frame": 0, "last_frame": n - 1, "start_s": 0.0,
                                              "end_s": round(float(t[-1]), 4), "ends_with": "end"}]


def test_a_pose_glitch_that_comes_back_is_not_a_cut() -> None:
    """MediaPipe collapses the pose onto a plate, or onto someone crossing, for a few frames: every
    landmark jumps, then comes back (seen on the power clean and the multi-person demo)."""
    t = np.arange(0, 6.0, 1 / FPS)
    lifter = stick_deadlifter(bar_path(t, [(1.0, 0.6, 0.8, 0.8), (3.5, 0.6, 0.8, 0.8)]))
    xy = lifter.image_xy.copy()
    xy[60:63, :, 1] -= 300.0
    seq = lifter.with_arrays(image_xy=xy)
    assert len(landmark_jumps(seq)) == 0 and len(detect_shots(seq)) == 1
    # a lasting switch to another person while the picture stays still: the pose model's, not a cut
    xy = lifter.image_xy.copy()
    xy[60:, :, 0] += 300.0
    still = lifter.with_arrays(image_xy=xy, frame_diff=flat_diff(len(t)))
    assert len(landmark_jumps(still)) == 1 and len(detect_shots(still)) == 1


def test_frame_diff_travels_with_the_pose(tmp_path) -> None:
    seq = stick_deadlifter(np.zeros(10)).with_arrays(frame_diff=flat_diff(10))
    seq.save_npz(str(tmp_path / "p.npz"))
    back = PoseSequence.load_npz(str(tmp_path / "p.npz"))
    assert np.array_equal(back.frame_diff, seq.frame_diff, equal_nan=True)
    assert back[2:5].frame_diff.shape == (3,) and back.mirrored().frame_diff is not None
    with pytest.raises(ValueError, match="frame_diff"):
        seq.with_arrays(frame_diff=np.zeros(3, np.float32))


# ------------------------------------------------------------------ real clips, edited

DEMO = "sports2d_demo_multi_person.mp4"
EDITED = {
    # the deadlift's two pulls, its caption, then a 0.7 s cross-fade to the backlit demo
    "deadlift_fade": ("deadlift_rear_oblique.mp4", "deadlift", 2,
                      Edit(caption="DEADLIFT 3x", fade_s=0.7, tail_s=1.3)),
    # resampled to 25 fps, then a hard cut to the demo
    "deadlift_cut_25fps": ("deadlift_rear_oblique.mp4", "deadlift", 2, Edit(fps=25, fade_s=0.0, tail_s=1.5)),
    # the squat from 7 s (standing, two reps, standing), zooming in 25 %, captioned, fading to the demo
    "squat_zoom_fade": ("squat_side.mp4", "back_squat", 2,
                        Edit(start_s=7.0, zoom=(1.0, 1.25), caption="squat", fade_s=0.8, tail_s=1.2)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EDITED))
def test_edited_real_clips_keep_their_rep_count_and_report_the_shots(name: str) -> None:
    source, exercise, reps, edit = EDITED[name]
    edit = Edit(**{**edit.__dict__, "tail": clip_path(DEMO)})
    video = edited_clip(clip_path(source), edit)
    raw = cached_pose(video)
    assert raw.frame_diff is not None
    s = analyze_pose(raw, AnalysisOptions("weightlifting", exercise=exercise)).result.summary
    assert s["rep_count"] == reps
    shots = detect_shots(raw)
    boundary = main_part_s(clip_path(source), edit)
    ends = [(d["end_s"], d["ends_with"]) for d in shots.as_dicts(raw.time_s)]
    kind = "fade" if edit.fade_s else "cut"
    # the source's part ends at the fade's (or the cut's) first frame, within two frames
    assert any(e == kind and abs(end + 1 / raw.fps - boundary) <= 2 / raw.fps for end, e in ends), ends
    assert all(r["end_s"] is None or r["end_s"] < boundary for r in s["reps"])


def test_the_manifest_reports_the_segments() -> None:
    from pipeline.analysis import completed_manifest
    from pipeline.manifest import new_manifest
    from pipeline.video import ProbeInfo

    t = np.arange(0, 10.0, 1 / FPS)
    seq = stick_deadlifter(bar_path(t, [(1.0, 0.6, 0.8, 0.8), (6.6, 0.6, 0.8, 0.8)]))
    xy = seq.image_xy.copy()
    xy[150:, :, 0] += 250.0
    diff = flat_diff(len(t))
    diff[150] = 40.0
    raw = seq.with_arrays(image_xy=xy, frame_diff=diff)
    options = AnalysisOptions("weightlifting", exercise="deadlift")
    analysis = analyze_pose(raw, options)
    probe = ProbeInfo(10.0, FPS, len(t), 600, 1000, 0, "h264", "yuv420p", False, 1)
    m = completed_manifest(new_manifest("s" * 22, options, "clip.mp4"), analysis, probe, {"uri": "clip.mp4"}, {},
                           {}, {}, 0.0)
    assert [(s["first_frame"], s["last_frame"], s["ends_with"]) for s in m["segments"]] == \
        [(0, 149, "cut"), (150, len(t) - 1, "end")]
    assert m["metrics"]["rep_count"] == 2 and [r["segment"] for r in m["metrics"]["reps"]] == [0, 1]
    assert new_manifest("s" * 22, options, "clip.mp4")["segments"] == []
    json.dumps(m, allow_nan=False)
