"""`/sessions/{id}/viewer/`: a keyed call hands out a signed link; the signed GET serves the page."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest

from api.app import create_app
from api.rendering import lock_key
from api.routes.viewer import signed_subject
from api.settings import ApiSettings
from pipeline.session import artifact_key, read_manifest, write_manifest
from tests.support_api import Harness, build_harness, make_session, serve_in_thread
from tests.test_api_videos import FakeRenderer
from tests.test_browser_playback import chromium, dump_dom  # noqa: F401  (chromium is a fixture)

SETTINGS = ApiSettings(signing_secret="v" * 32, retry_after_s=3)


@pytest.fixture
def renderer() -> FakeRenderer:
    return FakeRenderer()


@pytest.fixture
def h(tmp_path: Path, renderer: FakeRenderer) -> Harness:
    return build_harness(tmp_path / "store", settings=SETTINGS, renderer=renderer)


def url(session_id: str, management: bool = False, query: str = "") -> str:
    return f"{'/session-management' if management else ''}/sessions/{session_id}/viewer/{query}"


def with_query(link: str, **changes: str) -> str:
    parts = urlparse(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunparse(parts._replace(query=urlencode(query)))


def with_images(h: Harness, manifest: dict) -> dict:
    """The session pictures the viewer shows (make_session does not write them)."""
    sid = manifest["session_id"]
    images = {"contact_sheet": artifact_key(sid, "contact-sheet.png"), "angle_chart": artifact_key(sid, "angles.png")}
    for key in images.values():
        h.storage.write_bytes(key, b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    manifest["artifacts"]["images"] = images
    write_manifest(h.storage, manifest)
    return manifest


def page_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="session-data">(.*?)</script>', page, re.S)
    assert m, page[:500]
    return json.loads(m.group(1))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("management", [False, True])
def test_key_gets_a_signed_link_that_serves_the_page(h: Harness, management: bool) -> None:
    m = with_images(h, make_session(h.storage))
    sid = m["session_id"]
    r = h.get(url(sid, management))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["urls_expire_in_s"] == SETTINGS.link_ttl_s
    link = body["viewer_url"]
    assert link.startswith(f"http://testserver/sessions/{sid}/viewer/?")
    assert set(parse_qs(urlparse(link).query)) == {"exp", "sig"}

    page = h.client.get(link)  # no Authorization header: a browser tab opening the link
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "media-src http://testserver" in csp and "connect-src 'none'" in csp
    assert page.headers["cache-control"] == "private, no-store"
    data = page_data(page.text)
    assert data["session"]["session_id"] == sid and data["metrics"] == m["metrics"]
    # The chart's data comes from the session's angles Parquet (30 frames, NaN -> null).
    assert len(data["angles"]["time_s"]) == 30
    assert data["angles"]["series"]["left_knee_flexion"][3] is None
    assert set(data["angles"]["series"]) == {"left_knee_flexion", "right_knee_flexion"}
    # The video and the pictures are signed file links that really serve the stored bytes.
    video = re.search(r'<video id="video"[^>]* src="([^"]+)"', page.text)
    assert video and html.unescape(video.group(1)) == data["video_url"]
    assert data["video_url"].startswith(f"http://testserver/files/sessions/{sid}/analyzed.mp4?")
    assert h.client.get(data["video_url"]).content == h.storage.read_bytes(m["artifacts"]["analyzed_video"])
    assert set(data["images"]) == {"contact_sheet", "angle_chart"}
    for name, key in m["artifacts"]["images"].items():
        assert h.client.get(data["images"][name]).content == h.storage.read_bytes(key)


def test_redirect_answers_303_to_the_signed_page(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.get(url(m["session_id"], query="?redirect=1"), follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == r.json()["viewer_url"]
    followed = h.get(url(m["session_id"], query="?redirect=1"))  # the client follows to the page
    assert followed.status_code == 200 and followed.headers["content-type"].startswith("text/html")


def test_detail_links_and_openapi_list_the_viewer(h: Harness) -> None:
    m = make_session(h.storage, activity="running")
    links = h.get(f"/running/sessions/{m['session_id']}/").json()["links"]
    assert links["viewer"] == f"http://testserver/sessions/{m['session_id']}/viewer/"
    assert h.get(links["viewer"]).json()["viewer_url"]
    schema = h.get("/openapi.json").json()
    for path in ("/sessions/{session_id}/viewer/", "/session-management/sessions/{session_id}/viewer/"):
        op = schema["paths"][path]["get"]
        assert op["x-required-scope"] == "sessions:read"
        assert {"200", "202", "303", "401", "403", "404", "409"} <= set(op["responses"])
        assert {p["name"] for p in op["parameters"]} == {"session_id", "redirect", "exp", "sig"}
        assert {} in op["security"] and {"ApiKey": []} in op["security"]


# --- refusals ---------------------------------------------------------------------------------

def test_keyed_call_follows_the_auth_rules(h: Harness) -> None:
    m = make_session(h.storage)
    sid = m["session_id"]
    no_key = h.client.get(url(sid))
    assert_error(no_key, 401, "unauthorized")
    assert no_key.headers["www-authenticate"].startswith("API-KEY")
    assert "sessions:read" in assert_error(h.get(url(sid), who="only:exports:read"), 403, "forbidden")["message"]
    assert h.get(url(sid), who="only:sessions:read").status_code == 200
    other = h.get(url(sid), who="bob")
    assert_error(other, 404, "session_not_found")
    assert other.json() == h.get(url("x" * 22), who="bob").json()  # indistinguishable from unknown
    assert h.get(url(sid), who="admin").status_code == 200
    for bad in ("a" * 65, "sé" * 10, "short", "session.json"):
        assert_error(h.get(url(bad)), 404, "session_not_found")
    assert h.get(url("..%2F..%2Fauth")).status_code == 404  # no route matches a path with '/' in the id


def test_expired_or_altered_links_are_403(h: Harness) -> None:
    m = make_session(h.storage)
    other = make_session(h.storage)
    link = h.get(url(m["session_id"])).json()["viewer_url"]
    exp, sig = (parse_qs(urlparse(link).query)[k][0] for k in ("exp", "sig"))
    signer = h.app.state.ctx.links.signer
    past = int(time.time()) - 10
    refused = [
        with_query(link, sig=sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")),
        with_query(link, exp=str(int(exp) + 60)),
        link.replace(m["session_id"], other["session_id"]),  # a link of one session opens no other
        with_query(link, exp=str(past), sig=signer.signature(signed_subject(m["session_id"]), past)),  # expired
        link.split("&sig=")[0],  # exp without sig
        f"/sessions/{m['session_id']}/viewer/?sig={sig}",
    ]
    for bad in refused:
        assert_error(h.client.get(bad), 403, "invalid_link")
    # Signatures are not interchangeable between file links and viewer links.
    file_sig = signer.signature(m["artifacts"]["analyzed_video"], int(exp))
    assert_error(h.client.get(with_query(link, sig=file_sig)), 403, "invalid_link")
    assert_error(h.client.get(f"/files/{m['artifacts']['analyzed_video']}?exp={exp}&sig={sig}"), 403, "invalid_link")
    assert_error(h.client.get(f"/files/{signed_subject(m['session_id'])}?exp={exp}&sig={sig}"), 404, "file_not_found")
    # A malformed id is 404 before anything else; a deleted session is 404 too.
    assert_error(h.client.get(f"/sessions/{'b' * 65}/viewer/?exp={exp}&sig={sig}"), 404, "session_not_found")
    h.storage.delete(f"sessions/{m['session_id']}/session.json")
    assert_error(h.client.get(link), 404, "session_not_found")


# --- no analyzed video yet ----------------------------------------------------------------------

def test_missing_video_renders_202_then_200(h: Harness, renderer: FakeRenderer) -> None:
    renderer.release.clear()
    m = make_session(h.storage, analyzed=False)
    sid = m["session_id"]
    first = h.get(url(sid))  # reader has videos:generate: the render starts
    assert first.status_code == 202 and first.headers["Retry-After"] == "3"
    assert first.json()["status"] == "rendering" and first.json()["viewer_url"] is None
    assert first.json()["links"]["self"] == f"http://testserver/sessions/{sid}/viewer/"
    assert renderer.entered.wait(5)
    # Keys that may not render still learn that a render is running.
    assert h.get(url(sid, management=True), who="only:sessions:read").status_code == 202
    renderer.release.set()
    assert h.app.state.ctx.background.wait(10)
    done = h.get(url(sid))
    assert done.status_code == 200 and renderer.calls == [sid]
    assert h.client.get(done.json()["viewer_url"]).status_code == 200


def test_key_without_videos_generate_does_not_start_a_render(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage, analyzed=False)
    err = assert_error(h.get(url(m["session_id"]), who="only:sessions:read"), 409, "video_not_rendered")
    assert "videos:generate" in err["message"]
    assert renderer.calls == [] and not h.storage.exists(lock_key(m["session_id"]))


def test_failed_and_unfinished_sessions(h: Harness, renderer: FakeRenderer) -> None:
    failed = make_session(h.storage, status="failed", error={"code": "no_person_found", "message": "nobody"})
    err = assert_error(h.get(url(failed["session_id"])), 409, "session_failed")
    assert "no_person_found" in err["message"]
    for status in ("queued", "processing"):
        m = make_session(h.storage, status=status)
        r = h.get(url(m["session_id"]))
        assert r.status_code == 202 and r.json()["status"] == status and r.headers["Retry-After"] == "3"
    assert renderer.calls == []


def test_unlisted_video_is_used_and_the_manifest_repaired(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage, list_analyzed=False)
    link = h.get(url(m["session_id"])).json()["viewer_url"]
    assert read_manifest(h.storage, m["session_id"])["artifacts"]["analyzed_video"]
    assert f"/files/sessions/{m['session_id']}/analyzed.mp4?" in page_data(h.client.get(link).text)["video_url"]
    assert renderer.calls == []


def test_signed_page_never_starts_a_render(h: Harness, renderer: FakeRenderer) -> None:
    m = make_session(h.storage)
    sid = m["session_id"]
    link = h.get(url(sid)).json()["viewer_url"]
    h.storage.delete(m["artifacts"]["analyzed_video"])  # the video went away after the link was made
    assert_error(h.client.get(link), 409, "video_not_rendered")
    assert renderer.calls == []
    h.storage.write_bytes(lock_key(sid), json.dumps({"token": "t", "started_at_unix": time.time()}).encode())
    r = h.client.get(link)  # a render started elsewhere: poll the same signed link
    assert r.status_code == 202 and r.json()["status"] == "rendering"
    assert r.json()["links"]["self"] == link
    assert renderer.calls == []


# --- a real browser -------------------------------------------------------------------------------

@pytest.mark.slow
def test_chromium_opens_the_signed_viewer_from_uvicorn(chromium: str, tmp_path: Path) -> None:  # noqa: F811
    h = build_harness(tmp_path / "store", settings=SETTINGS)
    m = make_session(h.storage, activity="jumping")
    app = create_app(h.storage, SETTINGS)
    with serve_in_thread(app) as base:
        import httpx

        link = httpx.get(f"{base}{url(m['session_id'])}", headers=h.headers(), timeout=10).json()["viewer_url"]
        assert link.startswith(f"{base}/sessions/")
        dom = dump_dom(chromium, link, budget_ms=8000)
    body = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert '<video id="video"' in dom and '<canvas id="chart"' in dom
    assert body.get("chart") == "drawn", body            # the inlined script ran under the page's CSP
    assert int(body["series"]) == 2 and int(body["points"]) > 0
    assert int(body.get("video-ready", 0)) >= 2, body    # the signed, Range-served MP4 loaded
    assert float(body["video-duration"]) == pytest.approx(1.0, abs=0.05)
    assert "video-error" not in body
