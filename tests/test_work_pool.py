"""Scale-out on Prefect's own machinery, for real: the deployments registered on a `process` work
pool with `deploy_to_pool`, two `prefect worker start` processes against a `prefect server` on
loopback, a batch of clips submitted at once — every clip published exactly once, by one worker."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import clip_path
from tests.servers import PrefectServer
from tests.work_pool import create_pool, pool_workers_running, register, submit_batch, wait_for_runs

pytestmark = pytest.mark.slow

POOL = "motionlens-test-pool"
CLIPS = ("jumps_synthetic_30fps.mp4", "cmj_synthetic_60fps.mp4", "jumps_synthetic_30fps.mp4", "cmj_synthetic_60fps.mp4")
TABLES = ("keypoints", "angles", "events", "metrics", "sessions")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pool")


@pytest.fixture(scope="module")
def server(tmp: Path) -> Iterator[PrefectServer]:
    srv = PrefectServer(tmp).start()
    yield srv
    srv.stop()


def test_a_batch_on_two_pool_workers_publishes_every_clip_once(tmp: Path, server: PrefectServer) -> None:
    store = tmp / "store"
    uri = store.as_uri()
    create_pool(tmp, server, POOL)
    assert len(register(tmp, server, uri, POOL)) == 3                     # analysis, render, inbox
    deployments = server.deployment_names()
    assert {"analyze-session/analyze-session", "render-session/render-session", "inbox/inbox"} <= deployments
    sources = []
    for i, name in enumerate(CLIPS):                                     # distinct files: one upload each
        dst = tmp / "uploads" / f"{i}-{name}"
        dst.parent.mkdir(exist_ok=True)
        sources.append(str(shutil.copyfile(clip_path(name), dst)))
    with pool_workers_running(tmp, server, POOL, 2) as workers:
        runs = submit_batch(server.api_url, uri, sources, {"activity": "jumping"}, tag="batch")
        finished = wait_for_runs(server.api_url, list(runs.values()), timeout_s=600)
        logs = [w.log_path.read_text() for w in workers]
    # every run completed, on the pool, picked by exactly one of the two workers (each took some)
    for run in finished.values():
        assert run.state.is_completed(), run.state
        assert run.work_pool_name == POOL
    picked = [[r for r in runs.values() if f"submitting flow run '{r}'" in log] for log in logs]
    assert sorted(sum(picked, [])) == sorted(runs.values()), picked
    assert all(picked), f"one worker took every run: {picked}"
    # every clip published exactly once: one completed manifest and one row file per table per session
    manifests = {p.parent.name: json.loads(p.read_text()) for p in (store / "sessions").glob("*/session.json")}
    assert set(manifests) == set(runs)
    for sid, m in manifests.items():
        assert m["status"] == "completed", m.get("error")
        assert Path(m["source"]["uri"]).name in {Path(s).name for s in sources}
        for table in TABLES:
            assert len([p for p in (store / "exports" / table).rglob("*.parquet") if sid in p.name]) == 1, (sid, table)
    assert sorted(Path(m["source"]["uri"]).name for m in manifests.values()) == sorted(Path(s).name for s in sources)
