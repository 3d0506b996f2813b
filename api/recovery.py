"""Sessions a dead API process left `queued`/`processing`: requeued here, or failed `interrupted`.

Run at start-up and periodically (`api.lifespan`). Each lease under `runs/` whose owner is gone is
taken over (an exclusive create, so one process wins) and its session rerun from the stored
original or URL; a session that was already interrupted `max_attempts` times, or whose source is
gone, ends `failed` with code `interrupted`. Whatever the dead run half-published is removed
first. Running it twice, or in two processes at once, does each session once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from api import leases
from api.submissions import Submissions
from pipeline.errors import PipelineError
from pipeline.manifest import with_status
from pipeline.recovery import record_failed, remove_partial_artifacts
from pipeline.session import artifact_key, is_valid_session_id, read_manifest, write_manifest
from pipeline.storage import Storage

log = logging.getLogger("motionlens.api")


class Interrupted(PipelineError):
    code = "interrupted"


@dataclass
class Recovered:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # leases of sessions that had ended, or never were


def recover(storage: Storage, submissions: Submissions, *, ttl_s: float, max_attempts: int) -> Recovered:
    out = Recovered()
    mine = {lease.session_id for lease in submissions.held()}
    for session_id in leases.all_leases(storage):
        if session_id in mine or not is_valid_session_id(session_id):
            continue
        held = leases.read(storage, session_id)
        if held is not None and not held.owner_gone(ttl_s):
            continue
        manifest = read_manifest(storage, session_id)
        status = manifest.get("status") if manifest else None
        if held is None or manifest is None or status in ("completed", "failed"):
            if held is None and status in ("queued", "processing"):  # an unreadable lease: no source to rerun
                record_failed(storage, session_id, Interrupted("the analysis was interrupted and could not be "
                                                               "resumed; submit the video again"))
                out.failed.append(session_id)
            elif manifest is None:  # died before the 202: nothing was accepted
                for key in list(storage.list(artifact_key(session_id, "original."))):
                    storage.delete(key)
            storage.delete(leases.lease_key(session_id))
            out.dropped.append(session_id)
            continue
        successor = leases.claim_abandoned(storage, held)
        if successor is None:
            continue  # another process is recovering it
        if successor.attempt > max_attempts or not _source_exists(storage, successor.source):
            record_failed(storage, session_id, Interrupted(
                f"the analysis was interrupted {successor.attempt - 1} time(s) by a server stop; "
                "submit the video again"))
            leases.release(storage, successor)
            leases.forget_takeovers(storage, session_id)
            out.failed.append(session_id)
            continue
        remove_partial_artifacts(storage, manifest)
        write_manifest(storage, with_status(manifest, "queued"))
        log.warning("requeued session %s (attempt %d), left %s by a process that is gone",
                    session_id, successor.attempt, status)
        submissions.start(successor)
        out.requeued.append(session_id)
    return out


def _source_exists(storage: Storage, source: str) -> bool:
    if source.startswith(("http://", "https://", "gs://")):
        return True  # fetched again by the rerun, which reports its own failure
    path = Path(urlparse(source).path) if source.startswith("file://") else Path(source)
    return path.is_file()
