"""`/webhooks/`: an owner registers, lists and deletes the URLs told when their sessions end (`sessions:write`)."""

from __future__ import annotations

import json

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import context, storage_bound
from api.errors import ApiError
from api.uploads import read_json
from api.webhooks import EVENTS, delete_webhook, list_webhooks, register
from pipeline.url_guard import UnsafeUrl


@scoped("sessions:write")
async def create(request: Request) -> Response:
    """Register a URL to be POSTed session.completed / session.failed events; the answer shows its secret once."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", 'send JSON {"url": "https://...", "events": [...]}')
    try:
        body = json.loads(await read_json(request, limit=8 * 1024))
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise ApiError(422, "invalid_webhook", 'send JSON {"url": "https://...", "events": [...]}')
    events = body.get("events", list(EVENTS))
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ApiError(422, "invalid_webhook", f"events must be a list of {', '.join(EVENTS)}")
    ctx, owner = context(request), current_user(request).owner
    try:  # resolving the host and writing to the store block: off the event loop
        hook = await anyio.to_thread.run_sync(lambda: register(ctx.storage, owner, body["url"], events))
    except UnsafeUrl as exc:
        raise ApiError(422, "invalid_webhook_url", f"this URL may not be called: {exc}") from None
    except ValueError as exc:
        raise ApiError(422, "invalid_webhook", str(exc)) from None
    return JSONResponse({**hook.public(), "secret": hook.secret}, status_code=201)


@scoped("sessions:write")
@storage_bound
def index(request: Request) -> Response:
    """The key owner's webhooks (without their secrets)."""
    hooks = list_webhooks(context(request).storage, current_user(request).owner)
    return JSONResponse({"webhooks": [h.public() for h in hooks]})


@scoped("sessions:write")
@storage_bound
def delete(request: Request) -> Response:
    """Delete one of the key owner's webhooks."""
    if not delete_webhook(context(request).storage, current_user(request).owner, request.path_params["webhook_id"]):
        raise ApiError(404, "webhook_not_found", "no such webhook for this API key")
    return Response(status_code=204)


def webhook_routes() -> list[Route]:
    return [Route("/webhooks/", create, methods=["POST"], name="webhooks_create"),
            Route("/webhooks/", index, methods=["GET"], name="webhooks_list"),
            Route("/webhooks/{webhook_id}/", delete, methods=["DELETE"], name="webhooks_delete")]
