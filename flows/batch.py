"""The `analyze-batch` flow: many videos at once on a Dask cluster (prefect-dask), e.g. a backfill.

    analyze_batch(["gs://b/raw/1.mp4", ...], {"activity": "running"}, storage_uri="gs://b/ml")
    analyze_batch.with_options(task_runner=batch_runner(address="tcp://scheduler:8786"))(...)

Each video is one task, run in a Dask worker process with one thread (pose estimation keeps one
core busy, so one worker process per core). Without an address, a local cluster with one worker
per core is started for the run and closed after it. Sessions are queued before any work starts, so
the API shows them at once; each then ends completed or failed like any other session. The
served `analyze-session` deployment is the way for sessions one at a time; this is for fan-out.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from pipeline.analysis import mark_processing, run_session
from pipeline.manifest import new_manifest
from pipeline.options import AnalysisOptions
from pipeline.session import new_session_id, read_manifest, write_manifest
from pipeline.storage import open_storage

BATCH_FLOW = "analyze-batch"


def batch_runner(address: str | None = None, workers: int | None = None) -> DaskTaskRunner:
    """A Dask scheduler at `address`, or a local cluster of `workers` single-threaded processes."""
    if address:
        return DaskTaskRunner(address=address)
    n = workers or int(os.environ.get("MOTIONLENS_BATCH_WORKERS") or os.cpu_count() or 1)
    return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    from pipeline.errors import DownloadFailed, StorageUnavailable

    return isinstance(state.result(raise_on_failure=False), (StorageUnavailable, DownloadFailed, ConnectionError))


@task(name="analyze-one", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient)
def analyze_one(storage_uri: str | None, source: str, options: dict[str, Any], session_id: str) -> dict[str, Any]:
    storage = open_storage(storage_uri)
    opts = AnalysisOptions.from_dict(options)
    mark_processing(storage, read_manifest(storage, session_id) or new_manifest(session_id, opts, source))
    manifest = run_session(storage, source, opts, session_id=session_id)
    return {"session_id": session_id, "source": source, "status": manifest["status"], "error": manifest.get("error")}


@flow(name=BATCH_FLOW, log_prints=True, task_runner=batch_runner())
def analyze_batch(sources: list[str], options: dict[str, Any], storage_uri: str | None = None) -> list[dict[str, Any]]:
    """Analyse every source with the same options; returns one {session_id, status, error} per source."""
    storage = open_storage(storage_uri)
    opts = AnalysisOptions.from_dict(options)
    ids = [new_session_id() for _ in sources]
    for session_id, source in zip(ids, sources):
        write_manifest(storage, new_manifest(session_id, opts, source))
    futures = analyze_one.map(unmapped(storage.uri), sources, unmapped(opts.to_dict()), ids)
    results = [f.result() for f in futures]
    print(f"analyze-batch: {sum(r['status'] == 'completed' for r in results)}/{len(results)} completed")
    return results
