"""OpenAPI 3.1 description generated from the app's own routes, so no route can be left out.

Summaries come from the endpoint docstrings, required scopes from `scoped`, request and response
bodies from the typed models of `api/schemas.py` (JSON Schema by pydantic's `TypeAdapter`); what
the routes cannot say about themselves (error statuses, query parameters) is in the tables below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from starlette.routing import BaseRoute, Route

from api.schemas import OPERATIONS, Body, Error, Operation, WebhookEvent
from pipeline import __version__
from pipeline.options import ACTIVITIES

_CONVERTER = re.compile(r"{(\w+):\w+}")
_PUBLIC = ("health", "files", "openapi", "docs")
_REF = "#/components/schemas/{model}"
_SECURED = {"401": "missing, malformed, unknown or revoked API key", "403": "the key lacks the required scope",
            "404": "no such session for this key (unknown, malformed id, another owner, other activity)",
            "503": "storage unreachable"}
_LIST_QUERY = [("status", "comma-separated subset of queued,processing,completed,failed"),
               ("created_from", "first day (YYYY-MM-DD, configured timezone) or ISO 8601 datetime, inclusive"),
               ("created_to", "last day (YYYY-MM-DD, configured timezone) or ISO 8601 datetime, inclusive"),
               ("limit", "page size, 1-100 (default 20)"), ("cursor", "next_cursor of the previous page"),
               ("owner", "admin keys only: list this owner's sessions (default: every owner's)")]
# (route-name suffix, extra responses, query parameters)
_EXTRAS: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = [
    ("sessions_list", {"400": "bad filter, limit or cursor"}, _LIST_QUERY),
    ("_session", {"304": "not modified: the If-None-Match tag is current"}, []),
    ("_export", {"400": "bad format or tables", "409": "session failed or not completed"},
     [("format", "json (default), parquet, trc (OpenSim markers), mot (OpenSim angles) or csv"),
      ("tables", "comma-separated subset of keypoints,angles,events,metrics"),
      ("table", "with format=csv: angles (default), keypoints, events or metrics")]),
    ("_lift_analysis", {"409": "session failed or not completed"},
     [("lang", "en, es, fr, de, pt or it; else Accept-Language; else en")]),
    ("analyzed_video", {"202": "queued, processing or rendering: retry after Retry-After seconds",
                        "409": "the session or its last render failed"}, []),
    ("viewer", {"202": "queued, processing or rendering: retry after Retry-After seconds",
                "303": "with ?redirect=1: Location is the signed link to the page",
                "403": "the key lacks the required scope, or the signed link expired or was altered",
                "409": "the session or its last render failed, or no video and the key may not render it"},
     [("redirect", "1: answer 303 to the signed page link instead of JSON"),
      ("exp", "signed link: expiry, unix seconds (then no API key is needed)"),
      ("sig", "signed link: HMAC signature")]),
    ("_submit", {"202": "accepted: the new session id and its links", "400": "malformed body",
                 "413": "video too large", "415": "not a supported video container or body type",
                 "422": "invalid options or video_url"}, []),
    ("files", {"206": "partial content (Range)", "304": "not modified: the If-None-Match tag is current",
               "403": "expired or altered link", "404": "no such file", "416": "range not satisfiable"},
     [("exp", "expiry, unix seconds"), ("sig", "HMAC signature")]),
    ("webhooks_create", {"201": "registered; the secret is shown only now", "400": "malformed JSON",
                         "413": "body too large", "415": "not JSON", "422": "invalid events, or an unsafe URL"}, []),
    ("webhooks_delete", {"204": "deleted", "404": "no such webhook for this key"}, []),
]
_STATUS_TEXT = {"200": "OK", "201": "Created", "202": "Accepted", "204": "No Content", "303": "See Other",
                "304": "Not Modified", "206": "Partial Content"}


def operation_for(route_name: str) -> Operation | None:
    if route_name in OPERATIONS:
        return OPERATIONS[route_name]
    for activity in ACTIVITIES:
        if route_name.startswith(f"{activity}_"):
            return OPERATIONS.get("*" + route_name[len(activity):])
    return None


def _bodies(body: Body | list[Body]) -> list[Body]:
    return body if isinstance(body, list) else [body]


class _Models:
    """Collects the models the document refers to, then renders them once into components."""

    def __init__(self) -> None:
        self.models: list[Any] = [Error]

    def ref(self, body: Body) -> dict[str, Any] | None:
        if body.model is None:
            return None
        if isinstance(body.model, dict):
            return body.model
        if body.model not in self.models:
            self.models.append(body.model)
        return {"$ref": _REF.format(model=body.model.__name__)}

    def content(self, bodies: list[Body]) -> dict[str, Any] | None:
        by_type: dict[str, list[dict[str, Any]]] = {}
        for body in bodies:
            schema = self.ref(body)
            if schema is not None:
                by_type.setdefault(body.media_type, []).append(schema)
        if not by_type:
            return None
        return {t: {"schema": s[0] if len(s) == 1 else {"oneOf": s}} for t, s in by_type.items()}

    def components(self) -> dict[str, Any]:
        _, defs = TypeAdapter.json_schemas([(m, "serialization", TypeAdapter(m)) for m in self.models],
                                           ref_template=_REF)
        return dict(sorted(defs.get("$defs", {}).items()))


def _operation(route: Route, models: _Models) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or route.name).strip()
    spec = operation_for(route.name)
    error = {"content": {"application/json": {"schema": models.ref(Body(Error))}}}
    responses: dict[str, Any] = {}
    if spec is not None:
        for code, body in spec.responses.items():
            responses[code] = {"description": _STATUS_TEXT.get(code, "OK")}
            content = models.content(_bodies(body))
            if content:
                responses[code]["content"] = content
            if code in spec.headers:
                responses[code]["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                              for name, text in spec.headers[code].items()}
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in route.param_convertors]
    if route.name not in _PUBLIC:
        responses.update({code: {"description": text, **error} for code, text in _SECURED.items()
                          if code != "404" or "{session_id}" in route.path})
    for suffix, extra, query in _EXTRAS:
        if route.name.endswith(suffix):
            for code, text in extra.items():
                responses.setdefault(code, {})["description"] = text
                if code >= "400":
                    responses[code].update(error)
            params += [{"name": n, "in": "query", "required": False, "description": d,
                        "schema": {"type": "string"}} for n, d in query]
    op: dict[str, Any] = {"operationId": route.name, "summary": doc.splitlines()[0], "description": doc,
                          "parameters": params, "responses": dict(sorted(responses.items()))}
    if spec is not None and spec.request:
        op["requestBody"] = {"required": True, "content": models.content(spec.request)}
    if route.name in _PUBLIC:
        op["security"] = []
    else:
        keyed = [{"ApiKey": []}, {"Bearer": []}]
        # A viewer link signed by the API (?exp=&sig=) opens the page without a key.
        op["security"] = [*keyed, {}] if route.name.endswith("viewer") else keyed
        scope = getattr(route.endpoint, "required_scope", None)
        if scope:
            op["x-required-scope"] = scope
    return op


def _webhooks(models: _Models) -> dict[str, Any]:
    """What the API POSTs to a registered webhook URL (OpenAPI 3.1 `webhooks`)."""
    headers = {"MotionLens-Signature": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<raw body>')>",
               "MotionLens-Event-Id": "the event id (same for every retry)",
               "Idempotency-Key": "the event id"}
    return {"sessionEnded": {"post": {
        "operationId": "session_ended", "summary": "A session of the webhook's owner completed or failed",
        "parameters": [{"name": n, "in": "header", "required": True, "description": d, "schema": {"type": "string"}}
                       for n, d in headers.items()],
        "requestBody": {"required": True, "content": models.content([Body(WebhookEvent)])},
        "responses": {"200": {"description": "any 2xx: delivered; 408, 429, 5xx or no answer: retried with "
                                              "back-off; anything else: dropped"}},
        "security": []}}}


def openapi_schema(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    models = _Models()
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ("GET",)):
            if method != "HEAD":
                paths.setdefault(_CONVERTER.sub(r"{\1}", route.path), {})[method.lower()] = _operation(route, models)
    return {
        "openapi": "3.1.0",
        "info": {"title": "MotionLens retrieval API", "version": __version__},
        "paths": paths,
        "webhooks": _webhooks(models),
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                           "description": "Authorization: API-KEY <token>"},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"}},
            "schemas": models.components(),
        },
        "security": [{"ApiKey": []}, {"Bearer": []}],
    }
