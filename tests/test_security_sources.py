"""Hostile video sources (issue 13, findings 1-3): SSRF spellings and redirects, one generic
`source_unreachable`, gs:// only under MOTIONLENS_ALLOWED_SOURCES, a download deadline and minimum
rate, and a slow fetch that does not hold the analysis slot. Real loopback servers throughout."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import SourceUnreachable
from pipeline.session import read_manifest, write_manifest
from pipeline.sources import fetch_source
from pipeline.storage import Storage
from pipeline.url_guard import ALLOWLIST_ENV
from tests.loopback_http import Recorder, Trickle
from tests.servers import GcsEmulator, running_gcs_emulator
from tests.support_api import Harness, build_harness, free_port, mp4_bytes

MP4 = mp4_bytes()


@pytest.fixture
def server() -> Iterator[Recorder]:
    with Recorder() as rec:
        rec.routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, MP4)
        yield rec


@pytest.fixture
def other_loopback() -> Iterator[Recorder]:
    with Recorder("127.0.0.2") as rec:
        yield rec


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only 127.0.0.1 (not the rest of 127/8): the servers of these tests are on it."""
    monkeypatch.setenv(ALLOWLIST_ENV, "127.0.0.1/32")


def wait_for_status(storage: Storage, session_id: str, statuses: tuple[str, ...], timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = read_manifest(storage, session_id)
        if m and m["status"] in statuses:
            return m
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} not {statuses} after {timeout_s} s: {read_manifest(storage, session_id)}")


# --- finding 1: SSRF ------------------------------------------------------------------------------

@pytest.fixture
def real_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The API with its real (local) submitter: a URL is fetched by the pipeline itself."""
    monkeypatch.delenv(ALLOWLIST_ENV, raising=False)
    return build_harness(tmp_path / "store")


@pytest.mark.parametrize("host", ["2130706433", "0", "127.1", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]"])
def test_api_refuses_every_spelling_of_loopback(real_api: Harness, server: Recorder, host: str) -> None:
    r = real_api.client.post("/jumping/sessions/", json={"video_url": f"http://{host}:{server.port}/clip.mp4"},
                             headers=real_api.headers("writer"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_video_url", r.text
    time.sleep(0.3)
    assert server.hosts == []  # the server never fetched it


def test_api_name_resolving_to_loopback_fails_without_a_fetch(real_api: Harness, server: Recorder) -> None:
    name = socket.gethostname()
    if socket.getaddrinfo(name, None)[0][4][0] != "127.0.0.1":
        pytest.skip(f"{name} does not resolve to 127.0.0.1 here")
    r = real_api.client.post("/jumping/sessions/", json={"video_url": f"http://{name}:{server.port}/clip.mp4"},
                             headers=real_api.headers("writer"))
    assert r.status_code == 202
    m = wait_for_status(real_api.storage, r.json()["session_id"], ("failed", "completed"))
    assert m["error"]["code"] == "source_unreachable" and server.hosts == []


def test_every_failure_reads_the_same(server: Recorder, other_loopback: Recorder, loopback_allowed: None,
                                      tmp_path: Path) -> None:
    """Refused port, 404, 500, an HTML page, a redirect to another loopback address or to the cloud
    metadata address: one code and one message, so a scanner cannot tell them apart."""
    server.routes["/page.mp4"] = (200, {"Content-Type": "text/html"}, b"<html>" + b" " * 200 + b"</html>")
    server.routes["/boom.mp4"] = (500, {}, b"")
    server.routes["/other.mp4"] = (302, {"Location": f"{other_loopback.url}/clip.mp4"}, b"")
    server.routes["/meta.mp4"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    server.routes["/missing.mp4"] = (404, {}, b"")
    urls = [f"http://127.0.0.1:{free_port()}/clip.mp4", f"{server.url}/missing.mp4", f"{server.url}/boom.mp4",
            f"{server.url}/page.mp4", f"{server.url}/other.mp4", f"{server.url}/meta.mp4",
            "http://does-not-exist.invalid/clip.mp4", "http://10.0.0.1/clip.mp4", "ftp://example.com/clip.mp4"]
    answers = set()
    for url in urls:
        with pytest.raises(SourceUnreachable) as info:
            fetch_source(url, tmp_path, max_bytes=10_000_000)
        answers.add((info.value.code, info.value.message))
    assert answers == {("source_unreachable", SourceUnreachable().message)}
    assert other_loopback.hosts == []
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    assert fetch_source(f"{server.url}/clip.mp4", tmp_path, max_bytes=10_000_000).read_bytes() == MP4


def test_loopback_needs_the_allowlist(server: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWLIST_ENV, raising=False)
    with pytest.raises(SourceUnreachable):
        fetch_source(f"{server.url}/clip.mp4", tmp_path, max_bytes=10_000_000)
    assert server.hosts == []


# --- finding 3: slow sources ------------------------------------------------------------------------

def test_a_trickling_source_is_dropped_for_its_rate(server: Recorder, loopback_allowed: None, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # One byte every 0.1 s (the finding's server sent one every 10 s): under a 1 kB/s minimum.
    monkeypatch.setenv("MOTIONLENS_FETCH_GRACE_S", "0.5")
    monkeypatch.setenv("MOTIONLENS_FETCH_MIN_RATE_BPS", "1000")
    server.routes["/slow.mp4"] = (200, {}, Trickle(MP4, step=1, every_s=0.1, for_s=8))
    t = time.monotonic()
    with pytest.raises(SourceUnreachable):
        fetch_source(f"{server.url}/slow.mp4", tmp_path, max_bytes=10_000_000)
    assert time.monotonic() - t < 2.0


def test_a_steady_but_endless_source_meets_the_deadline(server: Recorder, loopback_allowed: None, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # 20 kB/s passes the rate check; the total deadline (1.5 s here) still ends it.
    monkeypatch.setenv("MOTIONLENS_FETCH_DEADLINE_S", "1.5")
    monkeypatch.setenv("MOTIONLENS_FETCH_MIN_RATE_BPS", "100")
    monkeypatch.setenv("MOTIONLENS_FETCH_GRACE_S", "0.2")
    big = MP4 + os.urandom(2_000_000)
    server.routes["/long.mp4"] = (200, {}, Trickle(big, step=2000, every_s=0.1, for_s=8))
    t = time.monotonic()
    with pytest.raises(SourceUnreachable):
        fetch_source(f"{server.url}/long.mp4", tmp_path, max_bytes=10_000_000)
    assert 1.4 < time.monotonic() - t < 3.0


class FetchingSubmitter:
    """Does what the local pipeline does first (fetch the source) and completes the session; runs
    in this process, so `Submissions` may fetch ahead of the analysis slot."""

    prefetch = True

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def __call__(self, storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                 *, session_id: str) -> str:
        self.started[owner] = time.monotonic()
        work = Path(f"/tmp/motionlens-test-fetch-{session_id}")
        work.mkdir(exist_ok=True)
        try:
            fetch_source(source, work, max_bytes=10_000_000)
        finally:
            for p in work.iterdir():
                p.unlink()
            work.rmdir()
        manifest = read_manifest(storage, session_id)
        manifest["status"] = "completed"
        write_manifest(storage, manifest)
        return session_id


def test_a_slow_fetch_does_not_hold_the_analysis_slot(server: Recorder, loopback_allowed: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIONLENS_FETCH_DEADLINE_S", "8")
    monkeypatch.setenv("MOTIONLENS_FETCH_MIN_RATE_BPS", "1")
    server.routes["/slow.mp4"] = (200, {}, Trickle(MP4, step=len(MP4) // 30 + 1, every_s=0.1, for_s=8))  # ~3 s
    submitter = FetchingSubmitter()
    h = build_harness(tmp_path / "store", submitter=submitter)  # one analysis slot (the default)
    t0 = time.monotonic()
    slow = h.client.post("/jumping/sessions/", json={"video_url": f"{server.url}/slow.mp4"},
                         headers=h.headers("writer"))
    assert slow.status_code == 202
    time.sleep(0.2)
    upload = h.client.post("/jumping/sessions/", content=MP4, headers={**h.headers("bob"), "Content-Type": "video/mp4"})
    assert upload.status_code == 202
    wait_for_status(h.storage, upload.json()["session_id"], ("completed",), timeout_s=10)
    assert submitter.started["bob"] - t0 < 2.0  # not after alice's ~3 s download
    assert wait_for_status(h.storage, slow.json()["session_id"], ("completed", "failed"))["status"] == "completed"


# --- finding 2: gs:// only under MOTIONLENS_ALLOWED_SOURCES -------------------------------------------

@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    from pipeline.gcs_storage import GcsSettings, GcsStorage

    with running_gcs_emulator(tmp_path_factory.mktemp("gcs")) as emulator:
        for bucket in ("media", "other-bucket"):
            emulator.create_bucket(bucket)
        settings = GcsSettings(emulator_host=emulator.url, retry_timeout_s=2.0)
        GcsStorage("media", "uploads", settings=settings).write_bytes("ok/clip.mp4", MP4)
        GcsStorage("media", "private", settings=settings).write_bytes("secret.mp4", MP4)
        GcsStorage("media", "uploads-evil", settings=settings).write_bytes("clip.mp4", MP4)
        GcsStorage("other-bucket", "", settings=settings).write_bytes("secret.mp4", MP4)
        yield emulator


@pytest.fixture
def gcs_sources(gcs: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> GcsEmulator:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    monkeypatch.setenv("MOTIONLENS_GCS_RETRY_TIMEOUT_S", "2")
    monkeypatch.setenv("MOTIONLENS_ALLOWED_SOURCES", "gs://media/uploads/ok, gs://media/public")
    return gcs


@pytest.mark.slow
def test_gs_sources_only_under_the_allowed_prefixes(gcs_sources: GcsEmulator, tmp_path: Path) -> None:
    assert fetch_source("gs://media/uploads/ok/clip.mp4", tmp_path, max_bytes=10_000_000).read_bytes() == MP4
    refused = ["gs://media/private/secret.mp4", "gs://other-bucket/secret.mp4",   # exist, not allowed
               "gs://media/uploads-evil/clip.mp4",                                # a prefix of the name only
               "gs://media/uploads/ok/../../private/secret.mp4", "gs://media/uploads/ok//x.mp4",
               "gs://media/uploads/ok/missing.mp4", "gs://media/public/missing.mp4",  # allowed, missing
               "gs://no-such-bucket/uploads/ok/clip.mp4", "gs://media"]
    answers = set()
    for uri in refused:
        with pytest.raises(SourceUnreachable) as info:
            fetch_source(uri, tmp_path / "x", max_bytes=10_000_000)
        answers.add((info.value.code, info.value.message))
    assert len(answers) == 1  # missing and forbidden: the same error


@pytest.mark.slow
def test_api_gs_source_outside_the_allowlist_fails_like_a_missing_one(gcs_sources: GcsEmulator,
                                                                      real_api: Harness) -> None:
    errors = []
    for uri in ("gs://other-bucket/secret.mp4", "gs://media/uploads/ok/missing.mp4"):
        r = real_api.client.post("/jumping/sessions/", json={"video_url": uri}, headers=real_api.headers("writer"))
        assert r.status_code == 202
        errors.append(wait_for_status(real_api.storage, r.json()["session_id"], ("failed", "completed"))["error"])
    assert errors[0] == errors[1] and errors[0]["code"] == "source_unreachable"
