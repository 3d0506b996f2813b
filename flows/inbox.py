"""The scheduled `inbox` flow: new videos under `inbox/{activity}/` become analysed sessions.

Each run, in order (rules in `pipeline/inbox.py`):
1. reconcile: analysis runs that failed, crashed or were cancelled while their session still says
   queued/processing (the storage was down when the hook tried) -> the session is marked failed
   with the run's reason, and what a half-done publish left is removed;
2. survey the inbox: completed sessions leave it; transient failures and orphans are retried under
   the same session id; new videos are claimed (exactly once, however many runs race);
3. submit: one `analyze-session` run per session on the served deployment (in parallel on the
   worker), or one after the other in this run (`run_analyses="inline"`).

Safe to run twice at once: every decision that two runs could both take is an exclusive create.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Literal

from prefect import flow, tags, task
from prefect.cache_policies import NO_CACHE

from flows.hooks import error_from_state
from flows.triggers import (OrchestratorUnavailable, ended_badly_since, latest_run_of_session, lookback, session_tag,
                            submit_analysis)
from pipeline import inbox as box
from pipeline.recovery import record_failed
from pipeline.session import read_manifest
from pipeline.storage import Storage, open_storage

log = logging.getLogger("motionlens.inbox")

INBOX_FLOW = "inbox"


def _iso_age_s(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return time.time() - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile(storage_uri: str | None, lookback_hours: float) -> list[str]:
    """Sessions still queued/processing whose latest run ended badly -> failed, with that run's reason."""
    storage = open_storage(storage_uri)
    same: dict[str | None, bool] = {}
    marked = []
    for run in ended_badly_since(lookback(lookback_hours)):
        params = dict(run.parameters or {})
        session_id = params.get("session_id")
        uri = params.get("storage_uri")
        if uri not in same:
            same[uri] = open_storage(uri).uri == storage.uri
        if not session_id or not same[uri]:
            continue
        manifest = read_manifest(storage, session_id)
        if manifest is None or manifest.get("status") not in ("queued", "processing"):
            continue
        latest = latest_run_of_session(session_id)
        if latest is not None and latest.id != run.id:
            continue  # a newer run owns the session now
        if record_failed(storage, session_id, error_from_state(run.state), params) is not None:
            log.warning("session %s: run %s ended %s; recorded as failed", session_id, run.id, run.state.name)
            marked.append(session_id)
    return marked


@task(name="survey", cache_policy=NO_CACHE)
def survey(storage_uri: str | None, owner: str, max_attempts: int) -> box.Survey:
    storage = open_storage(storage_uri)
    found = box.survey(storage, owner, max_attempts)
    # Queued long ago and never started (the run that queued it died before submitting): an orphan.
    for session_id in list(found.running):
        manifest = read_manifest(storage, session_id)
        if manifest and manifest.get("status") == "queued" and _iso_age_s(manifest.get("updated_at")) > \
                box.ORPHAN_AFTER_S and latest_run_of_session(session_id) is None:
            video = next(v for v in box.find_videos(storage, owner) if _claimed_by(storage, v, session_id))
            found.running.remove(session_id)
            found.retry.append(box.Retry(video, manifest, session_id, box.attempts(storage, video) + 1))
    return found


def _claimed_by(storage: Storage, video: box.InboxVideo, session_id: str) -> bool:
    taken = box.read_claim(storage, video)
    return taken is not None and taken.get("session_id") == session_id


@task(name="tidy", cache_policy=NO_CACHE)
def tidy(storage_uri: str | None, done: list[tuple[box.InboxVideo, str]]) -> list[str]:
    storage = open_storage(storage_uri)
    for video, _ in done:
        box.remove_finished(storage, video)
    return [video.key for video, _ in done]


@task(name="claim", cache_policy=NO_CACHE)
def claim(storage_uri: str | None, video: box.InboxVideo) -> box.Start | None:
    return box.claim(open_storage(storage_uri), video)


@task(name="retry", cache_policy=NO_CACHE)
def retry(storage_uri: str | None, planned: box.Retry) -> box.Start | None:
    return box.retry(open_storage(storage_uri), planned)


@task(name="submit", cache_policy=NO_CACHE)
def submit(storage_uri: str | None, start: box.Start) -> str | None:
    """Start the session's run; if Prefect refuses, the session fails (transient: the next run retries)."""
    storage = open_storage(storage_uri)
    try:
        return submit_analysis(storage.uri, start.session_id, start.source, start.options, tags=["inbox"],
                               idempotency_key=f"{start.session_id}:attempt-{start.attempt}")
    except OrchestratorUnavailable as exc:
        record_failed(storage, start.session_id, exc)
        return None


@flow(name=INBOX_FLOW, log_prints=True)
def inbox(storage_uri: str | None = None, owner: str = "local", max_new: int = 20, max_attempts: int = 3,
          run_analyses: Literal["deployment", "inline"] = "deployment", lookback_hours: float = 24.0) -> dict[str, Any]:
    """Turn new videos under inbox/{activity}/ into sessions; retry transient failures; tidy up."""
    state = reconcile(storage_uri, lookback_hours, return_state=True)   # bookkeeping: never blocks new videos
    reconciled = state.result() if state.is_completed() else []
    found = survey(storage_uri, owner, max_attempts)
    removed = tidy(storage_uri, found.done)
    starts = [s for planned in found.retry if (s := retry(storage_uri, planned)) is not None]
    starts += [s for v in found.new[:max_new] if (s := claim(storage_uri, v)) is not None]
    for start in starts:
        if run_analyses == "inline":
            from flows.analysis_run import analyze_session_run  # mediapipe & co: only when analysing here

            with tags(session_tag(start.session_id), "inbox"):
                analyze_session_run(start.source, start.options, storage_uri, start.session_id, return_state=True)
        else:
            submit(storage_uri, start)
    summary = {"started": [s.session_id for s in starts], "reconciled": reconciled,
               "reconcile_error": None if state.is_completed() else state.message, "removed": removed,
               "running": found.running, "failed": found.failed, "waiting": max(0, len(found.new) - max_new)}
    print(f"inbox: {summary}")
    return summary
