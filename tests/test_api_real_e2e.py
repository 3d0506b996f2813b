"""Issue-6 acceptance: `motionlens serve` for real, over sessions really analysed by the pipeline.

A module fixture analyses three real clips with `pipeline.analysis.run_session` into a LocalStorage
(two jumps; a power clean; a runner picked with `select=moving` and analysed without its annotated
video), creates keys for two owners (one revoked, some lacking a scope), starts
`python -m motionlens.cli serve` on 127.0.0.1 and stops it by PID at the end. Every test talks to
that process over HTTP with httpx; the render triggered on the running session is the real
`render_session`, run inside the server.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pyarrow.parquet as pq
import pytest
from PIL import Image

from api.keys import create_key, revoke_key
from api.rendering import error_key, lock_key, video_key
from pipeline.analysis import run_session
from pipeline.options import AnalysisOptions
from pipeline.session import read_manifest
from pipeline.storage import LocalStorage
from tests.support_api import CliServer, serve_cli

pytestmark = pytest.mark.slow

OWNER, OTHER = "alice", "bob"
READ = ("sessions:read", "exports:read", "videos:generate")
ALL = (*READ, "sessions:write")
CLIPS = {  # activity -> clip, extra options
    "jumping": ("jumps_synthetic_30fps.mp4", {}),
    "weightlifting": ("power_clean_side.mp4", {"exercise": "clean"}),
    "running": ("sports2d_demo_multi_person.mp4", {"select": "moving", "render": False}),
}
RENDER_TIMEOUT_S = 300


@dataclass
class World:
    storage: LocalStorage
    server: CliServer
    http: httpx.Client
    sources: dict[str, Path]
    ids: dict[str, str]
    tokens: dict[str, str]

    def manifest(self, activity: str) -> dict[str, Any]:
        manifest = read_manifest(self.storage, self.ids[activity])
        assert manifest is not None
        return manifest

    def auth(self, who: str = "full") -> dict[str, str]:
        return {"Authorization": f"API-KEY {self.tokens[who]}"}

    def get(self, url: str, who: str | None = "full", **kw: Any) -> httpx.Response:
        headers = {**(self.auth(who) if who else {}), **kw.pop("headers", {})}
        return self.http.get(url, headers=headers, **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, clip: Callable[[str], Path]) -> Iterator[World]:
    root = tmp_path_factory.mktemp("real-e2e")
    storage = LocalStorage(root / "data")
    sources, ids = {}, {}
    for activity, (name, extra) in CLIPS.items():
        sources[activity] = clip(name)
        options = AnalysisOptions(activity=activity, owner=OWNER, **extra)
        manifest = run_session(storage, str(sources[activity]), options)
        assert manifest["status"] == "completed", manifest.get("error")
        ids[activity] = manifest["session_id"]
    tokens = {"full": create_key(storage, OWNER, READ)[0], "writer": create_key(storage, OWNER, ["sessions:write"])[0],
              "other": create_key(storage, OTHER, ALL)[0], "revoked": create_key(storage, OWNER, ALL)[0]}
    for scope in ALL:
        tokens[f"without:{scope}"] = create_key(storage, OWNER, [s for s in ALL if s != scope])[0]
    revoke_key(storage, tokens["revoked"])
    with serve_cli(str(root / "data"), root / "server.log") as server, \
            httpx.Client(base_url=server.base, timeout=60) as http:
        yield World(storage, server, http, sources, ids, tokens)
    assert server.proc.returncode is not None  # stopped by PID (SIGTERM, SIGKILL after a timeout)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def decoded_frames(path_or_bytes: Path | bytes) -> int:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    with av.open(source) as container:
        return sum(1 for _ in container.decode(video=0))


# --- every route × every kind of caller ----------------------------------------------------------

# route -> (path template, required scope, activity of the session it is called on)
SESSION_ROUTES = {
    "detail": ("/{activity}/sessions/{id}/", "sessions:read", "jumping"),
    "export": ("/{activity}/sessions/{id}/export/", "exports:read", "running"),
    "export_parquet": ("/{activity}/sessions/{id}/export/?format=parquet", "exports:read", "weightlifting"),
    "lift_analysis": ("/weightlifting/sessions/{id}/lift-analysis/", "sessions:read", "weightlifting"),
    "analyzed_video": ("/sessions/{id}/analyzed-video/", "videos:generate", "jumping"),
    "analyzed_video_mgmt": ("/session-management/sessions/{id}/analyzed-video/", "videos:generate", "weightlifting"),
    "viewer": ("/sessions/{id}/viewer/", "sessions:read", "jumping"),
    "viewer_mgmt": ("/session-management/sessions/{id}/viewer/", "sessions:read", "weightlifting"),
}
BAD_IDS = {"unknown_id": "Zz0" * 8, "dotdot_id": "..%2F..%2Fauth%2Fsigning.key", "long_id": "a" * 2000,
           "unicode_id": "ñandú-ñandú-ñandú-ñandú", "dot_id": "session.json"}
# case -> (caller, expected status, expected code); None: any 404 code (the router's or ours)
CASES = {
    "valid_key": ("full", 200, None),
    "no_key": (None, 401, "unauthorized"),
    "malformed_header": ("malformed", 401, "malformed_authorization"),
    "unknown_key": ("unknown", 401, "invalid_api_key"),
    "revoked_key": ("revoked", 401, "revoked_api_key"),
    "missing_scope": ("without", 403, "forbidden"),
    "other_owner": ("other", 404, "session_not_found"),
    **{name: ("full", 404, None if name == "dotdot_id" else "session_not_found") for name in BAD_IDS},
    "wrong_activity": ("full", 404, "session_not_found"),
}
HEADERS = {"malformed": {"Authorization": "Basic bm90LW91ci1zY2hlbWU6YXQtYWxs"},
           "unknown": {"Authorization": "API-KEY mlk_" + "Q" * 43}}


def session_route_url(world: World, route: str, case: str) -> str:
    template, _, activity = SESSION_ROUTES[route]
    session_id = BAD_IDS.get(case, world.ids[activity])
    if case == "wrong_activity":
        if "{activity}" in template:  # the session's id under another activity's path
            return template.format(activity="running" if activity != "running" else "jumping", id=session_id)
        session_id = world.ids["jumping"]  # lift analysis of a jumping session
    return template.format(activity=activity, id=session_id)


def call(world: World, url: str, who: str | None, scope: str | None = None, method: str = "GET",
         **kw: Any) -> httpx.Response:
    if who in HEADERS:
        headers = HEADERS[who]
    elif who == "without":
        headers = world.auth(f"without:{scope}")
    else:
        headers = world.auth(who) if who else {}
    return world.http.request(method, url, headers=headers, **kw)


@pytest.mark.parametrize(("route", "case"), [
    (route, case) for route, (template, _, _) in SESSION_ROUTES.items() for case in CASES
    # /sessions/{id}/... have no activity in their path to get wrong
    if case != "wrong_activity" or template.startswith(("/{activity}", "/weightlifting"))])
def test_session_routes_auth_matrix(world: World, route: str, case: str) -> None:
    who, status, code = CASES[case]
    r = call(world, session_route_url(world, route, case), who, SESSION_ROUTES[route][1])
    if status == 200:
        assert r.status_code == 200, r.text
        assert r.json()["session_id"] == world.ids[SESSION_ROUTES[route][2]]
        return
    err = assert_error(r, status, code)
    if status == 401:
        assert r.headers["www-authenticate"].startswith("API-KEY")
        assert "API-KEY <token>" in err["message"]
    if status == 403:
        assert SESSION_ROUTES[route][1] in err["message"]  # names the missing scope
    if case == "other_owner":  # indistinguishable from a session that does not exist
        assert r.json() == call(world, session_route_url(world, route, "unknown_id"), "other").json()


OTHER_ROUTES = {  # route -> (method, path, scope or None when any valid key will do, valid caller, valid answer)
    "submit_jumping": ("POST", "/jumping/sessions/", "sessions:write", "writer", 422),
    "submit_running": ("POST", "/running/sessions/", "sessions:write", "writer", 422),
    "submit_weightlifting": ("POST", "/weightlifting/sessions/", "sessions:write", "writer", 422),
    "openapi": ("GET", "/openapi.json", None, "full", 200),
}


@pytest.mark.parametrize(("route", "case"), [
    (route, case) for route, (_, _, scope, _, _) in OTHER_ROUTES.items()
    for case in ("valid_key", "no_key", "malformed_header", "unknown_key", "revoked_key", "missing_scope")
    if (case != "missing_scope" or scope is not None)  # any valid key may read the OpenAPI document
    and (case != "no_key" or route != "openapi")])  # and so may anyone without a key
def test_other_routes_auth_matrix(world: World, route: str, case: str) -> None:
    method, path, scope, valid_caller, valid_status = OTHER_ROUTES[route]
    who, status, code = CASES[case]
    # A loopback video URL is refused (SSRF) after authentication and before anything is queued:
    # a valid key gets 422 and no analysis starts.
    body = {"json": {"video_url": "http://127.0.0.1:9/jump.mp4"}} if method == "POST" else {}
    r = call(world, path, valid_caller if case == "valid_key" else who, scope, method, **body)
    if case == "valid_key":
        assert r.status_code == valid_status, r.text
        if method == "POST":
            assert r.json()["error"]["code"] == "invalid_video_url"
        else:
            assert set(r.json()["paths"]) >= {"/sessions/{session_id}/viewer/", "/jumping/sessions/"}
        return
    err = assert_error(r, status, code)
    if status == 403:
        assert scope is not None and scope in err["message"]


def test_health_and_unmatched_routes(world: World) -> None:
    assert world.get("/health", who=None).json()["status"] == "ok"
    assert world.get("/openapi.json", who=None).json()["openapi"] == "3.1.0"
    # A bad key never falls back to anonymous access, not even on public routes.
    assert_error(world.http.get("/health", headers=HEADERS["malformed"]), 401, "malformed_authorization")
    assert_error(world.get("/nope/"), 404, "not_found")
    assert_error(world.http.delete(f"/jumping/sessions/{world.ids['jumping']}/", headers=world.auth()), 405)
    # The refused submissions (auth matrix) queued nothing: only the three analysed sessions exist.
    assert {key.split("/")[1] for key in world.storage.list("sessions/")} == set(world.ids.values())


# --- real content ------------------------------------------------------------------------------

@pytest.mark.parametrize("activity", list(CLIPS))
def test_detail_matches_the_manifest(world: World, activity: str) -> None:
    manifest = world.manifest(activity)
    detail = world.get(f"/{activity}/sessions/{world.ids[activity]}/").json()
    assert detail["status"] == "completed" and detail["error"] is None
    for field in ("metrics", "angle_summary", "events"):
        assert detail[field] == manifest[field], field
    assert detail["video"]["frame_count"] == manifest["probe"]["frame_count"] == decoded_frames(world.sources[activity])
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", detail["created_at"]["date"])
    assert re.fullmatch(r"\d\d:\d\d [AP]M", detail["created_at"]["time"])
    assert set(detail["links"]) >= {"self", "export", "export_parquet", "analyzed_video", "viewer"}
    assert world.get(detail["links"]["self"]).json()["session_id"] == world.ids[activity]
    original = world.http.get(detail["video_url"])  # the source video, behind a signed link
    assert original.content == world.sources[activity].read_bytes()
    metrics = detail["metrics"]
    if activity == "jumping":
        assert metrics["jump_count"] == 2 and len(metrics["jumps"]) == 2
        assert [e["type"] for e in detail["events"]].count("takeoff") == 2
    elif activity == "weightlifting":
        assert metrics["rep_count"] == 1 and metrics["exercise"] == detail["exercise"] == "clean"
        assert "lift_analysis" in detail["links"]
    else:
        assert metrics["cadence_spm"] > 0 and metrics["steps"]


@pytest.mark.parametrize("activity", list(CLIPS))
def test_export_json_columns_have_one_value_per_frame(world: World, activity: str) -> None:
    manifest = world.manifest(activity)
    frames = manifest["probe"]["frame_count"]
    r = world.get(f"/{activity}/sessions/{world.ids[activity]}/export/", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    body = r.json()
    assert body["tables"] == ["keypoints", "angles", "events", "metrics"]
    assert body["metadata"]["angles"]["motionlens.schema_version"] == "1"
    assert len(body["timestamps"]["frame"]) == len(body["timestamps"]["time_s"]) == frames
    assert body["timestamps"]["frame"] == list(range(frames))
    angles = body["angles"]
    assert {"left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "trunk"} <= set(angles)
    assert {len(col) for col in angles.values()} == {frames}
    assert {len(col) for col in body["keypoints"].values()} == {frames * 33}
    assert {len(col) for col in body["events"].values()} == {len(manifest["events"])}
    assert len(body["metrics"]["name"]) > 0
    # Compressed on the wire: the raw bytes are gzip and smaller than the JSON.
    raw = world.http.stream("GET", f"/{activity}/sessions/{world.ids[activity]}/export/?tables=angles",
                            headers={**world.auth(), "Accept-Encoding": "gzip"})
    with raw as stream:
        wire = b"".join(stream.iter_raw())
    assert len(wire) < len(gzip.decompress(wire))
    assert json.loads(gzip.decompress(wire))["tables"] == ["angles"]


@pytest.mark.parametrize("activity", list(CLIPS))
def test_export_parquet_links_download_readable_tables(world: World, activity: str) -> None:
    manifest = world.manifest(activity)
    frames = manifest["probe"]["frame_count"]
    body = world.get(f"/{activity}/sessions/{world.ids[activity]}/export/?format=parquet").json()
    assert body["format"] == "parquet" and set(body["tables"]) == {"keypoints", "angles", "events", "metrics",
                                                                     "sessions"}
    json_export = world.get(f"/{activity}/sessions/{world.ids[activity]}/export/?tables=metrics").json()
    rows = {"keypoints": frames * 33, "angles": frames, "events": len(manifest["events"]), "sessions": 1,
            "metrics": len(json_export["metrics"]["name"])}
    for name, entry in body["tables"].items():
        r = world.http.get(entry["url"])  # signed link: no API key
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
        assert len(r.content) == entry["size_bytes"]
        assert r.content == world.storage.read_bytes(manifest["artifacts"]["exports"][name])
        table = pq.read_table(io.BytesIO(r.content))
        assert table.num_rows == rows[name], name
        assert set(table.column("session_id").to_pylist()) == {world.ids[activity]}
        assert (table.schema.metadata or {})[b"motionlens.schema_version"] == b"1"


def test_lift_analysis_images_are_pngs(world: World) -> None:
    manifest = world.manifest("weightlifting")
    r = world.get(f"/weightlifting/sessions/{world.ids['weightlifting']}/lift-analysis/?lang=es")
    assert r.status_code == 200 and r.headers["content-language"] == "es"
    body = r.json()
    assert body["exercise"] == "clean" and body["language"] == "es"
    assert set(body["available_languages"]) >= {"en", "es", "fr", "de", "pt", "it"}
    stored = manifest["artifacts"]["lift_analysis"]
    assert len(body["images"]) == len(stored["images"]) >= 1
    assert len(body["charts"]) == len(stored["charts"])
    for item, entry in zip(body["images"] + body["charts"], stored["images"] + stored["charts"], strict=True):
        png = world.http.get(item["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == world.storage.read_bytes(entry["key"])
        image = Image.open(io.BytesIO(png.content))
        assert image.format == "PNG" and min(image.size) > 32
    assert {img["position"] for img in body["images"]} >= {"start"}
    assert body["recommendations"]
    for rec in body["recommendations"]:
        assert rec["language"] == "es" and rec["text"] == rec["translations"]["es"]
    german = world.get(f"/weightlifting/sessions/{world.ids['weightlifting']}/lift-analysis/",
                       headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"}).json()
    assert german["language"] == "de"


@pytest.mark.parametrize("activity", ["jumping", "weightlifting"])
def test_analyzed_video_url_downloads_the_stored_file_with_ranges(world: World, activity: str) -> None:
    manifest = world.manifest(activity)
    stored = world.storage.read_bytes(manifest["artifacts"]["analyzed_video"])
    url = world.get(f"/{activity}/sessions/{world.ids[activity]}/").json()["analyzed_video_url"]
    full = world.http.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.content == stored and full.headers["accept-ranges"] == "bytes"
    size = len(stored)
    part = world.http.get(url, headers={"Range": "bytes=1000-4999"})
    assert part.status_code == 206 and part.content == stored[1000:5000]
    assert part.headers["content-range"] == f"bytes 1000-4999/{size}"
    tail = world.http.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == stored[-100:]
    assert_error(world.http.get(url, headers={"Range": f"bytes={size}-"}), 416, "range_not_satisfiable")
    assert world.http.head(url).headers["content-length"] == str(size)
    # The route of its own answers the same file, and the video decodes with the source's frame count.
    ready = world.get(f"/sessions/{world.ids[activity]}/analyzed-video/")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert world.http.get(ready.json()["analyzed_video_url"]).content == stored
    assert decoded_frames(stored) == decoded_frames(world.sources[activity])
    tampered = url.replace("sig=", "sig=x")
    assert_error(world.http.get(tampered), 403, "invalid_link")


def test_viewer_page_of_a_real_session(world: World) -> None:
    sid = world.ids["jumping"]
    manifest = world.manifest("jumping")
    link = world.get(f"/sessions/{sid}/viewer/").json()["viewer_url"]
    assert link.startswith(f"{world.server.base}/sessions/{sid}/viewer/?exp=")
    redirect = world.get(f"/session-management/sessions/{sid}/viewer/?redirect=1", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith(f"{world.server.base}/sessions/")
    page = world.http.get(link)  # no API key
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"media-src {world.server.base}" in page.headers["content-security-policy"]
    data = json.loads(re.search(r'id="session-data">(.*?)</script>', page.text, re.S).group(1))
    assert data["metrics"]["jump_count"] == 2
    frames = manifest["probe"]["frame_count"]
    assert len(data["angles"]["time_s"]) == frames
    series = data["angles"]["series"]
    assert {"left_knee_flexion", "right_knee_flexion", "left_hip_flexion", "right_hip_flexion"} <= set(series)
    assert all(len(v) == frames for v in series.values())
    assert sum(v is not None for v in series["left_knee_flexion"]) > frames // 2
    video_src = html.unescape(re.search(r'<video id="video"[^>]* src="([^"]+)"', page.text).group(1))
    assert video_src == data["video_url"]
    assert world.http.get(video_src).content == world.storage.read_bytes(manifest["artifacts"]["analyzed_video"])
    for name in ("contact_sheet", "angle_chart"):
        png = world.http.get(data["images"][name])
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert_error(world.http.get(link.replace(sid, world.ids["weightlifting"])), 403, "invalid_link")


# --- the render trigger: 202 → 200, and one render for concurrent triggers ------------------------------

class LockWatcher:
    """Samples `render.lock` every 20 ms: every render holds it, with its own token, all along."""

    def __init__(self, world: World, session_id: str) -> None:
        self.path = world.storage.path(lock_key(session_id))
        self.seen: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                held = json.loads(self.path.read_bytes())
                self.seen.setdefault(held["token"], held)
            except (FileNotFoundError, ValueError, KeyError):
                pass
            time.sleep(0.02)


def test_running_session_renders_once_on_concurrent_triggers(world: World) -> None:
    sid = world.ids["running"]
    storage = world.storage
    assert not storage.exists(video_key(sid)), "the running session was analysed without its video"
    assert world.get(f"/running/sessions/{sid}/").json()["analyzed_video_url"] is None
    # A key that may read but not render gets no viewer and starts nothing.
    assert_error(world.get(f"/sessions/{sid}/viewer/", who="without:videos:generate"), 409, "video_not_rendered")
    assert not storage.exists(lock_key(sid))

    paths = [f"/sessions/{sid}/analyzed-video/", f"/session-management/sessions/{sid}/analyzed-video/"]
    barrier = threading.Barrier(len(paths))

    def trigger(path: str) -> httpx.Response:
        with httpx.Client(base_url=world.server.base, timeout=60) as own:  # two connections at once
            barrier.wait()
            return own.get(path, headers=world.auth())

    started_at = time.monotonic()
    with LockWatcher(world, sid) as watcher:
        with ThreadPoolExecutor(len(paths)) as pool:
            first = list(pool.map(trigger, paths))
        for r in first:
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "rendering" and r.json()["analyzed_video_url"] is None
            assert int(r.headers["retry-after"]) > 0
        messages = [r.json()["message"] for r in first]
        assert sorted(messages) == ["rendering is in progress", "rendering started"], messages

        polls = 0
        while True:
            r = world.get(paths[polls % 2])
            polls += 1
            if r.status_code == 200:
                break
            assert r.status_code == 202, r.text
            assert r.json()["message"] == "rendering is in progress"  # never a second start
            assert time.monotonic() - started_at < RENDER_TIMEOUT_S, "the render did not finish in time"
            time.sleep(0.5)
        ready = r.json()
        stat = storage.path(video_key(sid)).stat()
        for path in paths:  # more triggers once the video exists: answered, nothing re-rendered
            assert world.get(path).status_code == 200
        # The render may still be writing the manifest: wait for it to release its claim, then a bit more.
        while storage.exists(lock_key(sid)) and time.monotonic() - started_at < RENDER_TIMEOUT_S:
            time.sleep(0.1)
        time.sleep(0.5)

    # Exactly one render ran, in the server process, and its claim was released.
    assert len(watcher.seen) == 1, watcher.seen
    (lock,) = watcher.seen.values()
    assert lock["pid"] == world.server.proc.pid
    assert not [k for k in storage.list(f"sessions/{sid}/") if "render.lock" in k]
    assert not storage.exists(error_key(sid))
    after = storage.path(video_key(sid)).stat()
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)  # written once

    manifest = world.manifest("running")
    assert manifest["artifacts"]["analyzed_video"] == video_key(sid) and manifest["timings_s"]["render"] > 0
    video = world.http.get(ready["analyzed_video_url"])
    assert video.status_code == 200 and video.content == storage.read_bytes(video_key(sid))
    assert decoded_frames(video.content) == decoded_frames(world.sources["running"])
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    # Everything else now shows it: the detail and the viewer (even for a key that may not render).
    assert world.get(f"/running/sessions/{sid}/").json()["analyzed_video_url"]
    link = world.get(f"/sessions/{sid}/viewer/", who="without:videos:generate").json()["viewer_url"]
    assert world.http.get(link).status_code == 200


def test_server_logged_no_traceback(world: World) -> None:
    log = world.server.log()
    assert "Traceback" not in log, log[-3000:]
    assert world.server.proc.poll() is None  # still serving
