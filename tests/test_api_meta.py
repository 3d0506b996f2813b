"""`/health`, `/openapi.json` and the error contract for unexpected failures."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.routing import Route

from api.app import create_app
from api.settings import ApiSettings
from pipeline.storage import LocalStorage
from tests.support_api import Harness, TestClient, build_harness, make_session


def test_health_needs_no_key_and_checks_storage(tmp_path: Path) -> None:
    h = build_harness(tmp_path / "store")
    r = h.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["storage"] == "ok"
    gone = TestClient(create_app(LocalStorage(tmp_path / "nowhere"), ApiSettings()))
    r = gone.get("/health")
    assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"


def test_openapi_lists_every_route(tmp_path: Path) -> None:
    h = build_harness(tmp_path)
    schema = h.client.get("/openapi.json").json()  # no key needed
    assert schema["openapi"].startswith("3.")
    for route in h.app.routes:
        assert isinstance(route, Route)
        path = route.path.replace("{key:path}", "{key}")
        for method in route.methods - {"HEAD"}:
            op = schema["paths"][path][method.lower()]
            assert op["summary"] and op["operationId"] == route.name
    documented = {(p, m) for p, ops in schema["paths"].items() for m in ops}
    assert ("/jumping/sessions/{session_id}/", "get") in documented
    assert ("/session-management/sessions/{session_id}/analyzed-video/", "get") in documented
    assert ("/weightlifting/sessions/", "post") in documented
    export = schema["paths"]["/running/sessions/{session_id}/export/"]["get"]
    assert export["x-required-scope"] == "exports:read" and "401" in export["responses"]
    assert schema["paths"]["/health"]["get"]["security"] == []


def test_unexpected_error_is_json_500_without_traceback(tmp_path: Path) -> None:
    h = build_harness(tmp_path)
    m = make_session(h.storage)
    # Valid JSON of an unexpected shape (a corrupt file has its own 409 session_corrupt)
    h.storage.write_bytes(f"sessions/{m['session_id']}/session.json", json.dumps({**m, "artifacts": 5}).encode())
    client = TestClient(h.app, raise_server_exceptions=False)
    r = client.get(f"/jumping/sessions/{m['session_id']}/", headers=h.headers())
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "unexpected server error; it has been logged"}}
    assert "Traceback" not in r.text


def test_every_error_has_the_same_shape(tmp_path: Path) -> None:
    h: Harness = build_harness(tmp_path)
    responses = [h.client.get("/jumping/sessions/AAAAAAAAAAAAAAAAAAAA/"), h.get("/nope"),
                 h.get("/jumping/sessions/AAAAAAAAAAAAAAAAAAAA/"), h.get("/health", headers={"Authorization": "x"}),
                 h.client.put("/health"), h.get("/files/sessions/x/a.mp4?exp=1&sig=x")]
    for r in responses:
        assert r.status_code >= 400
        assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"code", "message"}, r.text
