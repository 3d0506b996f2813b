"""`/sessions/{id}/analyzed-video/` (and its `/session-management/` alias): the URL, or a render.

200 when the video exists (repairing a manifest that forgot it), 202 + Retry-After while the
session is queued/processing or the video is rendering, 409 when the session or its last
render failed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import AppContext, context, storage_bound
from api.errors import ApiError
from api.rendering import video_key
from api.sessions import failure_reason, load_session
from pipeline.session import read_manifest, utc_now_iso, write_manifest


@scoped("videos:generate")
@storage_bound
def analyzed_video(request: Request) -> Response:
    """URL of the analyzed video; starts rendering it from the stored pose when missing (202 + Retry-After)."""
    ctx = context(request)
    manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"])
    session_id = manifest["session_id"]
    status = manifest.get("status")
    if status == "failed":
        raise ApiError(409, "session_failed", f"the analysis of this session failed: {failure_reason(manifest)}")
    if status != "completed":
        return _pending(request, ctx, session_id, str(status), f"the session is {status}")

    listed = (manifest.get("artifacts") or {}).get("analyzed_video")
    if listed and ctx.storage.exists(listed):
        return _ready(request, ctx, session_id, listed)
    if ctx.storage.exists(video_key(session_id)):
        if not ctx.renders.is_rendering(session_id):  # a running render updates the manifest itself
            _repair(ctx, session_id)
        return _ready(request, ctx, session_id, video_key(session_id))

    failure = ctx.renders.recent_failure(session_id)
    if failure is not None:
        raise ApiError(409, "render_failed", f"rendering failed at {failure.get('at')}: "
                       f"{failure.get('code')}: {failure.get('message')}; it will be retried after a pause")
    started = ctx.renders.ensure_rendering(session_id)
    message = "rendering started" if started else "rendering is in progress"
    return _pending(request, ctx, session_id, "rendering", message)


def _ready(request: Request, ctx: AppContext, session_id: str, key: str) -> Response:
    return JSONResponse({"session_id": session_id, "status": "ready",
                         "analyzed_video_url": ctx.links.file(request, key),
                         "urls_expire_in_s": ctx.settings.link_ttl_s})


def _pending(request: Request, ctx: AppContext, session_id: str, status: str, message: str) -> Response:
    retry = ctx.settings.retry_after_s
    body: dict[str, Any] = {"session_id": session_id, "status": status, "message": message,
                            "retry_after_s": retry, "analyzed_video_url": None,
                            "links": {"self": ctx.links.base(request) + request.url.path}}
    return JSONResponse(body, status_code=202, headers={"Retry-After": str(retry)})


def _repair(ctx: AppContext, session_id: str) -> None:
    # Re-read just before writing: the window in which another writer's change could be lost is tiny.
    manifest = read_manifest(ctx.storage, session_id)
    if manifest is None:
        return
    manifest["artifacts"] = {**(manifest.get("artifacts") or {}), "analyzed_video": video_key(session_id)}
    manifest["updated_at"] = utc_now_iso()
    write_manifest(ctx.storage, manifest)


def video_routes() -> list[Route]:
    return [
        Route("/sessions/{session_id}/analyzed-video/", analyzed_video, name="analyzed_video"),
        Route("/session-management/sessions/{session_id}/analyzed-video/", analyzed_video,
              name="session_management_analyzed_video"),
    ]
