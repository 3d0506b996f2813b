"""Webhooks: registered by an owner, told (signed, retried with back-off) when a session ends.

Deliveries go to a real HTTP receiver on loopback, which the SSRF guard allows only because the
fixture sets MOTIONLENS_URL_ALLOWLIST=127.0.0.0/8; without it the same URL is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from api.webhooks import DeliveryPolicy, list_webhooks, notify_hook, notify_session_end, register
from pipeline.errors import PipelineError
from pipeline.manifest import failed
from pipeline.session import read_manifest, utc_now_iso, write_manifest
from pipeline.storage import Storage
from pipeline.url_guard import UnsafeUrl
from tests.support_api import Harness, build_harness, make_session, mp4_bytes

FAST = DeliveryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.2, timeout_s=5.0)


@dataclass
class Receiver:
    """A loopback HTTP server that records each POST and answers the queued statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/motionlens"

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.received.append({"at": time.monotonic(), "path": self.path, "headers": dict(self.headers),
                                 "body": body})
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()
        thread.join(5)


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIONLENS_URL_ALLOWLIST", "127.0.0.0/8")
    monkeypatch.setenv("MOTIONLENS_WEBHOOK_BACKOFF_S", "0.05")
    monkeypatch.setenv("MOTIONLENS_WEBHOOK_ATTEMPTS", "4")


def complete_like_the_pipeline(storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                               *, session_id: str) -> str:
    """A submitter that ends the queued session completed, as `submit_local` would (without the pose model)."""
    manifest = read_manifest(storage, session_id)
    assert manifest is not None
    write_manifest(storage, {**manifest, "status": "completed", "updated_at": utc_now_iso(), "metrics": {"x": 1}})
    return session_id


def fail_like_a_bad_video(storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str,
                          *, session_id: str) -> str:
    raise PipelineError("no person found in the video", code="no_person_detected")


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """What a receiver does: recompute the signature over the raw body, then parse it."""
    parts = dict(p.split("=", 1) for p in request["headers"]["MotionLens-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 60
    event = json.loads(request["body"])
    assert request["headers"]["MotionLens-Event-Id"] == request["headers"]["Idempotency-Key"] == event["id"]
    return event


def register_via_api(h: Harness, url: str, **extra: Any) -> Any:
    return h.client.post("/webhooks/", headers=h.headers("writer"), json={"url": url, **extra})


def submit(h: Harness) -> str:
    r = h.client.post("/jumping/sessions/", headers={**h.headers("writer"), "Content-Type": "video/mp4"},
                      content=mp4_bytes())
    assert r.status_code == 202, r.text
    return str(r.json()["session_id"])


def test_register_list_delete(tmp_path: Path, allow_loopback: None, receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store")
    r = register_via_api(h, receiver.url, events=["session.failed"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["session.failed"]
    listed = h.client.get("/webhooks/", headers=h.headers("writer")).json()["webhooks"]
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    assert h.client.get("/webhooks/", headers=h.headers("bob")).json()["webhooks"] == []
    assert h.client.get("/webhooks/", headers=h.headers("reader")).status_code == 403
    assert h.client.delete(f"/webhooks/{created['webhook_id']}/", headers=h.headers("bob")).status_code == 404
    assert h.client.delete(f"/webhooks/{created['webhook_id']}/", headers=h.headers("writer")).status_code == 204
    assert h.client.get("/webhooks/", headers=h.headers("writer")).json()["webhooks"] == []
    for body in ({"url": receiver.url, "events": ["session.started"]}, {"url": 3}, {"events": []}):
        bad = h.client.post("/webhooks/", headers=h.headers("writer"), json=body)
        assert bad.status_code == 422, body


def test_private_addresses_are_refused_without_the_allowlist(tmp_path: Path, receiver: Receiver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIONLENS_URL_ALLOWLIST", raising=False)
    h = build_harness(tmp_path / "store")
    for url in (receiver.url, "http://10.0.0.7/hook", "http://[::1]:8080/", "http://2130706433/", "file:///etc/passwd"):
        r = register_via_api(h, url)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_webhook_url", url
    assert list_webhooks(h.storage, "alice") == []


def test_a_completed_session_is_delivered_signed(tmp_path: Path, allow_loopback: None, receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store", submitter=complete_like_the_pipeline)
    secret = register_via_api(h, receiver.url).json()["secret"]
    session_id = submit(h)
    [request] = receiver.wait_for(1)
    event = verify(secret, request)
    assert event["type"] == "session.completed" and request["path"] == "/hooks/motionlens"
    assert event["session"]["session_id"] == session_id and event["session"]["status"] == "completed"
    assert request["headers"]["Content-Type"] == "application/json"
    assert h.app.state.ctx.background.wait(10)
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_a_failed_session_is_delivered_and_retried_with_back_off(tmp_path: Path, allow_loopback: None,
                                                                 receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store", submitter=fail_like_a_bad_video)
    secret = register_via_api(h, receiver.url).json()["secret"]
    receiver.statuses[:] = [500, 503]
    session_id = submit(h)
    requests = receiver.wait_for(3)
    assert len(requests) == 3
    events = [verify(secret, r) for r in requests]
    assert {e["id"] for e in events} == {events[0]["id"]}  # one idempotency key for every retry
    assert events[0]["type"] == "session.failed" and events[0]["session"]["session_id"] == session_id
    assert events[0]["session"]["error"]["code"] == "no_person_detected"
    gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # exponential: 0.05 s, then 0.1 s


def test_retries_are_bounded_and_permanent_refusals_stop(tmp_path: Path, allow_loopback: None,
                                                         receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store")
    hook = register(h.storage, "alice", receiver.url)
    m = make_session(h.storage, status="failed", error={"code": "x", "message": "y"})
    receiver.statuses[:] = [500] * 10
    [outcome] = notify_session_end(h.storage, m["session_id"], FAST)
    assert outcome["attempts"] == 4 and not outcome["delivered"] and outcome["status_code"] == 500
    assert len(receiver.received) == 4
    record = json.loads(h.storage.read_bytes(
        f"owners/alice/webhook-deliveries/{outcome['event_id']}.{hook.webhook_id}.json"))
    assert record["attempts"] == 4 and record["delivered"] is False
    assert notify_session_end(h.storage, m["session_id"], FAST) == []  # claimed: never delivered twice
    other = make_session(h.storage, status="completed", exports=False)
    receiver.statuses[:] = [400]
    [refused] = notify_session_end(h.storage, other["session_id"], FAST)
    assert refused["attempts"] == 1 and refused["status_code"] == 400


def test_nothing_is_sent_for_an_unfinished_session_or_another_owner(tmp_path: Path, allow_loopback: None,
                                                                    receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store")
    register(h.storage, "alice", receiver.url, events=["session.completed"])
    assert notify_session_end(h.storage, make_session(h.storage, status="processing")["session_id"], FAST) == []
    assert notify_session_end(h.storage, make_session(h.storage, owner="bob", exports=False)["session_id"], FAST) == []
    failed_one = make_session(h.storage, status="failed", error={"code": "x", "message": "y"})
    assert notify_session_end(h.storage, failed_one["session_id"], FAST) == []  # not subscribed to failures
    assert receiver.received == []


def test_delivery_goes_through_the_guard(tmp_path: Path, allow_loopback: None, receiver: Receiver,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    h = build_harness(tmp_path / "store")
    register(h.storage, "alice", receiver.url)
    monkeypatch.delenv("MOTIONLENS_URL_ALLOWLIST")  # e.g. the operator narrowed the allowlist since
    m = make_session(h.storage, exports=False)
    [outcome] = notify_session_end(h.storage, m["session_id"], FAST)
    assert not outcome["delivered"] and outcome["attempts"] == 1 and "URL guard" in outcome["error"]
    assert receiver.received == []
    with pytest.raises(UnsafeUrl):
        register(h.storage, "alice", receiver.url)


def test_the_prefect_hook_delivers_the_run_session(tmp_path: Path, allow_loopback: None, receiver: Receiver) -> None:
    h = build_harness(tmp_path / "store")
    hook = register(h.storage, "alice", receiver.url)
    m = make_session(h.storage, status="processing")
    write_manifest(h.storage, failed(m, PipelineError("crashed", code="internal_error")))
    run = SimpleNamespace(parameters={"session_id": m["session_id"], "storage_uri": str(h.storage.root)})
    notify_hook(None, run, None)  # what flows.hooks.SESSION_HOOKS runs after mark_session_failed
    [request] = receiver.wait_for(1)
    assert verify(hook.secret, request)["type"] == "session.failed"
