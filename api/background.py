"""Work that outlives its request (renders, analyses), on daemon threads we can count and wait for."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("motionlens.api")


class Background:
    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except BaseException:  # the task records its own failures; this only keeps the log
            log.exception("background task %s failed", threading.current_thread().name)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._threads)

    def wait(self, timeout_s: float) -> bool:
        """True when every task has finished within the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return self.active == 0
