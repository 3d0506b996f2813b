"""`GET /sessions/` and `GET /{activity}/sessions/`: the caller's sessions, newest first, a page at a time.

Filters: `status` (comma-separated), `created_from` / `created_to` (a date, inclusive, in the
configured timezone, or an ISO datetime); `limit` (1-100, default 20); `cursor` from the previous
page's `next_cursor`. The order (creation time, then id, descending) never changes for a session,
so paging while sessions are added neither repeats nor skips any.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import current_user, scoped
from api.context import context
from api.cursor import decode_cursor, encode_cursor, query_digest
from api.errors import ApiError
from api.session_index import SessionIndex, SessionSummary, parse_utc
from api.sessions import created_at_parts
from pipeline.options import ACTIVITIES
from pipeline.session import STATUSES

DEFAULT_LIMIT, MAX_LIMIT = 20, 100


def session_index(request: Request) -> SessionIndex:
    index = request.app.state.session_index
    assert isinstance(index, SessionIndex)
    return index


def _bound(param: str, value: str | None, timezone: str, end: bool) -> datetime | None:
    """An inclusive bound. A date means its whole day in the configured timezone; else an ISO datetime."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            start = datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(UTC)
            return start - timedelta(microseconds=1) if end else start
        return parse_utc(value)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{param} must be a date YYYY-MM-DD or an ISO 8601 datetime") from None


def _statuses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    wanted = tuple(sorted({s.strip() for s in value.split(",") if s.strip()}))
    if not wanted or any(s not in STATUSES for s in wanted):
        raise ApiError(400, "invalid_parameter", f"status must be a comma-separated subset of {','.join(STATUSES)}")
    return wanted


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def _list(activity: str | None) -> Callable[[Request], Response]:
    # A plain sync endpoint (a worker thread) even over a folder: a refresh stats every session.
    @scoped("sessions:read")
    def list_sessions(request: Request) -> Response:
        ctx = context(request)
        user, params = current_user(request), request.query_params
        owner = params.get("owner") or (None if user.is_admin else user.owner)
        if owner != user.owner and not user.is_admin:
            raise ApiError(403, "forbidden", "only an admin key may list another owner's sessions")
        statuses = _statuses(params.get("status"))
        since = _bound("created_from", params.get("created_from"), ctx.settings.timezone, end=False)
        until = _bound("created_to", params.get("created_to"), ctx.settings.timezone, end=True)
        limit = _limit(params.get("limit"))
        query = query_digest(owner, activity, statuses, since, until)
        after = decode_cursor(ctx.links.signer, params["cursor"], query) if params.get("cursor") else None

        def wanted(s: SessionSummary) -> bool:
            return ((owner is None or s.owner == owner) and (activity is None or s.activity == activity)
                    and (not statuses or s.status in statuses) and (since is None or s.created_at >= since)
                    and (until is None or s.created_at <= until)
                    and (after is None or s.order < after))

        matching = sorted(filter(wanted, session_index(request).refresh()), key=lambda s: s.order, reverse=True)
        page = matching[:limit]
        next_cursor = encode_cursor(ctx.links.signer, page[-1].order, query) if len(matching) > limit else None
        base = ctx.links.base(request)
        self_url = base + request.url.path
        next_url = None
        if next_cursor:
            next_url = f"{self_url}?{urlencode({**dict(params), 'cursor': next_cursor})}"
        body = {"sessions": [_item(request, s, base) for s in page], "count": len(page),
                "next_cursor": next_cursor, "links": {"next": next_url}}
        headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
        return JSONResponse(body, headers={**headers, "Cache-Control": "no-store"})

    what = f"{activity} sessions" if activity else "sessions of every activity"
    list_sessions.__doc__ = (f"List the key owner's {what}, newest first: filter by status and creation date, "
                             "page with limit and the opaque next_cursor.")
    return list_sessions


def _item(request: Request, s: SessionSummary, base: str) -> dict[str, Any]:
    ctx = context(request)
    return {"session_id": s.session_id, "activity": s.activity, "status": s.status, "exercise": s.exercise,
            "created_at": created_at_parts(s.created_at_utc, ctx.settings.timezone),
            "created_at_utc": s.created_at_utc, "updated_at_utc": s.updated_at_utc, "error": s.error,
            "links": {"self": ctx.links.route_at(base, request, f"{s.activity}_session", session_id=s.session_id)}}


def listing_routes() -> list[Route]:
    routes = [Route("/sessions/", _list(None), name="sessions_list")]
    routes += [Route(f"/{activity}/sessions/", _list(activity), name=f"{activity}_sessions_list")
               for activity in ACTIVITIES]
    return routes
