"""The API's payloads as typed models (TypedDicts), one per request or response body.

`api/openapi.py` turns them into JSON Schema for the OpenAPI document with pydantic's
`TypeAdapter` (pydantic is already installed with Prefect; it is used here for schemas only,
the endpoints build plain dicts). `OPERATIONS` says which model each route answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict  # pydantic needs typing_extensions' on Python < 3.12

Status = Literal["queued", "processing", "completed", "failed"]
Activity = Literal["jumping", "running", "weightlifting"]


class ErrorBody(TypedDict):
    code: str
    message: str


class Error(TypedDict):
    """Every error: a stable `code` and a human `message`."""
    error: ErrorBody


class CreatedAt(TypedDict):
    """Creation time in the configured timezone: `MM/DD/YYYY` and `hh:mm AM`."""
    date: str
    time: str


class SessionLinks(TypedDict):
    self: str
    export: str
    export_parquet: str
    analyzed_video: str
    viewer: str
    lift_analysis: NotRequired[str]


class Event(TypedDict):
    type: str
    time_s: float | None
    frame: int | None
    side: str | None
    index: NotRequired[int | None]


class SessionDetail(TypedDict):
    """A session: status, playable video URLs, metrics, angle summaries, events and links."""
    session_id: str
    activity: Activity
    status: Status
    error: ErrorBody | None
    analyzed_video_url: str | None
    video_url: str | None
    urls_expire_in_s: int
    created_at: CreatedAt | None
    created_at_utc: str | None
    updated_at_utc: str | None
    timezone: str
    exercise: str | None
    options: dict[str, Any]
    video: dict[str, Any]
    metrics: dict[str, Any]
    angle_summary: dict[str, dict[str, Any]]
    events: list[Event]
    quality: dict[str, Any] | None
    warnings: list[Any]
    images: dict[str, str]
    processing_time_s: float | None
    pipeline_version: str | None
    links: SessionLinks


class SessionItemLinks(TypedDict):
    self: str


class SessionItem(TypedDict):
    session_id: str
    activity: Activity
    status: Status
    exercise: str | None
    created_at: CreatedAt | None
    created_at_utc: str
    updated_at_utc: str | None
    error: ErrorBody | None
    links: SessionItemLinks


class PageLinks(TypedDict):
    next: str | None


class SessionList(TypedDict):
    """A page of sessions, newest first; pass `next_cursor` as `cursor` for the next one (null: last page)."""
    sessions: list[SessionItem]
    count: int
    next_cursor: str | None
    links: PageLinks


class ExportJson(TypedDict):
    """Column-oriented tables: `{"table": {"column": [values]}}`, NaN as null."""
    session_id: str
    activity: Activity
    format: Literal["json"]
    tables: list[str]
    metadata: dict[str, dict[str, str]]
    timestamps: dict[str, list[Any]] | None
    keypoints: NotRequired[dict[str, list[Any]]]
    angles: NotRequired[dict[str, list[Any]]]
    events: NotRequired[dict[str, list[Any]]]
    metrics: NotRequired[dict[str, list[Any]]]


class ParquetTable(TypedDict):
    url: str
    size_bytes: int
    filename: str


class ExportParquet(TypedDict):
    """Signed download URLs of the session's Parquet tables."""
    session_id: str
    activity: Activity
    format: Literal["parquet"]
    urls_expire_in_s: int
    tables: dict[str, ParquetTable]


class LiftMedia(TypedDict):
    url: str
    rep: NotRequired[int]
    position: NotRequired[str]


class Recommendation(TypedDict):
    code: str | None
    severity: str | None
    evidence: dict[str, Any] | None
    language: str
    text: str | None
    translations: dict[str, str]


class LiftAnalysis(TypedDict):
    """Key-position images and recommendations of a lift, in the negotiated language."""
    session_id: str
    activity: Literal["weightlifting"]
    exercise: str | None
    language: str
    available_languages: list[str]
    images: list[LiftMedia]
    charts: list[LiftMedia]
    recommendations: list[Recommendation]
    urls_expire_in_s: int


class AnalyzedVideo(TypedDict):
    session_id: str
    status: Literal["ready"]
    analyzed_video_url: str
    urls_expire_in_s: int


class PendingLinks(TypedDict):
    self: str


class Pending(TypedDict):
    """Not ready yet: poll `links.self` after `retry_after_s` (also in `Retry-After`)."""
    session_id: str
    status: Literal["queued", "processing", "rendering"]
    message: str
    retry_after_s: int
    analyzed_video_url: NotRequired[None]
    viewer_url: NotRequired[None]
    links: PendingLinks


class ViewerLink(TypedDict):
    """A short-lived signed link to the session's viewer page (opens without a key)."""
    session_id: str
    status: Literal["ready"]
    viewer_url: str
    urls_expire_in_s: int


class SubmitByUrl(TypedDict):
    """JSON submission: the video's URL and analysis options (`AnalysisOptions` fields)."""
    video_url: str
    exercise: NotRequired[str]
    athlete_height_m: NotRequired[float]
    body_mass_kg: NotRequired[float]
    treadmill_speed_m_s: NotRequired[float]
    model: NotRequired[str]
    jump_type: NotRequired[str]
    sex: NotRequired[str]
    age: NotRequired[int]
    level: NotRequired[str]
    render: NotRequired[bool]
    start_s: NotRequired[float]   # analyse only [start_s, end_s) of the clip, in its own seconds
    end_s: NotRequired[float]


class Submitted(TypedDict):
    """Accepted: the new session, queued; `Location` and `links.self` give its detail."""
    session_id: str
    activity: Activity
    status: Literal["queued"]
    options: dict[str, Any]
    links: SessionLinks


class Health(TypedDict):
    status: Literal["ok", "unavailable"]
    storage: Literal["ok", "unreachable"]
    version: str
    error: NotRequired[ErrorBody]


class WebhookCreate(TypedDict):
    """Where to POST the owner's session events, and which (default: both)."""
    url: str
    events: NotRequired[list[Literal["session.completed", "session.failed"]]]


class Webhook(TypedDict):
    webhook_id: str
    url: str
    events: list[str]
    created_at: str


class WebhookCreated(TypedDict):
    """The webhook and its signing secret, shown only in this answer."""
    webhook_id: str
    url: str
    events: list[str]
    created_at: str
    secret: str


class WebhookList(TypedDict):
    webhooks: list[Webhook]


class WebhookSession(TypedDict):
    session_id: str
    activity: Activity
    status: Literal["completed", "failed"]
    exercise: str | None
    created_at_utc: str | None
    updated_at_utc: str | None
    error: ErrorBody | None


class WebhookEvent(TypedDict):
    """The body POSTed to a webhook; `id` is the same for every retry (also in Idempotency-Key)."""
    id: str
    type: Literal["session.completed", "session.failed"]
    created_at: str
    session: WebhookSession


@dataclass(frozen=True)
class Body:
    model: Any  # a TypedDict, or a content type's raw schema (dict)
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    """The bodies of one route: its request (if any) and its answers by status."""
    responses: dict[str, Body | list[Body]]
    request: list[Body] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # status -> header -> description


BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_RETRY = {"Retry-After": "seconds to wait before polling again"}
_ETAG = {"ETag": "entity tag; send it back in If-None-Match to get 304 when unchanged"}
_PENDING = Body(Pending)

# By route name, with the activity prefix replaced by `*` (see `operation_for`).
OPERATIONS: dict[str, Operation] = {
    "health": Operation({"200": Body(Health), "503": Body(Health)}),
    "openapi": Operation({"200": Body({"type": "object"})}),
    "docs": Operation({"200": Body({"type": "string"}, "text/html")}),
    "sessions_list": Operation({"200": Body(SessionList)}, headers={"200": {"Link": 'next page, rel="next"'}}),
    "*_sessions_list": Operation({"200": Body(SessionList)}, headers={"200": {"Link": 'next page, rel="next"'}}),
    "*_session": Operation({"200": Body(SessionDetail), "304": Body(None)}, headers={"200": _ETAG, "304": _ETAG}),
    "*_export": Operation({"200": [Body(ExportJson), Body(ExportParquet)]}),
    "weightlifting_lift_analysis": Operation({"200": Body(LiftAnalysis)},
                                             headers={"200": {"Content-Language": "language of the texts"}}),
    "analyzed_video": Operation({"200": Body(AnalyzedVideo), "202": _PENDING}, headers={"202": _RETRY}),
    "session_management_analyzed_video": Operation({"200": Body(AnalyzedVideo), "202": _PENDING},
                                                   headers={"202": _RETRY}),
    "viewer": Operation({"200": [Body(ViewerLink), Body({"type": "string"}, "text/html")], "202": _PENDING,
                         "303": Body(ViewerLink)}, headers={"202": _RETRY, "303": {"Location": "the signed link"}}),
    "session_management_viewer": Operation({"200": [Body(ViewerLink), Body({"type": "string"}, "text/html")],
                                            "202": _PENDING, "303": Body(ViewerLink)},
                                           headers={"202": _RETRY, "303": {"Location": "the signed link"}}),
    "*_submit": Operation({"202": Body(Submitted)},
                          request=[Body(SubmitByUrl), Body({"type": "object", "required": ["video"], "properties": {
                              "video": BINARY}, "additionalProperties": {"type": "string"}}, "multipart/form-data"),
                              Body(BINARY, "video/*")],
                          headers={"202": {"Location": "the new session's detail"}}),
    "files": Operation({"200": Body(BINARY, "application/octet-stream"),
                        "206": Body(BINARY, "application/octet-stream"), "304": Body(None)},
                       headers={"200": _ETAG, "206": {"Content-Range": "bytes first-last/size"}, "304": _ETAG}),
    "webhooks_create": Operation({"201": Body(WebhookCreated)}, request=[Body(WebhookCreate)]),
    "webhooks_list": Operation({"200": Body(WebhookList)}),
    "webhooks_delete": Operation({"204": Body(None)}),
}
