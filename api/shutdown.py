"""Whether this API process still takes work: a SIGTERM makes it drain (new submissions and
renders get 503 + Retry-After) while what runs finishes or is handed back (`api.lifespan`)."""

from __future__ import annotations

import threading
import time

from api.errors import ApiError


class Lifecycle:
    def __init__(self, retry_after_s: int = 30) -> None:
        self._draining = threading.Event()
        self.retry_after_s = retry_after_s
        self.draining_since: float | None = None  # time.monotonic() of the stop signal

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()
        self._draining.set()

    def grace_left(self, grace_s: float) -> float:
        """What remains of a grace period that began with the stop signal."""
        since = self.draining_since if self.draining_since is not None else time.monotonic()
        return max(0.0, grace_s - (time.monotonic() - since))

    def check_accepting(self) -> None:
        if self.draining:
            raise ApiError(503, "shutting_down", "this server is shutting down; retry shortly",
                           {"Retry-After": str(self.retry_after_s)})
