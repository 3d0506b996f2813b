"""ETag / If-None-Match → 304 on the session detail (weak tag) and on signed files (strong tag)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from pipeline.gcs_storage import GcsSettings, GcsStorage
from pipeline.session import write_manifest
from tests.servers import running_gcs_emulator
from tests.support_api import Harness, TestClient, build_harness, make_session, serve_in_thread

SECRET = "test-secret-0123456789"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def detail_url(m: dict) -> str:
    return f"/{m['activity']}/sessions/{m['session_id']}/"


def test_detail_answers_304_to_its_etag(h: Harness) -> None:
    m = make_session(h.storage)
    first = h.get(detail_url(m))
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "no-store"
    for header in (etag, etag[2:], f'"other", {etag}', "*"):
        again = h.get(detail_url(m), headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b"" and again.headers["etag"] == etag
        assert again.headers["cache-control"] == "no-store"
    assert h.get(detail_url(m), headers={"If-None-Match": '"other"'}).status_code == 200
    # The tag guards the caller's own session only: others still get 404, not 304.
    assert h.get(detail_url(m), "bob", headers={"If-None-Match": "*"}).status_code == 404


def test_detail_etag_follows_the_manifest(h: Harness) -> None:
    m = make_session(h.storage, status="processing")
    etag = h.get(detail_url(m)).headers["etag"]
    write_manifest(h.storage, {**m, "status": "completed", "metrics": {"jump_count": 1}})
    changed = h.get(detail_url(m), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["status"] == "completed"
    assert changed.headers["etag"] != etag


def test_detail_etag_renews_before_its_links_get_old(tmp_path: Path) -> None:
    # With 2 s links the tag changes every second: a 304 never hands back links older than half their life.
    h = build_harness(tmp_path / "s", settings=ApiSettings(signing_secret=SECRET, link_ttl_s=2))
    m = make_session(h.storage)
    etag = h.get(detail_url(m)).headers["etag"]
    time.sleep(1.05)
    later = h.get(detail_url(m), headers={"If-None-Match": etag})
    assert later.status_code == 200 and later.headers["etag"] != etag


def test_signed_file_answers_304_to_its_strong_etag(h: Harness) -> None:
    m = make_session(h.storage)
    url = h.get(detail_url(m)).json()["video_url"]
    first = h.client.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"')
    for method in ("GET", "HEAD"):
        r = h.client.request(method, url, headers={"If-None-Match": etag, "Range": "bytes=0-9"})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    h.storage.write_bytes(m["artifacts"]["original"], b"\0\0\0\x18ftypmp42" + b"\0" * 100)
    changed = h.client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_etag_and_304_over_uvicorn(h: Harness) -> None:
    m = make_session(h.storage)
    with serve_in_thread(h.app) as base, httpx.Client(base_url=base, headers=h.headers()) as client:
        etag = client.get(detail_url(m)).headers["etag"]
        assert client.get(detail_url(m), headers={"If-None-Match": etag}).status_code == 304


class UnsignedGcs(GcsStorage):
    """GCS without signing credentials, as in production without a key: the emulator would
    otherwise get plain object URLs (it checks no signatures)."""

    def signed_url(self, key: str, expires_s: int) -> str | None:
        return None


def test_files_of_a_network_store_keep_one_etag_and_304_without_download(tmp_path: Path) -> None:
    # No signing credentials: the API serves GCS objects itself through a temporary copy, whose
    # mtime used to make a new tag at every request (so never a 304 nor a usable If-Range).
    with running_gcs_emulator(tmp_path) as emulator:
        emulator.create_bucket("etag")
        storage = UnsignedGcs("etag", "p", settings=GcsSettings(emulator_host=emulator.url, retry_timeout_s=5.0))
        m = make_session(storage, exports=False)
        token = create_key(storage, "alice", ("sessions:read",))[0]
        with TestClient(create_app(storage, ApiSettings(signing_secret=SECRET))) as client:
            detail = client.get(detail_url(m), headers={"Authorization": f"Bearer {token}"}).json()
            url = detail["video_url"]
            assert "/files/" in url
            tags = {client.get(url).headers["etag"] for _ in range(2)}
            assert len(tags) == 1
            (etag,) = tags
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
            ranged = client.get(url, headers={"If-Range": etag, "Range": "bytes=0-9"})
            assert ranged.status_code == 206 and len(ranged.content) == 10
