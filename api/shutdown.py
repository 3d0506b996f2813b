"""Whether this API process still takes work: a SIGTERM makes it drain (new submissions and
renders get 503 + Retry-After) while what runs finishes or is handed back (`api.lifespan`)."""

from __future__ import annotations

import threading

from api.errors import ApiError


class Lifecycle:
    def __init__(self, retry_after_s: int = 30) -> None:
        self._draining = threading.Event()
        self.retry_after_s = retry_after_s

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        self._draining.set()

    def check_accepting(self) -> None:
        if self.draining:
            raise ApiError(503, "shutting_down", "this server is shutting down; retry shortly",
                           {"Retry-After": str(self.retry_after_s)})
