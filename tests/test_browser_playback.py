"""A real browser plays the analyzed video and shows the session viewer.

Headless Debian Chromium loads pages from a small HTTP server on 127.0.0.1 that serves byte
ranges (browsers fetch MP4 with Range; Python's http.server does not answer them). Pages write
what they observed into the DOM, which `--dump-dom` returns after `--virtual-time-budget`.
Chromium must be installed (`apt-get install -y chromium`; CI's .ci/run does it): without it
these tests fail, they do not skip.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest

from api.viewer import angle_columns, angles_payload, viewer_page
from pipeline.manifest import json_safe
from pipeline.metrics.activity import angle_summary
from pipeline.render.session_charts import session_images
from pipeline.render.video import render_analysis
from tests.test_render_support import analyse

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which(os.environ.get("CHROMIUM", "")) or next((p for p in map(shutil.which, BROWSERS) if p), None)
    if not found:
        pytest.fail("headless Chromium is needed for the playback tests but none was found on PATH "
                    f"(looked for {', '.join(BROWSERS)}; or set CHROMIUM=/path). Install it with "
                    "`apt-get update && apt-get install -y chromium` (.ci/run does this in CI).")
    return found


# ------------------------------------------------------------------ a Range-capable server

class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, str, dict[str, str]]] = {}
    log: list[tuple[str, str | None, int]] = []

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.path.split("?")[0].split("#")[0]
        if path not in self.routes:
            self._send(404, b"not found", "text/plain", {}, body)
            return
        data, ctype, headers = self.routes[path]
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        if rng and m and (m.group(1) or m.group(2)):
            size = len(data)
            if m.group(1):
                start, end = int(m.group(1)), int(m.group(2)) if m.group(2) else size - 1
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size:
                self.log.append((path, rng, 416))
                self._send(416, b"", ctype, {"Content-Range": f"bytes */{size}"}, body)
                return
            end = min(end, size - 1)
            self.log.append((path, rng, 206))
            self._send(206, data[start:end + 1], ctype, {**headers, "Content-Range": f"bytes {start}-{end}/{size}"},
                       body)
            return
        self.log.append((path, rng, 200))
        self._send(200, data, ctype, headers, body)

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):   # the browser cancels ranges it no longer needs
                pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"routes": {}, "log": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def dump_dom(chromium: str, url: str, budget_ms: int = 15000) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# ------------------------------------------------------------------ the analyzed video of a real clip

@pytest.fixture(scope="module")
def power_clean(tmp_path_factory, clip, raw_pose):
    """The analysis and analyzed.mp4 (+ images) of the power clean clip, made once for this module."""
    src = clip("power_clean_side.mp4")
    analysis = analyse(raw_pose(src), "weightlifting", exercise="clean")
    out_dir = tmp_path_factory.mktemp("power-clean")
    video = render_analysis(src, analysis, out_dir / "analyzed.mp4")
    images = session_images(src, analysis, out_dir)
    return src, analysis, video, images


PLAY_PAGE = """<!doctype html><html><body>
<video id="v" muted autoplay playsinline preload="auto" src="/analyzed.mp4"></video>
<pre id="result">pending</pre>
<script>
const v = document.getElementById("v"), out = document.getElementById("result");
const r = {canPlay: v.canPlayType('video/mp4; codecs="avc1.640028, mp4a.40.2"'), maxReadyState: 0,
           times: [], frames: 0, error: null};
v.addEventListener("error", () => { r.error = v.error ? v.error.code : -1; });
if ("requestVideoFrameCallback" in v) {
  const count = (_n, meta) => { r.frames = meta.presentedFrames; v.requestVideoFrameCallback(count); };
  v.requestVideoFrameCallback(count);
}
setInterval(() => {
  r.maxReadyState = Math.max(r.maxReadyState, v.readyState);
  r.times.push(v.currentTime);
  Object.assign(r, {readyState: v.readyState, duration: v.duration, currentTime: v.currentTime,
                    width: v.videoWidth, height: v.videoHeight, paused: v.paused, ended: v.ended});
  out.textContent = JSON.stringify(r);
}, 100);
v.playbackRate = 4;
v.play().catch((e) => { r.playError = String(e); });
</script></body></html>"""


def page_result(dom: str, element_id: str = "result") -> dict:
    m = re.search(rf'<pre id="{element_id}">(.*?)</pre>', dom, re.S)
    assert m, dom[:2000]
    text = html.unescape(m.group(1))
    assert text != "pending", "the page never reported"
    return json.loads(text)


def container_duration(path: Path) -> float:
    with av.open(str(path)) as c:
        return c.duration / av.time_base


def test_chromium_plays_the_analyzed_video(chromium, server, power_clean) -> None:
    src, _, video, _ = power_clean
    base, handler = server
    handler.routes["/play.html"] = (PLAY_PAGE.encode(), "text/html; charset=utf-8", {})
    handler.routes["/analyzed.mp4"] = (video.read_bytes(), "video/mp4", {})
    r = page_result(dump_dom(chromium, f"{base}/play.html"))
    assert r["canPlay"] == "probably"
    assert r["error"] is None and "playError" not in r, r
    assert r["maxReadyState"] >= 2, r                           # HAVE_CURRENT_DATA or better
    assert (r["width"], r["height"]) == (720, 1280)
    assert r["duration"] == pytest.approx(container_duration(video), abs=0.03)
    assert r["duration"] == pytest.approx(container_duration(src), abs=0.1)
    assert max(r["times"]) > 0.05, r["times"]                   # playback advanced (slowly on a loaded CPU)
    assert r["times"] == sorted(r["times"]) or r["ended"]
    assert r["frames"] >= 1                                     # a frame was decoded and presented
    assert any(status == 206 for path, _, status in handler.log if path == "/analyzed.mp4"), handler.log


def session_manifest(analysis) -> dict:
    res = analysis.result
    events = [{"type": e.type, "time_s": e.time_s, "frame": e.frame, "side": e.side, "index": e.index}
              for e in res.events]
    return json_safe({
        "session_id": "Vw3rTest_viewer_page1", "activity": "weightlifting", "status": "completed",
        "created_at": "2026-11-29T14:00:00Z", "metrics": res.summary, "events": events,
        "angle_summary": angle_summary(analysis.angles), "quality": {"view": analysis.view.view,
                                                                     "facing": analysis.view.facing},
        "warnings": [w for w in res.warnings if isinstance(w, dict)], "pipeline_version": "0.1.0",
        "options": {"activity": "weightlifting", "exercise": "clean"}})


def test_viewer_page_shows_video_chart_and_metrics(chromium, server, power_clean) -> None:
    _, analysis, video, images = power_clean
    base, handler = server
    manifest = session_manifest(analysis)
    angles = angles_payload(analysis.seq.time_s, analysis.angles, angle_columns("weightlifting", "clean"))
    page = viewer_page(manifest, video_url="/media/analyzed.mp4", angles=angles,
                       image_urls={"contact_sheet": "/media/contact-sheet.png"})
    handler.routes["/viewer"] = (page.html.encode(), "text/html; charset=utf-8", page.headers)   # CSP enforced
    handler.routes["/media/analyzed.mp4"] = (video.read_bytes(), "video/mp4", {})
    handler.routes["/media/contact-sheet.png"] = (images["contact_sheet"].read_bytes(), "image/png", {})
    dom = dump_dom(chromium, f"{base}/viewer#t=1.2")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body))
    assert attrs.get("chart") == "drawn", body                   # the script ran under the page's CSP
    assert int(attrs["series"]) >= 4                             # knee, hip, elbow (L/R) and trunk
    assert int(attrs["points"]) > 100
    assert int(attrs.get("video-ready", 0)) >= 2, body
    assert float(attrs["video-duration"]) == pytest.approx(container_duration(video), abs=0.03)
    assert float(attrs["seeked"]) == pytest.approx(1.2, abs=0.05)      # the #t= link opened the moment...
    assert float(attrs["cursor"]) == pytest.approx(1.2, abs=0.05)      # ...and the chart's cursor followed
    assert '<video id="video"' in dom and '<canvas id="chart"' in dom
    summary = re.search(r'<table id="summary">(.*?)</table>', dom, re.S).group(1)
    assert "Rep count" in summary
    assert re.search(r'<table id="items">.*<tbody><tr', dom, re.S)     # one row per rep
    assert "/media/contact-sheet.png" in dom
    assert ("/media/contact-sheet.png", None, 200) in handler.log


def test_viewer_page_escapes_what_it_embeds() -> None:
    evil = "</script><script>alert(1)</script>"
    page = viewer_page({"session_id": "x" * 22, "activity": "jumping", "metrics": {"note": evil},
                        "warnings": [{"code": "c", "message": evil}]},
                       video_url='/v.mp4?a=1&b="2"',
                       angles=angles_payload([0.0, 0.1], {"x": [1.0, float("nan")]}, ["x"]))
    assert evil not in page.html and "{{" not in page.html
    assert 'src="/v.mp4?a=1&amp;b=&quot;2&quot;"' in page.html
    data = re.search(r'<script type="application/json" id="session-data">(.*?)</script>', page.html, re.S).group(1)
    parsed = json.loads(data)
    assert parsed["metrics"]["note"] == evil and parsed["angles"]["series"]["x"] == [1.0, None]
    csp = page.content_security_policy
    assert "script-src 'sha256-" in csp and "'unsafe-inline'" not in csp


def test_angles_payload_is_decimated_for_long_sessions() -> None:
    t = np.arange(18000) / 30
    out = angles_payload(t, {"left_knee_flexion": np.sin(t)}, ["left_knee_flexion", "absent"], max_points=3000)
    assert len(out["time_s"]) == len(out["series"]["left_knee_flexion"]) <= 3000
    assert "absent" not in out["series"]
