"""What `motionlens worker` serves: the analysis, render and scheduled inbox deployments.

    analyze-session/analyze-session   run by the API (POST /{activity}/sessions/) and the inbox
    render-session/render-session     run by the API when an analyzed video is asked for
    inbox/inbox                       every MOTIONLENS_INBOX_INTERVAL_S seconds (default 60; 0 = no schedule)

`prefect.serve` polls the Prefect API (PREFECT_API_URL: a `prefect server` or Prefect Cloud) and
runs each flow run in its own process, at most MOTIONLENS_WORKER_LIMIT at once (default: one per
CPU core — pose estimation keeps one core busy). Start more workers on more machines to scale out
(each run is picked by exactly one of them; set MOTIONLENS_PAUSE_ON_SHUTDOWN=0 so that stopping
one does not pause the shared schedule); they share the storage. See docs/operations.md.
"""

from __future__ import annotations

import os
from typing import Any

from prefect.types.entrypoint import EntrypointType

from flows.analysis_run import analyze_session_run
from flows.inbox import inbox
from flows.render import render_session_flow
from flows.triggers import ANALYSIS_DEPLOYMENT, INBOX_DEPLOYMENT, RENDER_DEPLOYMENT
from pipeline.storage import open_storage

DEFAULT_INBOX_INTERVAL_S = 60.0


def inbox_interval_s() -> float | None:
    value = float(os.environ.get("MOTIONLENS_INBOX_INTERVAL_S", DEFAULT_INBOX_INTERVAL_S))
    return value if value > 0 else None


def worker_limit() -> int:
    return int(os.environ.get("MOTIONLENS_WORKER_LIMIT") or os.cpu_count() or 1)


def build_deployments(storage_uri: str | None = None, *, interval_s: float | None = None,
                      owner: str | None = None) -> list[Any]:
    """The three deployments, bound to one storage (an absolute URI: flow runs may start elsewhere)."""
    uri = open_storage(storage_uri).uri
    # Flow runs start in new processes that import the flow by module path: any working directory works.
    common: dict[str, Any] = {"tags": ["motionlens"], "entrypoint_type": EntrypointType.MODULE_PATH}
    owner = owner or os.environ.get("MOTIONLENS_INBOX_OWNER", "local")
    return [
        analyze_session_run.to_deployment(
            name=ANALYSIS_DEPLOYMENT.split("/")[1], parameters={"storage_uri": uri}, **common,
            concurrency_limit=int(os.environ.get("MOTIONLENS_ANALYSIS_CONCURRENCY") or 0) or None,
            description="Analyse one video into a session (pose, metrics, annotated video, Parquet)."),
        render_session_flow.to_deployment(
            name=RENDER_DEPLOYMENT.split("/")[1], parameters={"storage_uri": uri}, **common,
            description="Render a session's annotated video from its stored pose."),
        inbox.to_deployment(
            name=INBOX_DEPLOYMENT.split("/")[1], interval=interval_s, **common,
            parameters={"storage_uri": uri, "owner": owner},
            description=f"Turn new videos under {uri}/inbox/{{activity}}/ into sessions."),
    ]


def deploy_to_pool(storage_uri: str | None, work_pool: str) -> list[str]:
    """Register the deployments with a work pool instead of serving them here (docs/operations.md):
    `prefect worker start --pool POOL` then runs them, on any machine with this package installed."""
    from prefect import deploy

    ids = deploy(*build_deployments(storage_uri, interval_s=inbox_interval_s()), work_pool_name=work_pool,
                 build=False, push=False, print_next_steps_message=False, ignore_warnings=True)
    return [str(i) for i in ids]


def pause_on_shutdown() -> bool:
    """Stopping the worker pauses the inbox schedule (so runs do not pile up while no one serves them);
    with several workers serving the same deployments, set MOTIONLENS_PAUSE_ON_SHUTDOWN=0."""
    return os.environ.get("MOTIONLENS_PAUSE_ON_SHUTDOWN", "1").lower() not in ("0", "false", "no")


def serve_deployments(storage_uri: str | None = None) -> None:
    """Serve the deployments until interrupted (`motionlens worker`)."""
    from prefect import serve

    serve(*build_deployments(storage_uri, interval_s=inbox_interval_s()), limit=worker_limit(),
          pause_on_shutdown=pause_on_shutdown())
