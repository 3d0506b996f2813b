"""`analyze-batch` on a local Dask cluster of worker processes (prefect-dask), real clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.session import read_manifest
from pipeline.storage import LocalStorage
from tests.conftest import clip_path

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_batch_on_a_dask_cluster(tmp_path: Path) -> None:
    from flows.batch import analyze_batch, batch_runner

    storage = LocalStorage(tmp_path / "store")
    sources = [str(clip_path("power_clean_side.mp4")), str(tmp_path / "missing.mp4")]
    flow = analyze_batch.with_options(task_runner=batch_runner(workers=2))
    results = flow(sources, {"activity": "weightlifting", "exercise": "clean", "render": False}, str(storage.root))
    assert [r["status"] for r in results] == ["completed", "failed"]
    assert results[1]["error"]["code"] == "video_not_found"
    for r in results:
        m = read_manifest(storage, r["session_id"])
        assert m["status"] == r["status"] and m["source"]["uri"] == r["source"]
    done = read_manifest(storage, results[0]["session_id"])
    assert all(storage.exists(k) for k in done["artifacts"]["exports"].values())
