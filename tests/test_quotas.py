"""Finding 9: limits under abuse: per-key quotas (429 + Retry-After), a render concurrency limit,
a header timeout and a connection limit in the served API, and each repeated error logged once."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.log_dedup import DedupFilter
from api.settings import ApiSettings
from tests.support_api import Harness, build_harness, free_port, make_session, mp4_bytes, stop_process
from tests.test_api_videos import FakeRenderer


def _harness(tmp_path: Path, renderer: FakeRenderer | None = None, **limits: Any) -> Harness:
    from tests.test_api_submit import FakeSubmitter

    settings = ApiSettings(signing_secret="s" * 32, max_upload_bytes=200_000, **limits)
    return build_harness(tmp_path / "store", settings=settings, renderer=renderer, submitter=FakeSubmitter())


def test_submissions_past_the_quota_are_429_with_retry_after(tmp_path: Path) -> None:
    h = _harness(tmp_path, submissions_per_window=3, quota_window_s=60)
    video = mp4_bytes()
    codes = [h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                           content=video).status_code for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    r = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                      content=video)
    assert r.json()["error"]["code"] == "quota_exceeded" and 1 <= int(r.headers["retry-after"]) <= 60
    # The quota is per key: another key of the same owner still submits.
    other = h.client.post("/jumping/sessions/", headers={**h.headers("only:sessions:write"),
                                                         "Content-Type": "video/mp4"}, content=video)
    assert other.status_code == 202
    assert h.app.state.ctx.background.wait(10)


def test_render_quota_and_render_concurrency_limit(tmp_path: Path) -> None:
    renderer = FakeRenderer(hold=True)
    h = _harness(tmp_path, renderer, renders_per_window=3, max_parallel_renders=2, retry_after_s=3)
    sessions = [make_session(h.storage, analyzed=False)["session_id"] for _ in range(4)]

    def video(sid: str, who: str = "reader") -> httpx.Response:
        return h.get(f"/sessions/{sid}/analyzed-video/", who=who)

    assert video(sessions[0]).json()["message"] == "rendering started"  # 1st of the key's 3
    for _ in range(3):
        assert video(sessions[0]).status_code == 202  # polls of the same render: not counted
    assert video(sessions[1]).json()["message"] == "rendering started"  # 2nd
    busy = video(sessions[2])  # two renders run: the process limit
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "renders_busy"
    assert busy.headers["retry-after"] == "3"
    renderer.release.set()
    assert h.app.state.ctx.background.wait(10)
    assert video(sessions[2]).json()["message"] == "rendering started"  # 3rd
    assert h.app.state.ctx.background.wait(10)
    over = video(sessions[3])
    assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert not h.storage.exists(f"sessions/{sessions[3]}/render.lock")  # refused: no lock left behind
    assert video(sessions[3], who="bob").status_code == 404  # another owner: not found, before any quota
    assert len(renderer.calls) == 3


def test_repeated_errors_are_logged_once_per_window(tmp_path: Path) -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep()
    dedup = DedupFilter(window_s=0.5, per_template=3)
    handler.addFilter(dedup)
    log = logging.getLogger("motionlens.test_dedup")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        for _ in range(1000):
            log.warning("store unreachable: %s", "timeout")
        for i in range(50):  # varying arguments: capped per template
            log.error("render of session %s failed", i)
        log.info("info lines pass: %s", 1)
        log.info("info lines pass: %s", 1)
        time.sleep(0.6)
        log.warning("store unreachable: %s", "timeout")
    finally:
        log.removeHandler(handler)
    assert records[0] == "store unreachable: timeout"
    assert records[1:4] == [f"render of session {i} failed" for i in range(3)]
    assert records[4:6] == ["info lines pass: 1"] * 2
    assert records[6] == "store unreachable: timeout [repeated 999 more time(s) in the previous 0.5 s]"
    assert len(records) == 7


@pytest.mark.slow
def test_slow_header_connections_are_cut_and_counted(tmp_path: Path) -> None:
    """300 connections that never finish their headers, against a server allowing 100 connections
    and 1 s for headers: the surplus is refused at once, the rest cut after 1 s, the server answers
    normally again within 3 s, and the refusals are one log line, not 200."""
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "MOTIONLENS_HEADER_TIMEOUT_S": "1", "MOTIONLENS_MAX_CONNECTIONS": "100",
           "MOTIONLENS_KEEP_ALIVE_S": "1"}
    code = f"from api.serve import serve; serve({str(tmp_path / 'store')!r}, '127.0.0.1', {port})"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    socks: list[socket.socket] = []
    try:
        _wait_listening(base, proc)
        idle = socket.create_connection(("127.0.0.1", port))  # a keep-alive connection left idle after a response
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.settimeout(5)
        assert idle.recv(65536).startswith(b"HTTP/1.1 ")
        started = time.monotonic()
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
            socks.append(s)
        closed = _count_closed(socks, deadline=started + 4)
        assert closed == 300, f"{closed} of 300 slow-header connections were closed"
        assert _reads_eof(idle, 3)  # the idle keep-alive connection was closed too
        t = time.monotonic()
        assert httpx.get(f"{base}/health", timeout=5).status_code in (200, 503)
        assert time.monotonic() - t < 3
        assert time.monotonic() - started < 8
    finally:
        for s in socks:
            s.close()
        stop_process(proc)
    text = log_path.read_text(errors="replace")
    assert text.count("refused a connection") == 1, text[-2000:]


def _wait_listening(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            httpx.get(f"{base}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _count_closed(socks: list[socket.socket], deadline: float) -> int:
    pending = set(range(len(socks)))
    for s in socks:
        s.setblocking(False)
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            try:
                data = socks[i].recv(65536)
            except BlockingIOError:
                continue
            except OSError:  # reset: refused at once
                pending.discard(i)
                continue
            if data == b"":
                pending.discard(i)
        time.sleep(0.05)
    return len(socks) - len(pending)


def _reads_eof(s: socket.socket, timeout_s: float) -> bool:
    """True when the peer closes within the timeout (the rest of a response may come first)."""
    deadline = time.monotonic() + timeout_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            if s.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        pass
    return False
