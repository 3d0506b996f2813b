"""At most one render per session, across threads, workers and hosts sharing the storage.

The claim is `storage.create_exclusive("sessions/{id}/render.lock")`; whoever creates it renders
and deletes it when done. A process that dies leaves its lock behind: the lock names its owner
process (`pipeline.liveness`), so on the same host a lock whose owner is gone is taken over at
once; otherwise after `stale_after_s`. The takeover is itself an exclusive create
(`render.lock.takeover-{old token}`) so that two pollers cannot both take over the same stale lock.
At most `max_parallel` renders run in this process; past that `ensure_rendering` raises `RenderBusy`.

A `Renderer` is a blocking callable that returns when `analyzed.mp4` is written; to run renders
elsewhere (a Prefect deployment), pass one that triggers the run and waits for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from api.background import Background
from pipeline.errors import PipelineError
from pipeline.liveness import is_alive, this_process
from pipeline.session import artifact_key, utc_now_iso
from pipeline.storage import Storage

log = logging.getLogger("motionlens.api")

Renderer = Callable[[Storage, str], object]


def default_renderer(storage: Storage, session_id: str) -> object:
    from pipeline.render.session import render_session  # imported on first use: pulls in av and cv2

    return render_session(storage, session_id)


def lock_key(session_id: str) -> str:
    return artifact_key(session_id, "render.lock")


def error_key(session_id: str) -> str:
    return artifact_key(session_id, "render-error.json")


def video_key(session_id: str) -> str:
    return artifact_key(session_id, "analyzed.mp4")


class RenderBusy(Exception):
    """This process already runs its maximum of renders."""


class RenderCoordinator:
    def __init__(self, storage: Storage, renderer: Renderer, background: Background, *,
                 stale_after_s: float, failure_cooldown_s: float, max_parallel: int = 2) -> None:
        self.storage = storage
        self.renderer = renderer
        self.background = background
        self.stale_after_s = stale_after_s
        self.failure_cooldown_s = failure_cooldown_s
        self.max_parallel = max_parallel
        self._held: dict[str, str] = {}  # session id -> token of the locks this process holds
        self._held_lock = threading.Lock()

    def is_rendering(self, session_id: str) -> bool:
        return self.storage.exists(lock_key(session_id))

    def recent_failure(self, session_id: str) -> dict[str, Any] | None:
        key = error_key(session_id)
        if not self.storage.exists(key):
            return None
        failure: dict[str, Any] = json.loads(self.storage.read_bytes(key))
        if time.time() - float(failure.get("at_unix", 0)) > self.failure_cooldown_s:
            return None  # cooled down: let the next poll try again
        return failure

    def ensure_rendering(self, session_id: str, before_start: Callable[[], object] | None = None) -> bool:
        """Start a render unless one is running; True when this call started it. `before_start` runs
        (and may raise, e.g. a quota) only when a render would start. Raises RenderBusy at the limit."""
        with self._held_lock:
            if len(self._held) >= self.max_parallel:
                if self.is_rendering(session_id):
                    return False
                raise RenderBusy
            token = self._claim(session_id)
            if token is None:
                return False  # already rendering: a poll, which costs no quota
            if before_start is not None:
                try:
                    before_start()
                except BaseException:
                    self._release(session_id, token)
                    raise
            self._held[session_id] = token
        self.background.start(f"render-{session_id}", self._run, session_id, token)
        return True

    def hand_back(self) -> list[str]:
        """At shutdown: release the locks of renders still running, so the next poll starts them anew."""
        with self._held_lock:
            held = dict(self._held)
        for session_id, token in held.items():
            self._release(session_id, token)
        return list(held)

    def _lock_body(self, token: str) -> bytes:
        return json.dumps({"token": token, "started_at_unix": time.time(), "started_at": utc_now_iso(),
                           **this_process()}).encode()

    def _abandoned(self, held: dict[str, Any]) -> bool:
        if time.time() - float(held.get("started_at_unix", 0)) >= self.stale_after_s:
            return True
        return is_alive(held) is False  # its owner is gone: no need to wait

    def _read_lock(self, session_id: str) -> dict[str, Any] | None:
        # A lock that is created but not yet written reads empty: give its writer a moment.
        for _ in range(5):
            try:
                held: dict[str, Any] = json.loads(self.storage.read_bytes(lock_key(session_id)))
                return held
            except FileNotFoundError:
                return None
            except ValueError:
                time.sleep(0.02)
        return {"token": "unreadable", "started_at_unix": 0}

    def _claim(self, session_id: str) -> str | None:
        token = uuid.uuid4().hex
        body = self._lock_body(token)
        if self.storage.create_exclusive(lock_key(session_id), body):
            return token
        held = self._read_lock(session_id)
        if held is None:  # released between our two calls
            return token if self.storage.create_exclusive(lock_key(session_id), body) else None
        if not self._abandoned(held):
            return None
        takeover = artifact_key(session_id, f"render.lock.takeover-{held.get('token', 'unknown')}")
        if not self.storage.create_exclusive(takeover, body):
            return None
        log.warning("taking over the stale render lock of session %s (%s)", session_id, held)
        self.storage.write_bytes(lock_key(session_id), body)
        return token

    def _run(self, session_id: str, token: str) -> None:
        try:
            self.renderer(self.storage, session_id)
            if not self.storage.exists(video_key(session_id)):
                raise RuntimeError("the renderer returned without writing analyzed.mp4")
            self.storage.delete(error_key(session_id))
        except Exception as exc:
            log.exception("render of session %s failed", session_id)
            code = exc.code if isinstance(exc, PipelineError) else "render_failed"
            message = exc.message if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"[:300]
            failure = {"code": code, "message": message, "at": utc_now_iso(), "at_unix": time.time()}
            self.storage.write_bytes(error_key(session_id), json.dumps(failure).encode(), "application/json")
        finally:
            self._release(session_id, token)
            with self._held_lock:
                if self._held.get(session_id) == token:
                    del self._held[session_id]

    def _release(self, session_id: str, token: str) -> None:
        held = self._read_lock(session_id)
        if held is not None and held.get("token") == token:
            self.storage.delete(lock_key(session_id))
        for key in list(self.storage.list(artifact_key(session_id, "render.lock.takeover-"))):
            self.storage.delete(key)
