"""API keys and who may see what: 401 / 403 / 404 rules of DESIGN §6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.app import create_app
from api.keys import KEYS_PREFIX, KeyRecord, create_key, find_key, hash_token, list_keys, revoke_key
from api.settings import ApiSettings
from pipeline.errors import StorageUnavailable
from pipeline.storage import LocalStorage
from tests.support_api import Harness, build_harness, make_session


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def detail_url(manifest: dict) -> str:
    return f"/{manifest['activity']}/sessions/{manifest['session_id']}/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --- key store -------------------------------------------------------------------------------

def test_key_store_keeps_only_the_hash(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    token, record = create_key(storage, "alice", ["sessions:read"])
    keys = list(storage.list(KEYS_PREFIX))
    assert keys == [f"{KEYS_PREFIX}{hash_token(token)}.json"]
    stored = storage.read_bytes(keys[0]).decode()
    assert token not in stored and json.loads(stored)["owner"] == "alice"
    assert find_key(storage, token) == record
    assert find_key(storage, token + "x") is None
    assert find_key(storage, "short") is None


def test_create_key_validates(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(ValueError):
        create_key(storage, "alice", ["root"])
    with pytest.raises(ValueError):
        create_key(storage, "alice", [])
    with pytest.raises(ValueError):
        create_key(storage, "../evil", ["sessions:read"])


def test_revoke_by_prefix_id_or_token(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    t1, r1 = create_key(storage, "alice", ["sessions:read"])
    t2, _ = create_key(storage, "bob", ["sessions:read"])
    assert revoke_key(storage, r1.key_id[:8]).revoked
    assert find_key(storage, t1).revoked and not find_key(storage, t2).revoked
    assert revoke_key(storage, t2).revoked  # the full token works too
    assert revoke_key(storage, t2).revoked_at == find_key(storage, t2).revoked_at  # idempotent
    with pytest.raises(LookupError):
        revoke_key(storage, "zzzzzzzz")
    with pytest.raises(ValueError):
        revoke_key(storage, "mlk")  # too short to be safe
    with pytest.raises(ValueError):
        revoke_key(storage, "mlk_")  # every token starts like that... still too short
    assert len(list_keys(storage)) == 2


def test_revoke_refuses_ambiguous_prefix(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    for digest in ("abcdef01" + "0" * 56, "abcdef02" + "0" * 56):
        record = KeyRecord(key_id=digest[:16], token_prefix="mlk_zzzzzzzz", token_sha256=digest, owner="a",
                           scopes=("sessions:read",), created_at="2025-01-01T00:00:00Z")
        storage.write_bytes(f"{KEYS_PREFIX}{digest}.json", record.to_json())
    with pytest.raises(ValueError, match="matches 2 keys"):
        revoke_key(storage, "abcdef")
    assert revoke_key(storage, "abcdef02").revoked


# --- HTTP ------------------------------------------------------------------------------------

def test_valid_key_reads_its_session(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.get(detail_url(m))
    assert r.status_code == 200 and r.json()["session_id"] == m["session_id"]


def test_no_key_is_401_with_hint(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.client.get(detail_url(m))
    err = assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("API-KEY")
    assert "Authorization: API-KEY <token>" in err["message"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Token abcdefghijklmnopqrstuvwxyz", "API-KEY", "API-KEY a b",
                                    "API-KEY short", "API-KEY <token>", "Basic dXNlcjpwYXNz", "API-KEY ../../etc"])
def test_malformed_header_is_401(h: Harness, header: str) -> None:
    m = make_session(h.storage)
    r = h.client.get(detail_url(m), headers={"Authorization": header})
    assert_error(r, 401, "malformed_authorization")
    assert "WWW-Authenticate" in r.headers


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "API-KEY"])
def test_bearer_is_accepted_beside_api_key(h: Harness, scheme: str) -> None:
    m = make_session(h.storage)
    r = h.client.get(detail_url(m), headers={"Authorization": f"{scheme} {h.tokens['reader']}"})
    assert r.status_code == 200, r.text
    unknown = h.client.get(detail_url(m), headers={"Authorization": f"{scheme} mlk_" + "A" * 43})
    assert_error(unknown, 401, "invalid_api_key")


def test_401_advertises_both_schemes(h: Harness) -> None:
    r = h.client.get(detail_url(make_session(h.storage)))
    challenges = [c.split()[0] for c in r.headers["www-authenticate"].split(", ")]
    assert challenges == ["API-KEY", "Bearer"]
    assert "Bearer <token>" in r.json()["error"]["message"]


def test_scheme_is_case_insensitive(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.client.get(detail_url(m), headers={"Authorization": f"api-key {h.tokens['reader']}"})
    assert r.status_code == 200


def test_unknown_key_is_401(h: Harness) -> None:
    m = make_session(h.storage)
    r = h.client.get(detail_url(m), headers={"Authorization": "API-KEY mlk_" + "A" * 43})
    assert_error(r, 401, "invalid_api_key")
    assert "WWW-Authenticate" in r.headers


def test_revoked_key_is_401(h: Harness) -> None:
    m = make_session(h.storage)
    assert h.get(detail_url(m)).status_code == 200
    revoke_key(h.storage, h.tokens["reader"][:12])
    r = h.get(detail_url(m))
    assert_error(r, 401, "revoked_api_key")
    assert "WWW-Authenticate" in r.headers


@pytest.mark.parametrize(("url", "scope"), [
    ("/jumping/sessions/{id}/", "sessions:read"),
    ("/jumping/sessions/{id}/export/", "exports:read"),
    ("/sessions/{id}/analyzed-video/", "videos:generate"),
])
def test_missing_scope_is_403_naming_it(h: Harness, url: str, scope: str) -> None:
    m = make_session(h.storage)
    r = h.get(url.format(id=m["session_id"]), who="writer")
    err = assert_error(r, 403, "forbidden")
    assert scope in err["message"]
    assert h.get(url.format(id=m["session_id"]), who=f"only:{scope}").status_code == 200


def test_post_needs_sessions_write(h: Harness) -> None:
    r = h.client.post("/jumping/sessions/", json={"video_url": "https://example.com/a.mp4"}, headers=h.headers())
    err = assert_error(r, 403)
    assert "sessions:write" in err["message"]


def test_other_owner_gets_404_admin_sees_all(h: Harness) -> None:
    m = make_session(h.storage, owner="alice")
    r = h.get(detail_url(m), who="bob")
    mine_unknown = h.get("/jumping/sessions/" + "x" * 22 + "/", who="bob")
    assert_error(r, 404, "session_not_found")
    assert r.json() == mine_unknown.json()  # indistinguishable from a session that does not exist
    for url in (f"{detail_url(m)}export/", f"/sessions/{m['session_id']}/analyzed-video/"):
        assert_error(h.get(url, who="bob"), 404, "session_not_found")
    assert h.get(detail_url(m), who="admin").status_code == 200
    assert h.get(f"{detail_url(m)}export/", who="admin").status_code == 200


def test_storage_unreachable_is_503(tmp_path: Path) -> None:
    class DownStorage(LocalStorage):
        def exists(self, key: str) -> bool:
            raise StorageUnavailable("bucket unreachable")

        def read_bytes(self, key: str) -> bytes:
            raise ConnectionError("connection reset")

    ok = build_harness(tmp_path)
    m = make_session(ok.storage)
    down = create_app(DownStorage(tmp_path), ApiSettings(signing_secret="x" * 32))
    from tests.support_api import TestClient

    r = TestClient(down).get(detail_url(m), headers=ok.headers())
    assert_error(r, 503, "storage_unavailable")
    assert r.headers["Retry-After"]
