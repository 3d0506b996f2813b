"""Prefect state hooks that keep a session's manifest truthful when its run ends badly.

`on_failure` runs in the flow-run process; `on_crashed` and `on_cancellation` run in the serving
process after the flow-run process died or was killed. Each writes the failed manifest with the
reason. When the storage itself is down that write fails too: the reason then stays in the run's
Prefect state, and the scheduled inbox flow (`flows/inbox.py`, `reconcile`) writes it once the
storage answers again.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from api.webhooks import notify_hook
from pipeline.errors import PipelineError, StorageUnavailable
from pipeline.recovery import error_class, record_failed
from pipeline.storage import open_storage

log = logging.getLogger("motionlens.flows")

_EXCEPTION_RE = re.compile(r"(?:exception: )?([A-Z]\w+): (.+)", re.S)


def error_from_state(state: Any) -> PipelineError:
    """The user-facing error of a failed, crashed or cancelled run state."""
    message = (state.message or "").strip()
    if state.is_crashed():
        return PipelineError(f"the worker running this session stopped unexpectedly ({message or 'crashed'}); "
                             "it can be run again", code="worker_crashed")
    if state.is_cancelled() or state.is_cancelling():
        return PipelineError("the run was cancelled", code="cancelled")
    exc = _state_exception(state)
    if isinstance(exc, PipelineError):
        return PipelineError(exc.message, code=exc.code)
    if exc is not None:
        return PipelineError(f"internal error ({type(exc).__name__}): {exc}", code="internal_error")
    # A state read back from the API carries only its message: "...exception: StorageUnavailable: ..."
    match = _EXCEPTION_RE.search(message)
    if match and (cls := error_class(match.group(1))) is not None:
        return PipelineError(match.group(2).strip(), code=cls.code)
    return PipelineError(message or "the run failed", code="internal_error")


def _state_exception(state: Any) -> BaseException | None:
    """The exception a state holds; None when it only has a message (read back from the API)."""
    from prefect.exceptions import CancelledRun, CrashedRun, FailedRun

    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # no result stored with this state
        return None
    if isinstance(result, (FailedRun, CrashedRun, CancelledRun)):  # Prefect's stand-in: just the message
        return None
    return result if isinstance(result, BaseException) else None


def mark_session_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """Hook: end the run's session `failed` with the reason (needs `session_id` in the parameters)."""
    params = dict(flow_run.parameters or {})
    session_id = params.get("session_id")
    if not session_id:
        log.warning("flow run %s ended %s without a session_id parameter: no manifest to update",
                    flow_run.id, state.name)
        return
    error = error_from_state(state)
    try:
        record_failed(open_storage(params.get("storage_uri")), session_id, error, params)
    except StorageUnavailable as exc:
        log.warning("session %s: could not record %s (%s); the scheduled inbox flow records it when the "
                    "storage answers again", session_id, error.code, exc.message)


# `notify_hook` tells the owner's webhooks (api/webhooks.py), after the session's end is recorded.
SESSION_HOOKS: dict[str, list[Any]] = {
    "on_completion": [notify_hook],
    "on_failure": [mark_session_failed, notify_hook],
    "on_crashed": [mark_session_failed, notify_hook],
    "on_cancellation": [mark_session_failed, notify_hook],
}
