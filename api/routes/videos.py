"""`/sessions/{id}/analyzed-video/` (and its `/session-management/` alias): the URL, or a render.

200 when the video exists (repairing a manifest that forgot it), 202 + Retry-After while the
session is queued/processing or the video is rendering, 409 when the session or its last
render failed. `locate_video` is shared with the viewer route, which answers the same way.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import AppContext, context, storage_bound
from api.errors import ApiError
from api.rendering import RenderBusy, video_key
from api.sessions import failure_reason, load_session
from pipeline.session import read_manifest, utc_now_iso, write_manifest


@scoped("videos:generate")
@storage_bound
def analyzed_video(request: Request) -> Response:
    """URL of the analyzed video; starts rendering it from the stored pose when missing (202 + Retry-After)."""
    ctx = context(request)
    manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"])
    found = locate_video(request, ctx, manifest, url_field="analyzed_video_url")
    if isinstance(found, Response):
        return found
    return JSONResponse({"session_id": manifest["session_id"], "status": "ready",
                         "analyzed_video_url": ctx.links.file(request, found),
                         "urls_expire_in_s": ctx.settings.link_ttl_s})


def locate_video(request: Request, ctx: AppContext, manifest: dict[str, Any], *, url_field: str,
                 may_render: bool = True, repair: bool = True, self_url: str | None = None) -> str | Response:
    """The storage key of the session's analyzed video, or the 202 answer to give while there is
    none yet; raises the 409s. `may_render=False` never starts a render: without a running one,
    a missing video is 409 `video_not_rendered`."""
    session_id = manifest["session_id"]
    status = manifest.get("status")
    if status == "failed":
        raise ApiError(409, "session_failed", f"the analysis of this session failed: {failure_reason(manifest)}")
    if status != "completed":
        return pending(request, ctx, session_id, str(status), f"the session is {status}", url_field, self_url)

    listed = (manifest.get("artifacts") or {}).get("analyzed_video")
    if listed and ctx.storage.exists(listed):
        return str(listed)
    if ctx.storage.exists(video_key(session_id)):
        if repair and not ctx.renders.is_rendering(session_id):  # a running render updates the manifest itself
            _repair(ctx, session_id)
        return video_key(session_id)

    failure = ctx.renders.recent_failure(session_id)
    if failure is not None:
        raise ApiError(409, "render_failed", f"rendering failed at {failure.get('at')}: "
                       f"{failure.get('code')}: {failure.get('message')}; it will be retried after a pause")
    if may_render:
        started = start_render(request, ctx, session_id)
        message = "rendering started" if started else "rendering is in progress"
    elif ctx.renders.is_rendering(session_id):
        message = "rendering is in progress"
    else:
        raise ApiError(409, "video_not_rendered",
                       f"this session has no analyzed video yet; GET /sessions/{session_id}/analyzed-video/ with "
                       "a key that has the 'videos:generate' scope renders it")
    return pending(request, ctx, session_id, "rendering", message, url_field, self_url)


def start_render(request: Request, ctx: AppContext, session_id: str) -> bool:
    """Start a render unless one runs: refused while shutting down (503), past this key's render
    quota (429) or this process's render limit (503), each with Retry-After."""
    def may_start() -> None:
        ctx.lifecycle.check_accepting()
        ctx.render_quota.take(current_user(request).identity)

    try:
        return ctx.renders.ensure_rendering(session_id, before_start=may_start)
    except RenderBusy:
        retry = str(ctx.settings.retry_after_s)
        raise ApiError(503, "renders_busy", "this server is rendering as many videos as it may; retry shortly",
                       {"Retry-After": retry}) from None


def pending(request: Request, ctx: AppContext, session_id: str, status: str, message: str, url_field: str,
            self_url: str | None = None) -> Response:
    retry = ctx.settings.retry_after_s
    body: dict[str, Any] = {"session_id": session_id, "status": status, "message": message,
                            "retry_after_s": retry, url_field: None,
                            "links": {"self": self_url or ctx.links.base(request) + request.url.path}}
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
