"""The `render-session` flow: the annotated video of an analysed session, from its stored pose.

Wraps `pipeline.render.session.render_session(storage, session_id)` (imported when the flow runs:
it pulls in PyAV and OpenCV). One render at a time per session is the caller's business: the API
holds `sessions/{id}/render.lock` around the run it triggers (`api/rendering.py`).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline.session import artifact_key, is_valid_session_id
from pipeline.storage import open_storage

RENDER_FLOW = "render-session"


@task(name="render", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 15],
      retry_condition_fn=lambda task, task_run, state: _is_storage_error(state))
def render(storage_uri: str | None, session_id: str) -> str:
    from pipeline.render.session import render_session

    render_session(open_storage(storage_uri), session_id)
    return artifact_key(session_id, "analyzed.mp4")


def _is_storage_error(state: Any) -> bool:
    from pipeline.errors import StorageUnavailable

    return isinstance(state.result(raise_on_failure=False), (StorageUnavailable, ConnectionError, TimeoutError))


@flow(name=RENDER_FLOW, log_prints=True, flow_run_name="render-{session_id}")
def render_session_flow(session_id: str, storage_uri: str | None = None) -> str:
    """Render `sessions/{session_id}/analyzed.mp4` from the session's stored pose and metrics."""
    if not is_valid_session_id(session_id):
        raise ValueError(f"malformed session id {session_id!r}")
    return render(storage_uri, session_id)
