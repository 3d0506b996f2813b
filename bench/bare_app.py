"""The baseline of `bench.api`: a bare Starlette app with one JSON endpoint, served as `motionlens serve`
serves the API (`api/serve.py`: uvicorn, one process, `proxy_headers=True`, access log at info).

    python -m bench.bare_app --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/", hello)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=a.port, proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()
