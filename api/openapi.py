"""OpenAPI 3.1 description generated from the app's own routes, so no route can be left out.

Summaries come from the endpoint docstrings, required scopes from `scoped`; what the routes
cannot say about themselves (extra status codes, query parameters) is in the tables below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Route

from pipeline import __version__

_CONVERTER = re.compile(r"{(\w+):\w+}")
_PUBLIC = ("health", "files")
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_SECURED = {"401": "missing, malformed, unknown or revoked API key", "403": "the key lacks the required scope",
            "404": "no such session for this key (unknown, malformed id, another owner, other activity)",
            "503": "storage unreachable"}
# (route-name suffix, extra responses, query parameters)
_EXTRAS: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = [
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
    ("files", {"206": "partial content (Range)", "403": "expired or altered link", "404": "no such file",
               "416": "range not satisfiable"},
     [("exp", "expiry, unix seconds"), ("sig", "HMAC signature")]),
]


def _operation(route: Route) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or route.name).strip()
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in route.param_convertors]
    if route.name not in _PUBLIC:
        responses.update({code: {"description": text, **_ERROR} for code, text in _SECURED.items()})
    for suffix, extra, query in _EXTRAS:
        if route.name.endswith(suffix):
            responses.update({code: {"description": text, **(_ERROR if code >= "400" else {})}
                              for code, text in extra.items()})
            params += [{"name": n, "in": "query", "required": False, "description": d,
                        "schema": {"type": "string"}} for n, d in query]
    op: dict[str, Any] = {"operationId": route.name, "summary": doc.splitlines()[0], "description": doc,
                          "parameters": params, "responses": dict(sorted(responses.items()))}
    if route.name in _PUBLIC:
        op["security"] = []
    else:
        # A viewer link signed by the API (?exp=&sig=) opens the page without a key.
        op["security"] = [{"ApiKey": []}, {}] if route.name.endswith("viewer") else [{"ApiKey": []}]
        scope = getattr(route.endpoint, "required_scope", None)
        if scope:
            op["x-required-scope"] = scope
    return op


def openapi_schema(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ("GET",)):
            if method != "HEAD":
                paths.setdefault(_CONVERTER.sub(r"{\1}", route.path), {})[method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "MotionLens retrieval API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                                           "description": "Authorization: API-KEY <token>"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}},
        },
        "security": [{"ApiKey": []}],
    }
