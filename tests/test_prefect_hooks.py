"""Run states -> session errors, and the hooks that end a session failed when its run does."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.states import Cancelled, Crashed, Failed

from flows.hooks import error_from_state, mark_session_failed
from pipeline.errors import NoPersonFound, StorageUnavailable
from pipeline.manifest import new_manifest, with_status
from pipeline.options import AnalysisOptions
from pipeline.recovery import record_failed
from pipeline.session import export_key, new_session_id, read_manifest, write_manifest
from pipeline.storage import LocalStorage
from tests.servers import free_port

OPTIONS = AnalysisOptions("jumping", athlete_height_m=1.8)


def test_error_from_state() -> None:
    def err(state) -> tuple[str, str]:
        e = error_from_state(state)
        return e.code, e.message

    assert err(Failed(data=StorageUnavailable("bucket gone"))) == ("storage_unavailable", "bucket gone")
    assert err(Failed(data=NoPersonFound("nobody"))) == ("no_person_found", "nobody")
    assert err(Failed(data=KeyError("x"))) == ("internal_error", "internal error (KeyError): 'x'")
    # read back from the API a state has only its message
    assert err(Failed(message="Flow run encountered an exception: StorageUnavailable: could not publish to "
                              "gs://b/p: timeout")) == ("storage_unavailable", "could not publish to gs://b/p: timeout")
    assert err(Failed(message="Flow run encountered an exception: KeyError: 'x'"))[0] == "internal_error"
    assert err(Failed())[0] == "internal_error"
    code, message = err(Crashed(message="Flow run infrastructure exited with non-zero status code -9."))
    assert code == "worker_crashed" and "status code -9" in message
    assert err(Cancelled())[0] == "cancelled"


def half_published(storage: LocalStorage) -> dict:
    sid = new_session_id()
    m = with_status(new_manifest(sid, OPTIONS, "gs://b/inbox/jumping/a.mp4"), "processing")
    write_manifest(storage, m)
    for name in ("original.mp4", "pose.npz", "analyzed.mp4", "render.lock"):
        storage.write_bytes(f"sessions/{sid}/{name}", b"x")
    for table in ("keypoints", "angles"):
        storage.write_bytes(export_key(table, "jumping", m["created_at"][:10], sid), b"x")
    storage.write_bytes(export_key("angles", "jumping", m["created_at"][:10], new_session_id()), b"other session")
    return m


def run_of(storage_uri: str | None, session_id: str | None) -> FlowRun:
    params = {"source": "gs://b/inbox/jumping/a.mp4", "options": OPTIONS.to_dict(), "storage_uri": storage_uri}
    if session_id:
        params["session_id"] = session_id
    return FlowRun(flow_id=uuid.uuid4(), parameters=params)


def test_a_failed_run_ends_its_session_failed_and_removes_half_published_artifacts(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    m = half_published(storage)
    sid = m["session_id"]
    mark_session_failed(None, run_of(str(tmp_path), sid), Failed(data=StorageUnavailable("could not publish")))
    out = read_manifest(storage, sid)
    assert out["status"] == "failed" and out["error"] == {"code": "storage_unavailable", "message": "could not publish"}
    assert out["artifacts"] == {} and out["created_at"] == m["created_at"]
    left = set(storage.list(""))
    assert {k for k in left if sid in k} == {f"sessions/{sid}/session.json", f"sessions/{sid}/original.mp4",
                                              f"sessions/{sid}/render.lock"}
    assert len([k for k in left if k.startswith("exports/")]) == 1            # another session's row stays


def test_ended_sessions_are_left_alone(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    m = with_status(new_manifest(new_session_id(), OPTIONS, "a.mp4"), "completed")
    write_manifest(storage, m)
    mark_session_failed(None, run_of(str(tmp_path), m["session_id"]), Crashed(message="killed"))
    assert read_manifest(storage, m["session_id"]) == m
    assert record_failed(storage, m["session_id"], StorageUnavailable("x")) is None


def test_a_run_that_died_before_writing_anything_still_leaves_a_failed_session(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    sid = new_session_id()
    mark_session_failed(None, run_of(str(tmp_path), sid), Crashed(message="OOM"))
    out = read_manifest(storage, sid)
    assert out["status"] == "failed" and out["error"]["code"] == "worker_crashed"
    assert out["activity"] == "jumping" and out["options"]["athlete_height_m"] == 1.8
    mark_session_failed(None, run_of(str(tmp_path), None), Crashed(message="OOM"))   # no id: nothing to do
    assert [k for k in storage.list("sessions/")] == [f"sessions/{sid}/session.json"]


def test_when_the_storage_is_down_the_hook_only_logs(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MOTIONLENS_GCS_RETRY_TIMEOUT_S", "0.5")
    sid = new_session_id()
    mark_session_failed(None, run_of("gs://bucket/p", sid), Failed(data=StorageUnavailable("down")))
    assert "records it when the storage answers again" in caplog.text and sid in caplog.text
