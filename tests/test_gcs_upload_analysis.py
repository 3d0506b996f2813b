"""An upload stored under its session in a GCS store is analysed from there, while client `gs://`
sources stay behind `MOTIONLENS_ALLOWED_SOURCES` (issue 13, findings 2 and 4 together)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.submissions import stored_source
from pipeline.analysis import submit_local
from pipeline.gcs_storage import GcsSettings, GcsStorage
from pipeline.session import artifact_key, new_session_id, read_manifest
from tests.conftest import clip_path
from tests.servers import GcsEmulator, running_gcs_emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    with running_gcs_emulator(tmp_path_factory.mktemp("gcs")) as emu:
        emu.create_bucket("uploads")
        yield emu


@pytest.fixture
def store(emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> GcsStorage:
    monkeypatch.delenv("MOTIONLENS_ALLOWED_SOURCES", raising=False)  # nothing allow-listed
    return GcsStorage("uploads", f"t-{secrets.token_hex(4)}",
                      settings=GcsSettings(emulator_host=emulator.url, retry_timeout_s=5.0))


def _queued_upload(store: GcsStorage, session_id: str) -> str:
    key = artifact_key(session_id, "original.mp4")
    store.upload_file(key, clip_path("jumps_synthetic_30fps.mp4"), content_type="video/mp4")
    return stored_source(store, key)


def test_the_sessions_own_upload_is_read_through_the_store(store: GcsStorage) -> None:
    session_id = new_session_id()
    source = _queued_upload(store, session_id)
    assert source.startswith("gs://")
    submit_local(store, "jumping", source, {"model": "lite", "render": False}, "alice", session_id=session_id)
    manifest = read_manifest(store, session_id)
    assert manifest["status"] == "completed", manifest.get("error")
    assert manifest["source"]["uri"] == source and manifest["metrics"]["jump_count"] == 2


def test_another_sessions_upload_is_not_a_source(store: GcsStorage) -> None:
    victim = new_session_id()
    source = _queued_upload(store, victim)
    attacker = new_session_id()
    submit_local(store, "jumping", source, {"model": "lite", "render": False}, "mallory", session_id=attacker)
    manifest = read_manifest(store, attacker)
    assert manifest["status"] == "failed" and manifest["error"]["code"] == "source_unreachable"
