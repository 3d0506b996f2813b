"""`--start/--end`: part of a clip analysed by skipping frames in every decode, in the clip's own time."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import pose_cache
from pipeline.analysis import PLAIN_STEPS, Steps, run_session
from pipeline.errors import InvalidOption
from pipeline.options import AnalysisOptions
from pipeline.pose import parallel
from pipeline.pose.parallel import index_video, iter_chunk, plan_chunks, window_index
from pipeline.storage import LocalStorage
from pipeline.video import TimeWindow, iter_frames
from tests.conftest import clip_path

CLIP = "jumps_synthetic_30fps.mp4"
SECOND_JUMP = TimeWindow(2.3, 4.7)   # truth: jumps at 1.23-1.73 s and 3.07-3.52 s


def truth() -> dict:
    return json.loads(clip_path(CLIP).with_suffix(".truth.json").read_text())


def test_the_window_is_the_frames_every_reader_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sequential and chunked (seeking) decodes of a window give the same frames, in the clip's time."""
    monkeypatch.setattr(parallel, "MIN_CHUNK_FRAMES", 20)   # split the 72 frames in two
    video = clip_path(CLIP)
    frames = list(iter_frames(video, window=SECOND_JUMP))
    times = np.array([f.time_s for f in frames])
    assert [f.index for f in frames] == list(range(len(frames))) and len(frames) == 72   # (4.7 - 2.3) x 30
    assert times[0] == pytest.approx(2.3, abs=1e-6) and times[-1] == pytest.approx(4.6667, abs=1e-3)
    index = window_index(index_video(video), SECOND_JUMP)
    chunked = [f for c in plan_chunks(index, 2) for f in iter_chunk(video, index, c)]
    assert len(plan_chunks(index, 2)) == 2
    assert [(f.index, f.time_s) for f in chunked] == [(f.index, f.time_s) for f in frames]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(chunked, frames))
    assert index.offset == 69 and len(index_video(video)) == truth()["fps"] * truth()["duration_s"]


@pytest.mark.parametrize("start,end", [(-1.0, None), (float("nan"), None), (None, float("inf")), (2.0, 2.0),
                                       (3.0, 1.0), (None, 0.0)])
def test_a_malformed_window_is_an_invalid_option(start, end) -> None:
    with pytest.raises(InvalidOption) as err:
        AnalysisOptions("jumping", start_s=start, end_s=end)
    assert err.value.code == "invalid_option"


def test_the_api_takes_the_window_as_strings() -> None:
    opts = AnalysisOptions.from_client({"start_s": "2.5", "end_s": "4"}, "jumping", "o")
    assert opts.window == TimeWindow(2.5, 4.0)
    with pytest.raises(InvalidOption):
        AnalysisOptions.from_client({"start_s": "soon"}, "jumping", "o")


def test_a_window_outside_the_clip_fails_before_pose(tmp_path: Path) -> None:
    posed: list[str] = []

    def pose(*args, **kwargs):
        posed.append("pose")
        return PLAIN_STEPS.pose(*args, **kwargs)

    steps = Steps(PLAIN_STEPS.ingest, pose, PLAIN_STEPS.metrics, PLAIN_STEPS.artifacts, PLAIN_STEPS.publish)
    for start, end in ((6.0, None), (1.0, 7.5)):   # the clip lasts 5 s
        m = run_session(LocalStorage(tmp_path), str(clip_path(CLIP)),
                        AnalysisOptions("jumping", model="lite", start_s=start, end_s=end), steps=steps)
        assert m["status"] == "failed" and m["error"]["code"] == "invalid_option", m.get("error")
    assert posed == []


def test_the_cli_refuses_a_window_outside_the_clip_before_start_up(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    r = subprocess.run([sys.executable, "-m", "motionlens.cli", "analyze", str(clip_path(CLIP)), "--activity",
                        "jumping", "--start", "1", "--end", "9", "--storage", str(tmp_path / "s")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: invalid_option: end 9.0 s is after"), r.stderr
    assert "running" not in r.stderr


def test_the_pose_cache_tells_windows_apart() -> None:
    sha = "a" * 64
    whole = pose_cache.cache_key(sha, AnalysisOptions("jumping", model="lite"))
    keys = {pose_cache.cache_key(sha, AnalysisOptions("jumping", model="lite", start_s=s, end_s=e))
            for s, e in ((None, None), (2.3, 4.7), (2.3, None), (0.0, 4.7), (2.4, 4.7))}
    assert len(keys) == 5 and whole in keys and "-w" not in whole   # earlier whole-clip entries still hit
    assert pose_cache.cache_key(sha, AnalysisOptions("jumping", model="lite", start_s=0.0)) == whole


def _jumps(manifest: dict) -> list[tuple[float, float]]:
    events = manifest["events"]
    takeoffs = [e["time_s"] for e in events if e["type"] == "takeoff"]
    landings = [e["time_s"] for e in events if e["type"] == "landing"]
    return list(zip(takeoffs, landings))


@pytest.mark.slow
def test_a_window_around_the_second_jump_finds_it_at_its_clip_time(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    video = str(clip_path(CLIP))
    full = run_session(storage, video, AnalysisOptions("jumping", model="lite"))
    part = run_session(storage, video, AnalysisOptions("jumping", model="lite", start_s=SECOND_JUMP.start_s,
                                                       end_s=SECOND_JUMP.end_s))
    assert full["status"] == part["status"] == "completed", part.get("error")
    assert len(_jumps(full)) == len(truth()["jumps"]) == 2
    (jump,) = _jumps(part)
    assert jump == pytest.approx(_jumps(full)[1], abs=1e-3)           # the clip's time, not the window's
    assert jump == pytest.approx((truth()["jumps"][1]["takeoff_s"], truth()["jumps"][1]["landing_s"]), abs=0.02)
    assert part["options"]["start_s"] == 2.3 and part["options"]["end_s"] == 4.7
    frames = 72                                                         # 30 fps x 2.4 s
    assert part["probe"]["window"] == {"start_s": 2.3, "end_s": 4.7, "frames": frames, "expected_frames": frames}
    assert part["probe"]["duration_s"] == 5.0 and part["quality"]["frames"] == frames
    assert not [w for w in part["warnings"] if w["code"] == "truncated_video"]
    events = pq.read_table(tmp_path / "store" / part["artifacts"]["exports"]["events"]).to_pylist()
    assert sorted(e["time_s"] for e in events if e["type"] in ("takeoff", "landing")) == pytest.approx(jump, abs=1e-3)
    keypoints = pq.read_table(tmp_path / "store" / part["artifacts"]["exports"]["keypoints"], columns=["time_s"])
    t = np.unique(keypoints.column("time_s").to_numpy())
    assert len(t) == frames and SECOND_JUMP.start_s <= t.min() and t.max() < SECOND_JUMP.end_s
    with av.open(str(tmp_path / "store" / part["artifacts"]["analyzed_video"])) as c:
        shown = [f.time for f in c.decode(c.streams.video[0])]
    assert len(shown) == frames and math.isclose(shown[0], 0.0, abs_tol=1e-3)   # the window only, from 0


@pytest.mark.parametrize("overlapped", [False, True])
def test_a_windows_video_and_sound_cover_the_window_only(tmp_path: Path, overlapped: bool) -> None:
    """Both render paths: the window's frames from 0 s, and the source's sound of the same span."""
    from pipeline.pipelined import render_overlapped
    from pipeline.render.video import render_with

    window = TimeWindow(10.0, 12.0)                      # squat_side.mp4 lasts 20.5 s, with sound
    out = tmp_path / "w.mp4"
    render = render_overlapped if overlapped else render_with
    render(clip_path("squat_side.mp4"), lambda image, index: image, out, window=window)
    with av.open(str(out)) as c:
        video, (audio,) = c.streams.video[0], c.streams.audio
        shown = [f.time for f in c.decode(video)]
        sound_s = float(audio.duration * audio.time_base)
    assert len(shown) == len(list(iter_frames(clip_path("squat_side.mp4"), window=window))) == 60
    assert shown[0] == pytest.approx(0.0, abs=1e-3)
    assert sound_s == pytest.approx(2.0, abs=0.05)     # not the 10.5 s left in the source
