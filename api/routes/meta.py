"""`/health` (public)."""

from __future__ import annotations

import itertools
import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.context import context, storage_bound
from pipeline import __version__
from pipeline.errors import StorageUnavailable
from pipeline.storage import LocalStorage, Storage

log = logging.getLogger("motionlens.api")


@storage_bound
def health(request: Request) -> Response:
    """Liveness and storage reachability; no API key needed."""
    try:
        _probe(context(request).storage)
    except Exception as exc:  # any failure of the store, whatever its client library raises
        log.warning("health check: storage unreachable: %s", exc)
        return JSONResponse({"status": "unavailable", "storage": "unreachable", "version": __version__,
                             "error": {"code": "storage_unavailable", "message": "the session store is unreachable"}},
                            status_code=503, headers={"Retry-After": "30"})
    return JSONResponse({"status": "ok", "storage": "ok", "version": __version__})


def _probe(storage: Storage) -> None:
    if type(storage) is LocalStorage:  # not a subclass: it may read otherwise
        # The root is a readable directory; listing the key store would walk and sort all of it.
        if not storage.root.is_dir():
            raise StorageUnavailable(f"{storage.root} is not a directory")
        with os.scandir(storage.root) as entries:
            next(entries, None)
    else:
        list(itertools.islice(storage.list("auth/keys/"), 1))  # one real round trip to the store


def meta_routes() -> list[Route]:
    return [Route("/health", health, name="health")]
