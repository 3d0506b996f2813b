"""Starting runs on a Prefect server from other processes: the API, the inbox flow, operators.

With `PREFECT_API_URL` set, the API hands analyses and renders to the served deployments
(`motionlens worker`) instead of running them in its own process:

    from flows.triggers import api_hooks
    app = create_app(storage, settings, **api_hooks())   # {} when PREFECT_API_URL is unset

- `prefect_submitter` matches `api.submissions.Submitter`: it returns as soon as the run is
  created (`run_deployment(..., timeout=0)`); the run owns the session from then on and ends it
  completed or failed (the flow's hooks, and the inbox schedule's reconciliation).
- `PrefectRenderer` matches `api.rendering.Renderer`, which must block until `analyzed.mp4`
  exists: it triggers `render-session` and waits for the run to finish. `trigger_render` is the
  fire-and-forget form.

Every run is tagged `session:{id}`, so the runs of a session can be found in the Prefect UI
and by `latest_run_of_session`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.gcs_storage import content_type_for
from pipeline.session import artifact_key, read_manifest, utc_now_iso, write_manifest
from pipeline.storage import Storage

ANALYSIS_DEPLOYMENT = "analyze-session/analyze-session"
RENDER_DEPLOYMENT = "render-session/render-session"
INBOX_DEPLOYMENT = "inbox/inbox"
_REMOTE = ("http://", "https://", "gs://")


class OrchestratorUnavailable(PipelineError):
    code = "orchestrator_unavailable"


def session_tag(session_id: str) -> str:
    return f"session:{session_id}"


def prefect_configured() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


def _run_deployment(name: str, parameters: dict[str, Any], *, tags: Iterable[str], idempotency_key: str | None,
                    timeout: float | None = 0) -> Any:
    from prefect.deployments import run_deployment

    try:
        return run_deployment(name, parameters=parameters, timeout=timeout, tags=list(tags),
                              idempotency_key=idempotency_key)
    except Exception as exc:  # unreachable server, deployment not served, ...: all the same to the caller
        where = os.environ.get("PREFECT_API_URL") or "the Prefect API"
        raise OrchestratorUnavailable(f"could not start {name} on {where}: {type(exc).__name__}: {exc}; "
                                      "is `motionlens worker` running?") from exc


def submit_analysis(storage_uri: str, session_id: str, source: str, options: dict[str, Any], *,
                    tags: Iterable[str] = (), idempotency_key: str | None = None) -> str:
    """Create a run of `analyze-session` and return its id at once."""
    run = _run_deployment(ANALYSIS_DEPLOYMENT, {"source": source, "options": options, "storage_uri": storage_uri,
                                                "session_id": session_id},
                          tags=[session_tag(session_id), *tags], idempotency_key=idempotency_key or session_id)
    return str(run.id)


def trigger_render(storage_uri: str, session_id: str, *, idempotency_key: str | None = None) -> str:
    """Create a run of `render-session` and return its id at once."""
    run = _run_deployment(RENDER_DEPLOYMENT, {"session_id": session_id, "storage_uri": storage_uri},
                          tags=[session_tag(session_id), "render"], idempotency_key=idempotency_key)
    return str(run.id)


def wait_for_run(flow_run_id: str, timeout_s: float, poll_s: float = 1.0) -> Any:
    """The final state of a flow run; TimeoutError if it is still going after `timeout_s`."""
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            state = client.read_flow_run(uuid.UUID(flow_run_id)).state
            if state is not None and state.is_final():
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"flow run {flow_run_id} still {state.name if state else 'pending'} "
                                   f"after {timeout_s:.0f} s")
            time.sleep(poll_s)


def stage_source(storage: Storage, session_id: str, source: str) -> str:
    """A source the worker can read: local files (API uploads in a temporary folder that is
    removed when the submitter returns) are first copied to `sessions/{id}/original.{ext}`."""
    if source.startswith(_REMOTE):
        return source
    path = Path(source)
    key = artifact_key(session_id, "original" + (path.suffix.lower() or ".mp4"))
    storage.upload_file(key, path, content_type=content_type_for(key))
    return f"{storage.uri}/{key}"


def prefect_submitter(storage: Storage, activity: str, source: str, options: dict[str, Any], owner: str, *,
                      session_id: str) -> str:
    """`api.submissions.Submitter` that runs the analysis on the served `analyze-session` deployment."""
    source = stage_source(storage, session_id, source)
    submit_analysis(storage.uri, session_id, source, {**options, "activity": activity, "owner": owner}, tags=["api"])
    return session_id


class PrefectRenderer:
    """`api.rendering.Renderer`: trigger `render-session` and block until it has finished."""

    def __init__(self, timeout_s: float = 30 * 60, poll_s: float = 1.0) -> None:
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    def __call__(self, storage: Storage, session_id: str) -> str:
        from flows.hooks import error_from_state

        run_id = trigger_render(storage.uri, session_id)
        state = wait_for_run(run_id, self.timeout_s, self.poll_s)
        if not state.is_completed():
            raise error_from_state(state)
        return run_id


def api_hooks() -> dict[str, Any]:
    """`create_app(..., **api_hooks())`: Prefect-backed submitter and renderer when PREFECT_API_URL is set."""
    if not prefect_configured():
        return {}
    return {"submitter": prefect_submitter, "renderer": PrefectRenderer()}


def rerun_session(storage: Storage, session_id: str, *, tags: Iterable[str] = ()) -> str:
    """Run a session again under the same id (same keys: no duplicate objects); returns the run id."""
    manifest = read_manifest(storage, session_id)
    if manifest is None:
        raise FileNotFoundError(f"no session {session_id} in {storage.uri}")
    originals = list(storage.list(artifact_key(session_id, "original.")))   # kept even by failed sessions
    source = f"{storage.uri}/{originals[0]}" if originals else (manifest.get("source") or {}).get("uri")
    if not source:
        raise FileNotFoundError(f"session {session_id} has no source video left to analyse")
    requeued = {**manifest, "status": "queued", "error": None, "updated_at": utc_now_iso()}
    write_manifest(storage, requeued)
    return submit_analysis(storage.uri, session_id, source, manifest["options"], tags=["rerun", *tags],
                           idempotency_key=f"{session_id}:rerun:{uuid.uuid4().hex}")


# --- reading runs back ----------------------------------------------------------------------------------

def ended_badly_since(since: datetime, page: int = 200) -> list[Any]:
    """Runs of `analyze-session` that failed, crashed or were cancelled, expected to start after `since`."""
    from prefect import get_client
    from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter,
                                                FlowRunFilterExpectedStartTime, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    bad = [StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:  # the API answers at most 200 runs per request
            batch = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[ANALYSIS_DEPLOYMENT.split("/")[0]])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=bad)),
                                              expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=page, offset=len(runs))
            runs += batch
            if len(batch) < page:
                return runs


def latest_run_of_session(session_id: str) -> Any | None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[session_tag(session_id)])),
                                     sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=5)
    runs = [r for r in runs if "render" not in (r.tags or [])]
    return runs[0] if runs else None


def lookback(hours: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours)
