"""Who is calling (`ApiKeyBackend`) is kept apart from what they may do (`scoped` on endpoints).

Without an Authorization header the caller is anonymous and `scoped` answers 401; a header
that is malformed, unknown or revoked is refused by the middleware itself with 401, so a bad
key never falls through to a public route's anonymous behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser, requires
from starlette.requests import HTTPConnection
from starlette.responses import Response

from api.context import inline_io
from api.errors import AUTH_HINT, WWW_AUTHENTICATE, error_response
from api.keys import SCOPES, TOKEN_RE, KeyRecord, find_key
from pipeline.errors import StorageUnavailable
from pipeline.storage import Storage

AUTHENTICATED = "authenticated"
# The seed's scheme, and Bearer (RFC 6750) which HTTP client libraries and OpenAPI tools send.
_SCHEMES = ("API-KEY", "BEARER")


class ApiUser(BaseUser):
    def __init__(self, record: KeyRecord) -> None:
        self.record = record

    @property
    def owner(self) -> str:
        return self.record.owner

    @property
    def is_admin(self) -> bool:
        return "admin" in self.record.scopes

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.record.owner

    @property
    def identity(self) -> str:
        return self.record.key_id


class ApiAuthError(AuthenticationError):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


class ApiKeyBackend(AuthenticationBackend):
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._inline = inline_io(storage)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].upper() not in _SCHEMES or not TOKEN_RE.match(parts[1]):
            raise ApiAuthError(401, "malformed_authorization", f"malformed Authorization header: {AUTH_HINT}")
        try:
            if self._inline:
                record = find_key(self.storage, parts[1])
            else:
                record = await anyio.to_thread.run_sync(find_key, self.storage, parts[1])
        except (OSError, StorageUnavailable) as exc:
            raise ApiAuthError(503, "storage_unavailable", "the key store is unreachable; retry later") from exc
        if record is None:
            raise ApiAuthError(401, "invalid_api_key", f"unknown API key: {AUTH_HINT}")
        if record.revoked:
            raise ApiAuthError(401, "revoked_api_key", f"this API key was revoked: {AUTH_HINT}")
        scopes = {AUTHENTICATED, *record.scopes}
        if "admin" in scopes:
            scopes.update(SCOPES)
        return AuthCredentials(sorted(scopes)), ApiUser(record)


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, ApiAuthError):
        headers = WWW_AUTHENTICATE if exc.status_code == 401 else {"Retry-After": "30"}
        return error_response(exc.status_code, exc.code, exc.message, headers)
    return error_response(401, "unauthorized", AUTH_HINT, WWW_AUTHENTICATE)


F = TypeVar("F", bound=Callable[..., Any])


def scoped(scope: str) -> Callable[[F], F]:
    """Anonymous → 401, authenticated without `scope` → 403 (the endpoint's parameter must be `request`)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(endpoint: F) -> F:
        wrapped = requires(AUTHENTICATED, status_code=401)(requires(scope, status_code=403)(endpoint))
        wrapped.required_scope = scope  # type: ignore[attr-defined]  # read by the 403 message and OpenAPI
        return wrapped  # type: ignore[return-value]

    return decorate


def current_user(conn: HTTPConnection) -> ApiUser:
    user = conn.user
    assert isinstance(user, ApiUser), "endpoint reached without `scoped`"
    return user
