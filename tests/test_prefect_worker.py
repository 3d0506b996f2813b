"""End to end on real servers: GCS emulator, `prefect server`, and `motionlens worker` serving the
deployments; videos dropped into the bucket's inbox become complete sessions.

The worker reaches the emulator through `GcsProxy`, which enforces `ifGenerationMatch` as Google
Cloud Storage does (the emulator ignores it) and lets a test stop the emulator at an exact point.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.gcs_storage import GcsSettings, GcsStorage
from pipeline.session import export_key
from tests.conftest import clip_path
from tests.servers import (GcsEmulator, GcsProxy, PrefectServer, ServerProcess, cmdline, descendants, free_port,
                           prefect_env, running_gcs_emulator, running_gcs_proxy, start_worker)

pytestmark = pytest.mark.slow

BUCKET = "motionlens-e2e"
DEPLOYMENTS = ("analyze-session/analyze-session", "render-session/render-session", "inbox/inbox")
TABLES = ("keypoints", "angles", "events", "metrics", "sessions")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def emulator(tmp: Path) -> Iterator[GcsEmulator]:
    with running_gcs_emulator(tmp, data_dir=tmp / "gcs-data") as emu:   # on disk: it survives a restart
        emu.create_bucket(BUCKET)
        yield emu


@pytest.fixture(scope="module")
def proxy(emulator: GcsEmulator) -> Iterator[GcsProxy]:
    with running_gcs_proxy(emulator) as p:
        yield p


@pytest.fixture(scope="module")
def server(tmp: Path) -> Iterator[PrefectServer]:
    srv = PrefectServer(tmp).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def prefect_api(server: PrefectServer) -> Iterator[str]:
    """This process talks to the test server (tasks of other test modules may have set another API)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    old = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url
    if old is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = old


@pytest.fixture(scope="module")
def worker(tmp: Path, server: PrefectServer, proxy: GcsProxy, prefect_api: str) -> Iterator[ServerProcess]:
    env = {"STORAGE_EMULATOR_HOST": proxy.url, "MOTIONLENS_GCS_RETRY_TIMEOUT_S": "1",
           "MOTIONLENS_INBOX_INTERVAL_S": "3600", "MOTIONLENS_WORKER_LIMIT": "4",
           "MOTIONLENS_ALLOWED_SOURCES": f"gs://{BUCKET}"}  # gs:// sources are fetched only there
    w = start_worker(tmp, server.api_url, f"gs://{BUCKET}/default", env, DEPLOYMENTS, server)
    yield w
    w.stop(timeout_s=20)
    print(w.log_tail(80))


def storage_for(emulator: GcsEmulator, prefix: str) -> GcsStorage:
    return GcsStorage(BUCKET, prefix, settings=GcsSettings(emulator_host=emulator.url, retry_timeout_s=5))


def run_inbox(storage: GcsStorage, timeout_s: float = 180, **params: Any) -> Any:
    from prefect.deployments import run_deployment

    run = run_deployment("inbox/inbox", parameters={"storage_uri": storage.uri, **params}, timeout=timeout_s,
                         poll_interval=1)
    assert run.state.is_completed(), run.state
    return run


def manifests(storage: GcsStorage) -> dict[str, dict[str, Any]]:
    return {k.split("/")[1]: json.loads(storage.read_bytes(k)) for k in storage.list("sessions/")
            if k.endswith("/session.json")}


def wait_for_sessions(storage: GcsStorage, count: int, timeout_s: float = 240) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = manifests(storage)
        if len(found) >= count and all(m["status"] in ("completed", "failed") for m in found.values()):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"sessions not finished after {timeout_s} s: "
                               f"{ {k: m['status'] for k, m in found.items()} }")
        time.sleep(1)


def analysis_runs(tag: str) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["analyze-session"])),
                                     flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])))


def stored_keys(value: Any) -> set[str]:
    """Every storage key a manifest's `artifacts` names (images, lift analysis, exports...)."""
    if isinstance(value, dict):
        return set().union(*map(stored_keys, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(stored_keys, value)) if value else set()
    return {value} if isinstance(value, str) and value.startswith(("sessions/", "exports/")) else set()


def assert_complete_session(storage: GcsStorage, m: dict[str, Any]) -> set[str]:
    """Every artifact of DESIGN §5 is in the bucket; returns the session's keys."""
    assert m["status"] == "completed", m.get("error")
    sid, activity, date = m["session_id"], m["activity"], m["created_at"][:10]
    arts = m["artifacts"]
    assert arts["original"] == f"sessions/{sid}/original.mp4"
    assert arts["analyzed_video"] == f"sessions/{sid}/analyzed.mp4"
    assert arts["exports"] == {t: export_key(t, activity, date, sid) for t in TABLES}
    expected = {f"sessions/{sid}/session.json", *stored_keys(arts)}
    assert {arts["original"], arts["analyzed_video"], arts["pose"], *arts["exports"].values()} <= expected
    if activity == "weightlifting" and arts.get("lift_analysis"):
        assert arts["lift_analysis"]["images"], "weightlifting sessions have key-position images"
    keys = set(storage.list(f"sessions/{sid}/")) | {k for k in storage.list("exports/") if sid in k}
    assert keys == expected
    info = storage.stat(arts["analyzed_video"])
    assert info["content_type"] == "video/mp4" and info["size"] > 10_000
    assert storage.stat(f"sessions/{sid}/session.json")["cache_control"] == "no-cache"
    assert storage.read_bytes(arts["original"])[4:8] == b"ftyp"
    return keys


# --- the inbox -----------------------------------------------------------------------------------

def test_inbox_videos_become_complete_sessions_once_even_with_two_runs_at_once(
        emulator: GcsEmulator, proxy: GcsProxy, worker: ServerProcess) -> None:
    from prefect.deployments import run_deployment

    storage = storage_for(emulator, "inbox-e2e")
    storage.write_bytes("inbox/jumping/jumps.json", json.dumps({"athlete_height_m": 1.75}).encode())
    storage.upload_file("inbox/jumping/jumps.mp4", clip_path("jumps_synthetic_30fps.mp4"))
    storage.upload_file("inbox/weightlifting/clean/lift.mp4", clip_path("power_clean_side.mp4"))
    claims = {storage.object_name(f"inbox-claims/{hashlib.sha256(k.encode()).hexdigest()}.json")
              for k in ("inbox/jumping/jumps.mp4", "inbox/weightlifting/clean/lift.mp4")}
    # Make the two runs really meet: the first claim request for each video waits for the second.
    arrived: dict[str, threading.Event] = {}
    lock = threading.Lock()

    def rendezvous(req: Any) -> None:
        if req.method == "POST" and req.object_name in claims:
            with lock:
                first = req.object_name not in arrived
                event = arrived.setdefault(req.object_name, threading.Event())
            if first:
                event.wait(60)
            else:
                event.set()

    proxy.on_request = rendezvous
    start = len(proxy.log)
    try:
        runs = [run_deployment("inbox/inbox", parameters={"storage_uri": storage.uri}, timeout=0) for _ in range(2)]
        found = wait_for_sessions(storage, 2)
    finally:
        proxy.on_request = None
    claim_statuses = sorted(s for r, s in proxy.log[start:] if r.method == "POST" and r.object_name in claims)
    assert claim_statuses == [200, 200, 412, 412]          # both runs tried both videos; one won each
    assert len(found) == 2
    by_activity = {m["activity"]: m for m in found.values()}
    for m in found.values():
        assert_complete_session(storage, m)
        assert m["owner"] == "local" and m["source"]["uri"].startswith(f"{storage.uri}/inbox/")
    assert by_activity["weightlifting"]["options"]["exercise"] == "clean"
    assert by_activity["weightlifting"]["metrics"]["exercise"] == "clean"
    assert by_activity["jumping"]["options"]["athlete_height_m"] == 1.75
    assert by_activity["jumping"]["metrics"]["jump_count"] >= 1
    assert len(analysis_runs("inbox")) >= 2
    for sid in found:
        assert len(analysis_runs(f"session:{sid}")) == 1
    for run in runs:
        assert _final(run.id).is_completed()
    # the next run tidies: the videos and their claims leave the inbox, the sessions stay
    run_inbox(storage)
    assert list(storage.list("inbox")) == []
    assert set(manifests(storage)) == set(found)


def _final(flow_run_id: Any, timeout_s: float = 120) -> Any:
    from flows.triggers import wait_for_run

    return wait_for_run(str(flow_run_id), timeout_s)


def test_schedule_and_deployments_are_served(server: PrefectServer, worker: ServerProcess) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        inbox = client.read_deployment_by_name("inbox/inbox")
        analysis = client.read_deployment_by_name("analyze-session/analyze-session")
    assert [s.schedule.interval.total_seconds() for s in inbox.schedules] == [3600]
    assert inbox.parameters == {"storage_uri": f"gs://{BUCKET}/default", "owner": "local"}
    assert analysis.parameters == {"storage_uri": f"gs://{BUCKET}/default"}
    assert set(DEPLOYMENTS) <= server.deployment_names()


# --- the storage goes away in the middle of publishing ----------------------------------------------

def test_storage_outage_while_publishing_fails_cleanly_and_a_rerun_completes(
        emulator: GcsEmulator, proxy: GcsProxy, worker: ServerProcess) -> None:
    storage = storage_for(emulator, "outage")
    storage.upload_file("inbox/weightlifting/clean/lift.mp4", clip_path("power_clean_side.mp4"))
    published: list[str] = []
    stopped = threading.Event()

    def stop_emulator_mid_publish(req: Any) -> None:
        name = req.object_name or ""
        artifact = name.startswith("outage/sessions/") and not name.endswith("session.json")
        if req.method == "POST" and (artifact or name.startswith("outage/exports/")) and not stopped.is_set():
            published.append(name)
            if len(published) == 2:        # one artifact is in, the second never arrives
                emulator.stop()
                stopped.set()

    proxy.on_request = stop_emulator_mid_publish
    try:
        run_inbox(storage)
        assert stopped.wait(180), "the analysis never reached publishing"
        [run] = [r for r in analysis_runs("inbox") if r.parameters["storage_uri"] == storage.uri]
        state = _final(run.id, timeout_s=180)         # publish retried (Prefect and GCS retries), then gave up
    finally:
        proxy.on_request = None
        emulator.start()
    sid = run.parameters["session_id"]
    assert state.is_failed() and "StorageUnavailable" in state.message
    m = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))
    # nothing could be written while the storage was down; the run's failure hook may still have
    # recorded the failure once the emulator came back (it retries), which is the same end state
    assert m["status"] in ("processing", "failed"), m["status"]
    if m["status"] == "failed":
        assert m["error"]["code"] == "storage_unavailable" and m["artifacts"] == {}
    # Storage back: the next inbox run records the failure from the run's state (no retry allowed here).
    run_inbox(storage, max_attempts=1)
    m = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))
    assert m["status"] == "failed" and m["error"]["code"] == "storage_unavailable", m["error"]
    assert m["artifacts"] == {}
    leftovers = set(storage.list(f"sessions/{sid}/")) | {k for k in storage.list("exports/") if sid in k}
    assert leftovers <= {f"sessions/{sid}/session.json", f"sessions/{sid}/original.mp4"}  # no half-published export
    assert not any(mm["status"] == "completed" for mm in manifests(storage).values())
    # With retries allowed, the same session is run again and completes, without duplicates.
    run_inbox(storage)
    [retry_run] = [r for r in analysis_runs(f"session:{sid}") if r.id != run.id]
    assert _final(retry_run.id, timeout_s=180).is_completed()
    found = manifests(storage)
    assert list(found) == [sid]
    keys = assert_complete_session(storage, found[sid])
    assert found[sid]["created_at"] == m["created_at"]
    assert len([k for k in keys if k.startswith("exports/")]) == len(TABLES)


# --- the process running a session dies --------------------------------------------------------------

def test_a_crashed_run_leaves_the_session_failed_not_processing(emulator: GcsEmulator, worker: ServerProcess) -> None:
    from flows.triggers import submit_analysis
    from pipeline.manifest import new_manifest
    from pipeline.options import AnalysisOptions
    from pipeline.session import new_session_id, write_manifest

    storage = storage_for(emulator, "crash")
    storage.upload_file("uploads/lift.mp4", clip_path("power_clean_side.mp4"))
    options = AnalysisOptions("weightlifting", exercise="clean")
    sid = new_session_id()
    write_manifest(storage, new_manifest(sid, options, f"{storage.uri}/uploads/lift.mp4"))
    run_id = submit_analysis(storage.uri, sid, f"{storage.uri}/uploads/lift.mp4", options.to_dict(), tags=["test"])
    status = wait_for_status(storage, sid, {"processing"}, timeout_s=120)
    time.sleep(0.5)                          # the run has started; publishing is seconds of pose and render away
    runs = [p for p in descendants(worker.pid) if "prefect.engine" in cmdline(p) or "spawn_main" in cmdline(p)]
    assert runs, f"no flow-run process under the worker: {[cmdline(p)[:100] for p in descendants(worker.pid)]}"
    for pid in runs:
        os.kill(pid, signal.SIGKILL)
    assert _final(run_id).is_crashed()
    status = wait_for_status(storage, sid, {"failed", "completed"}, timeout_s=60)
    m = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))
    assert status == "failed" and m["error"]["code"] == "worker_crashed", m["error"]
    assert "stopped unexpectedly" in m["error"]["message"]
    # An operator runs it again: same id, same keys; the copy kept as original.* is the source now.
    from flows.triggers import rerun_session

    assert not storage.exists(f"sessions/{sid}/original.mp4")             # it died before publishing
    rerun_id = rerun_session(storage, sid)
    assert _final(rerun_id, timeout_s=240).is_completed()
    m = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))
    assert_complete_session(storage, m)
    assert m["source"]["uri"] == f"{storage.uri}/uploads/lift.mp4"


def wait_for_status(storage: GcsStorage, sid: str, wanted: set[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = json.loads(storage.read_bytes(f"sessions/{sid}/session.json"))["status"]
        except FileNotFoundError:
            status = None
        if status in wanted:
            return status
        assert time.monotonic() < deadline, f"session {sid} still {status} after {timeout_s} s"
        time.sleep(0.5)


# --- the API hands its work to the worker -------------------------------------------------------------

API_LAUNCHER = """
import sys, uvicorn
from api.app import create_app
from api.settings import ApiSettings
from flows.triggers import api_hooks
from pipeline.storage import open_storage
hooks = api_hooks()
assert set(hooks) == {"submitter", "renderer"}, hooks
app = create_app(open_storage(sys.argv[1]), ApiSettings(signing_secret="s" * 32), **hooks)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@pytest.fixture(scope="module")
def api(tmp: Path, emulator: GcsEmulator, server: PrefectServer, worker: ServerProcess) -> Iterator[tuple[str, str]]:
    """The API in its own process with PREFECT_API_URL set, as `motionlens serve` would run it."""
    from api.keys import create_key

    storage = storage_for(emulator, "api")
    token, _ = create_key(storage, "coach", ["sessions:read", "sessions:write", "videos:generate", "exports:read"])
    port = free_port()
    env = {**prefect_env(tmp / "api-home", server.api_url), "STORAGE_EMULATOR_HOST": emulator.url}
    proc = ServerProcess("api", [sys.executable, "-c", API_LAUNCHER, storage.uri, str(port)], tmp / "api.log", env,
                         cwd=Path(__file__).resolve().parents[1]).start()
    base = f"http://127.0.0.1:{port}"
    proc.wait_until(lambda: httpx.get(base + "/health").status_code == 200, 60, "listening")
    yield base, token
    proc.stop()


def test_api_submission_and_render_run_on_the_worker(emulator: GcsEmulator, api: tuple[str, str]) -> None:
    base, token = api
    headers = {"Authorization": f"API-KEY {token}"}
    storage = storage_for(emulator, "api")
    with clip_path("power_clean_side.mp4").open("rb") as f:
        r = httpx.post(f"{base}/weightlifting/sessions/", headers=headers, files={"video": ("lift.mp4", f, "video/mp4")},
                       data={"exercise": "clean"}, timeout=60)
    assert r.status_code == 202, r.text
    sid = r.json()["session_id"]
    m = wait_for_sessions(storage, 1)[sid]
    assert_complete_session(storage, m)
    assert m["owner"] == "coach"
    [run] = analysis_runs(f"session:{sid}")
    assert "api" in run.tags
    # The analyzed video goes missing: the API has the worker render it again.
    pytest.importorskip("pipeline.render.session")
    storage.delete(f"sessions/{sid}/analyzed.mp4")
    deadline = time.monotonic() + 180
    while True:
        r = httpx.get(f"{base}/sessions/{sid}/analyzed-video/", headers=headers, timeout=30)
        if r.status_code == 200:
            break
        assert r.status_code == 202, r.text
        assert time.monotonic() < deadline, "the render never finished"
        time.sleep(1)
    assert storage.exists(f"sessions/{sid}/analyzed.mp4")
