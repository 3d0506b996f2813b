"""`/sessions/{id}/viewer/` (and its `/session-management/` alias): the session viewer page.

A browser tab cannot send an Authorization header, so the page is reached in two steps:

1. with an API key (`sessions:read`) the route answers a short-lived HMAC-signed link to itself,
   `{"viewer_url": ".../viewer/?exp=...&sig=..."}` (or a 303 to it with `?redirect=1`);
2. that signed GET needs no key while valid and serves the page (`api.viewer.viewer_page`): the
   analyzed video behind its own signed file link, the angle chart from the angles export, the
   metrics and the session pictures, with the page's Content-Security-Policy.

Both steps answer like `/analyzed-video/` while there is no analyzed video: 202 + Retry-After
while the session is queued/processing or rendering, 409 when it failed. Step 1 starts the render
when the key may (`videos:generate`); the signed GET never starts one.
"""

from __future__ import annotations

from urllib.parse import urlencode

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import context, storage_bound
from api.errors import ApiError, SessionNotFound
from api.routes.videos import locate_video
from api.sessions import load_session, read_session
from api.i18n import negotiate
from api.viewer import bar_path_key, load_angles, viewer_page
from pipeline.metrics.recommendations import LANGUAGES
from pipeline.session import is_valid_session_id

SCOPE = "sessions:read"
_IMAGES = ("contact_sheet", "angle_chart")
_TRUE = ("1", "true", "yes")


def signed_subject(session_id: str) -> str:
    # Not a storage key (no `sessions/` prefix), so a viewer signature never opens a /files/ link
    # and a file signature never opens a viewer.
    return f"viewer:{session_id}"


def viewer_link(request: Request, session_id: str) -> str:
    ctx = context(request)
    exp, sig = ctx.links.signer.sign(signed_subject(session_id), ctx.settings.link_ttl_s)
    return ctx.links.route(request, "viewer", session_id=session_id) + "?" + urlencode({"exp": exp, "sig": sig})


@scoped(SCOPE)
@storage_bound
def _viewer_link(request: Request) -> Response:
    ctx = context(request)
    manifest = load_session(ctx.storage, current_user(request), request.path_params["session_id"])
    may_render = "videos:generate" in request.auth.scopes
    found = locate_video(request, ctx, manifest, url_field="viewer_url", may_render=may_render)
    if isinstance(found, Response):
        return found
    url = viewer_link(request, manifest["session_id"])
    body = {"session_id": manifest["session_id"], "status": "ready", "viewer_url": url,
            "urls_expire_in_s": ctx.settings.link_ttl_s}
    if request.query_params.get("redirect", "").lower() in _TRUE:
        return JSONResponse(body, status_code=303, headers={"Location": url})
    return JSONResponse(body)


def _viewer_page(request: Request) -> Response:
    """The page behind a signed link (runs on a worker thread: it reads the angles Parquet)."""
    ctx = context(request)
    session_id = request.path_params["session_id"]
    if not is_valid_session_id(session_id):
        raise SessionNotFound()
    refusal = ctx.links.signer.check(signed_subject(session_id), request.query_params.get("exp"),
                                     request.query_params.get("sig"))
    if refusal is not None:
        raise ApiError(403, "invalid_link", refusal)
    manifest = read_session(ctx.storage, session_id)
    found = locate_video(request, ctx, manifest, url_field="viewer_url", may_render=False, repair=False,
                         self_url=f"{ctx.links.base(request)}{request.url.path}?{request.url.query}")
    if isinstance(found, Response):
        return found
    images = (manifest.get("artifacts") or {}).get("images") or {}
    image_urls = {name: ctx.links.file(request, key) for name, key in images.items()
                  if name in _IMAGES and isinstance(key, str) and key}
    if bar := bar_path_key(manifest):
        image_urls["bar_path"] = ctx.links.file(request, bar)
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"), LANGUAGES)
    page = viewer_page(manifest, video_url=ctx.links.file(request, found), angles=load_angles(ctx.storage, manifest),
                       image_urls=image_urls, lang=lang)
    return HTMLResponse(page.html, headers=page.headers)


async def viewer(request: Request) -> Response:
    """The session viewer: with an API key, a short-lived signed link to the page (JSON, or 303 with
    ?redirect=1); the signed GET (?exp=&sig=, no key) serves the HTML page with the analyzed video,
    the angle chart and the metrics."""
    if "sig" in request.query_params or "exp" in request.query_params:
        return await anyio.to_thread.run_sync(_viewer_page, request)
    return await _viewer_link(request)


viewer.required_scope = SCOPE  # type: ignore[attr-defined]  # read by the 403 message and OpenAPI


def viewer_routes() -> list[Route]:
    return [
        Route("/sessions/{session_id}/viewer/", viewer, name="viewer"),
        Route("/session-management/sessions/{session_id}/viewer/", viewer, name="session_management_viewer"),
    ]
