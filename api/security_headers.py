"""Headers every answer carries, set in one place (a pure ASGI middleware: streams stay streams).

- `X-Content-Type-Options: nosniff` on every answer: a stored file is only ever what its type says.
- `Cache-Control: no-store` on JSON answers that set no caching of their own: they carry signed
  links (details, lists, viewer links) or per-key data, which no shared or browser cache may keep.
- no `Server` header from the app (uvicorn's own is off: `server_header=False` in api/serve.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"server",
                                                                                            b"x-content-type-options")]
                names = {k.lower() for k, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers.append(_NOSNIFF)
                if content_type.startswith(b"application/json") and b"cache-control" not in names:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
