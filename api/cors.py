"""Cross-origin access for browser apps: off unless the operator lists origins (`cors_origins`).

The middleware sits outside authentication, so a preflight (`OPTIONS` without a key) is answered
by it, and every answer, 401s included, carries the CORS headers a page needs to read it. Keys
travel in the Authorization header, never in cookies: credentials mode is not needed.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api.settings import ApiSettings

# Headers a page may read from an answer (besides the CORS-safelisted ones).
EXPOSED = ("ETag", "Location", "Retry-After", "Link", "Content-Range", "Content-Language", "WWW-Authenticate")


def cors_middleware(settings: ApiSettings) -> list[Middleware]:
    if not settings.cors_origins:
        return []
    return [Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=["GET", "HEAD", "POST", "DELETE"],
                       allow_headers=["Authorization", "Content-Type", "If-None-Match", "Range", "Accept-Language"],
                       expose_headers=list(EXPOSED), max_age=600)]
