"""Every error the API returns has one shape: `{"error": {"code": ..., "message": ...}}`.

All exception→response mappings live in `EXCEPTION_HANDLERS`; Starlette looks handlers up
through the exception's MRO, so `ApiError` covers its subclasses and `OSError` covers the
storage failures that are not more specifically mapped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.redact import without_paths
from pipeline.errors import SessionCorrupt, StorageUnavailable

log = logging.getLogger("motionlens.api")

AUTH_HINT = ("send the header 'Authorization: API-KEY <token>' (or 'Authorization: Bearer <token>') "
             "with a valid, unrevoked key")
# Two challenges in one header (RFC 9110 §11.6.1): the seed's scheme first, then OAuth-style Bearer.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'API-KEY realm="motionlens", Bearer realm="motionlens"'}


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class SessionNotFound(ApiError):
    # One message for unknown, malformed, other owner's and wrong-activity ids: never reveal
    # that a session exists.
    def __init__(self) -> None:
        super().__init__(404, "session_not_found", "no such session for this API key")


def error_response(status_code: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": without_paths(message)}}, status_code=status_code,
                        headers=dict(headers or {}))


def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def _http_exception(request: Request, exc: Exception) -> Response:
    # Raised by the router (404/405), by `requires` (401/403) and by Starlette's body limits.
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    message = exc.detail
    if exc.status_code == 401:
        headers.update(WWW_AUTHENTICATE)
        message = f"authentication required: {AUTH_HINT}"
    elif exc.status_code == 403:
        scope = getattr(request.scope.get("endpoint"), "required_scope", None)
        message = f"this API key lacks the '{scope}' scope" if scope else "this API key may not do this"
    elif exc.status_code == 404:
        message = f"no route {request.url.path!r}"
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), message, headers)


def _missing_artifact(request: Request, exc: Exception) -> Response:
    # A file the manifest lists has gone: an inconsistency of that session, not an outage.
    log.warning("missing stored object on %s: %s", request.url.path, exc)
    return error_response(404, "artifact_missing", "a stored file of this session is missing")


def _storage_unavailable(request: Request, exc: Exception) -> Response:
    log.error("storage unavailable on %s: %s", request.url.path, exc)
    return error_response(503, "storage_unavailable", "the session store is unreachable; retry later",
                          {"Retry-After": "30"})


def _session_corrupt(request: Request, exc: Exception) -> Response:
    # The stored record cannot be read: a stable code for the client, the details for the operator.
    log.warning("damaged session record on %s: %s", request.url.path, exc)
    return error_response(409, "session_corrupt", "this session's stored record is damaged; it has been logged")


def _internal_error(request: Request, exc: Exception) -> Response:
    # ServerErrorMiddleware logs the traceback; the client only gets the JSON error. It answers
    # outside the other middleware, so the security headers (api/security_headers.py) are set here.
    return error_response(500, "internal_error", "unexpected server error; it has been logged",
                          {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]

EXCEPTION_HANDLERS: dict[Any, Handler] = {
    ApiError: _api_error,
    HTTPException: _http_exception,
    StorageUnavailable: _storage_unavailable,
    SessionCorrupt: _session_corrupt,
    FileNotFoundError: _missing_artifact,
    OSError: _storage_unavailable,
    Exception: _internal_error,
}
