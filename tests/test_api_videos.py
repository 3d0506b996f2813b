"""`/sessions/{id}/analyzed-video/`: ready → 200, missing → render (202 → 200), one render at a time."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.app import create_app
from api.rendering import lock_key
from api.settings import ApiSettings
from pipeline.errors import PipelineError
from pipeline.session import read_manifest, write_manifest
from pipeline.storage import Storage
from tests.support_api import Harness, TestClient, build_harness, make_session, mp4_bytes

SETTINGS = ApiSettings(signing_secret="s" * 32, retry_after_s=2)


class FakeRenderer:
    """Writes analyzed.mp4 and updates the manifest, as `render_session` does; can be held back."""

    def __init__(self, hold: bool = False, fail: Exception | None = None, write: bool = True) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        if not hold:
            self.release.set()
        self.fail = fail
        self.write = write
        self._lock = threading.Lock()

    def __call__(self, storage: Storage, session_id: str) -> dict:
        with self._lock:
            self.calls.append(session_id)
        self.entered.set()
        assert self.release.wait(10)
        if self.fail:
            raise self.fail
        if self.write:
            storage.write_bytes(f"sessions/{session_id}/analyzed.mp4", mp4_bytes())
            manifest = read_manifest(storage, session_id)
            manifest["artifacts"]["analyzed_video"] = f"sessions/{session_id}/analyzed.mp4"
            write_manifest(storage, manifest)
        return {"analyzed_video": f"sessions/{session_id}/analyzed.mp4"}


@pytest.fixture
def renderer() -> FakeRenderer:
    return FakeRenderer()


@pytest.fixture
def h(tmp_path: Path, renderer: FakeRenderer) -> Harness:
    return build_harness(tmp_path / "store", settings=SETTINGS, renderer=renderer)


def url(session_id: str, management: bool = False) -> str:
    return f"{'/session-management' if management else ''}/sessions/{session_id}/analyzed-video/"


@pytest.mark.parametrize("management", [False, True])
def test_existing_video_is_200_with_playable_url(h: Harness, renderer: FakeRenderer, management: bool) -> None:
    m = make_session(h.storage)
    r = h.get(url(m["session_id"], management))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert h.client.get(body["analyzed_video_url"]).content == h.storage.read_bytes(m["artifacts"]["analyzed_video"])
    assert renderer.calls == []


def test_manifest_without_the_video_is_repaired(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage, list_analyzed=False)
    assert "analyzed_video" not in m["artifacts"]
    r = h.get(url(m["session_id"]))
    assert r.status_code == 200 and r.json()["analyzed_video_url"]
    repaired = read_manifest(h.storage, m["session_id"])
    assert repaired["artifacts"]["analyzed_video"] == f"sessions/{m['session_id']}/analyzed.mp4"
    assert repaired["artifacts"]["exports"] == m["artifacts"]["exports"]  # nothing else lost
    assert renderer.calls == []


def test_missing_video_renders_then_202_becomes_200(h: Harness, renderer: FakeRenderer) -> None:
    renderer.release.clear()
    m = make_session(h.storage, analyzed=False)
    first = h.get(url(m["session_id"]))
    assert first.status_code == 202
    assert first.headers["Retry-After"] == "2"
    assert first.json()["status"] == "rendering" and first.json()["analyzed_video_url"] is None
    assert renderer.entered.wait(5)
    assert h.storage.exists(lock_key(m["session_id"]))
    assert h.get(url(m["session_id"], management=True)).status_code == 202  # still rendering
    renderer.release.set()
    assert h.app.state.ctx.background.wait(10)
    done = h.get(url(m["session_id"]))
    assert done.status_code == 200, done.text
    assert h.client.get(done.json()["analyzed_video_url"]).content == mp4_bytes()
    assert renderer.calls == [m["session_id"]]
    assert not h.storage.exists(lock_key(m["session_id"]))  # the claim is released
    detail = h.get(f"/jumping/sessions/{m['session_id']}/").json()
    assert detail["analyzed_video_url"]


def test_concurrent_triggers_start_one_render(h: Harness, renderer: FakeRenderer, tmp_path: Path) -> None:
    renderer.release.clear()
    m = make_session(h.storage, analyzed=False)
    # A second API process (another uvicorn worker) over the same storage, with its own renderer.
    other_renderer = FakeRenderer(hold=True)
    other = TestClient(create_app(h.storage, SETTINGS, renderer=other_renderer))
    clients = [h.client, other] * 6
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda c: c.get(url(m["session_id"]), headers=h.headers()).status_code, clients))
    assert statuses == [202] * 12
    assert len(renderer.calls) + len(other_renderer.calls) == 1
    renderer.release.set()
    other_renderer.release.set()
    assert h.app.state.ctx.background.wait(10) and other.app.state.ctx.background.wait(10)
    assert h.get(url(m["session_id"])).status_code == 200
    assert len(renderer.calls) + len(other_renderer.calls) == 1


def test_failed_session_is_409_with_reason(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage, status="failed", error={"code": "no_person_found", "message": "nobody in view"})
    r = h.get(url(m["session_id"]))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "session_failed"
    assert "no_person_found" in r.json()["error"]["message"] and "nobody in view" in r.json()["error"]["message"]
    assert renderer.calls == []


@pytest.mark.parametrize("status", ["queued", "processing"])
def test_unfinished_session_is_202_without_render(h: Harness, renderer: FakeRenderer, status: str) -> None:
    m = make_session(h.storage, status=status)
    r = h.get(url(m["session_id"]))
    assert r.status_code == 202 and r.json()["status"] == status and r.headers["Retry-After"]
    assert renderer.calls == []


def test_failed_render_is_409_until_cooldown(tmp_path: Path) -> None:
    failing = FakeRenderer(fail=PipelineError("pose.npz is missing", code="pose_missing"))
    h = build_harness(tmp_path, settings=SETTINGS, renderer=failing)
    m = make_session(h.storage, analyzed=False)
    assert h.get(url(m["session_id"])).status_code == 202
    assert h.app.state.ctx.background.wait(10)
    r = h.get(url(m["session_id"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "render_failed"
    assert "pose_missing" in r.json()["error"]["message"]
    assert len(failing.calls) == 1 and not h.storage.exists(lock_key(m["session_id"]))

    # After the cooldown the next poll tries again, and a success clears the failure.
    impatient = build_harness(tmp_path, renderer=FakeRenderer(),
                              settings=ApiSettings(signing_secret="s" * 32, render_failure_cooldown_s=0))
    assert impatient.get(url(m["session_id"])).status_code == 202
    assert impatient.app.state.ctx.background.wait(10)
    assert impatient.get(url(m["session_id"])).status_code == 200
    assert not h.storage.exists(f"sessions/{m['session_id']}/render-error.json")


def test_renderer_that_writes_nothing_counts_as_failure(tmp_path: Path) -> None:
    lazy = FakeRenderer(write=False)
    h = build_harness(tmp_path, settings=SETTINGS, renderer=lazy)
    m = make_session(h.storage, analyzed=False)
    h.get(url(m["session_id"]))
    assert h.app.state.ctx.background.wait(10)
    r = h.get(url(m["session_id"]))
    assert r.status_code == 409 and "without writing" in r.json()["error"]["message"]


def test_stale_lock_is_taken_over_fresh_one_is_respected(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage, analyzed=False)
    sid = m["session_id"]
    fresh = {"token": "other-worker", "started_at_unix": time.time()}
    h.storage.write_bytes(lock_key(sid), json.dumps(fresh).encode())
    assert h.get(url(sid)).status_code == 202
    assert h.app.state.ctx.background.wait(5) and renderer.calls == []

    stale = {"token": "dead-worker", "started_at_unix": time.time() - SETTINGS.render_lock_stale_s - 1}
    h.storage.write_bytes(lock_key(sid), json.dumps(stale).encode())
    assert h.get(url(sid)).status_code == 202
    assert h.app.state.ctx.background.wait(10)
    assert renderer.calls == [sid]
    assert h.get(url(sid)).status_code == 200
    assert not [k for k in h.storage.list(f"sessions/{sid}/") if "render.lock" in k]


def test_default_renderer_failure_is_reported_not_crashed(tmp_path: Path) -> None:
    # Without an injected renderer the app imports pipeline.render.session lazily; whatever it does,
    # the client sees 202 and then either 200 or a JSON 409 — never a 500.
    h = build_harness(tmp_path, settings=SETTINGS)
    m = make_session(h.storage, analyzed=False)
    assert h.get(url(m["session_id"])).status_code == 202
    assert h.app.state.ctx.background.wait(60)
    assert h.get(url(m["session_id"])).status_code in (200, 409)
