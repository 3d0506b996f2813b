"""`motionlens serve`: the API under uvicorn, with the limits of docs/security.md."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn

from api import log_dedup
from api.app import create_app
from api.protocol import GuardedH11Protocol
from api.settings import ApiSettings
from api.shutdown import Lifecycle
from pipeline.storage import open_storage


class _Server(uvicorn.Server):
    """Stops taking new work as soon as SIGTERM arrives, not only once open connections close."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.lifecycle.drain()
        super().handle_exit(sig, frame)


def serve(storage_uri: str | None, host: str, port: int) -> None:
    from flows.triggers import api_hooks  # Prefect-backed submit/render when PREFECT_API_URL is set

    settings = ApiSettings.from_env()
    app = create_app(open_storage(storage_uri), settings, **api_hooks())
    config = uvicorn.Config(
        app, host=host, port=port,
        proxy_headers=True,  # behind a reverse proxy, links use the client-facing scheme and host
        log_level="info", server_header=False,
        http=GuardedH11Protocol.configured(settings.header_timeout_s, settings.max_connections),
        timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=settings.max_connections,
        # Open requests (uploads) get the same grace as running work; then they are cut.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
    )
    if not logging.getLogger().handlers:  # motionlens.* loggers: through one handler, deduplicated
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    log_dedup.install()
    _Server(config, app.state.ctx.lifecycle).run()
