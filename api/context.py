"""What every endpoint needs, built once by `create_app` and kept on `app.state`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from api.background import Background
from api.links import Links
from api.quotas import Quota
from api.shutdown import Lifecycle
from api.settings import ApiSettings
from pipeline.storage import LocalStorage, Storage

if TYPE_CHECKING:
    from api.rendering import RenderCoordinator
    from api.submissions import Submissions


@dataclass(frozen=True)
class AppContext:
    storage: Storage
    settings: ApiSettings
    links: Links
    renders: RenderCoordinator
    submissions: Submissions
    background: Background
    lifecycle: Lifecycle
    submission_quota: Quota
    render_quota: Quota


def inline_io(storage: Storage) -> bool:
    """Reads from a local folder take microseconds, less than a hop to a worker thread (which
    halves throughput); a network store must never block the event loop."""
    return isinstance(storage, LocalStorage)


def context(conn: HTTPConnection) -> AppContext:
    ctx = conn.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


def storage_bound(endpoint: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """A light endpoint whose only blocking work is storage I/O: run inline over a local folder,
    on a worker thread over a network store. CPU-heavy endpoints stay plain sync functions."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        if inline_io(context(request).storage):
            return endpoint(request)
        return await anyio.to_thread.run_sync(endpoint, request)

    return run
