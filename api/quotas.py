"""Per-API-key rate limits: at most `limit` actions per `window_s` (a sliding window), else 429.

Kept in this process's memory: with N API processes a key gets up to N × limit; a deployment
that needs one global figure puts the limit in its proxy (docs/security.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from api.errors import ApiError

_MAX_KEYS = 100_000  # a bound on memory: tracked keys are dropped when their window is empty


class Quota:
    def __init__(self, what: str, limit: int, window_s: float) -> None:
        self.what = what
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, now: float | None = None) -> None:
        """Count one action of `key_id`, or raise 429 (with Retry-After) when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.setdefault(key_id, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                retry = max(1, math.ceil(events[0] + self.window_s - now))
                raise ApiError(429, "quota_exceeded",
                               f"this API key may start {self.limit} {self.what} per {self.window_s:g} s; "
                               f"retry in {retry} s", {"Retry-After": str(retry)})
            events.append(now)
            if len(self._events) > _MAX_KEYS:
                self._prune(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window_s]:
            del self._events[key]
