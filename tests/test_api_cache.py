"""Cached manifests and key records (api/cache.py): a rewrite or a revocation is seen by the next request."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from api.cache import FileCache
from api.keys import hash_token, revoke_key
from api.settings import ApiSettings
from pipeline.session import manifest_key, read_manifest, write_manifest
from pipeline.storage import LocalStorage
from tests.support_api import Harness, TestClient, build_harness, make_session


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def _detail(h: Harness, m: dict[str, Any], who: str = "reader") -> Any:
    r = h.get(f"/{m['activity']}/sessions/{m['session_id']}/", who)
    assert r.status_code == 200, r.text
    return r.json()


def _rewrite(h: Harness, session_id: str, **changes: Any) -> None:
    manifest = read_manifest(h.storage, session_id)
    assert manifest is not None
    write_manifest(h.storage, {**manifest, **changes})


def test_rewritten_manifest_is_seen_by_the_next_request(h: Harness) -> None:
    m = make_session(h.storage, status="processing")
    assert _detail(h, m)["status"] == "processing"
    assert _detail(h, m)["status"] == "processing"  # now served from the cache
    _rewrite(h, m["session_id"], status="completed", metrics={"jump_count": 2})
    body = _detail(h, m)
    assert body["status"] == "completed" and body["metrics"] == {"jump_count": 2}


def test_rewrite_of_the_same_size_and_mtime_is_seen(h: Harness) -> None:
    # File timestamps are coarse (a few ms): two writes can share an mtime, and a change of one
    # digit keeps the size. The replaced file is a new inode with a new ctime.
    m = make_session(h.storage)
    path = h.storage.path(manifest_key(m["session_id"]))
    assert _detail(h, m)["metrics"]["jump_count"] == 1
    before = os.stat(path)
    _rewrite(h, m["session_id"], metrics={**m["metrics"], "jump_count": 7})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    assert _detail(h, m)["metrics"]["jump_count"] == 7


def test_deleted_manifest_is_404_after_being_cached(h: Harness) -> None:
    m = make_session(h.storage)
    _detail(h, m)
    h.storage.delete(manifest_key(m["session_id"]))
    assert h.get(f"/jumping/sessions/{m['session_id']}/").status_code == 404


def test_revoked_key_is_refused_by_the_next_request(h: Harness) -> None:
    m = make_session(h.storage)
    _detail(h, m)
    _detail(h, m)  # the key record is cached
    revoke_key(h.storage, h.tokens["reader"])
    r = h.get(f"/jumping/sessions/{m['session_id']}/")
    assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_api_key"


def test_deleted_key_is_unknown_at_once(h: Harness) -> None:
    m = make_session(h.storage)
    _detail(h, m)
    h.storage.delete(f"auth/keys/{hash_token(h.tokens['reader'])}.json")
    r = h.get(f"/jumping/sessions/{m['session_id']}/")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_two_apps_with_other_settings_share_no_encoded_detail(h: Harness) -> None:
    m = make_session(h.storage)
    utc = _detail(h, m)
    madrid = TestClient(build_harness(h.storage.root, settings=ApiSettings(
        signing_secret="test-secret-0123456789", timezone="Europe/Madrid", link_ttl_s=60)).app)
    body = madrid.get(f"/jumping/sessions/{m['session_id']}/", headers=h.headers()).json()
    assert utc["created_at"]["time"] == "06:00 PM" and body["created_at"]["time"] == "08:00 PM"
    assert body["timezone"] == "Europe/Madrid" and body["urls_expire_in_s"] == 60


def test_detail_is_encoded_as_one_json_object(h: Harness) -> None:
    m = make_session(h.storage, activity="weightlifting")
    r = h.get(f"/weightlifting/sessions/{m['session_id']}/")
    assert r.headers["content-type"] == "application/json"
    body = json.loads(r.content)
    assert list(body)[:6] == ["session_id", "activity", "status", "error", "analyzed_video_url", "video_url"]
    assert list(body)[-4:] == ["images", "processing_time_s", "pipeline_version", "links"]
    assert r.content == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def test_file_cache_parses_each_version_once_and_stays_bounded(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    parsed: list[bytes] = []

    def parse(data: bytes) -> bytes:
        parsed.append(data)
        return data

    cache = FileCache(parse, maxsize=2)
    for key in ("a", "b", "c"):
        storage.write_bytes(key, key.encode())
    assert [cache.read(storage, k) for k in ("a", "a", "b", "a")] == [b"a", b"a", b"b", b"a"]
    assert parsed == [b"a", b"b"]
    cache.read(storage, "c")  # evicts "b", the least recently used
    cache.read(storage, "a")
    cache.read(storage, "b")
    assert parsed == [b"a", b"b", b"c", b"b"]
    storage.write_bytes("a", b"A")
    assert cache.read(storage, "a") == b"A"
    storage.delete("a")
    with pytest.raises(FileNotFoundError):
        cache.read(storage, "a")
    with pytest.raises(ValueError):
        cache.read(storage, "../escape")


def test_subclassed_and_remote_stores_are_read_every_time(tmp_path: Path) -> None:
    class Counting(LocalStorage):
        reads = 0

        def read_bytes(self, key: str) -> bytes:
            Counting.reads += 1
            return super().read_bytes(key)

    storage = Counting(tmp_path)
    storage.write_bytes("a", b"x")
    cache = FileCache(bytes, maxsize=4)
    cache.read(storage, "a")
    cache.read(storage, "a")
    assert Counting.reads == 2
