"""Signed file links and HTTP Range: what a `<video>` element needs to play and seek."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import av
import pytest

from api.links import Links
from api.media import RangeNotSatisfiable, parse_range
from api.settings import ApiSettings
from api.signing import LinkSigner, load_secret
from pipeline.storage import LocalStorage
from tests.support_api import Harness, build_harness, make_session


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def video_link(h: Harness) -> tuple[str, bytes]:
    m = make_session(h.storage)
    url = h.get(f"/jumping/sessions/{m['session_id']}/").json()["analyzed_video_url"]
    return url, h.storage.read_bytes(m["artifacts"]["analyzed_video"])


def with_query(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunparse(parts._replace(query=urlencode(query)))


def test_signed_link_serves_a_playable_mp4_without_api_key(h: Harness, tmp_path: Path) -> None:
    url, data = video_link(h)
    r = h.client.get(url)  # no Authorization header
    assert r.status_code == 200 and r.content == data
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-length"] == str(len(data))
    assert r.headers["content-type"] == "video/mp4" and "content-encoding" not in r.headers
    out = tmp_path / "downloaded.mp4"
    out.write_bytes(r.content)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-10", 10, 10),
    ("bytes=0-999999999", 0, None),
])
def test_range_gives_206_with_exact_bytes(h: Harness, header: str, first: int, last: int | None) -> None:
    url, data = video_link(h)
    r = h.client.get(url, headers={"Range": header, "Accept-Encoding": "gzip"})
    expected = data[first:] if last is None else data[first:last + 1]
    assert r.status_code == 206
    assert r.content == expected
    start = first % len(data)
    assert r.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    assert r.headers["content-length"] == str(len(expected))
    assert "content-encoding" not in r.headers


def test_unsatisfiable_range_is_416(h: Harness) -> None:
    url, data = video_link(h)
    r = h.client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    assert r.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=5-1", "items=0-10", "bytes=0-1,5-9", "bytes=abc"])
def test_unusable_range_header_sends_whole_file(h: Harness, header: str) -> None:
    url, data = video_link(h)
    r = h.client.get(url, headers={"Range": header})
    assert r.status_code == 200 and r.content == data


def test_if_range_mismatch_sends_whole_file(h: Harness) -> None:
    url, data = video_link(h)
    etag = h.client.head(url).headers["etag"]
    assert h.client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    r = h.client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == data


def test_head_gives_headers_only(h: Harness) -> None:
    url, data = video_link(h)
    r = h.client.head(url)
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(len(data))


def test_expired_link_is_403(tmp_path: Path) -> None:
    h = build_harness(tmp_path, settings=ApiSettings(link_ttl_s=1, signing_secret="s" * 32))
    url, _ = video_link(h)
    exp = int(parse_qs(urlparse(url).query)["exp"][0])
    while time.time() <= exp:
        time.sleep(0.05)
    r = h.client.get(url)
    assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_link"
    assert "expired" in r.json()["error"]["message"]


def test_altered_links_are_403(h: Harness) -> None:
    url, _ = video_link(h)
    exp = parse_qs(urlparse(url).query)["exp"][0]
    sig = parse_qs(urlparse(url).query)["sig"][0]
    forged = [
        with_query(url, exp=str(int(exp) + 3600)),  # extended expiry
        with_query(url, sig=sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")),
        url.replace("analyzed.mp4", "original.mp4"),  # another file with the same signature
        url.replace("/files/sessions/", "/files/auth/keys/"),
        url.split("?")[0],  # no signature at all
        with_query(url, exp="-1"),
    ]
    for bad in forged:
        r = h.client.get(bad)
        assert r.status_code == 403, bad
        assert r.json()["error"]["code"] == "invalid_link"


def test_link_secret_is_shared_through_storage(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    first = load_secret(storage, None)
    assert first == load_secret(storage, None) and len(first) == 32
    assert load_secret(storage, "configured-secret-123") == b"configured-secret-123"
    signer = LinkSigner(first)
    exp, sig = signer.sign("sessions/a/analyzed.mp4", 60)
    assert signer.check("sessions/a/analyzed.mp4", str(exp), sig) is None
    assert LinkSigner(b"another-secret-0000").check("sessions/a/analyzed.mp4", str(exp), sig) is not None


def test_storage_with_its_own_signing_is_used(tmp_path: Path) -> None:
    class SigningStorage(LocalStorage):
        def signed_url(self, key: str, expires_s: int) -> str | None:
            return f"https://storage.example/{key}?X-Goog-Expires={expires_s}"

    class CannotSign(LocalStorage):
        def signed_url(self, key: str, expires_s: int) -> str | None:
            return None

    from starlette.requests import Request

    request = Request({"type": "http", "scheme": "http", "server": ("api", 80), "path": "/", "headers": [],
                       "root_path": "", "query_string": b""})
    settings = ApiSettings(link_ttl_s=600, signing_secret="s" * 32)
    assert Links(SigningStorage(tmp_path), settings).file(request, "sessions/x/a.mp4") == \
        "https://storage.example/sessions/x/a.mp4?X-Goog-Expires=600"
    assert Links(CannotSign(tmp_path), settings).file(request, "sessions/x/a.mp4").startswith(
        "http://api/files/sessions/x/a.mp4?exp=")
    public = ApiSettings(public_base_url="https://api.example.com/", signing_secret="s" * 32)
    assert Links(LocalStorage(tmp_path), public).file(request, "exports/t/activity=a/x.parquet").startswith(
        "https://api.example.com/files/exports/t/activity=a/x.parquet?exp=")


def test_parse_range_rules() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-0", 100) == (0, 0)
    assert parse_range("bytes=-100", 10) == (0, 9)
    assert parse_range("bytes=90-200", 100) == (90, 99)
    for bad in ("bytes=100-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(bad, 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)


def test_only_session_files_and_exports_are_served_even_when_signed(h: Harness) -> None:
    signer = h.app.state.ctx.links.signer
    for key in ("auth/signing.key", "auth/keys/x.json", "inbox/jumping/a.mp4"):
        if not h.storage.exists(key):
            h.storage.write_bytes(key, b"secret")
        exp, sig = signer.sign(key, 60)
        r = h.client.get(f"/files/{key}?exp={exp}&sig={sig}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "file_not_found"
