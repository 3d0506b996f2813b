"""The analyze-session flow on the real Prefect engine: real clips end to end, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows.analyze import analyze_session
from pipeline.options import AnalysisOptions
from pipeline.pose.cleaning import nanmean_quiet
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.storage import LocalStorage
from pipeline.video import Mp4Writer, iter_frames
from tests.videos import audio_only, reencode, synthetic_video

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def run(storage: LocalStorage, source: Path | str, activity: str = "weightlifting", **opts) -> dict:
    return analyze_session(str(source), AnalysisOptions(activity, **opts).to_dict(), storage_uri=str(storage.root))


def published_keys(storage: LocalStorage) -> list[str]:
    return sorted(storage.list(""))


@pytest.fixture(scope="module")
def squat_session(tmp_path_factory):
    storage = LocalStorage(tmp_path_factory.mktemp("store"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MOTIONLENS_WORKERS", "2")     # the analysis path is the two-thread one (issue 9)
        manifest = run(storage, Path(__file__).parents[2] / "shared/fixtures/videos/squat_side.mp4",
                       exercise="back_squat")
    return storage, manifest


def test_squat_completes_with_all_artifacts(squat_session):
    storage, m = squat_session
    assert m["status"] == "completed", m.get("error")
    sid = m["session_id"]
    on_disk = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))
    assert on_disk == m
    arts = m["artifacts"]
    for key in (arts["original"], arts["analyzed_video"], arts["pose"], *arts["exports"].values()):
        assert storage.exists(key), key
    assert m["probe"]["frame_count"] == 614 and m["quality"]["detected_share"] == 1.0
    assert m["quality"]["view"] == "side"
    # posed in two chunks, tracking the lone lifter (num_poses "auto" -> 1)
    assert (m["quality"]["people"]["pose_chunks"], m["quality"]["people"]["num_poses"]) == (2, 1)
    assert m["timings_s"]["pose"] > 0 and m["processing_time_s"] > 0
    assert m["model"]["name"] == "full" and len(m["model"]["sha256"]) == 64
    assert m["angle_summary"]["left_knee_flexion"]["max"] > 90      # deep squat


def test_squat_tables(squat_session):
    storage, m = squat_session
    ex = m["artifacts"]["exports"]
    kp = pq.read_table(storage.path(ex["keypoints"]))
    assert kp.num_rows == 614 * 33
    assert kp.schema.metadata[b"motionlens.schema_version"] == b"1"
    angles = pd.read_parquet(storage.path(ex["angles"]))
    assert len(angles) == 614 and {"time_s", "left_knee_flexion", "trunk"} <= set(angles.columns)
    # a data scientist reads every session at once, filtered on the hive partition
    table = ds.dataset(storage.path("exports/angles"), format="parquet", partitioning="hive").to_table(
        filter=ds.field("activity") == "weightlifting")
    assert table.num_rows == 614
    everything = pd.read_parquet(storage.path("exports/keypoints"), filters=[("activity", "=", "weightlifting")])
    assert len(everything) == 614 * 33 and set(everything["session_id"]) == {m["session_id"]}
    sessions = pd.read_parquet(storage.path("exports/sessions"))
    assert sessions["session_id"].tolist() == [m["session_id"]]


def test_squat_analyzed_video(squat_session):
    storage, m = squat_session
    path = storage.path(m["artifacts"]["analyzed_video"])
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        times = [f.time for f in c.decode(s)]
    src_times = [f.time_s for f in iter_frames(storage.path(m["artifacts"]["original"]))]
    assert len(times) == 614
    np.testing.assert_allclose(np.array(times) - times[0], src_times, atol=1e-3)


def test_rerun_same_session_is_idempotent(squat_session, tmp_path):
    storage, m = squat_session
    before = published_keys(storage)
    again = analyze_session(str(storage.path(m["artifacts"]["original"])), m["options"],
                            storage_uri=str(storage.root), session_id=m["session_id"])
    assert again["status"] == "completed" and again["created_at"] == m["created_at"]
    assert published_keys(storage) == before


def head_above_hips(seq: PoseSequence) -> float:
    ok = seq.detected
    nose_y = seq.image_xy[ok, L.NOSE, 1]
    hip_y = seq.image_xy[ok][:, [L.LEFT_HIP, L.RIGHT_HIP], 1].mean(axis=1)
    return float(np.mean(nose_y < hip_y))


def test_rotated_phone_video_is_upright(tmp_path, clip):
    rotated = reencode(clip("power_clean_side.mp4"), tmp_path / "rotated.mp4", rotate_pixels_cw=True,
                       display_rotation=90)
    storage = LocalStorage(tmp_path / "store")
    m = run(storage, rotated, exercise="clean")
    assert m["status"] == "completed" and m["probe"]["rotation"] == 90
    assert (m["probe"]["width"], m["probe"]["height"]) == (720, 1280)
    seq = PoseSequence.load_npz(str(storage.path(m["artifacts"]["pose"])))
    assert (seq.width, seq.height) == (720, 1280)
    assert head_above_hips(seq) > 0.95
    out = list(iter_frames(storage.path(m["artifacts"]["analyzed_video"])))
    assert out[0].image.shape == (1280, 720, 3) and len(out) == 62


def test_multi_person_vp9_follows_one_athlete(tmp_path, clip):
    storage = LocalStorage(tmp_path / "store")
    m = run(storage, clip("sports2d_demo_multi_person.mp4"), activity="jumping", render=False)
    assert m["status"] == "completed"
    assert m["quality"]["people"]["max_people_in_frame"] >= 2
    assert any(w["code"] == "several_people" for w in m["quality"]["warnings"])
    seq = PoseSequence.load_npz(str(storage.path(m["artifacts"]["pose"])))
    hip = nanmean_quiet(seq.image_xy[:, [L.LEFT_HIP, L.RIGHT_HIP]], axis=1)
    ok = np.isfinite(hip[:, 0])
    assert ok.mean() > 0.6
    # one person followed: the hip centre never jumps by more than a fraction of the frame width
    step = np.linalg.norm(np.diff(hip[ok], axis=0), axis=1)
    assert step.max() < 0.15 * seq.width
    assert 500 < np.nanmedian(hip[:, 0]) < 1000   # the jumper on the box, not the walker


# --- bad input: a specific code, a failed manifest, and nothing else published -------------------

def no_person_video(p: Path) -> Path:
    return synthetic_video(p / "noise.mp4", frames=20)


def truncated_video(p: Path, clip) -> Path:
    data = clip("squat_side.mp4").read_bytes()
    (p / "cut.mp4").write_bytes(data[: len(data) // 3])
    return p / "cut.mp4"


BAD = {
    "video_not_found": lambda p, clip: p / "missing.mp4",
    "empty_file": lambda p, clip: (p / "empty.mp4").write_bytes(b"") or p / "empty.mp4",
    "not_a_video": lambda p, clip: (p / "notes.mp4").write_text("not a video\n" * 100) and p / "notes.mp4",
    "no_video_stream": lambda p, clip: audio_only(p / "sound.m4a"),
    "truncated_video": truncated_video,
    "no_person_found": lambda p, clip: no_person_video(p),
}


@pytest.mark.parametrize("code", sorted(BAD))
def test_bad_input_fails_cleanly(tmp_path, clip, code):
    storage = LocalStorage(tmp_path / "store")
    m = run(storage, BAD[code](tmp_path, clip))
    assert m["status"] == "failed" and m["error"]["code"] == code, m["error"]
    assert m["error"]["message"]
    assert published_keys(storage) == [f"sessions/{m['session_id']}/session.json"]
    assert json.loads(storage.read_bytes(f"sessions/{m['session_id']}/session.json"))["status"] == "failed"


@pytest.mark.parametrize("env, code", [({"MOTIONLENS_MAX_DURATION_S": "5"}, "video_too_long"),
                                       ({"MOTIONLENS_MAX_BYTES": "100000"}, "video_too_large"),
                                       ({"MOTIONLENS_MAX_PIXELS": "100000"}, "video_too_large")])
def test_limits_fail_cleanly(tmp_path, clip, monkeypatch, env, code):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    storage = LocalStorage(tmp_path / "store")
    m = run(storage, clip("deadlift_rear_oblique.mp4"))
    assert m["status"] == "failed" and m["error"]["code"] == code
    assert published_keys(storage) == [f"sessions/{m['session_id']}/session.json"]


def test_mostly_readable_truncated_video_completes_with_warning(tmp_path, clip):
    src = tmp_path / "faststart.mp4"
    with Mp4Writer(src, 720, 1280, 30.0) as w:     # moov first, so a cut file stays readable
        for f in iter_frames(clip("power_clean_side.mp4")):
            w.write(f.image, f.time_s)
    data = src.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.93)])
    storage = LocalStorage(tmp_path / "store")
    m = run(storage, tmp_path / "cut.mp4", exercise="clean", render=False)
    assert m["status"] == "completed", m["error"]
    assert any(w["code"] == "truncated_video" for w in m["warnings"])
    assert 50 <= m["quality"]["frames"] < 62
