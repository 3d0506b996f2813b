"""The Parquet tables as a data scientist reads them: one row per metric key, units, metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.export import metrics_table
from pipeline.metrics.naming import unit_of
from pipeline.metrics.result import ActivityResult
from pipeline.options import AnalysisOptions
from tests.support.gait import synth_gait
from tests.support.jump_clips import Jump, analyze_raw, stick_sequence
from tests.test_running import run

KEY = ["session_id", "name", "side", "index"]


def metrics_frame(result: ActivityResult) -> pd.DataFrame:
    return metrics_table("s1", result).to_pandas()


def assert_one_row_per_key_and_pivot(df: pd.DataFrame) -> pd.DataFrame:
    keyed = df.fillna({"side": "", "index": -1})
    dup = keyed[keyed.duplicated(KEY, keep=False)]
    assert dup.empty, dup.sort_values(KEY).to_string()
    assert (df["unit"] == df["name"].map(unit_of)).all(), df[df["unit"] != df["name"].map(unit_of)]
    return keyed.pivot(index=["session_id", "side", "index"], columns="name", values="value")


@pytest.mark.parametrize("height", [1.78, None])
def test_running_metrics_have_one_row_per_key_and_one_unit_per_quantity(height: float | None) -> None:
    seq, _ = synth_gait(px_per_m=300.0)
    df = metrics_frame(run(seq, athlete_height_m=height) if height else run(seq))
    wide = assert_one_row_per_key_and_pivot(df)
    names = set(df["name"])
    calibrated, raw = ("vertical_oscillation_cm", "overstride_cm"), ("vertical_oscillation_px", "overstride_px")
    have, lack = (calibrated, raw) if height else (raw, calibrated)
    assert set(have) <= names and not set(lack) & names
    # names as in the manifest: the session's keys and each step's keys, unit suffix kept
    assert {"cadence_spm", "ground_contact_time_s", "step_count", "duty_factor", "contact_time_s"} <= names
    assert wide.loc[("s1", "", -1), "step_count"] > 5


def test_jumping_metrics_follow_the_same_rule() -> None:
    r = analyze_raw(stick_sequence([Jump(0.8, 0.45), Jump(2.2, 0.33)], 3.5, 60.0), AnalysisOptions("jumping"))
    df = metrics_frame(r)
    assert_one_row_per_key_and_pivot(df)
    assert {"jump_count", "flight_time_s", "jump_height_m"} <= set(df["name"])


def test_segment_angles_are_summarised_with_circular_statistics() -> None:
    from pipeline.metrics.activity import angle_summary

    thigh = np.array([170.0, 175.0, -175.0, -170.0, np.nan, 178.0, -178.0])   # around 180°, across the wrap
    knee = np.array([10.0, 20.0, 30.0, np.nan])
    s = angle_summary({"left_thigh": thigh, "left_knee_flexion": knee, "trunk": np.full(3, np.nan)})
    assert abs(abs(s["left_thigh"]["mean"]) - 180.0) < 1e-6 and s["left_thigh"]["circular"] is True
    assert s["left_thigh"]["max"] - s["left_thigh"]["min"] == pytest.approx(20.0)   # 170..190, not -178..178
    assert s["left_knee_flexion"] == {"min": 10.0, "max": 30.0, "mean": 20.0, "unit": "deg", "circular": False}
    assert s["trunk"]["mean"] is None


@pytest.mark.slow
def test_squat_thigh_mean_is_the_circular_one(raw_pose, clip) -> None:
    from pipeline.metrics.activity import analyze_pose, angle_summary

    a = analyze_pose(raw_pose(clip("squat_side.mp4")), AnalysisOptions("weightlifting", exercise="back_squat"))
    thigh = a.angles["left_thigh"][np.isfinite(a.angles["left_thigh"])]
    circular = np.rad2deg(np.angle(np.exp(1j * np.deg2rad(thigh)).mean()))
    assert angle_summary(a.angles)["left_thigh"]["mean"] == pytest.approx(circular, abs=0.01)
    assert abs(circular - thigh.mean()) > 3          # the arithmetic mean was off by degrees (104.3 vs 100.3)


@pytest.mark.slow
def test_every_table_carries_the_processing_metadata(raw_pose, clip) -> None:
    import json

    import pyarrow.parquet as pq

    from pipeline.analysis import Workspace, export_tables
    from pipeline.metrics.activity import analyze_pose

    options = AnalysisOptions("weightlifting", exercise="back_squat", athlete_height_m=1.8, model="full")
    analysis = analyze_pose(raw_pose(clip("squat_side.mp4")), options)
    ws = Workspace.create("meta-test")
    try:
        keys = export_tables("meta-test", "2026-12-04", analysis, ws, options)
        assert set(keys) == {"keypoints", "angles", "events", "metrics"}
        assert_one_row_per_key_and_pivot(metrics_frame(analysis.result))   # the lift's rows too
        for path in ws.files.values():
            meta = {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items()}
            processing = json.loads(meta["motionlens.processing"])
            assert meta["motionlens.model"] == "full" and len(processing["model_sha256"]) == 64
            assert float(meta["motionlens.filter_cutoff_hz"]) > 0 and meta["motionlens.scale_source"] == "athlete_height"
            assert float(meta["motionlens.fps"]) == pytest.approx(analysis.seq.fps)
            assert meta["motionlens.pipeline_version"] == processing["pipeline_version"]
            assert meta["motionlens.schema_version"] == "1"       # what was there stays
    finally:
        ws.cleanup()


def test_the_sessions_row_carries_the_processing_metadata_too() -> None:
    from pipeline.export import sessions_table

    manifest = {"session_id": "s1", "activity": "running", "status": "completed", "pipeline_version": "9.9",
                "probe": {"fps": 59.94}, "model": {"name": "lite", "sha256": "a" * 64},
                "metrics": {"scale": {"m_per_px": 0.004, "source": "athlete_height"}, "filter_cutoff_hz": 10.0}}
    meta = {k.decode(): v.decode() for k, v in sessions_table(manifest).schema.metadata.items()}
    assert (meta["motionlens.model"], meta["motionlens.filter_cutoff_hz"], meta["motionlens.scale_source"],
            meta["motionlens.fps"], meta["motionlens.pipeline_version"]) == ("lite", "10.0", "athlete_height",
                                                                               "59.94", "9.9")
    assert meta["motionlens.table"] == "sessions"
