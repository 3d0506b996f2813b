"""What the API gets from `flows/triggers.py` (the runs themselves: tests/test_prefect_worker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.triggers import OrchestratorUnavailable, PrefectRenderer, api_hooks, prefect_submitter, stage_source, submit_analysis
from pipeline.storage import LocalStorage
from tests.servers import free_port


def test_api_hooks_only_with_a_prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert api_hooks() == {}
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    hooks = api_hooks()
    assert hooks["submitter"] is prefect_submitter and isinstance(hooks["renderer"], PrefectRenderer)


def test_uploads_are_staged_into_the_storage_before_the_temporary_folder_goes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    upload = tmp_path / "upload" / "video.MOV"
    upload.parent.mkdir()
    upload.write_bytes(b"movie")
    source = stage_source(storage, "s" * 22, str(upload))
    assert source == f"{storage.uri}/sessions/{'s' * 22}/original.mov"
    assert storage.read_bytes(f"sessions/{'s' * 22}/original.mov") == b"movie"
    for remote in ("https://example.com/a.mp4", "gs://b/inbox/a.mp4"):
        assert stage_source(storage, "s" * 22, remote) == remote


def test_an_unreachable_prefect_api_is_orchestrator_unavailable() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        with pytest.raises(OrchestratorUnavailable) as info:
            submit_analysis("file:///tmp/x", "s" * 22, "gs://b/a.mp4", {"activity": "jumping"})
    assert info.value.code == "orchestrator_unavailable"
    assert "motionlens worker" in info.value.message
