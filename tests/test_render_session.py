"""Re-rendering a stored session from its pose (no pose run), and the session's pictures."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.manifest import new_manifest, with_status
from pipeline.metrics.activity import Analysis
from pipeline.metrics.angles import compute_angles
from pipeline.metrics.result import ActivityResult
from pipeline.metrics.view import ViewInfo
from pipeline.options import AnalysisOptions
from pipeline.render.session import NotRenderable, SessionNotFound, render_session
from pipeline.render.session_charts import angle_chart, contact_sheet, key_frames, session_images
from pipeline.video import grab_frames
from pipeline.session import new_session_id, read_manifest, write_manifest
from pipeline.storage import LocalStorage
from tests.test_render_support import audio_packets, figure_sequence, streams
from tests.test_render_annotators import jump_result
from pipeline.video import iter_frames
from tests.videos import frame_times, synthetic_video


class RecordingStorage(LocalStorage):
    """A local store that remembers the order of writes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[str] = []

    def write_bytes(self, key, data, content_type=None):
        self.writes.append(key)
        super().write_bytes(key, data, content_type)

    def upload_file(self, key, path, content_type=None):
        self.writes.append(key)
        super().upload_file(key, path, content_type)


def stored_session(storage: LocalStorage, video: Path, pose_path: Path, options: AnalysisOptions) -> str:
    sid = new_session_id()
    storage.upload_file(f"sessions/{sid}/original.mp4", video)
    storage.upload_file(f"sessions/{sid}/pose.npz", pose_path)
    base = new_manifest(sid, options, str(video))
    write_manifest(storage, with_status(base, "completed", artifacts={
        "original": f"sessions/{sid}/original.mp4", "pose": f"sessions/{sid}/pose.npz", "exports": {},
        "analyzed_video": None}))
    return sid


@pytest.mark.slow
def test_render_session_from_stored_pose(tmp_path: Path, clip, raw_pose) -> None:
    storage = RecordingStorage(tmp_path / "store")
    src = clip("power_clean_side.mp4")
    pose_path = tmp_path / "pose.npz"
    raw_pose(src).save_npz(str(pose_path))
    sid = stored_session(storage, src, pose_path, AnalysisOptions("weightlifting", exercise="clean"))
    storage.writes.clear()

    manifest = render_session(storage, sid)

    assert manifest["artifacts"]["analyzed_video"] == f"sessions/{sid}/analyzed.mp4"
    assert manifest["artifacts"]["images"] == {"angle_chart": f"sessions/{sid}/angles.png",
                                               "contact_sheet": f"sessions/{sid}/contact-sheet.png"}
    assert manifest == read_manifest(storage, sid) and manifest["timings_s"]["render"] > 0
    assert storage.writes[-1] == f"sessions/{sid}/session.json"       # the manifest is written last
    assert set(storage.writes[:-1]) == {f"sessions/{sid}/analyzed.mp4", f"sessions/{sid}/angles.png",
                                        f"sessions/{sid}/contact-sheet.png"}
    video = storage.path(manifest["artifacts"]["analyzed_video"])
    assert frame_times(video) == pytest.approx(frame_times(src), abs=1e-4)
    assert streams(video)["audio"]["codec"] == "aac" and audio_packets(video) == audio_packets(src)
    for key in manifest["artifacts"]["images"].values():
        assert cv2.imread(str(storage.path(key))) is not None

    # a second render replaces the video and keeps the images it already has
    storage.writes.clear()
    again = render_session(storage, sid)
    assert storage.writes == [f"sessions/{sid}/analyzed.mp4", f"sessions/{sid}/session.json"]
    assert again["artifacts"]["images"] == manifest["artifacts"]["images"]


def test_render_session_refuses_what_it_cannot_render(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(SessionNotFound):
        render_session(storage, new_session_id())
    sid = new_session_id()
    write_manifest(storage, new_manifest(sid, AnalysisOptions("jumping"), "clip.mp4"))   # still queued
    with pytest.raises(NotRenderable) as err:
        render_session(storage, sid)
    assert err.value.code == "not_renderable"


def synthetic_analysis(tmp_path: Path, n: int = 90) -> tuple[Path, Analysis]:
    t = np.arange(n) / 30
    seq = figure_sequence(t, 320, 240, bend=0.5 + 0.5 * np.sin(t * 3))
    video = synthetic_video(tmp_path / "clip.mp4", frames=n, size=(320, 240), noise=False)
    return video, Analysis(seq, seq, ViewInfo("side", "right", 0.2, 1.0), compute_angles(seq, np.ones(n)),
                           jump_result())


def test_session_images_are_pictures_of_the_session(tmp_path: Path) -> None:
    video, analysis = synthetic_analysis(tmp_path)
    images = session_images(video, analysis, tmp_path / "images")
    assert {k: p.name for k, p in images.items()} == {"angle_chart": "angles.png", "contact_sheet": "contact-sheet.png"}
    chart = cv2.imread(str(images["angle_chart"]))
    assert chart.shape[1] == 1800 and chart.std() > 10              # a real chart, not a blank page
    sheet = cv2.imread(str(images["contact_sheet"]))
    # two jumps -> two rows of four key frames (lowest, takeoff, flight, landing)
    assert [k.label for k in key_frames(analysis)][:4] == ["Lowest", "Takeoff", "Flight", "Landing"]
    assert sheet.shape[0] > sheet.shape[1] * 0.4 and sheet.std() > 10


def test_key_frames_fall_back_to_evenly_spaced_frames(tmp_path: Path) -> None:
    video, analysis = synthetic_analysis(tmp_path)
    plain = Analysis(analysis.raw, analysis.seq, analysis.view, analysis.angles, ActivityResult("running", {}))
    keys = key_frames(plain)
    assert len(keys) == 6 and keys[0].frame == 0 and keys[-1].frame == 89
    out = contact_sheet(video, plain, tmp_path / "sheet.png")
    assert cv2.imread(str(out)).shape[1] > 3 * 200


def test_angle_chart_without_angles_still_draws(tmp_path: Path) -> None:
    out = angle_chart(np.arange(10) / 30, {}, "jumping", {}, [], tmp_path / "empty.png")
    assert cv2.imread(str(out)) is not None


def test_manifest_options_from_an_older_or_newer_version(tmp_path: Path) -> None:
    from pipeline.render.session import options_from_manifest

    m = json.loads(json.dumps(new_manifest("a" * 22, AnalysisOptions("running"), "x.mp4")))
    m["options"]["future_option"] = 1
    assert options_from_manifest(m).activity == "running"


def test_grab_frames_seeks_to_exactly_the_frames_asked_for(tmp_path: Path) -> None:
    import av
    from fractions import Fraction

    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.06, 120))          # VFR, first frame late
    path = tmp_path / "gop.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "g": "8"})  # a keyframe every 8
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        st.codec_context.time_base = Fraction(1, 1000)
        for t in times:
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            f.pts, f.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    decoded = list(iter_frames(path))
    rel = np.array([f.time_s for f in decoded])
    wanted = [0, 3, 4, 60, 61, 117, 119, 30]
    got = grab_frames(path, rel, wanted)
    assert sorted(got) == sorted(wanted)
    for i in wanted:
        assert np.array_equal(got[i], decoded[i].image), i


def _frames(path: Path) -> np.ndarray:
    return np.stack([f.image for f in iter_frames(path)]).astype(np.int16)


@pytest.mark.slow
def test_re_render_of_a_lift_keeps_the_tracked_bar(tmp_path: Path, clip, raw_pose) -> None:
    """A re-render draws what the analysis drew: the tracked plate's bar path and its scale, not the
    hands' path with the stature's scale (the re-render once skipped the bar tracker)."""
    from pipeline.analysis import compute_metrics
    from pipeline.metrics.activity import analyze_pose
    from pipeline.render.video import render_analysis

    storage = LocalStorage(tmp_path / "store")
    src = clip("power_clean_side.mp4")
    pose_path = tmp_path / "pose.npz"
    raw_pose(src).save_npz(str(pose_path))
    options = AnalysisOptions("weightlifting", exercise="clean")
    analysed = compute_metrics(src, pose_path, options)
    assert analysed.result.summary["bar_source"] == "tracked"
    sid = stored_session(storage, src, pose_path, options)

    rerendered = _frames(storage.path(render_session(storage, sid, images=False)["artifacts"]["analyzed_video"]))
    as_analysed = _frames(render_analysis(src, analysed, tmp_path / "analysed.mp4", audio=False))
    untracked = _frames(render_analysis(src, analyze_pose(raw_pose(src), options), tmp_path / "hands.mp4",
                                        audio=False))

    def changed(a: np.ndarray, b: np.ndarray) -> float:  # share of pixels that differ beyond codec noise
        return float((np.abs(a - b).max(axis=-1) > 48).mean())

    assert changed(untracked, as_analysed) > 5 * changed(rerendered, as_analysed) + 1e-4
    assert changed(rerendered, as_analysed) < 1e-3
