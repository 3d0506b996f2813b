"""The API as users meet it: real uvicorn on loopback, real HTTP with httpx, real files on disk."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import create_key, revoke_key
from api.settings import ApiSettings
from pipeline.session import read_manifest, write_manifest
from pipeline.storage import LocalStorage, Storage
from tests.support_api import make_session, mp4_bytes, serve_in_subprocess, serve_in_thread

pytestmark = pytest.mark.slow


def test_served_process_end_to_end(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    token, _ = create_key(storage, "alice", ["sessions:read", "exports:read", "videos:generate"])
    auth = {"Authorization": f"API-KEY {token}"}
    jump = make_session(storage, activity="jumping")
    lift = make_session(storage, activity="weightlifting")
    video = storage.read_bytes(jump["artifacts"]["analyzed_video"])

    with serve_in_subprocess(str(tmp_path / "data"), env={"MOTIONLENS_TIMEZONE": "Europe/Madrid"}) as base, \
            httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/health").json()["status"] == "ok"
        unauthorised = http.get(f"/jumping/sessions/{jump['session_id']}/")
        assert unauthorised.status_code == 401 and unauthorised.headers["www-authenticate"].startswith("API-KEY")

        detail = http.get(f"/jumping/sessions/{jump['session_id']}/", headers=auth)
        assert detail.status_code == 200
        body = detail.json()
        assert body["created_at"] == {"date": "05/02/2025", "time": "08:00 PM"}  # CEST
        assert body["analyzed_video_url"].startswith(f"{base}/files/")

        # Seek like a browser: first the head, then a slice in the middle, then the whole file.
        head = http.get(body["analyzed_video_url"], headers={"Range": "bytes=0-1023"})
        assert head.status_code == 206 and head.content == video[:1024]
        assert head.headers["content-range"] == f"bytes 0-1023/{len(video)}"
        middle = http.get(body["analyzed_video_url"], headers={"Range": "bytes=1000-1999"})
        assert middle.content == video[1000:2000]
        assert http.get(body["analyzed_video_url"]).content == video

        export = http.get(body["links"]["export"], headers={**auth, "Accept-Encoding": "gzip"})
        assert export.headers["content-encoding"] == "gzip"
        assert len(export.json()["keypoints"]["frame"]) == 30 * 33

        lift_analysis = http.get(f"/weightlifting/sessions/{lift['session_id']}/lift-analysis/",
                                 headers={**auth, "Accept-Language": "de-DE,de;q=0.9"})
        assert lift_analysis.json()["recommendations"][0]["text"] == "Tiefer gehen."

        ready = http.get(f"/session-management/sessions/{jump['session_id']}/analyzed-video/", headers=auth)
        assert ready.status_code == 200

        revoke_key(storage, token)
        assert http.get(f"/jumping/sessions/{jump['session_id']}/", headers=auth).status_code == 401


def test_render_and_submit_over_real_http(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    renders: list[str] = []
    submitted = threading.Event()

    def renderer(storage: Storage, session_id: str) -> dict[str, Any]:
        renders.append(session_id)
        storage.write_bytes(f"sessions/{session_id}/analyzed.mp4", mp4_bytes())
        manifest = read_manifest(storage, session_id)
        manifest["artifacts"]["analyzed_video"] = f"sessions/{session_id}/analyzed.mp4"
        write_manifest(storage, manifest)
        return manifest

    def submitter(storage: Storage, activity: str, source: str, options: dict, owner: str, *,
                  session_id: str) -> str:
        assert Path(source).read_bytes() == mp4_bytes()
        submitted.set()
        return session_id

    token, _ = create_key(storage, "alice", ["admin"])
    auth = {"Authorization": f"API-KEY {token}"}
    session = make_session(storage, analyzed=False)
    app = create_app(storage, ApiSettings(signing_secret="e2e-secret-0123456789"), renderer=renderer,
                     submitter=submitter)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        url = f"/sessions/{session['session_id']}/analyzed-video/"
        first = http.get(url, headers=auth)
        assert first.status_code == 202 and int(first.headers["retry-after"]) > 0
        assert app.state.ctx.background.wait(10)
        second = http.get(url, headers=auth)
        assert second.status_code == 200
        assert http.get(second.json()["analyzed_video_url"]).content == mp4_bytes()
        assert renders == [session["session_id"]]

        posted = http.post("/jumping/sessions/", headers=auth,
                           files={"video": ("jump.mp4", mp4_bytes(), "video/mp4")}, data={"jump_type": "cmj"})
        assert posted.status_code == 202, posted.text
        assert submitted.wait(10)
        assert http.get(posted.headers["location"], headers=auth).status_code == 200
        assert app.state.ctx.background.wait(10)
