"""The `motionlens` console script as a user runs it (a real process, ephemeral Prefect)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def motionlens(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "motionlens.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_analyze_json_prints_the_manifest(tmp_path, clip):
    store = tmp_path / "store"
    r = motionlens("analyze", str(clip("power_clean_side.mp4")), "--activity", "weightlifting",
                   "--exercise", "clean", "--storage", str(store), "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    assert manifest["status"] == "completed" and manifest["options"]["exercise"] == "clean"
    assert (store / "sessions" / manifest["session_id"] / "session.json").is_file()
    assert (store / manifest["artifacts"]["analyzed_video"]).is_file()
    assert "completed in" in r.stderr and "annotated video" in r.stderr


def test_bad_input_exits_nonzero_with_one_error_line_and_records_the_failure(tmp_path):
    store = tmp_path / "store"
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 100)
    r = motionlens("analyze", str(bad), "--activity", "jumping", "--storage", str(store), "--json",
                   tmp_path=tmp_path)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: not_a_video: {json.loads(r.stdout)['error']['message']}"]
    (manifest_path,) = store.glob("sessions/*/session.json")
    assert json.loads(manifest_path.read_text())["error"]["code"] == "not_a_video"


def test_invalid_options_are_refused_before_any_work(tmp_path, clip):
    r = motionlens("analyze", str(clip("power_clean_side.mp4")), "--activity", "running",
                   "--athlete-height", "7", "--storage", str(tmp_path / "s"), tmp_path=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: invalid_option: athlete height 7.0 m")
    assert not (tmp_path / "s").exists()


def test_keys_create_and_revoke(tmp_path):
    store = str(tmp_path / "store")
    r = motionlens("keys", "create", "--owner", "coach", "--scope", "sessions:read", "--storage", store,
                   tmp_path=tmp_path)
    token = r.stdout.strip()
    assert r.returncode == 0 and len(token) > 20
    stored = list((tmp_path / "store" / "auth" / "keys").glob("*.json"))
    assert len(stored) == 1 and token not in stored[0].read_text()
    r = motionlens("keys", "revoke", token[:12], "--storage", store, tmp_path=tmp_path)
    assert r.returncode == 0 and "revoked" in r.stderr
