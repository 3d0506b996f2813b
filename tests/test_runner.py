"""Where `motionlens analyze` runs: in-process without a Prefect API (no Prefect imported, the run
in the local run log), as a flow run on the local server `motionlens server start` leaves running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from motionlens import runner
from pipeline.errors import InvalidOption
from tests.conftest import clip_path
from tests.servers import BIN, free_port

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MOTIONLENS_ORCHESTRATOR")}
    return {**env, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "MOTIONLENS_RUN_LOG": str(tmp_path / "runs.jsonl"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1", **extra}


def test_the_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))               # no server recorded there
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("MOTIONLENS_ORCHESTRATOR", raising=False)
    assert runner.choose().mode == runner.IN_PROCESS
    monkeypatch.setenv("MOTIONLENS_ORCHESTRATOR", "prefect")
    assert runner.choose() == runner.Orchestration(runner.PREFECT, None, runner.choose().why)   # ephemeral
    monkeypatch.setenv("MOTIONLENS_ORCHESTRATOR", "dask")
    with pytest.raises(InvalidOption):                # the CLI prints `error: invalid_option: ...`
        runner.choose()
    monkeypatch.delenv("MOTIONLENS_ORCHESTRATOR")
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert (runner.choose().mode, runner.choose().api_url) == (runner.PREFECT, "http://127.0.0.1:9/api")
    monkeypatch.setenv("MOTIONLENS_ORCHESTRATOR", "in-process")
    assert runner.choose().mode == runner.IN_PROCESS


CHILD = """
import json, sys
from motionlens import runner
from pipeline.errors import InvalidOption
how = runner.choose()
m = runner.analyze(sys.argv[1], {"activity": "jumping", "render": False}, sys.argv[2], orchestration=how)
print(json.dumps({"mode": how.mode, "prefect_imported": "prefect" in sys.modules, "manifest": m}))
"""


@pytest.mark.slow
def test_in_process_run_imports_no_prefect_and_is_logged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for source, status in ((clip_path("jumps_synthetic_30fps.mp4"), "completed"), (ROOT / "README.md", "failed")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(source), str(store)], env=_env(tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["mode"] == "in-process" and not got["prefect_imported"]
        m = got["manifest"]
        assert m["status"] == status
        stored = json.loads((store / "sessions" / m["session_id"] / "session.json").read_text())
        assert stored["status"] == status
    log = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [(r["state"], r["orchestrator"], r["activity"]) for r in log] == [
        ("completed", "in-process", "jumping"), ("failed", "in-process", "jumping")]
    assert log[1]["error"] == "not_a_video" and log[0]["error"] is None
    assert all(r["duration_s"] > 0 and r["storage"] == store.as_uri() for r in log)
    assert [r["session_id"] for r in log] == [json.loads(p.read_text())["session_id"] for p in
                                               sorted((store / "sessions").glob("*/session.json"),
                                                      key=lambda p: json.loads(p.read_text())["created_at"])]


@pytest.mark.slow
def test_server_start_makes_analyze_a_visible_flow_run_until_stopped(tmp_path: Path) -> None:
    env = _env(tmp_path)
    port = free_port()
    cli = [str(BIN / "motionlens")]
    started = subprocess.run([*cli, "server", "start", "--port", str(port)], env=env, capture_output=True, text=True,
                             timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        assert f"UI http://127.0.0.1:{port}" in started.stderr
        status = subprocess.run([*cli, "server", "status"], env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "running" in status.stdout
        out = subprocess.run([*cli, "analyze", str(clip_path("jumps_synthetic_30fps.mp4")), "--activity", "jumping",
                              "--no-render", "--storage", str(tmp_path / "store"), "--json"],
                             env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        assert f"Prefect flow run on the local server http://127.0.0.1:{port}/api" in out.stderr
        assert json.loads(out.stdout)["status"] == "completed"
        runs = httpx.post(f"http://127.0.0.1:{port}/api/flow_runs/filter", json={}, timeout=10).json()
        flows = httpx.post(f"http://127.0.0.1:{port}/api/flows/filter", json={}, timeout=10).json()
        names = {f["id"]: f["name"] for f in flows}
        assert [(names[r["flow_id"]], r["state_type"]) for r in runs] == [("analyze-session", "COMPLETED")]
    finally:
        stopped = subprocess.run([*cli, "server", "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    status = subprocess.run([*cli, "server", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 3 and "not running" in status.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
