"""Annotators and per-frame values, on synthetic frames: colours, fading, scaling, events, panel numbers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pipeline.metrics.result import ActivityResult, Event
from pipeline.pose.landmarks import Landmark as L
from pipeline.render import style
from pipeline.render.annotators import AngleArcAnnotator, SkeletonAnnotator, arc_value, flexion_arc, TRUNK_ARC
from pipeline.render.events import EventFlashAnnotator, MarkerTrack, event_markers
from pipeline.render.frame import FrameAnnotator, arcs_for, visible_sides
from pipeline.render.panel import DASH, LiveMetrics, MetricPanelAnnotator, Row
from pipeline.render.trails import TrailAnnotator, trail_window
from tests.test_render_support import figure_sequence, figure_xy


def black(h: int = 720, w: int = 720) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def midpoint(xy: np.ndarray, a: int, b: int) -> tuple[int, int]:
    m = (xy[a] + xy[b]) / 2
    return int(round(m[1])), int(round(m[0]))


def colour_distance(pixel: np.ndarray, rgb: tuple[int, int, int]) -> float:
    return float(np.abs(pixel.astype(int) - np.array(rgb)).max())


# ------------------------------------------------------------------ skeleton

def test_skeleton_colours_bones_by_side() -> None:
    xy = figure_xy(720, 720)
    xy[:, 0] += np.where(np.char.startswith(np.array([lm.name for lm in L]), "LEFT"), -60, 60)  # split the legs
    frame = SkeletonAnnotator().annotate(black(), xy, np.ones(33))
    left = frame[midpoint(xy, L.LEFT_KNEE, L.LEFT_ANKLE)]
    right = frame[midpoint(xy, L.RIGHT_KNEE, L.RIGHT_ANKLE)]
    assert colour_distance(left, style.LEFT) < 30, left
    assert colour_distance(right, style.RIGHT) < 30, right


def test_skeleton_fades_uncertain_landmarks_and_hides_missing_ones() -> None:
    xy = figure_xy(720, 720)
    xy[:, 0] += np.where(np.char.startswith(np.array([lm.name for lm in L]), "LEFT"), -60, 60)
    vis = np.ones(33)
    vis[[L.LEFT_KNEE, L.LEFT_ANKLE]] = 0.45           # uncertain: drawn faint
    vis[[L.RIGHT_KNEE, L.RIGHT_ANKLE]] = 0.05         # hidden: not drawn
    frame = SkeletonAnnotator().annotate(black(), xy, vis)
    faint = frame[midpoint(xy, L.LEFT_KNEE, L.LEFT_ANKLE)].astype(int)
    solid = frame[midpoint(xy, L.LEFT_HIP, L.LEFT_SHOULDER)].astype(int)
    assert 40 < faint.max() < 0.8 * 255, faint          # visible but clearly fainter than full strength
    assert solid.max() > 200
    assert frame[midpoint(xy, L.RIGHT_KNEE, L.RIGHT_ANKLE)].max() < 20


def test_skeleton_skips_nan_landmarks_and_empty_frames() -> None:
    xy = figure_xy(720, 720)
    xy[L.LEFT_KNEE] = np.nan
    SkeletonAnnotator().annotate(black(), xy, np.ones(33))
    empty = black()
    out = SkeletonAnnotator().annotate(empty, np.full((33, 2), np.nan), np.zeros(33))
    assert out is empty and not out.any()


# ------------------------------------------------------------------ angle arcs

def test_arc_value_follows_the_angle_definitions() -> None:
    assert arc_value(flexion_arc("left", "knee"), {"left_knee_flexion": 87.4}) == pytest.approx(87.4)
    assert arc_value(TRUNK_ARC, {"trunk": 60.0}) == pytest.approx(30.0)      # lean from vertical
    assert np.isnan(arc_value(flexion_arc("left", "knee"), {}))


def test_angle_arc_is_drawn_at_the_joint_in_the_side_colour() -> None:
    xy = figure_xy(720, 720, knee_bend=1.0)
    arc = flexion_arc("right", "knee")
    frame = AngleArcAnnotator([arc]).annotate(black(), xy, np.ones(33), {"right_knee_flexion": 80.0})
    ky, kx = int(xy[L.RIGHT_KNEE, 1]), int(xy[L.RIGHT_KNEE, 0])
    patch = frame[ky - 40:ky + 40, kx - 40:kx + 40].reshape(-1, 3).astype(int)
    near_right = np.abs(patch - np.array(style.RIGHT)).max(axis=1) < 40
    assert near_right.sum() > 30                          # the arc's rim in the right side's colour
    nothing = AngleArcAnnotator([arc]).annotate(black(), xy, np.ones(33), {"right_knee_flexion": np.nan})
    assert not nothing.any()                              # no value, no arc


def test_sizes_scale_with_the_frame() -> None:
    rows = [Row("Knee", "87°"), Row("Jumps", "2")]
    panel = MetricPanelAnnotator()
    small = panel.layout((720, 1280, 3), rows, "JUMPS")
    big = panel.layout((2160, 3840, 3), rows, "JUMPS")
    portrait = panel.layout((1080, 608, 3), rows, "JUMPS")
    ratio = (big[2] - big[0]) / (small[2] - small[0])
    assert 2.6 < ratio < 3.4
    assert (portrait[2] - portrait[0]) < 0.5 * 608           # leaves most of a portrait frame free
    assert style.scale_for((1080, 608)) * 18 >= 12           # panel text stays >= 12 px on a phone clip


def test_degrees_never_shows_minus_zero() -> None:
    assert style.degrees(-0.4) == "0°" and style.degrees(-0.6) == "-1°" and style.degrees(87.5) == "88°"


def test_trunk_lean_is_from_the_vertical_and_wraps() -> None:
    assert style.trunk_lean([90.0, 60.0, 100.0, -110.0]).tolist() == [0.0, 30.0, -10.0, -160.0]


# ------------------------------------------------------------------ trails

def test_trail_fades_with_age() -> None:
    pts = np.stack([np.linspace(100, 600, 60), np.full(60, 360.0)], axis=1)
    frame = TrailAnnotator(colour=(255, 255, 0), head_radius=0).annotate(black(), pts)
    old, new = frame[360, 120].astype(int), frame[360, 560].astype(int)
    assert new.sum() > old.sum() > 0


def test_trail_window_is_in_seconds_not_frames() -> None:
    t = np.array([0.0, 0.1, 0.15, 0.9, 1.0, 1.05, 2.5])
    start = trail_window(t, 1.0)
    assert start.tolist() == [0, 0, 0, 0, 0, 1, 6]


# ------------------------------------------------------------------ events

def jump_result() -> ActivityResult:
    jumps = [{"index": 0, "takeoff_s": 1.0, "landing_s": 1.5, "flight_time_s": 0.5, "jump_height_m": 0.3066},
             {"index": 1, "takeoff_s": 3.0, "landing_s": 3.45, "flight_time_s": 0.45, "jump_height_m": 0.2483}]
    events = [Event(k, j[f"{k}_s"], int(j[f"{k}_s"] * 30), None, j["index"])
              for j in jumps for k in ("takeoff", "landing")]
    return ActivityResult("jumping", {"jump_count": 2, "jumps": jumps}, events)


def test_event_markers_label_landings_with_the_jump_height() -> None:
    markers = event_markers(jump_result().events, jump_result().summary, "jumping")
    assert [m.label for m in markers] == ["Takeoff", "Landing · 30.7 cm", "Takeoff", "Landing · 24.8 cm"]


def test_event_markers_are_defensive_about_what_the_metric_modules_send() -> None:
    events = [Event("landing", float("nan"), 0), Event("landing", 1.0, 30, None, 7),      # no such jump
              Event("mystery", 1.0, 30), {"type": "foot_strike", "time_s": 2.0, "side": 1},   # side not a name
              {"type": "rep_end", "time_s": 4.0, "index": 0}, {"type": "takeoff", "time_s": "soon"}]
    markers = event_markers(events, {"jumps": "oops", "reps": [None, {"index": 0}]}, "jumping")
    assert [m.label for m in markers] == ["Landing", "Strike", "Rep 1 done"]


def test_marker_track_flashes_around_the_event_time() -> None:
    track = MarkerTrack(event_markers(jump_result().events, jump_result().summary, "jumping"))
    assert track.active(0.5) == []
    on = track.active(1.0)
    assert [m.label for m, *_ in on] == ["Takeoff"] and on[0][1] == pytest.approx(1.0)
    fading = track.active(1.0 + 0.35)
    assert fading and 0 < fading[0][1] < 1
    assert track.active(2.9) == []
    assert [m.label for m, *_ in track.active(3.46)][-1] == "Landing · 24.8 cm"


def test_event_flash_draws_a_label_beside_the_body() -> None:
    xy = figure_xy(720, 720)
    markers = event_markers(jump_result().events, jump_result().summary, "jumping")
    frame = EventFlashAnnotator().annotate(black(), xy, MarkerTrack(markers).active(1.5))
    body_right = int(np.nanmax(xy[:, 0]))
    assert frame[:, body_right + 20:].any()               # the pill sits beside the figure


# ------------------------------------------------------------------ live panel values

def test_live_jump_values_appear_after_each_landing() -> None:
    t = np.arange(0, 5, 1 / 30)
    res = jump_result()
    live = LiveMetrics(t, {}, res.summary, res.events, "jumping", ("left",))
    at = lambda s: int(np.searchsorted(t, s))  # noqa: E731
    assert live.jumps_done[at(1.4)] == 0 and np.isnan(live.height[at(1.4)])
    assert live.jumps_done[at(1.6)] == 1 and live.height[at(1.6)] == pytest.approx(0.3066)
    assert live.jumps_done[at(4.0)] == 2 and live.height[at(4.0)] == pytest.approx(0.2483)
    rows = {r.label: r for r in live.rows(at(1.6))}
    assert rows["Height"].value == "30.7 cm" and rows["Height"].highlight
    assert rows["Flight"].value == "500 ms"
    assert not {r.label: r for r in live.rows(at(3.0))}["Height"].highlight


def test_live_running_cadence_and_steps() -> None:
    t = np.arange(0, 6, 1 / 60)
    strikes = np.arange(0.5, 5.5, 1 / 3)                  # 180 steps/min
    steps = [{"index": k, "side": ("left", "right")[k % 2], "foot_strike_s": float(s), "toe_off_s": float(s) + 0.2}
             for k, s in enumerate(strikes)]
    live = LiveMetrics(t, {}, {"steps": steps}, [], "running", ("left",))
    i = int(np.searchsorted(t, 4.0))
    assert live.cadence[i] == pytest.approx(180.0, abs=0.5)                 # rolling, from the strikes so far
    assert live.steps_done[i] == int((strikes <= t[i]).sum())
    assert live.contact[i] == pytest.approx(0.2)
    assert np.isnan(live.cadence[int(np.searchsorted(t, 0.6))])          # not enough steps yet
    reported = LiveMetrics(t, {}, {"cadence_spm": 176.0, "steps": steps}, [], "running", ("left",))
    assert reported.cadence[i] == 176.0                                     # the analysis' own figure wins
    assert {r.label: r.value for r in reported.rows(i)}["Cadence"] == "176 spm"


def test_live_lift_values_reps_and_bar_velocity_only_with_a_scale() -> None:
    t = np.arange(0, 4, 1 / 30)
    bar = np.stack([np.full(len(t), 100.0), 300 - 50 * t], axis=1)       # rising 50 px/s
    reps = [{"index": 0, "start_s": 0.5, "bottom_s": 1.2, "end_s": 2.0, "mean_concentric_velocity_m_s": 0.61}]
    scaled = LiveMetrics(t, {}, {"exercise": "back_squat", "reps": reps, "scale": {"m_per_px": 0.004}}, [],
                         "weightlifting", ("right",), trail_xy=bar)
    assert scaled.bar_velocity[60] == pytest.approx(0.2)
    i = int(np.searchsorted(t, 2.5))
    labels = {r.label: r.value for r in scaled.rows(i)}
    assert labels["Reps"] == "1" and labels["Last rep"] == "0.61 m/s" and labels["Bar speed"] == "↑0.20 m/s"
    assert scaled.title() == "BACK SQUAT"
    unscaled = LiveMetrics(t, {}, {"reps": reps, "scale": {"m_per_px": None}}, [], "weightlifting", ("right",),
                           trail_xy=bar)
    assert "Bar speed" not in {r.label for r in unscaled.rows(i)}


@pytest.mark.parametrize("summary", [{}, {"jumps": None, "steps": "x", "reps": [1, None, {"end_s": None}]},
                                     {"scale": "?", "exercise": 3}])
@pytest.mark.parametrize("activity", ["jumping", "running", "weightlifting"])
def test_live_metrics_survive_odd_summaries(activity: str, summary: dict) -> None:
    t = np.arange(0, 1, 1 / 30)
    live = LiveMetrics(t, {"left_knee_flexion": np.full(len(t), 10.0)}, summary, [], activity, ("left",))
    assert all(isinstance(r.value, str) for r in live.rows(5))


# ------------------------------------------------------------------ the composed per-frame API

def test_frame_annotator_draws_in_place_and_leaves_frames_past_the_pose_alone() -> None:
    t = np.arange(0, 2, 1 / 30)
    seq = figure_sequence(t, 640, 480, bend=np.abs(np.sin(t * 2)))
    from pipeline.metrics.angles import compute_angles

    angles = compute_angles(seq, np.ones(len(seq)))
    annot = FrameAnnotator(seq, angles, jump_result())
    img = black(480, 640)
    out = annot.annotate(img, 20)
    assert out is img and img.any()
    untouched = black(480, 640)
    assert not annot.annotate(untouched, len(seq) + 5).any()
    # pickles, for drawing in another process; the copy draws the same picture
    again = pickle.loads(pickle.dumps(annot)).annotate(black(480, 640), 20)
    assert np.array_equal(again, img)


def test_angles_shown_match_the_activity_and_the_side_facing_the_camera() -> None:
    seq = figure_sequence(np.arange(10) / 30)
    vis = seq.visibility.copy()
    vis[:, [L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE]] = 0.2
    assert visible_sides(seq.with_arrays(visibility=vis)) == ("left",)
    assert visible_sides(seq, primary="right") == ("right",)
    names = {a.name for a in arcs_for("weightlifting", ("left",), "clean")}
    assert names == {"left_knee_flexion", "left_hip_flexion", "left_elbow_flexion"}
    assert {a.name for a in arcs_for("running", ("left", "right"))} == {
        "left_knee_flexion", "left_hip_flexion", "right_knee_flexion", "right_hip_flexion"}


def test_a_front_view_jump_draws_no_flexion_it_does_not_measure() -> None:
    """The jump metrics withhold knee/hip flexion in a front or back view (`view_limits_metrics`):
    the video must not show them either (no arcs, a dash in the panel); a side view shows them."""
    from pipeline.metrics.angles import compute_angles
    from pipeline.metrics.view import ViewInfo

    t = np.arange(0, 2, 1 / 30)
    seq = figure_sequence(t, 640, 480, bend=np.abs(np.sin(t * 2)))
    angles = compute_angles(seq, np.ones(len(seq)))
    front = FrameAnnotator(seq, angles, jump_result(), view=ViewInfo("front", "camera", 0.5, 0.5, 0.8, 7.0, True))
    side = FrameAnnotator(seq, angles, jump_result(), view=ViewInfo("side", "right", 0.1, 1.0, 0.9, 85.0, None))
    assert not front.arcs.arcs and side.arcs.arcs
    i = 20
    assert {r.label: r.value for r in front.live.rows(i)}["Knee"] == DASH
    assert {r.label: r.value for r in side.live.rows(i)}["Knee"] != DASH
    # the jumps' own view (around the flights) wins over the whole clip's
    result = jump_result()
    result.summary["view"] = "front"
    assert not FrameAnnotator(seq, angles, result, view=ViewInfo("oblique", "right", 0.3, 1.0, 0.6, 40.0, True)).arcs.arcs
