"""`motionlens analyze` as a coach sees it in a terminal (a pseudo-terminal and a real process)
and with several clips in one command."""

from __future__ import annotations

import csv
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("PREFECT_API_URL", None)
    return env


def run_in_pty(args: list[str], env: dict[str, str], timeout_s: float = 600) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal, as in a coach's shell; all it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "motionlens.cli", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:          # the child closed the terminal (Linux: EIO)
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=timeout_s), out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_the_progress_bar_advances_in_a_terminal(tmp_path, clip):
    video = clip("jumps_synthetic_30fps.mp4")        # 150 frames
    rc, out = run_in_pty(["analyze", str(video), "--activity", "jumping", "--no-render",
                          "--storage", str(tmp_path / "s")], _env(tmp_path))
    assert rc == 0, out[-2000:]
    done = [int(n) for n in re.findall(r"pose\S*\s.*?(\d+)/150", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out))]
    assert done and done[-1] == 150, out[-2000:]
    assert len(set(done)) >= 3 and done == sorted(done), done   # drawn while it ran, not once at the end
    assert "session " in out and "completed in" in out


def test_several_clips_in_one_command_give_a_table_and_a_csv(tmp_path, clip):
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "a_jumps.mp4").symlink_to(clip("jumps_synthetic_30fps.mp4"))
    (folder / "b_cmj.mp4").symlink_to(clip("cmj_synthetic_60fps.mp4"))
    (folder / "c_photo.mp4").write_bytes((Path(__file__).parents[1] / "docs/screenshots/viewer.png").read_bytes())
    out_csv = tmp_path / "summary.csv"
    r = subprocess.run([sys.executable, "-m", "motionlens.cli", "analyze", str(folder), "--activity", "jumping",
                        "--no-render", "--storage", str(tmp_path / "s"), "--csv", str(out_csv)],
                       capture_output=True, text=True, env=_env(tmp_path), timeout=900)
    assert r.returncode == 2, r.stderr    # one clip was refused: the batch says so in its exit code
    assert "error: not_a_video: c_photo.mp4 is a PNG image" in r.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert [Path(row["clip"]).name for row in rows] == ["a_jumps.mp4", "b_cmj.mp4", "c_photo.mp4"]
    assert [row["status"] for row in rows] == ["completed", "completed", "failed"]
    assert rows[2]["error"] == "not_a_video" and int(rows[0]["count"]) >= 1 and float(rows[1]["main"]) > 0
    assert "3 clip(s)" in r.stderr and "a_jumps.mp4" in r.stderr
