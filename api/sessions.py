"""Finding a caller's session and presenting its manifest (docs/manifest.md) to API clients."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from api.auth import ApiUser
from api.cache import FileCache, cacheable
from api.context import AppContext
from api.errors import ApiError, SessionNotFound
from api.etag import weak
from api.redact import public_error, without_paths
from pipeline.session import is_valid_session_id, manifest_key, parse_manifest
from pipeline.storage import Storage

_PROBE_FIELDS = ("duration_s", "fps", "frame_count", "width", "height", "rotation", "codec")
# Parsed manifests of a local store, validated by a stat on every read (api/cache.py).
_manifests: FileCache[dict[str, Any]] = FileCache(parse_manifest, maxsize=256)
_STATIC_CACHE_SIZE = 256
_static_cache: OrderedDict[tuple[int, int], tuple[dict[str, Any], object, _StaticMembers]] = OrderedDict()
_static_lock = threading.Lock()


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
    Only for callers already authorised otherwise (a signed link); keyed routes use `load_session`.
    The manifest may be shared with other requests: do not mutate it."""
    if not is_valid_session_id(session_id):
        raise SessionNotFound()
    try:  # one round trip, not exists() + read (the session detail is the hot path)
        manifest = _manifests.read(storage, manifest_key(session_id))
    except FileNotFoundError:
        raise SessionNotFound() from None
    if manifest.get("session_id") != session_id:
        raise SessionNotFound()
    return manifest


def failure_reason(manifest: dict[str, Any]) -> str:
    error = manifest.get("error") or {}
    return f"{error.get('code', 'unknown_error')}: {without_paths(str(error.get('message', 'the analysis failed')))}"


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


def session_links(request: Request, ctx: AppContext, session_id: str, activity: str,
                  base: str | None = None) -> dict[str, str]:
    base = ctx.links.base(request) if base is None else base
    route = functools.partial(ctx.links.route_at, base, request)
    links = {
        "self": route(f"{activity}_session", session_id=session_id),
        "export": route(f"{activity}_export", session_id=session_id),
        "analyzed_video": route("analyzed_video", session_id=session_id),
        "viewer": route("viewer", session_id=session_id),
    }
    links["export_parquet"] = links["export"] + "?format=parquet"
    if activity == "weightlifting":
        links["lift_analysis"] = route("weightlifting_lift_analysis", session_id=session_id)
    return links


def session_detail(request: Request, ctx: AppContext, manifest: dict[str, Any]) -> bytes:
    """The session detail as JSON, encoded exactly as `JSONResponse` would encode the whole object.

    The members that depend only on the manifest and the settings (metrics, angles, events: most
    of the body) are encoded once per manifest; the signed links are made for every request."""
    static = _static_members(ctx, manifest)
    links, base = ctx.links, ctx.links.base(request)
    artifacts = manifest.get("artifacts") or {}
    images = artifacts.get("images") or {}
    analyzed, original = artifacts.get("analyzed_video"), artifacts.get("original")
    urls = {
        "analyzed_video_url": links.file_at(base, analyzed) if isinstance(analyzed, str) and analyzed else None,
        "video_url": links.file_at(base, original) if isinstance(original, str) and original else None,
    }
    body = ",".join((
        static.head, _members(urls), static.middle,
        _members({"images": {name: links.file_at(base, key) for name, key in images.items() if isinstance(key, str)}}),
        static.tail,
        _members({"links": session_links(request, ctx, manifest["session_id"], manifest["activity"], base)}),
    ))
    return ("{" + body + "}").encode()


@dataclass(frozen=True)
class _StaticMembers:
    head: str  # session_id … error
    middle: str  # urls_expire_in_s … warnings
    tail: str  # processing_time_s, pipeline_version

    @functools.cached_property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.head}\n{self.middle}\n{self.tail}".encode()).hexdigest()


def detail_etag(request: Request, ctx: AppContext, manifest: dict[str, Any], now: float | None = None) -> str:
    """A weak tag of the detail: its members, the stored files it links and the base URL. The signed
    links differ at every call, so the tag also changes every half link lifetime: a 304 never leaves
    a client with links that expire in less than half of `link_ttl_s`."""
    artifacts = manifest.get("artifacts") or {}
    files = json.dumps([artifacts.get("analyzed_video"), artifacts.get("original"), artifacts.get("images")],
                       sort_keys=True, default=str)
    window = int((time.time() if now is None else now) // max(ctx.settings.link_ttl_s // 2, 1))
    return weak(_static_members(ctx, manifest).digest, files, ctx.links.base(request), str(window))


def _static_members(ctx: AppContext, manifest: dict[str, Any]) -> _StaticMembers:
    shared = cacheable(ctx.storage)  # then the manifest is shared while its file is unchanged (`_manifests`)
    slot = (id(manifest), id(ctx.settings))
    if shared:
        with _static_lock:
            entry = _static_cache.get(slot)
        if entry is not None and entry[0] is manifest and entry[1] is ctx.settings:
            return entry[2]
    settings = ctx.settings
    options = {k: v for k, v in (manifest.get("options") or {}).items() if k != "owner"}
    probe = manifest.get("probe") or {}
    static = _StaticMembers(
        head=_members({
            "session_id": manifest["session_id"],
            "activity": manifest["activity"],
            "status": manifest.get("status"),
            "error": public_error(manifest.get("error")),
        }),
        middle=_members({
            "urls_expire_in_s": settings.link_ttl_s,
            "created_at": created_at_parts(manifest.get("created_at"), settings.timezone),
            "created_at_utc": manifest.get("created_at"),
            "updated_at_utc": manifest.get("updated_at"),
            "timezone": settings.timezone,
            "exercise": options.get("exercise"),
            "options": options,
            "video": {k: probe.get(k) for k in _PROBE_FIELDS if k in probe},
            "metrics": manifest.get("metrics") or {},
            "angle_summary": manifest.get("angle_summary") or {},
            "events": manifest.get("events") or [],
            "quality": manifest.get("quality"),
            "warnings": manifest.get("warnings") or [],
        }),
        tail=_members({
            "processing_time_s": manifest.get("processing_time_s"),
            "pipeline_version": manifest.get("pipeline_version"),
        }),
    )
    if shared:
        with _static_lock:  # holding the manifest and settings keeps their ids from being reused
            _static_cache[slot] = (manifest, settings, static)
            _static_cache.move_to_end(slot)
            while len(_static_cache) > _STATIC_CACHE_SIZE:
                _static_cache.popitem(last=False)
    return static


def _members(obj: dict[str, Any]) -> str:
    """`"a":1,"b":2`: the members of a non-empty JSON object as `JSONResponse` encodes them, to join
    into one object (an object's encoding is its members' joined by commas, in order)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))[1:-1]
