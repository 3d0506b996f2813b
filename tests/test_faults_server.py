"""The acceptance fault test of issue 13: the real API (uvicorn in a child process, a local store)
killed with SIGKILL, then with SIGTERM, during an upload, an analysis and a render, and restarted
each time. Every accepted submission ends `completed` or `failed` with a code within a minute of
the restart, nothing is half-published, and no temporary file is left behind.

The server's TMPDIR is a folder of this test, so "no temporary file left" is checked exactly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.keys import create_key
from pipeline.session import read_manifest
from pipeline.storage import LocalStorage
from tests.conftest import clip_path
from tests.support_api import free_port

CLIP = clip_path("jumps_synthetic_30fps.mp4")
OPTIONS = {"model": "lite", "render": "false", "athlete_height_m": "1.8"}
WITHIN_S = 60.0


@dataclass
class Api:
    """One run of `api.serve.serve` over the store; `stop(sig)` signals it by PID and reaps it."""

    root: Path
    tmpdir: Path
    log: Path
    token: str
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""
    runs: list[str] = field(default_factory=list)

    def start(self) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        env.update({"TMPDIR": str(self.tmpdir), "MOTIONLENS_SHUTDOWN_GRACE_S": "3",
                    "MOTIONLENS_RECOVERY_INTERVAL_S": "2"})
        code = f"from api.serve import serve; serve({str(self.root)!r}, '127.0.0.1', {port})"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                httpx.get(f"{self.base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        self.runs.append(f"pid {self.proc.pid}")

    def stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=30)
        self.runs[-1] += f" stopped by {sig.name}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"API-KEY {self.token}"}

    def submit(self, clip: Path) -> str:
        r = httpx.post(f"{self.base}/jumping/sessions/", params=OPTIONS, content=clip.read_bytes(),
                       headers={**self.headers(), "Content-Type": "video/mp4"}, timeout=30)
        assert r.status_code == 202, r.text
        return str(r.json()["session_id"])

    def status(self, sid: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/jumping/sessions/{sid}/", headers=self.headers(), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def video(self, sid: str) -> httpx.Response:
        return httpx.get(f"{self.base}/sessions/{sid}/analyzed-video/", headers=self.headers(), timeout=10)


class SlowUpload(threading.Thread):
    """A raw-body upload of the clip in 32 KB pieces, 0.3 s apart (~6 s): in flight when the server dies."""

    def __init__(self, api: Api) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.sent = threading.Event()
        self.session_id: str | None = None
        self.outcome = ""

    def _body(self) -> Iterator[bytes]:
        data = CLIP.read_bytes()
        for i in range(0, len(data), 32 * 1024):
            yield data[i:i + 32 * 1024]
            self.sent.set()
            time.sleep(0.3)

    def run(self) -> None:
        try:
            r = httpx.post(f"{self.api.base}/jumping/sessions/", params=OPTIONS, content=self._body(),
                           headers={**self.api.headers(), "Content-Type": "video/mp4"}, timeout=30)
            self.outcome = f"HTTP {r.status_code}"
            if r.status_code == 202:
                self.session_id = r.json()["session_id"]
        except httpx.HTTPError as exc:
            self.outcome = type(exc).__name__


def _clip_for(api: Api, sig: signal.Signals) -> Path:
    """The clip, remuxed with a tag per round (same frames, other bytes): the same video again would
    hit the pose cache, finish within the grace period, and nothing would be handed back."""
    import av

    dest = api.tmpdir.parent / f"clip-{sig.name}.mp4"
    with av.open(str(CLIP)) as src, av.open(str(dest), "w", format="mp4") as out:
        out.metadata["comment"] = sig.name
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dest


def _wait(predicate: Any, timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout_s, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.25)
    return time.monotonic() - started


def _ended(api: Api, sid: str) -> bool:
    return api.status(sid)["status"] in ("completed", "failed")


def _rendered(api: Api, sid: str) -> bool:
    r = api.video(sid)
    assert r.status_code in (200, 202, 409), r.text
    return r.status_code != 202


def _kill_during_upload_and_analysis(api: Api, sig: signal.Signals, accepted: set[str]) -> str:
    sid = api.submit(_clip_for(api, sig))
    accepted.add(sid)
    _wait(lambda: api.status(sid)["status"] == "processing", 60, "the analysis to start")
    upload = SlowUpload(api)
    upload.start()
    assert upload.sent.wait(10)
    time.sleep(1.0)  # mid-upload and mid-analysis: pose takes several seconds on this clip
    assert upload.is_alive() and api.status(sid)["status"] == "processing"
    api.stop(sig)
    upload.join(30)
    assert upload.outcome != "HTTP 500", "an upload cut by the stop must not be an internal error"
    if upload.session_id:  # finished within the grace period: accepted, so it must end too
        accepted.add(upload.session_id)
    api.start()
    took = _wait(lambda: all(_ended(api, s) for s in accepted), WITHIN_S, f"sessions to end after {sig.name}")
    print(f"{sig.name}: upload {upload.outcome}; sessions ended {took:.1f} s after the restart")
    return sid


def _kill_during_render(api: Api, sig: signal.Signals, sid: str) -> None:
    assert api.status(sid)["status"] == "completed"
    assert api.video(sid).status_code == 202
    lock = api.root / "sessions" / sid / "render.lock"
    _wait(lock.exists, 10, "the render to start")
    time.sleep(1.0)
    assert lock.exists(), "the render finished before the kill: nothing was tested"
    api.stop(sig)
    api.start()
    took = _wait(lambda: _rendered(api, sid), WITHIN_S, f"the render to end after {sig.name}")
    assert api.video(sid).status_code == 200
    print(f"{sig.name}: render ended {took:.1f} s after the restart")


@pytest.mark.slow
def test_killed_server_loses_nothing(tmp_path: Path) -> None:
    root, tmpdir = tmp_path / "store", tmp_path / "tmp"
    tmpdir.mkdir()
    storage = LocalStorage(root)
    token, _ = create_key(storage, "alice", ("sessions:read", "sessions:write", "videos:generate"))
    api = Api(root, tmpdir, tmp_path / "server.log", token)
    accepted: set[str] = set()
    api.start()
    try:
        for sig in (signal.SIGKILL, signal.SIGTERM):
            sid = _kill_during_upload_and_analysis(api, sig, accepted)
            _kill_during_render(api, sig, sid)
    finally:
        if api.proc is not None and api.proc.poll() is None:
            api.stop(signal.SIGTERM)
    print("runs:", "; ".join(api.runs))
    log = api.log.read_text(errors="replace")
    assert "handed back 1 analysis(es)" in log  # the SIGTERM'd analysis (pose alone outlasts the grace)
    # The SIGTERM'd render is handed back, or finishes within the grace on a quiet machine: both are
    # right (finish or hand back); which one happened depends on the machine's speed, not the code.
    handed_render = re.search(r"handed back 0 analysis\(es\) and 1 render\(s\)", log) is not None
    print("SIGTERM render:", "handed back" if handed_render else "finished within the grace")
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]

    completed = set()
    for sid in accepted:
        manifest = read_manifest(storage, sid)
        assert manifest["status"] in ("completed", "failed"), manifest
        if manifest["status"] == "failed":
            assert manifest["error"]["code"], manifest
            continue
        completed.add(sid)
        # The manifest is the commit, written last: everything it lists was published before it.
        listed = [manifest["artifacts"][k] for k in ("original", "pose")]
        listed += list(manifest["artifacts"]["exports"].values())
        assert all(storage.exists(key) for key in listed), manifest["artifacts"]
    assert completed, "no session completed: the test proved nothing"
    for parquet in (root / "exports").rglob("*.parquet"):  # exports only of completed sessions
        assert parquet.stem in completed, parquet
    for video in (root / "sessions").rglob("analyzed.mp4"):
        assert video.parent.name in completed, video
    leftovers = [p for p in root.rglob("*") if p.is_file() and (
        p.name.startswith((".tmp-", "render.lock")) or p.parent.name == "runs" or "takeover" in p.parts)]
    assert not leftovers, leftovers
    assert not list(tmpdir.iterdir()), list(tmpdir.iterdir())
