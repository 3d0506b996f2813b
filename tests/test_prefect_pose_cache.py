"""Pose results cached in the storage by video hash + model + athlete selection (real pose, real clip)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pipeline import analysis as stages
from pipeline import pose_cache
from pipeline.options import AnalysisOptions
from pipeline.pose.sequence import PoseSequence
from pipeline.storage import LocalStorage
from tests.conftest import clip_path

pytestmark = pytest.mark.slow

CLIP = clip_path("power_clean_side.mp4")
SHA = hashlib.sha256(CLIP.read_bytes()).hexdigest()


def test_keys(monkeypatch) -> None:
    monkeypatch.delenv("MOTIONLENS_NUM_POSES", raising=False)
    key = pose_cache.cache_key(SHA, AnalysisOptions("weightlifting"))
    tag = pose_cache.owner_tag("local")
    assert key.startswith(f"cache/pose/{tag}/{SHA}-full-") and key.endswith("-largest-pauto.npz")
    assert pose_cache.cache_key(SHA, AnalysisOptions("running")).endswith("-moving-p3.npz")     # auto per activity
    assert pose_cache.cache_key(SHA, AnalysisOptions("weightlifting", exercise="clean")).endswith("-largest-p3.npz")
    assert pose_cache.cache_key(SHA, AnalysisOptions("jumping", select="moving")).endswith("-moving-p3.npz")
    # posing with tracking (one person) gives other keypoints than detecting up to three people
    monkeypatch.setenv("MOTIONLENS_NUM_POSES", "1")
    assert pose_cache.cache_key(SHA, AnalysisOptions("jumping")).endswith("-largest-p1.npz")
    assert "-lite-" in pose_cache.cache_key(SHA, AnalysisOptions("jumping", model="lite"))
    picked = pose_cache.cache_key(SHA, AnalysisOptions("jumping", select="300,400"))
    assert picked.endswith(".npz") and "-at-" in picked
    with pytest.raises(ValueError):
        pose_cache.cache_key("not-a-hash", AnalysisOptions("jumping"))


def test_second_analysis_of_the_same_video_reads_pose_from_the_cache(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    options = AnalysisOptions("weightlifting", exercise="clean")
    calls = []

    def compute(ws: stages.Workspace):
        def run() -> tuple[Path, dict]:
            calls.append(ws.root)
            return stages.run_pose(CLIP, options, ws)
        return run

    ws1, ws2 = stages.Workspace(tmp_path / "w1"), stages.Workspace(tmp_path / "w2")
    for ws in (ws1, ws2):
        ws.root.mkdir()
    path1, people1, hit1 = pose_cache.cached_pose(storage, SHA, options, ws1.root / "pose.npz", compute(ws1))
    path2, people2, hit2 = pose_cache.cached_pose(storage, SHA, options, ws2.root / "pose.npz", compute(ws2))
    assert (hit1, hit2) == (False, True) and calls == [ws1.root]
    assert people2 == people1
    a, b = PoseSequence.load_npz(str(path1)), PoseSequence.load_npz(str(path2))
    np.testing.assert_array_equal(a.image_xy, b.image_xy)
    np.testing.assert_array_equal(a.time_s, b.time_s)
    key = pose_cache.cache_key(SHA, options)
    assert sorted(storage.list("cache/")) == [key[:-4] + ".json", key]
    # a damaged entry is a miss: pose runs again and the entry is repaired
    storage.write_bytes(key, b"not an npz")
    ws3 = stages.Workspace(tmp_path / "w3")
    ws3.root.mkdir()
    _, _, hit3 = pose_cache.cached_pose(storage, SHA, options, ws3.root / "pose.npz", compute(ws3))
    assert not hit3 and len(calls) == 2
    PoseSequence.load_npz(str(storage.path(key)))


def test_the_prefect_task(tmp_path: Path) -> None:
    from flows.pose_cache import cached_pose

    storage = LocalStorage(tmp_path / "store")
    options = AnalysisOptions("weightlifting", exercise="clean")
    ws = stages.Workspace(tmp_path / "w")
    ws.root.mkdir()
    src = stages.Workspace(tmp_path / "src")
    src.root.mkdir()
    npz, people = stages.run_pose(CLIP, options, src)
    pose_cache.save(storage, pose_cache.cache_key(SHA, options), npz, people)
    path, got = cached_pose.fn(storage, SHA, CLIP, options, ws)        # a hit: no pose estimation
    assert path == ws.root / "pose.npz" and got == people
