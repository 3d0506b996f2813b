"""`/openapi.json` and `/docs`: the API's description, readable without a key.

Both are built once per app (the routes do not change) and carry a weak ETag: the JSON is
gzipped for clients that accept it, so its bytes vary with Accept-Encoding (hence `Vary`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from api.docs_page import CSP, docs_page
from api.etag import none_match, not_modified, weak
from api.openapi import openapi_schema
from api.routes import GZIP


def _document(request: Request) -> tuple[dict[str, Any], bytes, str]:
    cached = getattr(request.app.state, "openapi", None)
    if cached is None:
        document = openapi_schema(request.app.routes)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        cached = request.app.state.openapi = (document, body, weak(body.decode()))
    return cached


def openapi(request: Request) -> Response:
    """This API's OpenAPI 3.1 description (no key needed)."""
    _, body, etag = _document(request)
    headers = {"ETag": etag, "Cache-Control": "public, no-cache"}
    if none_match(request, etag):  # GZip adds Vary to the 200 (its body is large), not to an empty 304
        return not_modified({**headers, "Vary": "Accept-Encoding"})
    return Response(body, media_type="application/json", headers=headers)


def docs(request: Request) -> Response:
    """Human-readable API reference generated from the OpenAPI document (no key needed)."""
    document, _, _ = _document(request)
    return HTMLResponse(docs_page(document, str(request.url_for("openapi"))),
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "public, no-cache"})


def docs_routes() -> list[Route]:
    return [Route("/openapi.json", openapi, name="openapi", middleware=GZIP), Route("/docs", docs, name="docs")]
