"""Finding 6: a publish that fails on the local (in-process) path leaves no export rows of the session."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pipeline.analysis import run_session
from pipeline.options import AnalysisOptions
from pipeline.session import manifest_key, new_session_id
from pipeline.storage import LocalStorage
from tests.conftest import clip_path
from tests.support_api import write_exports


@pytest.mark.slow
def test_failed_publish_leaves_no_export_rows(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    sid = new_session_id()
    # A real fault, not a stub: the manifest (the publish's commit, written last) cannot be written
    # because a directory stands where it goes; every artifact and export before it was uploaded.
    storage.path(manifest_key(sid)).mkdir(parents=True)
    other = new_session_id()
    write_exports(storage, other, "jumping")  # a completed session's rows, which must stay
    options = AnalysisOptions(activity="jumping", model="lite", render=False, athlete_height_m=1.8)
    with pytest.raises(OSError):  # not even the failure can be recorded: it is raised
        run_session(storage, str(clip_path("jumps_synthetic_30fps.mp4")), options, session_id=sid)
    exports = tmp_path / "store" / "exports"
    for table in ("keypoints", "angles", "events", "metrics", "sessions"):
        assert not list(exports.glob(f"{table}/**/{sid}.parquet")), table
    rows = ds.dataset(exports / "angles", format="parquet", partitioning="hive").to_table()
    assert set(rows.column("session_id").to_pylist()) == {other}
    left = {p.name for p in storage.path(f"sessions/{sid}/x").parent.rglob("*") if p.is_file()}
    assert left <= {"original.mp4"}, left  # the source may stay (a retry needs it); no half-published artifact
