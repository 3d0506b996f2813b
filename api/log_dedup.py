"""Each repeated warning or error logged once per window, not once per occurrence.

Under abuse the same line repeats thousands of times a second (a refused connection, an invalid
request, a failing store) and the log becomes the outage: 100 MB of it in the review. A record
whose logger, level, message template, arguments and exception type were seen within `window_s`
is dropped and counted; the next one let through says how many were dropped. A template is also
capped at `per_template` distinct lines per window, so varying arguments cannot flood either.
Records below WARNING (the access log) pass untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

_Key = tuple[str, int, str, str, str]


class DedupFilter(logging.Filter):
    def __init__(self, window_s: float = 60.0, per_template: int = 20, max_keys: int = 10_000) -> None:
        super().__init__()
        self.window_s = window_s
        self.per_template = per_template
        self.max_keys = max_keys
        self._seen: dict[_Key, tuple[float, int]] = {}  # key -> (first let through at, dropped since)
        self._templates: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (window start, lines let through)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = time.monotonic()
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        template = (record.name, record.levelno, str(record.msg))
        key: _Key = (*template, repr(record.args)[:300], exc)
        with self._lock:
            if len(self._seen) > self.max_keys:
                self._forget(now)
            first, dropped = self._seen.get(key, (-self.window_s, 0))
            if now - first < self.window_s:
                self._seen[key] = (first, dropped + 1)
                return False
            start, count = self._templates.get(template, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if count >= self.per_template:
                self._templates[template] = (start, count)
                return False
            self._templates[template] = (start, count + 1)
            self._seen[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} [repeated {dropped} more time(s) in the previous {self.window_s:g} s]"
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, (first, _) in self._seen.items() if now - first >= self.window_s]:
            del self._seen[key]


def install(loggers: Iterable[str] = ("", "uvicorn", "uvicorn.error", "uvicorn.access"),
            dedup: DedupFilter | None = None) -> DedupFilter:
    """Put one filter on every handler of these loggers (a logger's own filters miss records that
    propagate from its children; a handler's see them all)."""
    dedup = dedup or DedupFilter()
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if dedup not in handler.filters:
                handler.addFilter(dedup)
    return dedup
