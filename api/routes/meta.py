"""`/health` (public) and `/openapi.json`."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import AUTHENTICATED
from api.context import context
from api.openapi import openapi_schema
from api.routes import GZIP
from pipeline import __version__
from pipeline.errors import StorageUnavailable

log = logging.getLogger("motionlens.api")


def health(request: Request) -> Response:
    """Liveness and storage reachability; no API key needed."""
    storage = context(request).storage
    try:
        root = getattr(storage, "root", None)
        if isinstance(root, Path) and not root.is_dir():
            raise StorageUnavailable(f"{root} is not a directory")
        list(itertools.islice(storage.list("auth/keys/"), 1))  # one real round trip to the store
    except Exception as exc:  # any failure of the store, whatever its client library raises
        log.warning("health check: storage unreachable: %s", exc)
        return JSONResponse({"status": "unavailable", "storage": "unreachable", "version": __version__,
                             "error": {"code": "storage_unavailable", "message": "the session store is unreachable"}},
                            status_code=503, headers={"Retry-After": "30"})
    return JSONResponse({"status": "ok", "storage": "ok", "version": __version__})


@requires(AUTHENTICATED, status_code=401)
def openapi(request: Request) -> Response:
    """This API's OpenAPI 3.1 description."""
    return JSONResponse(openapi_schema(request.app.routes))


def meta_routes() -> list[Route]:
    return [Route("/health", health, name="health"), Route("/openapi.json", openapi, name="openapi", middleware=GZIP)]
