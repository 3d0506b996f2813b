"""Hostile input at the API (issue 13, findings 7 and 8): each former 500 gets its own 4xx code,
the store never serves through a symlink, answers carry no server paths, links ignore the Host
header, the security headers are on every answer, and the pose cache is per owner."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.keys import TOKEN_RE
from api.routes.viewer import signed_subject
from api.settings import ApiSettings
from pipeline import pose_cache
from pipeline.analysis import run_session
from pipeline.options import AnalysisOptions
from pipeline.session import artifact_key, is_valid_session_id, manifest_key, new_session_id
from pipeline.storage import LocalStorage, check_key
from tests.conftest import clip_path
from tests.support_api import Harness, TestClient, build_harness, make_session, serve_in_subprocess


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def file_link(h: Harness, key: str) -> str:
    exp, sig = h.app.state.ctx.links.signer.sign(key, 600)
    return f"/files/{key}?exp={exp}&sig={sig}"


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    return body


# --- finding 7: each former 500 ---------------------------------------------------------------------

@pytest.mark.parametrize("exp", ["²", "١٢٣", "1²", "9" * 13, "-1", " 1"])
def test_odd_exp_is_an_invalid_link(h: Harness, exp: str) -> None:
    m = make_session(h.storage)
    key = m["artifacts"]["analyzed_video"]
    assert_error(h.client.get(f"/files/{key}", params={"exp": exp, "sig": "x"}), 403, "invalid_link")
    assert_error(h.client.get(f"/sessions/{m['session_id']}/viewer/", params={"exp": exp, "sig": "x"}),
                 403, "invalid_link")


def test_range_with_thousands_of_digits(h: Harness) -> None:
    key = make_session(h.storage)["artifacts"]["analyzed_video"]
    url, size = file_link(h, key), len(h.storage.read_bytes(key))
    huge = "9" * 5000
    assert_error(h.client.get(url, headers={"Range": f"bytes={huge}-"}), 416, "range_not_satisfiable")
    tail = h.client.get(url, headers={"Range": f"bytes=0-{huge}"})
    assert tail.status_code == 206 and tail.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    suffix = h.client.get(url, headers={"Range": f"bytes=-{huge}"})
    assert suffix.status_code == 206 and len(suffix.content) == size
    # "²" (latin-1 on the wire) is no digit of a range: the header is ignored
    assert h.client.get(url, headers={"Range": "bytes=²-".encode("latin-1")}).status_code == 200


def test_json_nested_ten_thousand_deep(h: Harness) -> None:
    body = '{"video_url": "https://example.com/a.mp4", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    r = h.client.post("/jumping/sessions/", content=body, headers={**h.headers("writer"),
                                                                    "Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_ids_ending_in_a_newline_are_malformed(h: Harness) -> None:
    sid = make_session(h.storage)["session_id"]
    assert_error(h.get(f"/jumping/sessions/{sid}%0A/"), 404, "session_not_found")
    assert_error(h.get(f"/sessions/{sid}%0A/viewer/"), 404, "session_not_found")
    assert h.get(f"/jumping/sessions/{sid}/").status_code == 200
    assert not is_valid_session_id(sid + "\n")
    assert TOKEN_RE.match(h.tokens["reader"] + "\n") is None
    with pytest.raises(ValueError):
        check_key(f"sessions/{sid}/session.json\n")


def test_corrupt_session_json_has_its_own_code(h: Harness) -> None:
    sid = make_session(h.storage)["session_id"]
    for damaged in (b'{"session_id": "' + sid.encode() + b'", "status": "compl', b"[1, 2]", b"\xff\xfe",
                    b"[" * 10_000):
        h.storage.write_bytes(manifest_key(sid), damaged)
        body = assert_error(h.get(f"/jumping/sessions/{sid}/"), 409, "session_corrupt")
        assert str(h.storage.root) not in body["message"]


def test_a_truncated_mp4_fails_as_truncated_video(tmp_path: Path) -> None:
    data = clip_path("jumps_synthetic_30fps.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    storage = LocalStorage(tmp_path / "store")
    manifest = run_session(storage, str(cut), AnalysisOptions("jumping", render=False))
    assert manifest["status"] == "failed" and manifest["error"]["code"] == "truncated_video", manifest["error"]


# --- finding 8 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/etc/passwd", "auth/signing.key"])
def test_symlinks_in_the_store_are_not_followed(h: Harness, target: str) -> None:
    sid = make_session(h.storage)["session_id"]
    assert h.app.state.ctx.links.signer is not None  # creates auth/signing.key
    link = h.storage.path(artifact_key(sid, "x.png"))
    os.symlink(target if target.startswith("/") else h.storage.path(target), link)
    assert_error(h.client.get(file_link(h, artifact_key(sid, "x.png"))), 404, "file_not_found")
    # a folder linked out of the store is refused too
    os.symlink("/etc", h.storage.path(artifact_key(sid, "etc")))
    assert_error(h.client.get(file_link(h, artifact_key(sid, "etc/passwd"))), 404, "file_not_found")


def test_answers_show_no_server_paths(h: Harness) -> None:
    error = {"code": "video_not_found", "message": "no such file: /tmp/motionlens-upload-x1y2/upload.mp4"}
    m = make_session(h.storage, status="failed", error=error)
    detail = h.get(f"/jumping/sessions/{m['session_id']}/").json()
    assert "/tmp/" not in detail["error"]["message"] and "upload.mp4" in detail["error"]["message"]
    r = h.get(f"/sessions/{m['session_id']}/analyzed-video/")
    assert r.status_code == 409 and "/tmp/" not in r.text


def test_links_do_not_follow_the_host_header(tmp_path: Path) -> None:
    plain = build_harness(tmp_path / "a")
    sid = make_session(plain.storage)["session_id"]
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    body = plain.get(f"/jumping/sessions/{sid}/", headers=evil).json()
    assert "evil.example" not in str(body)
    assert body["analyzed_video_url"].startswith("http://testserver/files/")  # where the server listens

    public = build_harness(tmp_path / "b", settings=ApiSettings(signing_secret="s" * 32,
                                                                public_base_url="https://api.example.com/"))
    sid = make_session(public.storage)["session_id"]
    body = public.get(f"/jumping/sessions/{sid}/", headers=evil).json()
    assert body["analyzed_video_url"].startswith("https://api.example.com/files/")
    assert body["links"]["self"].startswith("https://api.example.com/")

    proxied = build_harness(tmp_path / "c", settings=ApiSettings(signing_secret="s" * 32, trust_proxy_headers=True))
    sid = make_session(proxied.storage)["session_id"]
    body = proxied.get(f"/jumping/sessions/{sid}/", headers={"X-Forwarded-Host": "api.example.com, evil.example",
                                                             "X-Forwarded-Proto": "https"}).json()
    assert body["analyzed_video_url"].startswith("https://api.example.com/files/")
    body = proxied.get(f"/jumping/sessions/{sid}/", headers={"X-Forwarded-Host": "evil.example/x?"}).json()
    assert "evil.example" not in str(body)  # not a host: ignored


def test_security_headers_on_every_answer(h: Harness) -> None:
    m = make_session(h.storage)
    sid = m["session_id"]
    detail = h.get(f"/jumping/sessions/{sid}/")
    video = h.get(f"/sessions/{sid}/analyzed-video/")
    viewer = h.get(f"/sessions/{sid}/viewer/")
    for r in (detail, video, viewer):
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", r.headers
    exp, sig = h.app.state.ctx.links.signer.sign(signed_subject(sid), 600)
    answers = [detail, video, viewer, h.client.get(file_link(h, m["artifacts"]["analyzed_video"])),
               h.client.get(f"/sessions/{sid}/viewer/", params={"exp": exp, "sig": sig}),
               h.client.get("/nowhere"), h.client.get("/health"), h.client.get(f"/jumping/sessions/{sid}/")]
    for r in answers:
        assert r.headers.get("x-content-type-options") == "nosniff", (r.url, r.headers)
        assert "server" not in r.headers
    assert answers[3].headers["cache-control"].startswith("private, max-age=")  # files keep their own


def test_a_500_carries_the_headers_too(h: Harness) -> None:
    m = make_session(h.storage)
    h.storage.write_bytes(manifest_key(m["session_id"]), json.dumps({**m, "artifacts": 5}).encode())  # a bug's trigger
    r = TestClient(h.app, raise_server_exceptions=False).get(f"/jumping/sessions/{m['session_id']}/",
                                                             headers=h.headers())
    assert r.status_code == 500 and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.slow
def test_served_api_sends_no_server_banner(tmp_path: Path) -> None:
    with serve_in_subprocess(str(tmp_path / "store")) as base:
        for path in ("/health", "/nowhere"):
            r = httpx.get(base + path)
            assert "server" not in r.headers and r.headers["x-content-type-options"] == "nosniff"


def test_pose_cache_entries_are_per_owner() -> None:
    sha = "ab" * 32
    alice, bob = (pose_cache.cache_key(sha, AnalysisOptions("jumping", owner=o)) for o in ("alice", "bob@example.com"))
    assert alice != bob
    assert alice == pose_cache.cache_key(sha, AnalysisOptions("jumping", owner="alice"))  # an owner's rerun hits
    check_key(bob)  # owner names with '@' still give a valid key
    assert "alice" not in alice


def test_session_ids_stay_valid() -> None:
    assert all(is_valid_session_id(new_session_id()) for _ in range(200))
