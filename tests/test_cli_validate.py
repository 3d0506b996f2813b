"""`motionlens analyze` refuses bad input before any start-up: one `error: CODE: message` line, fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from motionlens.batch import expand_sources
from motionlens.summary import recommendations, user_language

# Prefect's start-up alone takes ≈ 15 s here: a check that answers under this never started it
FAST_S = 6.0


def analyze(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "motionlens.cli", "analyze", *args, "--storage", str(tmp_path / "s")],
                       capture_output=True, text=True, env=env, timeout=120)
    return r, time.perf_counter() - t


def only_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    return line


def test_a_missing_file_is_refused_at_once_and_recorded(tmp_path):
    r, took = analyze(str(tmp_path / "nope.mp4"), "--activity", "jumping", "--json", tmp_path=tmp_path)
    assert only_error_line(r).startswith("error: video_not_found: no such file: ") and took < FAST_S
    manifest = json.loads(r.stdout)   # DESIGN §10: the failed session is still recorded with its code
    assert manifest["status"] == "failed" and manifest["error"]["code"] == "video_not_found"
    assert (tmp_path / "s" / "sessions" / manifest["session_id"] / "session.json").is_file()


def test_a_png_given_as_a_video_is_refused_like_the_api_does(tmp_path):
    png = Path(__file__).parents[1] / "docs" / "screenshots" / "viewer.png"
    r, took = analyze(str(png), "--activity", "jumping", tmp_path=tmp_path)
    line = only_error_line(r)
    assert line.startswith("error: not_a_video: viewer.png is a PNG image, not a video container") and took < FAST_S


@pytest.mark.parametrize(("args", "expected"), [
    (("--activity", "jumping", "--model", "fast"), "error: invalid_option: unknown model 'fast'"),
    (("--activity", "jumping", "--exercise", "back_squat"),
     "error: invalid_option: exercise applies to weightlifting only, not to jumping"),
    (("--activity", "running", "--select", "nan,nan"), "error: invalid_option: select point must be finite"),
    (("--activity", "jumping", "--model", "/nowhere/custom.task"), "error: model_not_found: "),
])
def test_bad_options_are_refused_before_any_work(tmp_path, clip, args, expected):
    r, took = analyze(str(clip("power_clean_side.mp4")), *args, tmp_path=tmp_path)
    assert only_error_line(r).startswith(expected) and took < FAST_S
    assert not (tmp_path / "s").exists()


def test_folders_and_unexpanded_globs_become_their_clips(tmp_path):
    for name in ("b.mp4", "a.MOV", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert expand_sources([str(tmp_path)]) == [str(tmp_path / "a.MOV"), str(tmp_path / "b.mp4")]
    assert expand_sources([str(tmp_path / "*.mp4"), str(tmp_path / "b.mp4")]) == [str(tmp_path / "b.mp4")]
    assert expand_sources(["https://x/y.mp4", str(tmp_path / "none*.mp4")]) == ["https://x/y.mp4",
                                                                                str(tmp_path / "none*.mp4")]


def test_the_language_comes_from_the_flag_then_the_locale():
    assert user_language("fr", {"LANG": "de_DE.UTF-8"}) == "fr"
    assert user_language(None, {"LANG": "de_DE.UTF-8"}) == "de"
    assert user_language(None, {"LANG": "C.UTF-8"}) == "en"
    assert user_language("pt-BR", {}) == "pt"


def test_the_top_recommendations_are_printed_in_the_users_language():
    from pipeline.metrics.recommendations import recommend

    summary = {"exercise": "back_squat", "rep_count": 0, "reps": []}
    manifest = {"artifacts": {"lift_analysis": {"recommendations": recommend(summary)}}}
    (es,) = recommendations(manifest, "es")
    (en,) = recommendations(manifest, "en")
    assert es != en and es == recommend(summary)[0]["text"]["es"]
