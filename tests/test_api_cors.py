"""CORS: off by default; with `cors_origins` a browser page of a listed origin may call the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.settings import ApiSettings
from tests.support_api import Harness, build_harness, make_session, serve_in_thread

APP_ORIGIN = "https://coach.example.com"
SECRET = "test-secret-0123456789"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store", settings=ApiSettings(signing_secret=SECRET, cors_origins=(APP_ORIGIN,)))


def preflight(client: httpx.Client | object, url: str, origin: str) -> httpx.Response:
    return client.options(url, headers={"Origin": origin, "Access-Control-Request-Method": "GET",  # type: ignore[attr-defined]
                                        "Access-Control-Request-Headers": "authorization, if-none-match"})


def test_preflight_is_answered_for_a_listed_origin(h: Harness) -> None:
    m = make_session(h.storage)
    r = preflight(h.client, f"/jumping/sessions/{m['session_id']}/", APP_ORIGIN)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers


def test_answers_carry_cors_headers_even_401(h: Harness) -> None:
    m = make_session(h.storage)
    url = f"/jumping/sessions/{m['session_id']}/"
    ok = h.get(url, headers={"Origin": APP_ORIGIN})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "etag" in ok.headers["access-control-expose-headers"].lower()
    refused = h.client.get(url, headers={"Origin": APP_ORIGIN})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP_ORIGIN


def test_an_unlisted_origin_gets_no_permission(h: Harness) -> None:
    m = make_session(h.storage)
    r = preflight(h.client, f"/jumping/sessions/{m['session_id']}/", "https://evil.example")
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    plain = h.get(f"/jumping/sessions/{m['session_id']}/", headers={"Origin": "https://evil.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    h = build_harness(tmp_path / "store")
    m = make_session(h.storage)
    r = preflight(h.client, f"/jumping/sessions/{m['session_id']}/", APP_ORIGIN)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in h.get(f"/jumping/sessions/{m['session_id']}/",
                                                      headers={"Origin": APP_ORIGIN}).headers


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIONLENS_CORS_ORIGINS", f"{APP_ORIGIN}, http://localhost:3000")
    assert ApiSettings.from_env().cors_origins == (APP_ORIGIN, "http://localhost:3000")
    monkeypatch.delenv("MOTIONLENS_CORS_ORIGINS")
    assert ApiSettings.from_env().cors_origins == ()


def test_preflight_over_uvicorn(h: Harness) -> None:
    m = make_session(h.storage)
    with serve_in_thread(h.app) as base, httpx.Client(base_url=base) as client:
        r = preflight(client, f"/jumping/sessions/{m['session_id']}/", APP_ORIGIN)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP_ORIGIN
        got = client.get(f"/jumping/sessions/{m['session_id']}/", headers={**h.headers(), "Origin": APP_ORIGIN})
        assert got.status_code == 200 and got.headers["access-control-allow-origin"] == APP_ORIGIN
