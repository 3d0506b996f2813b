"""Finding a caller's session and presenting its manifest (docs/manifest.md) to API clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from api.auth import ApiUser
from api.context import AppContext
from api.errors import ApiError, SessionNotFound
from pipeline.session import is_valid_session_id, manifest_key
from pipeline.storage import Storage

_PROBE_FIELDS = ("duration_s", "fps", "frame_count", "width", "height", "rotation", "codec")


def load_session(storage: Storage, user: ApiUser, session_id: str, activity: str | None = None) -> dict[str, Any]:
    """The manifest, or 404 for malformed ids (before any storage access), unknown ids, another
    owner's session (admins excepted) and a session of another activity."""
    manifest = read_session(storage, session_id)
    if activity is not None and manifest.get("activity") != activity:
        raise SessionNotFound()
    if not user.is_admin and manifest.get("owner") != user.owner:
        raise SessionNotFound()
    return manifest


def read_session(storage: Storage, session_id: str) -> dict[str, Any]:
    """The manifest whoever asks, or 404 (malformed ids are refused before any storage access).
    Only for callers already authorised otherwise (a signed link); keyed routes use `load_session`."""
    if not is_valid_session_id(session_id):
        raise SessionNotFound()
    try:  # one round trip, not exists() + read (the session detail is the hot path)
        manifest: dict[str, Any] = json.loads(storage.read_bytes(manifest_key(session_id)))
    except FileNotFoundError:
        raise SessionNotFound() from None
    if manifest.get("session_id") != session_id:
        raise SessionNotFound()
    return manifest


def failure_reason(manifest: dict[str, Any]) -> str:
    error = manifest.get("error") or {}
    return f"{error.get('code', 'unknown_error')}: {error.get('message', 'the analysis failed')}"


def require_completed(manifest: dict[str, Any], retry_after_s: int) -> None:
    status = manifest.get("status")
    if status == "failed":
        raise ApiError(409, "session_failed", f"the analysis of this session failed: {failure_reason(manifest)}")
    if status != "completed":
        raise ApiError(409, "session_not_ready", f"the session is {status}; retry when it is completed",
                       {"Retry-After": str(retry_after_s)})


def created_at_parts(iso: str | None, timezone: str) -> dict[str, str] | None:
    """`{"date": "MM/DD/YYYY", "time": "hh:mm AM"}` in the configured timezone (locale-independent)."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(timezone))
    return {"date": local.strftime("%m/%d/%Y"),
            "time": f"{local.hour % 12 or 12:02d}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"}


def session_links(request: Request, ctx: AppContext, session_id: str, activity: str) -> dict[str, str]:
    route = ctx.links.route
    links = {
        "self": route(request, f"{activity}_session", session_id=session_id),
        "export": route(request, f"{activity}_export", session_id=session_id),
        "analyzed_video": route(request, "analyzed_video", session_id=session_id),
        "viewer": route(request, "viewer", session_id=session_id),
    }
    links["export_parquet"] = links["export"] + "?format=parquet"
    if activity == "weightlifting":
        links["lift_analysis"] = route(request, "weightlifting_lift_analysis", session_id=session_id)
    return links


def session_detail(request: Request, ctx: AppContext, manifest: dict[str, Any]) -> dict[str, Any]:
    session_id, activity = manifest["session_id"], manifest["activity"]
    artifacts = manifest.get("artifacts") or {}
    options = {k: v for k, v in (manifest.get("options") or {}).items() if k != "owner"}
    probe = manifest.get("probe") or {}
    images = artifacts.get("images") or {}
    return {
        "session_id": session_id,
        "activity": activity,
        "status": manifest.get("status"),
        "error": manifest.get("error"),
        "analyzed_video_url": ctx.links.file_or_none(request, artifacts.get("analyzed_video")),
        "video_url": ctx.links.file_or_none(request, artifacts.get("original")),
        "urls_expire_in_s": ctx.settings.link_ttl_s,
        "created_at": created_at_parts(manifest.get("created_at"), ctx.settings.timezone),
        "created_at_utc": manifest.get("created_at"),
        "updated_at_utc": manifest.get("updated_at"),
        "timezone": ctx.settings.timezone,
        "exercise": options.get("exercise"),
        "options": options,
        "video": {k: probe.get(k) for k in _PROBE_FIELDS if k in probe},
        "metrics": manifest.get("metrics") or {},
        "angle_summary": manifest.get("angle_summary") or {},
        "events": manifest.get("events") or [],
        "quality": manifest.get("quality"),
        "warnings": manifest.get("warnings") or [],
        "images": {name: ctx.links.file(request, key) for name, key in images.items() if isinstance(key, str)},
        "processing_time_s": manifest.get("processing_time_s"),
        "pipeline_version": manifest.get("pipeline_version"),
        "links": session_links(request, ctx, session_id, activity),
    }
