"""`motionlens serve`: the API under uvicorn."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from pipeline.storage import open_storage


def serve(storage_uri: str | None, host: str, port: int) -> None:
    from flows.triggers import api_hooks  # Prefect-backed submit/render when PREFECT_API_URL is set

    app = create_app(open_storage(storage_uri), ApiSettings.from_env(), **api_hooks())
    # proxy_headers: behind a reverse proxy, links use the client-facing scheme and host.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info", server_header=False)
