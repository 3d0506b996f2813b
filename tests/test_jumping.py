"""Jumping analysis (issue 3).

Fast: physics on stick-figure sequences with exactly known jumps (tests/support/jump_clips.py).
Slow: ground-truth clips made at test time from squat_side.mp4 by ../shared/tools/make_jump_clip.py
(30/60/120 fps, mirrored or not, rigid and countermovement), the two shipped synthetic clips, and
real clips where nobody jumps (a squat, a walker).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.metrics import norms
from pipeline.metrics.jumping import BOUNDS, CUTOFF_HZ, analyze, flight_height_m, rsi, sayers_peak_power_w
from pipeline.metrics.view import ViewInfo
from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from tests.conftest import SHARED_TOOLS, clip_path
from tests.support.jump_clips import (STATURE_M, ClipSpec, Jump, analyze_raw, make_clips, stick_sequence,
                                      truth_of)

G = 9.81


def opts(**kw: Any) -> AnalysisOptions:
    kw.setdefault("athlete_height_m", STATURE_M)
    return AnalysisOptions("jumping", **kw)


def codes(result: Any) -> list[str]:
    return [w["code"] for w in result.warnings]


def assert_clean_json(summary: dict[str, Any]) -> None:
    text = json.dumps(summary, allow_nan=False)          # raises on NaN / inf
    assert json.loads(text) == summary


# ------------------------------------------------------------------ formulas


def test_flight_height_is_g_t_squared_over_8() -> None:
    for t in (0.2, 0.45, 0.6):
        # rise of a ballistic body during T/2 after takeoff at v0 = g·T/2
        v0 = G * t / 2
        assert flight_height_m(t) == pytest.approx(v0**2 / (2 * G), rel=1e-12)
        assert flight_height_m(t) == pytest.approx(G * t * t / 8, rel=1e-12)


def test_sayers_and_rsi_formulas() -> None:
    assert sayers_peak_power_w(0.40, 80.0) == pytest.approx(60.7 * 40 + 45.3 * 80 - 2055)
    assert rsi(0.30, 0.20) == pytest.approx(1.5)
    assert rsi(0.30, None) is None and rsi(None, 0.2) is None and rsi(0.3, 0.0) is None


def test_cutoff_is_a_float_the_pipeline_can_use() -> None:
    assert isinstance(CUTOFF_HZ, float) and 4.0 <= CUTOFF_HZ < 15.0   # below Nyquist at 30 fps


# ------------------------------------------------------------------ physics on stick figures


@pytest.mark.parametrize("fps", [30.0, 60.0, 120.0])
@pytest.mark.parametrize("facing", [1, -1])
def test_exact_flights_are_timed_between_frames(fps: float, facing: int) -> None:
    truth = [Jump(0.8123, 0.45), Jump(2.2345, 0.33)]
    r = analyze_raw(stick_sequence(truth, 3.5, fps, facing=facing), opts())
    s = r.summary
    assert s["jump_count"] == 2 and len(s["jumps"]) == 2
    for j, tj in zip(s["jumps"], truth):
        assert j["takeoff_s"] == pytest.approx(tj.takeoff_s, abs=5e-4)
        assert j["landing_s"] == pytest.approx(tj.landing_s, abs=5e-4)
        assert j["flight_time_s"] == pytest.approx(tj.flight_s, abs=5e-4)
        # h = g·T²/8 of the reported flight time, and the truth within 2 mm
        assert j["jump_height_m"] == pytest.approx(G * j["flight_time_s"] ** 2 / 8, abs=1e-4)
        assert j["jump_height_m"] == pytest.approx(tj.height_m, abs=0.002)
        assert j["takeoff_velocity_m_s"] == pytest.approx(G * j["flight_time_s"] / 2, abs=1e-3)
        # hip displacement, scaled by the athlete height: same rise for a rigid flight
        assert j["jump_height_hip_m"] == pytest.approx(tj.height_m, abs=0.01)
    assert s["best_jump_height_m"] == max(j["jump_height_m"] for j in s["jumps"])
    assert s["mean_flight_time_s"] == pytest.approx(np.mean([j["flight_time_s"] for j in s["jumps"]]), abs=1e-4)
    assert_clean_json(s)


def test_noisy_landmarks_still_give_height_within_a_centimetre() -> None:
    truth = [Jump(0.9, 0.5), Jump(2.1, 0.38), Jump(3.3, 0.3)]
    r = analyze_raw(stick_sequence(truth, 4.2, 60, facing=-1, noise_px=1.5, seed=3), opts())
    assert r.summary["jump_count"] == 3
    for j, tj in zip(r.summary["jumps"], truth):
        assert abs(j["jump_height_m"] - tj.height_m) < 0.01
        assert abs(j["flight_time_s"] - tj.flight_s) < 1 / 60 / 3


def test_countermovement_depth_phases_and_angles() -> None:
    cm = Jump(1.6, 0.5, cm_theta=0.75, ecc_s=0.5, con_s=0.3)
    r = analyze_raw(stick_sequence([cm], 3.0, 60), opts())
    j = r.summary["jumps"][0]
    theta_max = 0.04 + 0.75
    assert j["kind"] == "cmj" and r.summary["jump_type"] == "cmj"
    assert j["countermovement_depth_m"] == pytest.approx(0.88 * (math.cos(0.04) - math.cos(theta_max)), abs=0.01)
    assert j["countermovement_bottom_s"] == pytest.approx(1.6 - 0.3, abs=0.02)
    assert j["concentric_duration_s"] == pytest.approx(0.3, abs=0.03)
    assert 0.3 <= j["eccentric_duration_s"] <= 0.5          # lowering starts slowly (5 % of depth)
    assert j["countermovement_start_s"] == pytest.approx(j["countermovement_bottom_s"] - j["eccentric_duration_s"],
                                                         abs=1e-3)
    assert j["min_knee_angle_deg"] == pytest.approx(180 - 2 * math.degrees(theta_max), abs=2.5)
    assert 60 < j["min_hip_angle_deg"] < 160
    assert j["rsi_mod_m_s"] == pytest.approx(j["jump_height_m"] / (j["takeoff_s"] - j["countermovement_start_s"]),
                                             abs=2e-3)
    assert j["landing_peak_knee_flexion_deg"] == pytest.approx(2 * math.degrees(0.04 + 0.35), abs=3)
    types = [e.type for e in r.events]
    assert types == ["countermovement_start", "countermovement_bottom", "takeoff", "landing"]
    assert all(e.index == 0 for e in r.events)
    assert_clean_json(r.summary)


def test_held_squat_is_a_squat_jump() -> None:
    sj = Jump(2.4, 0.42, cm_theta=0.7, ecc_s=0.5, hold_s=1.2, con_s=0.3)
    r = analyze_raw(stick_sequence([sj], 3.6, 60), opts())
    j = r.summary["jumps"][0]
    assert j["kind"] == "squat_jump" and r.summary["jump_type"] == "squat_jump"
    assert j["eccentric_duration_s"] is None
    assert j["concentric_duration_s"] == pytest.approx(0.3, abs=0.05)
    assert j["rsi_mod_m_s"] is None


def test_repeated_hops_contact_time_and_rsi() -> None:
    hops = [Jump(0.8 + k * 0.68, 0.43) for k in range(4)]          # 0.25 s on the ground between hops
    r = analyze_raw(stick_sequence(hops, 4.0, 60), opts())
    s = r.summary
    assert s["jump_count"] == 4 and s["jump_type"] == "hops"
    assert s["jumps"][0]["contact_time_s"] is None and s["jumps"][0]["rsi_m_s"] is None
    for j in s["jumps"][1:]:
        assert j["kind"] == "hop"
        assert j["contact_time_s"] == pytest.approx(0.25, abs=0.005)
        assert j["rsi_m_s"] == pytest.approx(j["jump_height_m"] / j["contact_time_s"], abs=2e-3)
    assert s["mean_contact_time_s"] == pytest.approx(0.25, abs=0.005)
    assert s["best_rsi_m_s"] == max(j["rsi_m_s"] for j in s["jumps"][1:])


def test_drop_jump_from_a_box() -> None:
    box, t_off = 0.40, 1.0
    t_land = t_off + math.sqrt(2 * box / G)
    rebound = Jump(t_land + 0.22, 0.45)
    r = analyze_raw(stick_sequence([rebound], 3.0, 120, drop=(t_off, box)), opts())
    s = r.summary
    assert s["jump_count"] == 1 and s["jump_type"] == "drop_jump"
    assert len(s["drops"]) == 1
    assert s["drops"][0]["landing_s"] == pytest.approx(t_land, abs=0.003)
    assert s["drops"][0]["drop_height_m"] == pytest.approx(box, abs=0.02)
    j = s["jumps"][0]
    assert j["kind"] == "drop_jump"
    assert j["contact_time_s"] == pytest.approx(0.22, abs=0.005)
    assert j["rsi_m_s"] == pytest.approx(j["jump_height_m"] / j["contact_time_s"], abs=2e-3)
    assert "drop_landing" in [e.type for e in r.events]


def test_out_of_range_values_are_kept_and_warned() -> None:
    r = analyze_raw(stick_sequence([Jump(0.5, 1.05)], 2.5, 60), opts(body_mass_kg=70))
    j = r.summary["jumps"][0]
    assert j["flight_time_s"] == pytest.approx(1.05, abs=1e-3)          # kept, not dropped
    msgs = [w["message"] for w in r.warnings if w["code"] == "metric_out_of_bounds"]
    assert any("flight_time_s" in m for m in msgs) and any("jump_height_m" in m for m in msgs)
    assert j["peak_power_w"] == pytest.approx(sayers_peak_power_w(j["jump_height_m"], 70), abs=1)
    assert all(set(w) == {"code", "message"} for w in r.warnings)


def test_plausible_jumps_raise_no_bounds_warning() -> None:
    r = analyze_raw(stick_sequence([Jump(1.6, 0.5, cm_theta=0.75)], 3.0, 60), opts(body_mass_kg=75))
    assert "metric_out_of_bounds" not in codes(r)
    for key, b in BOUNDS.items():
        v = r.summary["jumps"][0].get(key)
        assert v is None or b.lo <= v <= b.hi, key


def test_standing_squatting_and_walking_are_not_jumps() -> None:
    squat = stick_sequence([Jump(2.0, 0.0, cm_theta=0.8, land_theta=0.0)], 4.0, 30)   # down and up, no flight
    left = [L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.LEFT_ANKLE]
    right = [L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_ANKLE]
    steps = tuple((left if k % 2 == 0 else right, (0.5 + 0.5 * k, 0.9 + 0.5 * k, 0.12)) for k in range(6))
    walk = stick_sequence([], 4.0, 30, one_foot_steps=steps, noise_px=1.0)
    for seq in (stick_sequence([], 3.0, 30), squat, walk):
        r = analyze_raw(seq, opts())
        assert r.summary["jump_count"] == 0 and r.summary["jumps"] == []
        assert "no_jumps_found" in codes(r)
        assert r.events == [] and [m.name for m in r.metrics] == ["jump_count"]
        assert_clean_json(r.summary)


@pytest.mark.parametrize("n", [0, 1, 40])
def test_nothing_detected_is_not_an_error(n: int) -> None:
    seq = PoseSequence.empty(n, width=640, height=480, fps=30.0)
    view = ViewInfo("unknown", "unknown", float("nan"), float("nan"))
    r = analyze(seq, {}, view, opts(), raw=seq)
    assert r.summary["jump_count"] == 0 and "no_jumps_found" in codes(r)
    assert_clean_json(r.summary)


def test_knee_valgus_in_front_view_only() -> None:
    jumps = [Jump(1.0, 0.45, valgus_m=0.06, land_theta=0.5)]
    front = analyze_raw(stick_sequence(jumps, 2.5, 60, view="front"), opts(sex="F", age=22))
    assert front.summary["view"] == "front"
    j = front.summary["jumps"][0]
    assert j["knee_valgus_left_deg"] > 8 and j["knee_valgus_right_deg"] > 8      # knees medial: valgus > 0
    assert j["landing_knee_flexion_deg"] is None and j["min_knee_angle_deg"] is None   # no flexion from the front
    straight = analyze_raw(stick_sequence([Jump(1.0, 0.45)], 2.5, 60, view="front"), opts())
    assert abs(straight.summary["jumps"][0]["knee_valgus_left_deg"]) < 5
    side = analyze_raw(stick_sequence(jumps, 2.5, 60), opts())
    assert side.summary["jumps"][0]["knee_valgus_left_deg"] is None
    rows = [m for m in front.metrics if m.name == "knee_valgus_deg"]
    assert {m.side for m in rows} == {"left", "right"}
    assert front.summary["norms"]["knee_valgus_deg"]["source"] == "herrington2010"


def test_given_jump_type_wins_and_a_mismatch_is_reported() -> None:
    hops = [Jump(0.8 + k * 0.68, 0.43) for k in range(3)]
    r = analyze_raw(stick_sequence(hops, 3.2, 60), opts(jump_type="cmj"))
    assert r.summary["jump_type"] == "cmj" and r.summary["jump_type_source"] == "given"
    assert "jump_type_mismatch" in codes(r)
    r = analyze_raw(stick_sequence(hops, 3.2, 60), opts(jump_type="hops"))
    assert "jump_type_mismatch" not in codes(r) and r.summary["jump_type_source"] == "given"


def test_without_athlete_height_no_metre_positions() -> None:
    r = analyze_raw(stick_sequence([Jump(1.6, 0.5, cm_theta=0.75)], 3.0, 60), AnalysisOptions("jumping"))
    j = r.summary["jumps"][0]
    assert j["jump_height_m"] == pytest.approx(G * 0.25 / 8, abs=0.002)    # flight time needs no scale
    assert j["jump_height_hip_m"] is None and j["countermovement_depth_m"] is None
    assert j["countermovement_start_s"] is not None                         # timing still measured
    assert "athlete_height_missing" in codes(r)
    assert r.summary["scale"]["px_per_m"] is None


def test_norms_rate_against_a_documented_population() -> None:
    seq = stick_sequence([Jump(1.0, 0.55)], 2.2, 60)                       # h = 0.371 m
    elite = analyze_raw(seq, opts(sex="M", age=24, level="elite")).summary["norms"]["jump_height_m"]
    assert elite["rating"] == "within" and elite["source"] == "haugen2021"
    assert elite["reference"] == norms.SOURCES["haugen2021"]
    older = analyze_raw(seq, opts(sex="F", age=70)).summary["norms"]["jump_height_m"]
    assert older["rating"] == "above" and older["source"] == "cruvinel2018"
    unknown = analyze_raw(seq, opts()).summary["norms"]["jump_height_m"]
    assert unknown["rating"] is None and "sex" in unknown["reason"]
    for n in norms.NORMS:
        assert n.source in norms.SOURCES and n.low < n.high


def test_rows_events_and_summary_agree() -> None:
    truth = [Jump(0.8, 0.45, cm_theta=0.5, ecc_s=0.3, con_s=0.25), Jump(2.6, 0.4)]
    r = analyze_raw(stick_sequence(truth, 3.6, 60), opts(body_mass_kg=72))
    s = r.summary
    for j in s["jumps"]:
        assert {"index", "takeoff_s", "landing_s", "flight_time_s", "jump_height_m"} <= set(j)
        row = [m for m in r.metrics if m.name == "jump_height_m" and m.index == j["index"]]
        assert len(row) == 1 and row[0].value == j["jump_height_m"] and row[0].unit == "m"
        ev = {e.type: e for e in r.events if e.index == j["index"]}
        assert ev["takeoff"].time_s == j["takeoff_s"] and ev["landing"].time_s == j["landing_s"]
        assert abs(ev["takeoff"].frame / 60 - j["takeoff_s"]) <= 0.5 / 60 + 1e-9
    assert [m for m in r.metrics if m.name == "jump_count"][0].value == 2
    assert all(m.unit for m in r.metrics) and all(math.isfinite(m.value) for m in r.metrics)
    assert_clean_json(s)


def test_ten_minutes_of_jumping_is_fast() -> None:
    jumps = [Jump(5 + 12 * k + 0.123, 0.4 + 0.002 * k, cm_theta=0.6) for k in range(49)]
    seq = stick_sequence(jumps, 600, 30, noise_px=1.0)
    analyze_raw(seq[:300], opts())                                         # warm-up
    t0 = time.perf_counter()
    r = analyze_raw(seq, opts(body_mass_kg=70))
    dt = time.perf_counter() - t0
    assert r.summary["jump_count"] == 49
    assert dt < 3.0, f"{dt:.2f} s for 18,000 frames (clean + angles + analyze)"


# ------------------------------------------------------------------ ground-truth clips (slow)

BASE = "squat_side.mp4"
SPECS = [
    ClipSpec("rigid_30", 30, ((0.9876, 0.45), (2.1234, 0.32), (3.3456, 0.58)), 4.5),
    ClipSpec("rigid_60_mirror", 60, ((0.6543, 0.36), (1.4321, 0.52), (2.4567, 0.30), (3.2109, 0.41)), 4.0,
             mirror=True),
    ClipSpec("rigid_120", 120, ((0.8765, 0.49), (1.9012, 0.34)), 2.8),
    ClipSpec("cm_30_mirror", 30, ((1.2121, 0.44), (3.0707, 0.53)), 4.5, countermovement=True, mirror=True),
    ClipSpec("cm_60", 60, ((1.4444, 0.39), (3.1919, 0.58)), 4.3, countermovement=True),
    ClipSpec("cm_120_mirror", 120, ((1.0987, 0.56),), 2.2, countermovement=True, mirror=True),
]
SHIPPED = ["jumps_synthetic_30fps.mp4", "cmj_synthetic_60fps.mp4"]


def height_tolerance_m(fps: float) -> float:
    return 0.01 if fps >= 60 else 0.015


@pytest.fixture(scope="module")
def truth_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("jump-clips")
    clips = make_clips(SPECS, SHARED_TOOLS / "make_jump_clip.py", clip_path(BASE), out)
    clips.update({name: clip_path(name) for name in SHIPPED})
    return clips


@pytest.fixture(scope="module")
def truth_results(truth_clips: dict[str, Path], raw_pose: Any) -> dict[str, tuple[dict[str, Any], Any]]:
    results = {}
    for name, path in truth_clips.items():
        truth = truth_of(path)
        raw = raw_pose(path)
        results[name] = (truth, analyze_raw(raw, opts(athlete_height_m=truth["athlete_height_m"], body_mass_kg=75)))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in SPECS] + SHIPPED)
def test_ground_truth_clip(name: str, truth_results: dict[str, tuple[dict[str, Any], Any]]) -> None:
    truth, r = truth_results[name]
    s = r.summary
    fps, frame = truth["fps"], 1 / truth["fps"]
    assert s["jump_count"] == len(truth["jumps"]), [(j["takeoff_s"], j["landing_s"]) for j in s["jumps"]]
    for j, tj in zip(s["jumps"], truth["jumps"]):
        assert abs(j["jump_height_m"] - tj["jump_height_m"]) <= height_tolerance_m(fps), (j, tj)
        assert abs(j["flight_time_s"] - tj["flight_time_s"]) <= frame, (j, tj)       # never a frame off
        assert abs(j["takeoff_s"] - tj["takeoff_s"]) <= frame and abs(j["landing_s"] - tj["landing_s"]) <= frame
        # hip displacement with the athlete height: a few % of scale error at most
        assert abs(j["jump_height_hip_m"] - tj["jump_height_m"]) <= 0.03 + 0.1 * tj["jump_height_m"]
    cm = truth["countermovement_s"] > 0
    if cm:
        assert all(j["kind"] == "cmj" for j in s["jumps"]) and s["jump_type"] == "cmj"
        assert all(j["countermovement_depth_m"] > 0.2 and j["concentric_duration_s"] > 0.15 for j in s["jumps"])
        assert all(j["min_knee_angle_deg"] < 110 for j in s["jumps"])       # a deep real squat before takeoff
    assert "metric_out_of_bounds" not in codes(r) or not cm
    assert_clean_json(s)


@pytest.mark.slow
def test_ground_truth_median_flight_time_error(truth_results: dict[str, tuple[dict[str, Any], Any]]) -> None:
    """Median over every ground-truth jump of |flight time error| in frame periods: <= 1/3 frame."""
    errors_frames, by_fps = [], {}
    for truth, r in truth_results.values():
        for j, tj in zip(r.summary["jumps"], truth["jumps"]):
            e = abs(j["flight_time_s"] - tj["flight_time_s"]) * truth["fps"]
            errors_frames.append(e)
            by_fps.setdefault(truth["fps"], []).append(e)
    assert len(errors_frames) == sum(len(t["jumps"]) for t, _ in truth_results.values())
    summary = {fps: (round(float(np.median(v)), 3), round(float(np.max(v)), 3)) for fps, v in by_fps.items()}
    assert float(np.median(errors_frames)) <= 1 / 3, summary
    for fps in (30.0, 60.0):
        assert float(np.median(by_fps[fps])) <= 1 / 3, summary


@pytest.mark.slow
def test_squat_is_not_a_jump(raw_pose: Any) -> None:
    r = analyze_raw(raw_pose(clip_path("squat_side.mp4")), opts(athlete_height_m=1.75))
    assert r.summary["jump_count"] == 0 and "no_jumps_found" in codes(r)
    assert_clean_json(r.summary)


@pytest.mark.slow
def test_walker_steps_are_never_jumps(raw_pose: Any) -> None:
    demo = clip_path("sports2d_demo_multi_person.mp4")
    walker = analyze_raw(raw_pose(demo, select="moving"), opts(athlete_height_m=1.75))
    assert walker.summary["jump_count"] == 0 and "no_jumps_found" in codes(walker)
    # the jumper (the largest person): only her jumping jacks, before she leaves the box (~4 s)
    jumper = analyze_raw(raw_pose(demo, select="largest"), opts(athlete_height_m=1.75))
    s = jumper.summary
    assert s["jump_count"] <= 6
    assert all(j["landing_s"] < 4.0 and j["jump_height_m"] < 0.5 for j in s["jumps"])
    assert_clean_json(s)
