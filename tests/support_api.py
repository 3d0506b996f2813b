"""Helpers for API tests: stored sessions with real files, and a real uvicorn server on loopback.

`serve_in_thread(app)` runs an app object (with injected renderer/submitter) under uvicorn;
`serve_in_subprocess(storage_uri)` runs `api.serve.serve` in its own process, exactly as
`motionlens serve` does; `serve_cli(storage_uri, log_path)` runs the command line itself
(`python -m motionlens.cli serve ...`). All yield the base URL and stop the server on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.10 asks for `httpx2` under its TestClient and warns when it finds `httpx`
    # instead; with httpx2 in the test dependencies this filter becomes a no-op.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from api.app import create_app
from api.keys import SCOPES, create_key
from api.rendering import Renderer
from api.settings import ApiSettings
from api.submissions import Submitter
from pipeline.session import artifact_key, export_key, new_session_id, write_manifest
from pipeline.storage import LocalStorage, Storage

DATE = "2025-05-02"
CREATED_AT = "2025-05-02T18:00:00Z"


def make_mp4(path: Path, frames: int = 30, width: int = 64, height: int = 48, fps: int = 30) -> bytes:
    """A real, playable H.264 MP4 (faststart) whose frames fade from black to white."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), int(255 * i / max(frames - 1, 1)), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def _write_table(storage: Storage, key: str, columns: dict[str, Any]) -> None:
    table = pa.table(columns).replace_schema_metadata({"motionlens.schema_version": "1"})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    storage.write_bytes(key, sink.getvalue().to_pybytes())


def write_exports(storage: Storage, session_id: str, activity: str, frames: int = 30,
                  fps: float = 30.0) -> dict[str, str]:
    """keypoints / angles / events / metrics / sessions tables as DESIGN §5 describes (with NaNs)."""
    t = np.arange(frames) / fps
    n_lm = 33
    frame_col = np.repeat(np.arange(frames), n_lm)
    x = np.linspace(10, 50, frames * n_lm).astype(np.float32)
    x[5] = np.nan  # one missing landmark
    knee = np.linspace(0, 90, frames)
    knee[3] = np.nan
    exports = {name: export_key(name, activity, DATE, session_id)
               for name in ("keypoints", "angles", "events", "metrics", "sessions")}
    _write_table(storage, exports["keypoints"], {
        "session_id": [session_id] * (frames * n_lm), "frame": frame_col, "time_s": np.repeat(t, n_lm),
        "landmark": np.tile(np.arange(n_lm), frames), "x_px": x, "y_px": x * 2,
        "z": np.zeros(frames * n_lm, np.float32), "world_x": x / 100, "world_y": x / 100, "world_z": x / 100,
        "visibility": np.ones(frames * n_lm, np.float32), "presence": np.ones(frames * n_lm, np.float32)})
    _write_table(storage, exports["angles"], {
        "session_id": [session_id] * frames, "frame": np.arange(frames), "time_s": t,
        "left_knee_flexion": knee, "right_knee_flexion": knee / 2})
    _write_table(storage, exports["events"], {
        "session_id": [session_id] * 2, "type": ["takeoff", "landing"], "side": [None, None],
        "frame": [10, 20], "time_s": [10 / fps, 20 / fps]})
    _write_table(storage, exports["metrics"], {
        "session_id": [session_id] * 2, "name": ["jump_height_m", "flight_time_s"], "value": [0.31, 0.5],
        "unit": ["m", "s"], "side": [None, None], "index": [0, 0]})
    _write_table(storage, exports["sessions"], {"session_id": [session_id], "activity": [activity]})
    return exports


LIFT_ANALYSIS = {
    "images": [{"key": "", "rep": 1, "position": "bottom"}],
    "charts": [],
    "recommendations": [{
        "code": "depth_above_parallel", "severity": "warning",
        "evidence": {"metric": "depth_deg", "value": 12.0, "threshold": 0.0},
        "text": {"en": "Squat deeper.", "es": "Baja más.", "fr": "Descends plus bas.", "de": "Tiefer gehen.",
                 "pt": "Desça mais.", "it": "Scendi di più."}}],
}


def make_session(storage: Storage, *, activity: str = "jumping", owner: str = "alice", status: str = "completed",
                 session_id: str | None = None, analyzed: bool = True, exports: bool = True,
                 error: dict[str, str] | None = None, list_analyzed: bool = True) -> dict[str, Any]:
    """A stored session following docs/manifest.md, with a real MP4 as original (and analyzed) video."""
    session_id = session_id or new_session_id()
    artifacts: dict[str, Any] = {}
    if status == "completed":
        original = artifact_key(session_id, "original.mp4")
        storage.write_bytes(original, _mp4_bytes())
        artifacts["original"] = original
        artifacts["pose"] = artifact_key(session_id, "pose.npz")
        if analyzed:
            storage.write_bytes(artifact_key(session_id, "analyzed.mp4"), _mp4_bytes())
            if list_analyzed:
                artifacts["analyzed_video"] = artifact_key(session_id, "analyzed.mp4")
        if exports:
            artifacts["exports"] = write_exports(storage, session_id, activity)
        if activity == "weightlifting":
            image = artifact_key(session_id, "lift-analysis/rep1_bottom.png")
            storage.write_bytes(image, b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
            lift = {**LIFT_ANALYSIS, "images": [{"key": image, "rep": 1, "position": "bottom"}]}
            artifacts["lift_analysis"] = lift
    metrics: dict[str, Any] = {
        "jumping": {"jump_count": 1, "jumps": [{"index": 0, "takeoff_s": 0.333, "landing_s": 0.667,
                                                 "flight_time_s": 0.333, "jump_height_m": 0.136}]},
        "running": {"cadence_spm": 172.0, "ground_contact_time_s": 0.24, "flight_time_s": 0.11,
                    "duty_factor": 0.34, "steps": []},
        "weightlifting": {"exercise": "back_squat", "rep_count": 1,
                          "reps": [{"index": 0, "start_s": 0.1, "bottom_s": 0.5, "end_s": 0.9}]},
    }[activity] if status == "completed" else {}
    manifest = {
        "session_id": session_id, "activity": activity, "owner": owner, "status": status,
        "error": error if status == "failed" else None, "created_at": CREATED_AT, "updated_at": CREATED_AT,
        "source": {"uri": "/clips/x.mp4", "filename": "x.mp4", "sha256": "0" * 64, "size_bytes": 1234},
        "probe": {"duration_s": 1.0, "fps": 30.0, "frame_count": 30, "width": 64, "height": 48, "rotation": 0,
                  "codec": "h264", "pix_fmt": "yuv420p", "vfr": False},
        "options": {"activity": activity, "exercise": "back_squat" if activity == "weightlifting" else None,
                    "athlete_height_m": 1.8, "model": "full", "owner": owner},
        "quality": {"detected_share": 1.0, "view": "side", "facing": "left", "fps": 30.0,
                    "landmark_visibility": {"left_knee": 0.98}, "warnings": []},
        "metrics": metrics,
        "angle_summary": {"left_knee_flexion": {"min": 0.0, "max": 90.0, "mean": 45.0, "unit": "deg"}},
        "events": [{"type": "takeoff", "time_s": 0.333, "frame": 10, "side": None, "index": 0}],
        "warnings": [],
        "artifacts": artifacts,
        "pipeline_version": "0.1.0",
    }
    write_manifest(storage, manifest)
    return manifest


_MP4_CACHE: dict[str, bytes] = {}


def _mp4_bytes() -> bytes:
    if "clip" not in _MP4_CACHE:
        with tempfile.TemporaryDirectory() as tmp:
            _MP4_CACHE["clip"] = make_mp4(Path(tmp) / "clip.mp4")
    return _MP4_CACHE["clip"]


def mp4_bytes() -> bytes:
    return _mp4_bytes()


@dataclass
class Harness:
    """An app over a LocalStorage in a temp dir, a TestClient and one key per scope (+ admin)."""

    storage: LocalStorage
    app: Starlette
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str = "reader") -> dict[str, str]:
        return {"Authorization": f"API-KEY {self.tokens[who]}"}

    def get(self, url: str, who: str = "reader", **kw: Any) -> httpx.Response:
        return self.client.get(url, headers={**self.headers(who), **kw.pop("headers", {})}, **kw)


READER_SCOPES = ("sessions:read", "exports:read", "videos:generate")


def build_harness(root: Path, *, settings: ApiSettings | None = None, renderer: Renderer | None = None,
                  submitter: Submitter | None = None) -> Harness:
    storage = LocalStorage(root)
    app = create_app(storage, settings or ApiSettings(signing_secret="test-secret-0123456789"),
                     renderer=renderer, submitter=submitter)
    client = TestClient(app)
    tokens = {
        "reader": create_key(storage, "alice", READER_SCOPES)[0],
        "writer": create_key(storage, "alice", ("sessions:write",))[0],
        "bob": create_key(storage, "bob", SCOPES[:-1])[0],
        "admin": create_key(storage, "ops", ("admin",))[0],
    }
    for scope in SCOPES[:-1]:
        tokens[f"only:{scope}"] = create_key(storage, "alice", (scope,))[0]
    return Harness(storage, app, client, tokens)


# --- real servers ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Starlette, timeout_s: float = 10.0) -> Iterator[str]:
    """uvicorn on 127.0.0.1 in a thread, on a socket bound here (no port race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


@contextlib.contextmanager
def serve_in_subprocess(storage_uri: str, env: dict[str, str] | None = None,
                        timeout_s: float = 30.0) -> Iterator[str]:
    """`api.serve.serve(storage_uri, "127.0.0.1", port)` in a child process; waits for /health."""
    port = free_port()
    code = f"from api.serve import serve; serve({storage_uri!r}, '127.0.0.1', {port})"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: access logs would fill it and block the server
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"the API process exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API process did not answer /health in time")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class CliServer:
    base: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int:
    """SIGTERM by PID, then SIGKILL if it has not exited within `timeout_s`; returns the exit code."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def serve_cli(storage_uri: str, log_path: Path, env: dict[str, str] | None = None,
              timeout_s: float = 60.0) -> Iterator[CliServer]:
    """`python -m motionlens.cli serve --host 127.0.0.1 --port N --storage URI`; waits for /health."""
    port = free_port()
    argv = [sys.executable, "-m", "motionlens.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--storage", storage_uri]
    with log_path.open("ab") as log:  # a file, not a pipe: access logs would fill a pipe and block the server
        proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1])
    server = CliServer(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"motionlens serve exited with {proc.returncode}:\n{server.log()[-3000:]}")
            try:
                if httpx.get(f"{server.base}/health", timeout=1.0).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"motionlens serve did not answer /health in time:\n{server.log()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process(proc)
