"""`/health` (public)."""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.context import context, storage_bound
from api.keys import KeyRecord
from pipeline import __version__
from pipeline.errors import StorageUnavailable
from pipeline.storage import LocalStorage, Storage

log = logging.getLogger("motionlens.api")


@storage_bound
def health(request: Request) -> Response:
    """Liveness, and what is broken: the store (reachable, writable), the link-signing key, the key
    store. No API key needed; 503 + Retry-After when anything is broken, naming it."""
    ctx = context(request)
    storage = ctx.storage
    checks = {"storage": _check("storage", lambda: _probe(storage), "unreachable")}
    if checks["storage"] != "ok":
        return _unhealthy(checks, "storage_unavailable", "the session store is unreachable")
    checks["storage_writable"] = _check("storage_writable", lambda: _probe_write(storage))
    checks["signing_key"] = _check("signing_key", ctx.links.reload_signer)  # recovers a corrupt one
    checks["key_store"] = _check("key_store", lambda: _probe_keys(storage))
    if ctx.lifecycle.draining:
        checks["accepting_work"] = "draining"
    broken = [name for name, state in checks.items() if state != "ok"]
    if broken:
        return _unhealthy(checks, "degraded", f"not working: {', '.join(broken)}")
    return JSONResponse({"status": "ok", **checks, "version": __version__})


def _check(name: str, probe: Callable[[], object], broken: str = "failed") -> str:
    try:
        probe()
    except Exception as exc:  # any failure of the store, whatever its client library raises
        log.warning("health check %s failed: %s: %s", name, type(exc).__name__, exc)
        return broken
    return "ok"


def _unhealthy(checks: dict[str, str], code: str, message: str) -> Response:
    status = "unavailable" if checks.get("storage") != "ok" else "degraded"
    return JSONResponse({"status": status, **checks, "version": __version__,
                         "error": {"code": code, "message": message}},
                        status_code=503, headers={"Retry-After": "30"})


def _probe(storage: Storage) -> None:
    if type(storage) is LocalStorage:  # not a subclass: it may read otherwise
        # The root is a readable directory; listing the key store would walk and sort all of it.
        if not storage.root.is_dir():
            raise StorageUnavailable(f"{storage.root} is not a directory")
        with os.scandir(storage.root) as entries:
            next(entries, None)
    else:
        list(itertools.islice(storage.list("auth/keys/"), 1))  # one real round trip to the store


def _probe_write(storage: Storage) -> None:
    """A full disk or a read-only store shows here, before a submission or a lock write hits it."""
    key = f"health/probe-{socket.gethostname()}-{os.getpid()}"[:200]
    storage.write_bytes(_safe_key(key), b"ok")
    storage.delete(_safe_key(key))


def _probe_keys(storage: Storage) -> None:
    """The first key record parses (an unreadable key store fails every request with a key)."""
    for key in itertools.islice(storage.list("auth/keys/"), 1):
        KeyRecord.from_json(storage.read_bytes(key))


def _safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "/-._" else "-" for c in key)


def meta_routes() -> list[Route]:
    return [Route("/health", health, name="health")]
