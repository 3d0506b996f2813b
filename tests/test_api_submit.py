"""`POST /{activity}/sessions/`: upload or URL → 202 + session id; size (413) and type (415) checks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from api.settings import ApiSettings
from api.uploads import sniff_container
from pipeline.errors import NoPersonFound
from pipeline.session import is_valid_session_id, read_manifest, write_manifest
from pipeline.storage import Storage
from tests.support_api import Harness, build_harness, mp4_bytes


class FakeSubmitter:
    """Records what the pipeline would get; completes the session unless told to fail."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail
        self.done = threading.Event()

    def __call__(self, storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                 *, session_id: str) -> str:
        path = Path(source)
        self.calls.append({"activity": activity, "source": source, "options": options, "owner": owner,
                           "session_id": session_id, "queued": read_manifest(storage, session_id),
                           "data": path.read_bytes() if path.is_file() else None})
        if self.fail:
            raise self.fail
        manifest = read_manifest(storage, session_id)
        manifest["status"] = "completed"
        write_manifest(storage, manifest)
        return session_id


@pytest.fixture
def submitter() -> FakeSubmitter:
    return FakeSubmitter()


@pytest.fixture
def h(tmp_path: Path, submitter: FakeSubmitter) -> Harness:
    return build_harness(tmp_path / "store", submitter=submitter,
                         settings=ApiSettings(signing_secret="s" * 32, max_upload_bytes=200_000))


def post(h: Harness, activity: str = "jumping", who: str = "writer", **kw: Any):
    return h.client.post(f"/{activity}/sessions/", headers={**h.headers(who), **kw.pop("headers", {})}, **kw)


def finished(h: Harness) -> None:
    assert h.app.state.ctx.background.wait(10)


def test_multipart_upload_is_202_and_runs_the_analysis(h: Harness, submitter: FakeSubmitter) -> None:
    video = mp4_bytes()
    r = post(h, "weightlifting", files={"video": ("squat.mp4", video, "video/mp4")},
             data={"exercise": "back_squat", "athlete_height_m": "1.82", "render": "false"})
    assert r.status_code == 202, r.text
    body = r.json()
    sid = body["session_id"]
    assert is_valid_session_id(sid) and body["status"] == "queued"
    assert r.headers["location"] == body["links"]["self"] == f"http://testserver/weightlifting/sessions/{sid}/"
    assert body["links"]["lift_analysis"].endswith(f"/weightlifting/sessions/{sid}/lift-analysis/")
    finished(h)
    call = submitter.calls[0]
    assert call["activity"] == "weightlifting" and call["owner"] == "alice" and call["session_id"] == sid
    assert call["data"] == video and call["source"].endswith(".mp4")
    assert call["options"]["exercise"] == "back_squat" and call["options"]["athlete_height_m"] == 1.82
    assert call["options"]["render"] is False and call["options"]["owner"] == "alice"
    assert call["queued"]["status"] == "queued" and call["queued"]["source"]["filename"] == "squat.mp4"
    assert call["queued"]["source"]["size_bytes"] == len(video)
    # The upload was stored under the session before the 202 (it survives a crash); its lease is released.
    assert Path(call["source"]) == h.storage.path(f"sessions/{sid}/original.mp4")
    assert not h.storage.exists(f"runs/{sid}.json")
    assert h.get(f"/weightlifting/sessions/{sid}/", who="reader").json()["status"] == "completed"


def test_session_is_readable_as_soon_as_202_is_answered(tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(storage: Storage, activity: str, source: str, options: dict, owner: str, *, session_id: str) -> str:
        assert gate.wait(10)
        return session_id

    h = build_harness(tmp_path, submitter=slow)
    sid = post(h, files={"video": ("a.mp4", mp4_bytes(), "video/mp4")}).json()["session_id"]
    detail = h.get(f"/jumping/sessions/{sid}/", who="reader")
    assert detail.status_code == 200 and detail.json()["status"] == "queued"
    assert h.get(f"/running/sessions/{sid}/", who="reader").status_code == 404
    assert h.get(f"/jumping/sessions/{sid}/", who="bob").status_code == 404  # owned by the key's owner
    gate.set()
    finished(h)


def test_raw_video_body_with_query_options(h: Harness, submitter: FakeSubmitter) -> None:
    r = post(h, "running", content=mp4_bytes(), params={"treadmill_speed_m_s": "3.5"},
             headers={"Content-Type": "video/mp4"})
    assert r.status_code == 202, r.text
    finished(h)
    assert submitter.calls[0]["options"]["treadmill_speed_m_s"] == 3.5


def test_json_video_url(h: Harness, submitter: FakeSubmitter) -> None:
    r = post(h, json={"video_url": "https://videos.example.com/jump.mov", "athlete_height_m": 1.7,
                      "jump_type": "cmj"})
    assert r.status_code == 202, r.text
    finished(h)
    call = submitter.calls[0]
    assert call["source"] == "https://videos.example.com/jump.mov"
    assert call["options"]["jump_type"] == "cmj" and call["queued"]["source"]["uri"] == call["source"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "http://127.0.0.1:8000/x.mp4",
                                 "http://localhost/x.mp4", "http://10.0.0.5/x.mp4", "http://[::1]/x.mp4",
                                 "http://169.254.169.254/latest/meta-data", "ftp://example.com/x.mp4", 42])
def test_json_video_url_is_checked(h: Harness, url: object) -> None:
    r = post(h, json={"video_url": url})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_video_url"


def test_private_urls_allowed_when_configured(tmp_path: Path, submitter: FakeSubmitter) -> None:
    h = build_harness(tmp_path, submitter=submitter,
                      settings=ApiSettings(signing_secret="s" * 32, allow_private_video_urls=True))
    assert post(h, json={"video_url": "http://127.0.0.1:9000/x.mp4"}).status_code == 202
    finished(h)


def test_too_large_upload_is_413(h: Harness, submitter: FakeSubmitter) -> None:
    big = mp4_bytes() + b"\0" * 300_000
    r = post(h, files={"video": ("big.mp4", big, "video/mp4")})
    assert r.status_code == 413 and r.json()["error"]["code"] == "video_too_large"
    assert "200000" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit is enforced while counting
        yield mp4_bytes()
        for _ in range(40):
            yield b"\0" * 10_000

    r = post(h, content=chunks(), headers={"Content-Type": "video/mp4"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "video_too_large"
    finished(h)
    assert submitter.calls == []
    assert not list(h.storage.list("sessions/"))


@pytest.mark.parametrize(("filename", "data", "ctype"), [
    ("notes.mp4", b"just some text, certainly not a video container" * 4, "video/mp4"),
    ("image.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png"),
    ("clip.mp4", b"%PDF-1.4" + b"\0" * 100, "application/octet-stream"),
])
def test_not_a_video_is_415(h: Harness, submitter: FakeSubmitter, filename: str, data: bytes, ctype: str) -> None:
    r = post(h, files={"video": (filename, data, ctype)})
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "unsupported_video_type"
    assert submitter.calls == []


def test_real_video_declared_as_image_is_415(h: Harness) -> None:
    r = post(h, files={"video": ("clip.png", mp4_bytes(), "image/png")})
    assert r.status_code == 415


def test_unsupported_body_type_is_415(h: Harness) -> None:
    r = post(h, content=b"video=please", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(("data", "code"), [
    ({"exercise": "curl"}, "invalid_option"),
    ({"athlete_height_m": "tall"}, "invalid_option"),
    ({"athlete_height_m": "4.0"}, "invalid_option"),
    ({"owner": "mallory"}, "invalid_option"),
    ({"activity": "running"}, "invalid_option"),
    ({"colour": "red"}, "invalid_option"),
])
def test_invalid_options_are_422(h: Harness, submitter: FakeSubmitter, data: dict, code: str) -> None:
    r = post(h, files={"video": ("a.mp4", mp4_bytes(), "video/mp4")}, data=data)
    assert r.status_code == 422 and r.json()["error"]["code"] == code
    assert submitter.calls == []


def test_missing_video_part_and_bad_json(h: Harness) -> None:
    r = post(h, files={"clip": ("a.mp4", mp4_bytes(), "video/mp4")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_video"
    r = post(h, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert post(h, json={"athlete_height_m": 1.8}).status_code == 422


def test_failing_analysis_marks_the_session_failed(tmp_path: Path) -> None:
    for error, code in ((NoPersonFound("no athlete in view"), "no_person_found"),
                        (RuntimeError("segfault-ish"), "internal_error")):
        h = build_harness(tmp_path / code, submitter=FakeSubmitter(fail=error))
        sid = post(h, files={"video": ("a.mp4", mp4_bytes(), "video/mp4")}).json()["session_id"]
        finished(h)
        detail = h.get(f"/jumping/sessions/{sid}/", who="reader").json()
        assert detail["status"] == "failed" and detail["error"]["code"] == code
        assert "segfault" not in str(detail)


def test_sniffing() -> None:
    assert sniff_container(mp4_bytes()[:64]) == ".mp4"
    assert sniff_container(b"\0\0\0\x14ftypqt  \0\0\0\0" + b"\0" * 48) == ".mov"
    assert sniff_container(b"\0\0\0\x08wide" + b"\0" * 56) == ".mov"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\0" * 48) == ".webm"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska" + b"\0" * 48) == ".mkv"
    assert sniff_container(b"RIFF\0\0\0\0AVI LIST" + b"\0" * 48) == ".avi"
    assert sniff_container(b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 48) is None
    assert sniff_container(b"") is None


def test_no_temporary_upload_is_left_behind(h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    post(h, files={"video": ("big.mp4", mp4_bytes() + b"\0" * 300_000, "video/mp4")})  # 413
    post(h, files={"video": ("a.txt", b"hello" * 20, "text/plain")})  # 415
    post(h, files={"video": ("a.mp4", mp4_bytes(), "video/mp4")}, data={"exercise": "curl"})  # 422
    post(h, files={"video": ("a.mp4", mp4_bytes(), "video/mp4")})  # 202
    post(h, json={"video_url": "https://example.com/a.mp4"})  # 202
    finished(h)
    assert list(scratch.iterdir()) == []
