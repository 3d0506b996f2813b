"""The OpenAPI document: valid, public, a schema for every answer, and a client built from it works.

The client (`SpecClient`) is generated at run time from the document alone: it finds an
operation by its `operationId`, fills path and query parameters, authenticates the way the
security schemes say (Bearer), and validates every answer against the schema the document
declares for that status (JSON Schema 2020-12, `jsonschema`), over real uvicorn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api.settings import ApiSettings
from tests.support_api import Harness, build_harness, make_session, serve_in_thread

NO_BODY = {"204", "304"}


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


class SpecClient:
    """A client generated from an OpenAPI document (paths, parameters, security, response schemas)."""

    def __init__(self, document: dict[str, Any], base_url: str, token: str) -> None:
        self.document = document
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
        assert document["components"]["securitySchemes"]["Bearer"] == {
            "type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"}
        self.operations = {op["operationId"]: (path, method, op)
                           for path, item in document["paths"].items() for method, op in item.items()}

    def call(self, operation_id: str, body: Any = None, **params: str) -> tuple[int, Any]:
        path, method, op = self.operations[operation_id]
        names = {p["name"]: p["in"] for p in op["parameters"]}
        assert set(params) <= set(names), f"{operation_id} has no parameter {set(params) - set(names)}"
        url = path.format(**{k: v for k, v in params.items() if names[k] == "path"})
        query = {k: v for k, v in params.items() if names[k] == "query"}
        if body is not None:
            assert "application/json" in op["requestBody"]["content"]
            self.check(op["requestBody"]["content"]["application/json"]["schema"], body)
        r = self.http.request(method.upper(), url, params=query, json=body)
        declared = op["responses"].get(str(r.status_code))
        assert declared is not None, f"{operation_id} answered {r.status_code}, not in the document: {r.text}"
        if str(r.status_code) in NO_BODY:
            return r.status_code, None
        media = r.headers["content-type"].split(";")[0]
        schema = declared["content"][media]["schema"]
        payload = r.json() if media == "application/json" else r.text
        self.check(schema, payload)
        return r.status_code, payload

    def check(self, schema: dict[str, Any], payload: Any) -> None:
        validator = Draft202012Validator({**schema, "components": self.document["components"]})
        errors = sorted(validator.iter_errors(payload), key=str)
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])

    def close(self) -> None:
        self.http.close()


def test_the_document_validates_and_is_public(h: Harness) -> None:
    r = h.client.get("/openapi.json")
    assert r.status_code == 200, r.text
    document = r.json()
    validate(document)  # openapi-spec-validator: OpenAPI 3.1 + JSON Schema 2020-12
    unchanged = h.client.get("/openapi.json", headers={"If-None-Match": r.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.headers["vary"] == "Accept-Encoding"
    assert r.headers["vary"] == "Accept-Encoding" and r.headers["etag"].startswith('W/"')
    plain = h.client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert plain.headers["vary"] == "Accept-Encoding" and "content-encoding" not in plain.headers
    page = h.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for item in document["paths"].values():
        for op in item.values():
            assert f'id="op-{op["operationId"]}"' in page.text
    assert "<script" not in page.text


def test_every_operation_declares_its_bodies(h: Harness) -> None:
    document = h.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, op in item.items():
            answers = {code: r for code, r in op["responses"].items() if code < "300"}
            assert answers, f"{method} {path}: no success answer"
            for code, response in answers.items():
                assert response.get("content") or code in NO_BODY, f"{method} {path} {code}: no schema"
            for code, response in op["responses"].items():
                if code >= "400" and op["operationId"] != "health":  # its 503 is a Health body with an error
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    detail = document["paths"]["/jumping/sessions/{session_id}/"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SessionDetail"}
    assert set(schemas["SessionDetail"]["required"]) >= {"session_id", "analyzed_video_url", "video_url", "created_at"}
    event = document["webhooks"]["sessionEnded"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert event == {"$ref": "#/components/schemas/WebhookEvent"}
    submit = document["paths"]["/jumping/sessions/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "video/*"} <= set(submit)


def test_a_client_generated_from_the_document_reads_sessions(tmp_path: Path) -> None:
    h = build_harness(tmp_path / "store", settings=ApiSettings(signing_secret="test-secret-0123456789"))
    lift = make_session(h.storage, activity="weightlifting")
    jump = make_session(h.storage, activity="jumping", analyzed=False)
    queued = make_session(h.storage, activity="running", status="queued")
    with serve_in_thread(h.app) as base:
        document = httpx.get(f"{base}/openapi.json").json()
        client = SpecClient(document, base, h.tokens["reader"])
        try:
            status, page = client.call("sessions_list", limit="2")
            assert status == 200 and page["count"] == 2 and page["next_cursor"]
            status, rest = client.call("sessions_list", limit="2", cursor=page["next_cursor"])
            assert status == 200 and rest["count"] == 1 and rest["next_cursor"] is None
            status, detail = client.call("weightlifting_session", session_id=lift["session_id"])
            assert status == 200 and detail["status"] == "completed" and detail["analyzed_video_url"]
            assert client.http.get(detail["analyzed_video_url"]).content[4:8] == b"ftyp"
            assert client.call("running_session", session_id=queued["session_id"])[1]["status"] == "queued"
            assert client.call("weightlifting_export", session_id=lift["session_id"])[1]["format"] == "json"
            assert client.call("weightlifting_export", session_id=lift["session_id"], format="parquet")[0] == 200
            assert client.call("weightlifting_lift_analysis", session_id=lift["session_id"], lang="es")[0] == 200
            assert client.call("analyzed_video", session_id=lift["session_id"])[1]["status"] == "ready"
            assert client.call("analyzed_video", session_id=queued["session_id"])[0] == 202
            assert client.call("viewer", session_id=lift["session_id"])[1]["viewer_url"]
            assert client.call("health")[1]["status"] == "ok"
            assert client.call("jumping_session", session_id="A" * 22)[0] == 404
            assert client.call("running_export", session_id=queued["session_id"])[0] == 409
        finally:
            client.close()
        writer = SpecClient(document, base, h.tokens["writer"])
        try:
            status, error = writer.call("jumping_submit", body={"video_url": "http://127.0.0.1:9/x.mp4"})
            assert status == 422 and error["error"]["code"] == "invalid_video_url"
            status, error = writer.call("webhooks_create", body={"url": "http://127.0.0.1:9/hook"})
            assert status == 422 and error["error"]["code"] == "invalid_webhook_url"
            assert writer.call("webhooks_list")[1] == {"webhooks": []}
            assert writer.call("webhooks_delete", webhook_id="wh_0123")[0] == 404
        finally:
            writer.close()
