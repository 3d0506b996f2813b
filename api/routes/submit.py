"""`POST /{activity}/sessions/`: submit a video (multipart `video` part, raw video body, or JSON
`{"video_url": ...}`) with analysis options → 202 with the new session id."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import context
from api.errors import ApiError
from api.sessions import session_links
from api.submissions import parse_options
from api.uploads import Upload, check_video_url, read_json, receive_multipart, receive_raw
from pipeline.options import ACTIVITIES
from pipeline.session import new_session_id
from pipeline.tempdirs import make_temp_dir

_HOW = ("send multipart/form-data with a 'video' file part, a raw video body (Content-Type: video/*), "
        "or JSON {\"video_url\": \"https://...\"}")


def _submit(activity: str) -> Callable[[Request], Awaitable[Response]]:
    @scoped("sessions:write")
    async def submit(request: Request) -> Response:
        ctx = context(request)
        user = current_user(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        ctx.lifecycle.check_accepting()
        ctx.submission_quota.take(user.identity)
        session_id = new_session_id()
        # Tagged with this process, so a kill during the upload leaves nothing after the next start-up;
        # the video is stored under the session before the 202, so the folder goes when we answer.
        workdir = make_temp_dir("upload")
        try:
            source, raw_options, upload = await ctx.lifecycle.unless_draining(
                lambda: _receive(request, content_type, workdir))
            options = parse_options(raw_options, activity, user.owner)
            await anyio.to_thread.run_sync(functools.partial(
                ctx.submissions.submit, session_id=session_id, activity=activity, source=source, options=options,
                owner=user.owner, filename=upload.filename if upload else None,
                size_bytes=upload.size if upload else None, upload=upload.path if upload else None))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        links = session_links(request, ctx, session_id, activity)
        body = {"session_id": session_id, "activity": activity, "status": "queued", "options": options,
                "links": links}
        return JSONResponse(body, status_code=202, headers={"Location": links["self"]})

    submit.__doc__ = (f"Submit a {activity} video (multipart 'video', raw video/* body, or JSON video_url) "
                      "with analysis options; answers 202 with the new session id.")
    return submit


async def _receive(request: Request, content_type: str, workdir: Path) -> tuple[str, dict[str, Any], Upload | None]:
    max_bytes = context(request).settings.max_upload_bytes
    if content_type == "multipart/form-data":
        upload = Upload(workdir, max_bytes)
        fields = await receive_multipart(request, upload)
        return str(upload.path), fields, upload
    if content_type.startswith("video/") or content_type == "application/octet-stream":
        upload = Upload(workdir, max_bytes)
        await receive_raw(request, upload)
        return str(upload.path), dict(request.query_params), upload
    if content_type == "application/json":
        try:
            body = json.loads(await read_json(request))
        except (ValueError, RecursionError):  # RecursionError: arrays/objects nested thousands deep
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        if not isinstance(body, dict) or "video_url" not in body:
            raise ApiError(422, "missing_video", _HOW)
        url = check_video_url(body.pop("video_url"), context(request).settings.allow_private_video_urls)
        return url, body, None
    raise ApiError(415, "unsupported_media_type", f"unsupported Content-Type {content_type!r}: {_HOW}")


def submit_routes() -> list[Route]:
    return [Route(f"/{activity}/sessions/", _submit(activity), methods=["POST"], name=f"{activity}_submit")
            for activity in ACTIVITIES]
