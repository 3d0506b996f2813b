"""A loopback HTTP server for tests of what the server fetches: fixed answers per path, optionally
trickled (a body sent a few bytes at a time), recording each request's Host header."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Trickle:
    """Send `body` `step` bytes every `every_s` seconds, for at most `for_s` seconds, then hang up."""

    body: bytes
    step: int = 1
    every_s: float = 0.1
    for_s: float = 6.0


class Recorder:
    """A loopback HTTP server that answers `routes[path] = (status, headers, body)` and records Host headers."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.hosts: list[str] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes | Trickle]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                recorder.hosts.append(self.headers.get("Host", ""))
                status, headers, body = recorder.routes.get(self.path, (200, {}, b"ok"))
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(_bytes(body)))}.items():
                    self.send_header(k, v)
                self.end_headers()
                if isinstance(body, Trickle):
                    self._trickle(body)
                else:
                    self.wfile.write(body)

            def _trickle(self, t: Trickle) -> None:
                end = time.monotonic() + t.for_s
                for i in range(0, len(t.body), t.step):
                    if time.monotonic() > end:
                        return
                    try:
                        self.wfile.write(t.body[i:i + t.step])
                        self.wfile.flush()
                    except OSError:  # the client gave up: that is what the tests expect
                        return
                    time.sleep(t.every_s)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _bytes(body: bytes | Trickle) -> bytes:
    return body.body if isinstance(body, Trickle) else body
