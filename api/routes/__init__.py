"""HTTP endpoints, one module per resource."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

# Only routes with large JSON bodies are compressed: on small answers gzip costs more CPU than it
# saves bytes, and file downloads must never be (Range offsets refer to the stored bytes).
GZIP = [Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)]
