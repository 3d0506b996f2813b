"""Weightlifting: rep segmentation, lift metrics, Olympic phases, recommendations, lift-analysis report.

Fast tests use synthetic signals and a synthetic stick-figure squatter; `slow` ones run the pose
model on the real clips of ../shared/fixtures/videos (cached per run by the `raw_pose` fixture).
"""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.metrics.activity import analyze_pose
from pipeline.metrics.angles import compute_angles
from pipeline.metrics.olympic import find_key_frames
from pipeline.metrics.recommendations import CODES, LANGUAGES, catalog, recommend, render_text
from pipeline.metrics.reps import find_reps
from pipeline.metrics.view import ViewInfo
from pipeline.metrics.weightlifting import CUTOFF_HZ, analyze
from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import NUM_LANDMARKS, Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.render.lift_report import build_lift_report
from pipeline.video import iter_frames

FPS = 30.0
ALLOWED_PLACEHOLDERS = {"rep", "value", "threshold", "count"}
# pipeline.pose.cleaning._body_scale averages frames where nobody was detected (the deadlift's red
# wipe, the clean's hidden frames) and numpy warns; reported to the lead, not ours to fix


# ------------------------------------------------------------------ synthetic signals

def squat_signal(n_reps: int = 4, depth: float = 0.4, period: float = 2.5, rest: float = 1.0, lead: float = 3.0,
                 tail: float = 2.0) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """Hip height: standing 1.0, then cosine dips; returns t, h, bottoms and the 10 %-depth start times."""
    total = lead + n_reps * (period + rest) + tail
    t = np.arange(0, total, 1 / FPS)
    h = np.ones_like(t)
    bottoms, starts = [], []
    for k in range(n_reps):
        t0 = lead + k * (period + rest)
        inside = (t >= t0) & (t < t0 + period)
        h[inside] -= depth * (1 - np.cos(2 * np.pi * (t[inside] - t0) / period)) / 2
        bottoms.append(t0 + period / 2)
        starts.append(t0 + np.arccos(0.8) / (2 * np.pi) * period)   # 10 % of the depth covered
    return t, h, bottoms, starts


def test_sine_squats_exact_count_and_bottoms() -> None:
    t, h, bottoms, starts = squat_signal()
    reps = find_reps(t, h, rest="high", min_amplitude=0.1)
    assert len(reps) == 4
    assert np.allclose([r.far_s for r in reps], bottoms, atol=0.01)
    assert np.allclose([r.start_s for r in reps], starts, atol=1 / FPS)
    assert all(r.returned and r.end_s is not None and r.end_s > r.far_s > r.start_s for r in reps)
    assert np.allclose([r.amplitude for r in reps], 0.4, atol=1e-3)


def test_standing_sway_and_noise_are_not_reps() -> None:
    t = np.arange(0, 10, 1 / FPS)
    rng = np.random.default_rng(0)
    h = 1.0 + 0.02 * np.sin(2 * np.pi * 0.4 * t) + 0.005 * rng.standard_normal(len(t))
    assert find_reps(t, h, rest="high", min_amplitude=0.1) == []
    assert find_reps(t, h, rest="low", min_amplitude=0.1) == []


def test_nan_gaps_do_not_change_the_count() -> None:
    t, h, bottoms, _ = squat_signal()
    h = h.copy()
    h[100:112] = np.nan                       # a gap in the middle of the first descent
    h[int(9.0 * FPS):int(9.3 * FPS)] = np.nan   # and one at a bottom
    h[-20:] = np.nan                          # missing at the end
    reps = find_reps(t, h, rest="high", min_amplitude=0.1)
    assert len(reps) == 4
    assert np.allclose([r.far_s for r in reps], bottoms, atol=0.1)


def test_empty_and_tiny_inputs() -> None:
    assert find_reps(np.array([]), np.array([]), rest="high", min_amplitude=0.1) == []
    assert find_reps(np.array([0.0]), np.array([1.0]), rest="low", min_amplitude=0.1) == []
    assert find_reps(np.arange(50) / FPS, np.full(50, np.nan), rest="high", min_amplitude=0.1) == []
    with pytest.raises(ValueError, match="samples"):
        find_reps(np.arange(5.0), np.arange(4.0), rest="high", min_amplitude=0.1)


def test_a_bounce_in_the_hole_is_one_rep_and_an_unfinished_squat_none() -> None:
    t, h, _, _ = squat_signal(n_reps=1, period=4.0)
    bounce = (t > 4.6) & (t < 5.4)
    h[bounce] += 0.12 * np.sin(np.pi * (t[bounce] - 4.6) / 0.8)   # rises 12 cm, sinks again
    assert len(find_reps(t, h, rest="high", min_amplitude=0.1)) == 1
    cut = t < 5.0                                                # the clip ends at the bottom
    assert find_reps(t[cut], h[cut], rest="high", min_amplitude=0.1) == []


def test_concentric_first_reps_and_a_clip_ending_at_lockout() -> None:
    """Deadlift-like bar height: floor, pull, hold, lower; the last pull is still held at the end."""
    t = np.arange(0, 9, 1 / FPS)
    bar = np.full_like(t, 0.2)

    def ramp(a: float, b: float, lo: float, hi: float) -> None:
        m = (t >= a) & (t < b)
        bar[m] = lo + (hi - lo) * (1 - np.cos(np.pi * (t[m] - a) / (b - a))) / 2

    ramp(1.0, 1.6, 0.2, 0.7)
    bar[(t >= 1.6) & (t < 3.0)] = 0.7
    ramp(3.0, 4.0, 0.7, 0.2)
    ramp(5.0, 5.6, 0.2, 0.7)
    bar[t >= 5.6] = 0.7
    reps = find_reps(t, bar, rest="low", min_amplitude=0.1)
    assert len(reps) == 2
    assert reps[0].returned and not reps[1].returned and reps[1].end_s is None
    edge = np.arccos(0.8) / np.pi                 # share of a cosine ramp spent on its first 10 %
    expected = [1.0 + 0.6 * edge, 1.6 - 0.6 * edge, 3.0 + edge, 4.0 - edge]
    got = [reps[0].start_s, reps[0].arrive_s, reps[0].depart_s, reps[0].end_s]
    assert np.allclose(got, expected, atol=1 / FPS)
    assert abs(reps[1].arrive_s - (5.6 - 0.6 * edge)) < 1 / FPS


# ------------------------------------------------------------------ a synthetic squatter

def stick_squatter(knee_deg: np.ndarray, trunk_lean_deg: np.ndarray, fps: float = FPS) -> PoseSequence:
    """Side view, facing +x: ankles fixed, shank tilts a quarter and thigh three quarters of the knee flexion."""
    n = len(knee_deg)
    theta = np.radians(knee_deg)
    a, b, g = theta / 4, 3 * theta / 4, np.radians(trunk_lean_deg)
    ankle = np.stack([np.full(n, 300.0), np.full(n, 900.0)], axis=1)
    knee = ankle + 120 * np.stack([np.sin(a), -np.cos(a)], axis=1)
    hip = knee + 120 * np.stack([-np.sin(b), -np.cos(b)], axis=1)
    shoulder = hip + 170 * np.stack([np.sin(g), -np.cos(g)], axis=1)
    pts = {
        "ANKLE": ankle, "KNEE": knee, "HIP": hip, "SHOULDER": shoulder, "HEEL": ankle + [-20, 12],
        "FOOT_INDEX": ankle + [45, 12], "ELBOW": shoulder + [10, 40], "WRIST": shoulder + [15, -5],
        "INDEX": shoulder + [18, -10], "PINKY": shoulder + [16, -8], "THUMB": shoulder + [18, -8],
        "EAR": shoulder + [0, -45], "EYE_INNER": shoulder + [15, -55], "EYE": shoulder + [14, -55],
        "EYE_OUTER": shoulder + [12, -55],
    }
    xy = np.full((n, NUM_LANDMARKS, 2), np.nan)
    for lm in L:
        name = lm.name
        for side in ("LEFT_", "RIGHT_"):
            if name.startswith(side) and name[len(side):] in pts:
                xy[:, lm] = pts[name[len(side):]] + ([2.0, 0.0] if side == "LEFT_" else [-2.0, 0.0])
    xy[:, L.NOSE] = shoulder + [25, -50]
    xy[:, L.MOUTH_LEFT] = xy[:, L.MOUTH_RIGHT] = shoulder + [22, -38]
    ones = np.ones((n, NUM_LANDMARKS), np.float32)
    return PoseSequence(time_s=np.arange(n) / fps, image_xy=xy.astype(np.float32),
                        image_z=np.zeros((n, NUM_LANDMARKS), np.float32),
                        world_xyz=np.zeros((n, NUM_LANDMARKS, 3), np.float32), visibility=ones, presence=ones,
                        width=600, height=1000, fps=fps)


def synthetic_squats(n_reps: int = 3) -> tuple[PoseSequence, list[float]]:
    t, h, bottoms, _ = squat_signal(n_reps=n_reps, depth=1.0, period=3.0)
    depth = 1.0 - h                                  # 0 standing .. 1 at the bottom
    return stick_squatter(120.0 * depth, 30.0 * depth), bottoms


def test_synthetic_squatter_reps_depth_and_scale() -> None:
    raw, bottoms = synthetic_squats()
    a = analyze_pose(raw, AnalysisOptions("weightlifting", exercise="back_squat", athlete_height_m=1.75))
    s = a.result.summary
    assert a.view.view == "side" and a.view.facing == "right"
    assert s["rep_count"] == 3
    assert np.allclose([r["bottom_s"] for r in s["reps"]], bottoms, atol=0.05)
    height_px = (170 + 120 + 120) / 0.80
    assert s["scale"]["standing_height_px"] == pytest.approx(height_px, rel=0.01)
    hip_drop_m = (240 - 120 * np.cos(np.radians(30))) * 1.75 / height_px
    for rep in s["reps"]:
        assert rep["thigh_angle_deg"] == pytest.approx(0.0, abs=1.5)       # thigh horizontal
        assert rep["depth"] == "parallel"
        assert rep["knee_flexion_max_deg"] == pytest.approx(120, abs=1.5)
        assert rep["trunk_lean_max_deg"] == pytest.approx(30, abs=1.5)
        assert rep["range_of_motion_m"] == pytest.approx(hip_drop_m, rel=0.02)
        assert rep["eccentric_s"] == pytest.approx(rep["concentric_s"], abs=0.05)
        assert rep["mean_concentric_velocity_m_s"] > 0 and rep["peak_concentric_velocity_m_s"] > rep[
            "mean_concentric_velocity_m_s"]
        assert rep["knee_asymmetry_deg"] is None                           # a side view hides the far leg
    assert s["velocity_loss_pct"] == pytest.approx(0.0, abs=2.0)
    kinds = [e.type for e in a.result.events]
    assert kinds.count("rep_start") == kinds.count("rep_bottom") == kinds.count("rep_end") == 3
    json.dumps(s, allow_nan=False)
    assert all(np.isfinite(m.value) for m in a.result.metrics)
    assert {m.name for m in a.result.metrics} >= {"rep_count", "thigh_angle_deg", "range_of_motion_m"}


def test_a_tracked_plate_scales_the_bar_and_the_height_scales_the_body() -> None:
    """The bar moves in its plate's plane: a 45 cm disc of r px gives 0.225 / r m per px for the
    bar's distances and velocities, with or without the athlete's height; body distances need the height."""
    raw, _ = synthetic_squats(n_reps=2)
    bar = np.nanmean(raw.image_xy[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER]], axis=1).astype(np.float64)
    bar[:5] = np.nan                                   # tracked from frame 5 on

    def summary(height: float | None, radius: float | None, xy: np.ndarray | None = bar) -> dict:
        options = AnalysisOptions("weightlifting", exercise="back_squat", athlete_height_m=height)
        return analyze_pose(raw, options, bar_xy=xy, plate_radius_px=radius).result.summary

    by_height, by_plate, no_height = summary(1.75, None), summary(1.75, 45.0), summary(None, 45.0)
    assert by_plate["scale"]["bar_source"] == "plate" and by_plate["scale"]["plate_radius_px"] == 45.0
    assert by_plate["scale"]["bar_m_per_px"] == pytest.approx(0.225 / 45.0, rel=1e-3)
    assert by_height["scale"]["bar_source"] == "athlete_height"
    ratio = (0.225 / 45.0) / by_height["scale"]["m_per_px"]
    for h, p, n in zip(by_height["reps"], by_plate["reps"], no_height["reps"]):
        for key in ("mean_concentric_velocity_m_s", "peak_concentric_velocity_m_s"):
            assert p[key] == pytest.approx(h[key] * ratio, rel=0.01) and n[key] == p[key]
        assert p["range_of_motion_m"] == h["range_of_motion_m"] and n["range_of_motion_m"] is None
        assert p["hip_below_knee_m"] == h["hip_below_knee_m"] and n["hip_below_knee_m"] is None
    assert by_plate["bar_source"] == "tracked"
    # what the panel and the charts read: the bar's scale, or the body's in summaries written before it
    from pipeline.metrics.weightlifting import bar_m_per_px
    assert bar_m_per_px(by_plate) == by_plate["scale"]["bar_m_per_px"]
    assert bar_m_per_px({"scale": {"m_per_px": 0.003}}) == 0.003
    assert bar_m_per_px(summary(None, None)) is None and bar_m_per_px({}) is None
    # a track with no finite frame is no track: neither its source nor its plate is claimed
    untracked = summary(1.75, 45.0, np.full_like(bar, np.nan))
    assert untracked["bar_source"] == "shoulders" and untracked["scale"]["bar_source"] == "athlete_height"


def test_the_floor_is_under_the_lowest_foot_even_when_the_feet_are_hidden() -> None:
    """Feet hidden behind a plate are placed too high (the power clean's by up to 140 px): the floor
    is the lowest heel or toe over a second, so bar heights do not jump with them."""
    from pipeline.metrics.bar_path import floor_row

    raw, _ = synthetic_squats(n_reps=1)
    feet = [L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX]
    xy = raw.image_xy.copy()
    true_floor = float(np.nanmax(xy[:, feet, 1]))
    xy[40:52, feet, 1] -= 140.0                         # hidden feet guessed 140 px too high
    xy[60:64, feet] = np.nan                            # and not seen at all
    floor = floor_row(dataclasses.replace(raw, image_xy=xy))
    assert floor.shape == (len(raw),) and np.allclose(floor, true_floor, atol=0.5)
    assert floor_row(PoseSequence.empty(0)).shape == (0,)


def test_no_exercise_defaults_to_back_squat_and_no_height_gives_no_metres() -> None:
    raw, _ = synthetic_squats(n_reps=2)
    result = analyze_pose(raw, AnalysisOptions("weightlifting")).result
    codes = {w["code"] for w in result.warnings}
    assert {"exercise_defaulted", "athlete_height_missing"} <= codes
    assert result.summary["exercise"] == "back_squat" and result.summary["rep_count"] == 2
    rep = result.summary["reps"][0]
    assert rep["range_of_motion_m"] is None and rep["mean_concentric_velocity_m_s"] is None
    assert rep["range_of_motion_pct_height"] > 10 and rep["depth"] == "parallel"


@pytest.mark.parametrize("exercise", ["back_squat", "front_squat", "deadlift", "bench_press", "overhead_press",
                                      "snatch", "clean", "clean_and_jerk"])
def test_every_exercise_runs_and_serialises(exercise: str) -> None:
    raw, _ = synthetic_squats(n_reps=2)
    result = analyze_pose(raw, AnalysisOptions("weightlifting", exercise=exercise, athlete_height_m=1.8)).result
    assert result.summary["exercise"] == exercise and result.summary["rep_count"] >= 0
    json.dumps(result.summary, allow_nan=False)
    json.dumps(recommend(result.summary), allow_nan=False)
    assert all(np.isfinite(m.value) for m in result.metrics)


def test_empty_and_undetected_sequences_give_no_reps_not_errors() -> None:
    view = ViewInfo("unknown", "unknown", float("nan"), float("nan"))
    for seq in (PoseSequence.empty(0), PoseSequence.empty(90)):
        angles = compute_angles(seq, 1.0)
        result = analyze(seq, angles, view, AnalysisOptions("weightlifting", exercise="deadlift"))
        assert result.summary["rep_count"] == 0 and result.summary["reps"] == []
        assert [w["code"] for w in result.warnings] == ["no_reps_found"]
        json.dumps(result.summary, allow_nan=False)


def test_olympic_key_frames_follow_the_double_knee_bend() -> None:
    n = 60
    t = np.arange(n) / FPS
    bar = np.concatenate([np.linspace(50, 300, 40), np.linspace(300, 250, 20)])
    knee = np.concatenate([np.linspace(100, 40, 15), np.linspace(40, 55, 5), np.linspace(55, 10, 10),
                           np.linspace(10, 100, 30)])
    hip = np.concatenate([np.linspace(120, 240, 30), np.linspace(240, 150, 25), np.linspace(150, 200, 5)])
    kf = find_key_frames(t, bar, hip, np.full(n, 130.0), knee, 0, n - 1, height_px=500.0)
    assert kf.double_knee_bend
    assert (kf.knee_pass, kf.power_position, kf.full_extension) == (14, 19, 29)
    assert kf.peak_bar == 39 and kf.catch == 54 and not kf.recovered
    starts = [a for a, _ in kf.phases().values()]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


# ------------------------------------------------------------------ recommendations and catalogs

def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_code_has_text_in_every_language_with_the_same_placeholders() -> None:
    for code in CODES:
        expected = _placeholders(catalog("en")[code])
        assert expected <= ALLOWED_PLACEHOLDERS, code
        for lang in LANGUAGES:
            text = catalog(lang).get(code)
            assert isinstance(text, str) and text.strip(), f"{code} has no {lang} text"
            assert _placeholders(text) == expected, f"{code}/{lang} placeholders differ from en"
    for lang in LANGUAGES:
        assert set(catalog(lang)) - {"_meta"} == set(CODES), f"{lang} catalog has unknown or missing codes"


def test_rule_severity_evidence_and_localised_numbers() -> None:
    reps = [{"index": 0, "thigh_angle_deg": 2.0}, {"index": 1, "thigh_angle_deg": 12.0}]
    summary = {"exercise": "back_squat", "rep_count": 2, "reps": reps, "view": "side"}
    [rec] = recommend(summary)
    assert rec["code"] == "squat_depth_above_parallel" and rec["severity"] == "warning"
    assert rec["evidence"] == {"metric": "thigh_angle_deg", "value": 12.0, "threshold": 5.0, "unit": "deg", "rep": 1}
    assert set(rec["text"]) == set(LANGUAGES) and "rep 2" in rec["text"]["en"] and "12°" in rec["text"]["en"]
    reps[1]["thigh_angle_deg"] = 25.0
    assert recommend(summary)[0]["severity"] == "critical"
    assert recommend({**summary, "view": "front"})[0]["code"] == "no_issues_found"   # depth needs a side view
    assert recommend({"exercise": "deadlift", "rep_count": 0, "reps": []})[0]["code"] == "no_reps_found"
    text = render_text("bar_path_deviation", {"value": 0.153, "threshold": 0.08, "unit": "m", "rep": 0})
    assert "0.15 m" in text["en"] and "0,15 m" in text["de"] and "0,08 m" in text["fr"]


# ------------------------------------------------------------------ real clips (pose model)

def _analyze(raw_pose, clip, name: str, exercise: str, height: float | None = 1.75):
    raw = raw_pose(clip(name))
    return analyze_pose(raw, AnalysisOptions("weightlifting", exercise=exercise, athlete_height_m=height))


@pytest.mark.slow
def test_squat_side_two_reps_after_standing_still(raw_pose, clip) -> None:
    a = _analyze(raw_pose, clip, "squat_side.mp4", "back_squat")
    s = a.result.summary
    assert s["rep_count"] == 2
    assert abs(s["reps"][0]["bottom_s"] - 10.5) < 0.5 and abs(s["reps"][1]["bottom_s"] - 17.3) < 0.5
    assert all(r["start_s"] > 8.0 for r in s["reps"])          # the first 8 s standing still is no rep
    for rep in s["reps"]:
        assert rep["depth"] in ("above_parallel", "parallel", "below_parallel")
        assert rep["thigh_angle_deg"] is not None and rep["hip_below_knee_m"] is not None
        assert 30 < rep["trunk_angle_deg"] < 90 and rep["trunk_lean_max_deg"] is not None
        assert 80 < rep["knee_flexion_max_deg"] < 150
        assert 0.2 < rep["range_of_motion_m"] < 0.7
        assert 0.1 < rep["mean_concentric_velocity_m_s"] < 2.0
    json.dumps(s, allow_nan=False)


@pytest.mark.slow
def test_standing_clip_gives_no_reps_with_a_clear_message(raw_pose, clip, tmp_path: Path) -> None:
    raw = raw_pose(clip("squat_side.mp4"))
    standing = raw[raw.time_s < 7.0]
    a = analyze_pose(standing, AnalysisOptions("weightlifting", exercise="back_squat", athlete_height_m=1.75))
    assert a.result.summary["rep_count"] == 0 and a.result.summary["reps"] == []
    [warning] = [w for w in a.result.warnings if w["code"] == "no_reps_found"]
    assert "no back squat repetition" in warning["message"]
    report = build_lift_report(clip("squat_side.mp4"), a.seq, a.angles, a.result, tmp_path)
    assert report["images"] == [] and report["recommendations"][0]["code"] == "no_reps_found"
    assert {c["kind"] for c in report["charts"]} >= {"bar_path", "angles"}


@pytest.mark.slow
def test_power_clean_one_rep_with_phases_in_order(raw_pose, clip) -> None:
    a = _analyze(raw_pose, clip, "power_clean_side.mp4", "clean")
    s = a.result.summary
    assert s["rep_count"] == 1
    rep = s["reps"][0]
    phases = rep["phases"]
    order = ["first_pull", "transition", "second_pull", "turnover", "catch"]
    assert list(phases)[:5] == order
    starts = [phases[p]["start_s"] for p in order]
    assert starts == sorted(starts) and len(set(starts)) == 5
    assert all(phases[p]["end_s"] >= phases[p]["start_s"] for p in phases)
    # the plate leaves the floor at 0.53-0.57 s (seen on the frames); feet hidden behind it once
    # lifted the floor with them and put lift-off at 0.80 s
    assert 0.5 < phases["first_pull"]["start_s"] < 0.7
    assert 1.0 < phases["turnover"]["start_s"] < 1.4               # full extension ~1.2 s
    assert rep["catch_s"] >= rep["peak_bar_s"] and rep["catch_knee_flexion_deg"] is not None
    assert rep["peak_bar_height_m"] is not None and rep["catch_depth"] is not None
    events = [e.type for e in a.result.events]
    assert [e for e in events if e.endswith("_start") and e != "rep_start"][:5] == [f"{p}_start" for p in order]
    json.dumps(s, allow_nan=False)


@pytest.mark.slow
def test_deadlift_rear_oblique_two_reps(raw_pose, clip) -> None:
    """Seen on the frames: set up over the bar (0.3-1.4 s), pull to lockout (~2.0 s), lower to the
    floor (~3.4-4.6 s), pull again (~5.2-5.8 s) and hold the lockout to the end: two reps."""
    a = _analyze(raw_pose, clip, "deadlift_rear_oblique.mp4", "deadlift")
    s = a.result.summary
    assert s["rep_count"] == 2
    assert abs(s["reps"][0]["lockout_s"] - 1.9) < 0.4 and abs(s["reps"][1]["lockout_s"] - 5.7) < 0.4
    assert s["reps"][0]["complete"] and s["reps"][0]["end_s"] is not None and s["reps"][0]["lowered"]
    # still at lockout when the clip ends: a whole pull (counted), not lowered
    assert s["reps"][1]["complete"] and not s["reps"][1]["lowered"] and s["incomplete_reps"] == []
    assert all(r["lockout_hip_flexion_deg"] < 20 for r in s["reps"])
    assert "oblique_view" in {w["code"] for w in a.result.warnings}


def _check_png(path: Path, min_side: int) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"{path.name} is not a readable PNG"
    assert min(image.shape[:2]) >= min_side and image.std() > 20
    return image


@pytest.mark.slow
@pytest.mark.parametrize("name,exercise", [("squat_side.mp4", "back_squat"), ("power_clean_side.mp4", "clean")])
def test_lift_report_images_charts_and_texts(raw_pose, clip, tmp_path: Path, name: str, exercise: str) -> None:
    a = _analyze(raw_pose, clip, name, exercise)
    report = build_lift_report(clip(name), a.seq, a.angles, a.result, tmp_path)
    reps = a.result.summary["reps"]
    for rep in reps:
        positions = {im["position"] for im in report["images"] if im["rep"] == rep["index"]}
        assert {"start", "catch" if exercise == "clean" else "bottom"} <= positions
        assert exercise == "clean" or "lockout" in positions
    frames = {f.index: f.image for f in iter_frames(clip(name))}
    for im in report["images"]:
        image = _check_png(tmp_path / im["file"], 400)
        assert image.shape[:2] == (a.seq.height, a.seq.width)
        i = int(np.argmin(np.abs(a.seq.time_s - im["time_s"])))
        xy = a.seq.image_xy[i]
        assert np.all((xy[:, 0] >= 0) & (xy[:, 0] < a.seq.width) & (xy[:, 1] >= 0) & (xy[:, 1] < a.seq.height))
        # the skeleton is drawn on the lifter: the picture differs from the video frame at the
        # best-seen joint among shoulders, hips and knees
        joints = [L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE]
        joint = np.round(xy[joints[int(np.argmax(a.seq.visibility[i, joints]))]]).astype(int)
        raw = cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR).astype(int)
        patch = np.s_[joint[1] - 6:joint[1] + 7, joint[0] - 6:joint[0] + 7]
        assert np.abs(image.astype(int)[patch] - raw[patch]).mean() > 25
    kinds = {c["kind"] for c in report["charts"]}
    assert kinds == {"bar_path", "angles", "bar_velocity"}
    for chart in report["charts"]:
        _check_png(tmp_path / chart["file"], 300)
    assert report["recommendations"]
    for rec in report["recommendations"]:
        assert rec["code"] in CODES and rec["severity"] in ("info", "warning", "critical")
        assert set(rec["text"]) == set(LANGUAGES) and all(rec["text"].values())
        assert set(rec["evidence"]) == {"metric", "value", "threshold", "unit", "rep"}
    json.dumps(report, allow_nan=False)


@pytest.mark.slow
def test_bar_tracker_follows_the_plate(raw_pose, clip) -> None:
    from pipeline.metrics.bar_path import hands_point, standing_height_px
    from pipeline.metrics.bar_tracker import track_bar

    a = _analyze(raw_pose, clip, "power_clean_side.mp4", "clean")
    track = track_bar(clip("power_clean_side.mp4"), raw_pose(clip("power_clean_side.mp4")))   # as analysis does
    bar = track.xy
    assert bar.shape == (len(a.seq), 2) and np.isfinite(bar).all(axis=1).mean() > 0.9
    # the plate's radius, measured on the frames: 76 px (a 152 px disc at 720x1280)
    assert track.plate_radius_px == pytest.approx(76, abs=3)
    height = standing_height_px(a.seq)
    gap = np.linalg.norm(bar - hands_point(a.seq), axis=1)
    assert np.nanmedian(gap) < 0.2 * height                  # from the side the hub is next to the hands
    assert np.nanmax(bar[:, 1]) - np.nanmin(bar[:, 1]) > 0.5 * height   # and it rose with the pull
    options = AnalysisOptions("weightlifting", exercise="clean", athlete_height_m=1.75)
    tracked = analyze(a.seq, a.angles, a.view, options, bar_xy=bar, plate_radius_px=track.plate_radius_px).summary
    assert tracked["rep_count"] == 1 and tracked["bar_source"] == "tracked"
    # the plate's scale, not the athlete's (never upright in this clip: his height reads 13 % short)
    rep = tracked["reps"][0]
    assert tracked["scale"]["bar_source"] == "plate"
    # power cleans peak at ≈ 1.7-2.2 m/s; the plate's blur at full speed moves single frames by
    # 10-30 px, ±0.3 m/s on the peak (the athlete's height as scale gave 2.75)
    assert 1.6 < rep["peak_concentric_velocity_m_s"] < 2.6 and 1.0 < rep["mean_concentric_velocity_m_s"] < 1.5
    assert 1.1 < rep["peak_bar_height_m"] < 1.45               # the front rack of a ≈ 1.75 m lifter
    squat = _analyze(raw_pose, clip, "squat_side.mp4", "back_squat")
    no_plate = track_bar(clip("squat_side.mp4"), squat.seq)
    assert np.isnan(no_plate.xy).all() and no_plate.plate_radius_px is None   # no plate in view: no track


def test_cutoff_is_a_float() -> None:
    assert isinstance(CUTOFF_HZ, float) and 2.0 <= CUTOFF_HZ <= 12.0
