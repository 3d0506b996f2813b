"""Whether this API process still takes work: a SIGTERM makes it drain (new submissions and
renders get 503 + Retry-After) while what runs finishes or is handed back (`api.lifespan`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from api.errors import ApiError

T = TypeVar("T")
_POLL_S = 0.2


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

    async def unless_draining(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work()`, cut short with 503 + Retry-After if a stop begins meanwhile: an upload still
        arriving then would otherwise be cancelled by uvicorn's grace timeout, and answered 500."""
        outcome: dict[str, Any] = {}

        async def run(scope: anyio.CancelScope) -> None:
            try:
                outcome["value"] = await work()
            except Exception as exc:  # kept to raise as it is (a task group would wrap it in a group)
                outcome["error"] = exc
            scope.cancel()

        async def watch(scope: anyio.CancelScope) -> None:
            while not self.draining:
                await anyio.sleep(_POLL_S)
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(run, group.cancel_scope)
            group.start_soon(watch, group.cancel_scope)
        if "error" in outcome:
            raise outcome["error"]
        if "value" not in outcome:
            self.check_accepting()
        return outcome["value"]  # type: ignore[no-any-return]
