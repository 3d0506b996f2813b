"""Finding 4: no submission is lost when the server stops. Each piece on its own, with real dead
processes (a child that has exited) as the owners of leases, render locks and temp folders; the
whole story, with a real server killed and restarted, is `test_faults_server.py`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from api import leases
from api.lifespan import drain, sweep
from api.rendering import lock_key
from api.settings import ApiSettings
from pipeline import tempdirs
from pipeline.liveness import is_alive, process_on_this_host, this_process
from pipeline.session import artifact_key, export_key, new_session_id, read_manifest, write_manifest
from pipeline.storage import Storage
from tests.support_api import Harness, build_harness, make_session, mp4_bytes, serve_in_thread
from tests.test_api_videos import FakeRenderer

SETTINGS = ApiSettings(signing_secret="s" * 32, max_upload_bytes=200_000, retry_after_s=4, max_attempts=2,
                       shutdown_grace_s=0.5)


class HeldSubmitter:
    """Marks the session processing, waits to be released, then completes it (as the pipeline does)."""

    def __init__(self, hold: bool = False) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls: list[tuple[str, str]] = []
        if not hold:
            self.release.set()

    def __call__(self, storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                 *, session_id: str) -> str:
        self.calls.append((session_id, source))
        manifest = read_manifest(storage, session_id)
        write_manifest(storage, {**manifest, "status": "processing"})
        self.entered.set()
        self.release.wait(10)
        assert Path(source).read_bytes() == mp4_bytes()
        write_manifest(storage, {**read_manifest(storage, session_id), "status": "completed"})
        return session_id


def dead_process() -> dict[str, Any]:
    """The owner record of a process that ran here and has exited (its PID is free)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return {**this_process(), "pid": int(child.stdout), "start": 12345}


def _harness(tmp_path: Path, submitter: HeldSubmitter, renderer: FakeRenderer | None = None) -> Harness:
    return build_harness(tmp_path / "store", settings=SETTINGS, submitter=submitter, renderer=renderer)


def _orphan(h: Harness, status: str, owner: dict[str, Any], attempt: int = 1) -> str:
    """A session as a process killed mid-run leaves it: stored original, lease, queued/processing manifest,
    and (processing) a half-published export."""
    sid = new_session_id()
    original = artifact_key(sid, "original.mp4")
    h.storage.write_bytes(original, mp4_bytes())
    write_manifest(h.storage, {"session_id": sid, "activity": "jumping", "owner": "alice", "status": status,
                               "error": None, "created_at": "2025-05-02T18:00:00Z", "updated_at": "x",
                               "source": {}, "options": {"activity": "jumping", "owner": "alice"},
                               "artifacts": {}})
    h.storage.write_bytes(export_key("angles", "jumping", "2025-05-02", sid), b"PAR1 half-published")
    leases.write(h.storage, leases.Lease(sid, "jumping", str(h.storage.path(original)),
                                         {"activity": "jumping", "owner": "alice"}, "alice", attempt=attempt,
                                         process=owner))
    return sid


def test_is_alive_tells_a_dead_process_from_a_live_one() -> None:
    assert is_alive(this_process()) is True
    assert is_alive(dead_process()) is False
    assert is_alive({**this_process(), "start": this_process()["start"] + 1}) is False  # same PID, new process
    assert is_alive({**this_process(), "host": "elsewhere"}) is None


def test_upload_is_stored_under_the_session_before_the_202(tmp_path: Path) -> None:
    submitter = HeldSubmitter(hold=True)
    h = _harness(tmp_path, submitter)
    r = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                      content=mp4_bytes())
    assert r.status_code == 202
    sid = r.json()["session_id"]
    assert h.storage.read_bytes(artifact_key(sid, "original.mp4")) == mp4_bytes()
    lease = leases.read(h.storage, sid)
    assert lease is not None and lease.process == this_process() and lease.source.endswith("original.mp4")
    assert not list(Path(tempfile.gettempdir()).glob(f"motionlens-upload.{tempdirs.owner_tag()}.*"))
    submitter.release.set()
    assert h.app.state.ctx.background.wait(10)
    assert read_manifest(h.storage, sid)["status"] == "completed" and leases.read(h.storage, sid) is None


def test_sessions_of_a_dead_process_are_requeued_once_and_then_failed(tmp_path: Path) -> None:
    submitter = HeldSubmitter()
    h = _harness(tmp_path, submitter)
    ctx = h.app.state.ctx
    queued, processing = _orphan(h, "queued", dead_process()), _orphan(h, "processing", dead_process())
    twice = _orphan(h, "processing", dead_process(), attempt=2)  # already rerun once: max_attempts=2
    sweep(ctx)
    assert ctx.background.wait(10)
    assert {sid for sid, _ in submitter.calls} == {queued, processing}
    for sid in (queued, processing):
        assert read_manifest(h.storage, sid)["status"] == "completed"
        assert leases.read(h.storage, sid) is None
    failed = read_manifest(h.storage, twice)
    assert failed["status"] == "failed" and failed["error"]["code"] == "interrupted"
    for sid in (queued, processing, twice):  # what the dead run half-published is gone
        assert not h.storage.exists(export_key("angles", "jumping", "2025-05-02", sid))
    assert list(h.storage.list("runs/")) == []
    sweep(ctx)  # idempotent: nothing left to do
    assert ctx.background.wait(10) and len(submitter.calls) == 2


def test_sessions_of_a_live_process_are_left_alone(tmp_path: Path) -> None:
    h = _harness(tmp_path, HeldSubmitter())
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        sid = _orphan(h, "processing", process_on_this_host(live.pid))
        sweep(h.app.state.ctx)
        assert read_manifest(h.storage, sid)["status"] == "processing" and leases.read(h.storage, sid)
    finally:
        live.kill()
        live.wait()
    sweep(h.app.state.ctx)  # now it is gone
    assert h.app.state.ctx.background.wait(10)
    assert read_manifest(h.storage, sid)["status"] == "completed"


def test_a_draining_server_refuses_new_work_and_hands_back_what_runs(tmp_path: Path) -> None:
    submitter = HeldSubmitter(hold=True)
    renderer = FakeRenderer(hold=True)
    h = _harness(tmp_path, submitter, renderer)
    ctx = h.app.state.ctx
    r = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                      content=mp4_bytes())
    sid = r.json()["session_id"]
    assert submitter.entered.wait(10)
    rendering = make_session(h.storage, analyzed=False)["session_id"]
    assert h.get(f"/sessions/{rendering}/analyzed-video/").status_code == 202
    assert renderer.entered.wait(10)
    drain(ctx)  # what the lifespan does on SIGTERM; the grace (0.5 s) runs out
    refused = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                            content=mp4_bytes())
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
    assert refused.headers["retry-after"] == "4"
    other = make_session(h.storage, analyzed=False)["session_id"]
    assert h.get(f"/sessions/{other}/analyzed-video/").status_code == 503
    assert h.client.get("/health").json()["accepting_work"] == "draining"
    # Handed back: queued again, its lease marked so the next process takes it at once; the render lock freed.
    assert read_manifest(h.storage, sid)["status"] == "queued"
    assert leases.read(h.storage, sid).handed_back and leases.read(h.storage, sid).owner_gone(ttl_s=3600)
    assert not h.storage.exists(lock_key(rendering))
    submitter.release.set()
    renderer.release.set()
    ctx.background.wait(10)


def test_a_render_lock_of_a_dead_process_is_taken_over_at_once(tmp_path: Path) -> None:
    renderer = FakeRenderer()
    h = _harness(tmp_path, HeldSubmitter(), renderer)
    sid = make_session(h.storage, analyzed=False)["session_id"]
    h.storage.write_bytes(lock_key(sid), json.dumps({"token": "old", "started_at_unix": time.time(),
                                                     **dead_process()}).encode())
    r = h.get(f"/sessions/{sid}/analyzed-video/")
    assert r.status_code == 202 and r.json()["message"] == "rendering started"  # not 30 min of "in progress"
    assert h.app.state.ctx.background.wait(10)
    assert h.get(f"/sessions/{sid}/analyzed-video/").status_code == 200 and renderer.calls == [sid]


def test_a_render_lock_of_a_live_process_is_respected(tmp_path: Path) -> None:
    renderer = FakeRenderer()
    h = _harness(tmp_path, HeldSubmitter(), renderer)
    sid = make_session(h.storage, analyzed=False)["session_id"]
    h.storage.write_bytes(lock_key(sid), json.dumps({"token": "other", "started_at_unix": time.time(),
                                                     **process_on_this_host(os.getppid())}).encode())
    assert h.get(f"/sessions/{sid}/analyzed-video/").json()["message"] == "rendering is in progress"
    assert renderer.calls == []


def test_temp_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = dead_process()
    gone = tmp_path / f"motionlens-upload.p{dead['pid']}s{dead['start']}.abcd"
    gone.mkdir()
    (gone / "upload.mp4").write_bytes(b"x" * 100)
    mine = tmp_path / f"motionlens-upload.{tempdirs.owner_tag()}.efgh"
    mine.mkdir()
    legacy = tmp_path / "motionlens-upload-xyz"  # not tagged: its owner cannot be known, kept
    legacy.mkdir()
    assert tempdirs.clean_dead(tmp_path) == [gone]
    assert not gone.exists() and mine.exists() and legacy.exists()


@pytest.mark.parametrize("kind", ["upload", "Ab-p1s2-"])  # a session id prefix may look like a tag
def test_temp_folder_names_carry_an_unambiguous_owner(kind: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = tempdirs.make_temp_dir(kind)
    assert made.parent == tmp_path and made.name.startswith(f"motionlens-{kind}.{tempdirs.owner_tag()}.")
    assert tempdirs.clean_dead(tmp_path) == [] and made.exists()


def test_an_upload_still_arriving_when_the_stop_begins_is_answered_503(tmp_path: Path) -> None:
    """Under uvicorn on loopback: half a body is sent, the stop begins, and the 503 comes at once,
    without waiting for the rest (which uvicorn's grace timeout would cut into a 500)."""
    submitter = HeldSubmitter()
    h = _harness(tmp_path, submitter)
    video = mp4_bytes()
    with serve_in_thread(h.app) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(f"POST /jumping/sessions/ HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\n"
                         f"Authorization: API-KEY {h.tokens['writer']}\r\n"
                         f"Content-Length: {len(video)}\r\n\r\n".encode() + video[:1000])
            time.sleep(0.3)
            h.app.state.ctx.lifecycle.drain()  # SIGTERM arrives mid-upload
            conn.settimeout(3)
            answer = ""
            while "}}" not in answer and (data := conn.recv(65536)):  # head and body may come apart
                answer += data.decode()
    assert answer.startswith("HTTP/1.1 503") and "shutting_down" in answer and "retry-after: 4" in answer
    assert submitter.calls == [] and list(h.storage.list("sessions/")) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"motionlens-upload.{tempdirs.owner_tag()}.*"))
