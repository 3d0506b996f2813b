"""A real `process` work pool on a real `prefect server`: the deployments registered with
`flows.deployments.deploy_to_pool`, `prefect worker start` processes, a batch of clips submitted.
Shared by `tests/test_work_pool.py` and `bench/work_pool.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import BIN, PrefectServer, ServerProcess, prefect_env

ROOT = Path(__file__).resolve().parents[1]


def _env(home: Path, api_url: str, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**prefect_env(home, api_url), "PYTHONPATH": str(ROOT), **extra}


def create_pool(tmp: Path, server: PrefectServer, pool: str) -> None:
    subprocess.run([str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process"], check=True,
                   env={**os.environ, **_env(tmp / "cli-home", server.api_url)}, capture_output=True, timeout=120)


def register(tmp: Path, server: PrefectServer, storage_uri: str, pool: str) -> list[str]:
    """`deploy_to_pool` as an operator runs it, in its own process; the deployment ids."""
    code = ("import json, sys; from flows.deployments import deploy_to_pool; "
            "print(json.dumps(deploy_to_pool(sys.argv[1], sys.argv[2])))")
    out = subprocess.run([sys.executable, "-c", code, storage_uri, pool], check=True, capture_output=True, text=True,
                         env={**os.environ, **_env(tmp / "cli-home", server.api_url, MOTIONLENS_INBOX_INTERVAL_S="0")},
                         cwd=ROOT, timeout=180)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pool_workers(server: PrefectServer, pool: str) -> list[dict[str, Any]]:
    r = httpx.post(f"{server.api_url}/work_pools/{pool}/workers/filter", json={}, timeout=10)
    r.raise_for_status()
    return [w for w in r.json() if w.get("status") == "ONLINE"]


def start_pool_worker(tmp: Path, server: PrefectServer, pool: str, name: str, *, limit: int = 1,
                      env: dict[str, str] | None = None) -> ServerProcess:
    """`prefect worker start --pool POOL` in a directory of its own (flows load by module path),
    polling every second; ready when the server lists it online."""
    home = tmp / f"{name}-home"
    full_env = _env(home, server.api_url, PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_HEARTBEAT_SECONDS="5",
                    PREFECT_LOGGING_LEVEL="INFO", **(env or {}))        # INFO: "submitting flow run '<id>'"
    argv = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name, "--limit", str(limit),
            "--type", "process"]
    worker = ServerProcess(name, argv, tmp / f"{name}.log", full_env, cwd=home).start()
    worker.wait_until(lambda: name in {w["name"] for w in pool_workers(server, pool)}, 120, "online")
    return worker


@contextmanager
def pool_workers_running(tmp: Path, server: PrefectServer, pool: str, n: int,
                         env: dict[str, str] | None = None) -> Iterator[list[ServerProcess]]:
    workers: list[ServerProcess] = []
    try:
        for i in range(n):
            workers.append(start_pool_worker(tmp, server, pool, f"{pool}-worker-{i + 1}", env=env))
        yield workers
    finally:
        for w in workers:
            w.stop(timeout_s=20)


def submit_batch(api_url: str, storage_uri: str, sources: list[str], options: dict[str, Any],
                 tag: str) -> dict[str, str]:
    """One `analyze-session` run per source (as the API and the inbox start them): session id -> run id."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.triggers import submit_analysis
    from pipeline.session import new_session_id

    out = {}
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        for source in sources:
            sid = new_session_id()
            out[sid] = submit_analysis(storage_uri, sid, source, options, tags=[tag])
    return out


def wait_for_runs(api_url: str, run_ids: list[str], timeout_s: float) -> dict[str, Any]:
    """run id -> the run (final state, worker's process), once every run has ended."""
    import uuid

    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout_s
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        while True:
            runs = {r: client.read_flow_run(uuid.UUID(r)) for r in run_ids}
            if all(run.state is not None and run.state.is_final() for run in runs.values()):
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout_s:.0f} s: "
                                   f"{ {r: run.state_name for r, run in runs.items()} }")
            time.sleep(1)
