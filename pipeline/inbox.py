"""The inbox: videos dropped under `inbox/{activity}/...` become sessions, each exactly once.

Layout (in the same storage as the sessions):

    inbox/{activity}/[{exercise}/]{name}.{mp4,mov,m4v,webm,mkv,avi}   a video to analyse
    inbox/{activity}/[{exercise}/]{name}.json                         optional options for it, e.g.
                                                                      {"exercise": "clean", "athlete_height_m": 1.8}
    inbox-claims/{sha256 of the video key}.json                       who took it: {key, session_id, ...}
    inbox-claims/{sha256}.attempt-{n}                                 the n-th (re)try of a transient failure

Exactly once: a video becomes a session only through `storage.create_exclusive` of its claim, which
one caller wins however many inbox runs race (GCS `ifGenerationMatch=0`, `O_EXCL` on disk). The
claim names the session, so a run that dies after claiming leaves a session id that the next run
resumes (`orphan`). When the session completes, the video, its options and its claim are removed
(the video lives on as `sessions/{id}/original.*`). A session that failed for a transient reason
(storage, download, orchestrator, crash) is run again under the same id, at most `max_attempts`
times in all, each retry itself claimed exclusively; any other failure stays for a person to look
at (delete the claim to analyse the video again as a new session).

Upload the options file before the video: a video is taken as soon as it is seen.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pipeline.errors import InvalidOption, PipelineError
from pipeline.manifest import failed, new_manifest, with_status
from pipeline.options import ACTIVITIES, EXERCISES, AnalysisOptions
from pipeline.recovery import TRANSIENT_CODES
from pipeline.session import new_session_id, read_manifest, utc_now_iso, write_manifest
from pipeline.storage import Storage

INBOX = "inbox/"
CLAIMS = "inbox-claims/"
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
ORPHAN_AFTER_S = 600.0


@dataclass(frozen=True)
class InboxVideo:
    key: str
    activity: str
    options: dict[str, Any] = field(default_factory=dict)
    error: PipelineError | None = None        # options that do not validate: the session fails at once

    @property
    def claim_key(self) -> str:
        return f"{CLAIMS}{hashlib.sha256(self.key.encode()).hexdigest()}.json"

    @property
    def sidecar_key(self) -> str:
        return str(PurePosixPath(self.key).with_suffix(".json"))

    @property
    def attempt_prefix(self) -> str:
        return self.claim_key[: -len(".json")] + ".attempt-"

    def attempt_key(self, n: int) -> str:
        return f"{self.attempt_prefix}{n}"


@dataclass(frozen=True)
class Start:
    """A session to run now: new, resumed or retried."""

    session_id: str
    video_key: str
    source: str
    options: dict[str, Any]
    attempt: int


def source_uri(storage: Storage, key: str) -> str:
    return f"{storage.uri.rstrip('/')}/{key}"


def find_videos(storage: Storage, owner: str = "local") -> list[InboxVideo]:
    """Every video waiting in the inbox, with its options (activity and exercise from the path)."""
    keys = list(storage.list(INBOX))
    present = set(keys)
    videos = []
    for key in keys:
        parts = key.split("/")
        if len(parts) < 3 or not key.lower().endswith(VIDEO_SUFFIXES) or parts[-1].startswith("."):
            continue
        activity = parts[1]
        if activity not in ACTIVITIES:
            continue   # not ours to judge: leave it for a person (logged by the flow)
        raw: dict[str, Any] = {"owner": owner}
        if activity == "weightlifting" and len(parts) > 3 and parts[2] in EXERCISES:
            raw["exercise"] = parts[2]
        video = InboxVideo(key, activity)
        error = None
        if video.sidecar_key in present:
            try:
                extra = json.loads(storage.read_bytes(video.sidecar_key))
                if not isinstance(extra, dict):
                    raise ValueError("not a JSON object")
                raw.update({k: v for k, v in extra.items() if k != "activity"})
            except ValueError as exc:
                error = InvalidOption(f"{video.sidecar_key} is not a valid options file: {exc}")
        try:
            options = AnalysisOptions.from_dict({**raw, "activity": activity}).to_dict()
        except TypeError as exc:
            error, options = InvalidOption(f"{video.sidecar_key}: {exc}"), {"activity": activity, "owner": owner}
        except InvalidOption as exc:
            error, options = exc, {"activity": activity, "owner": owner}
        videos.append(InboxVideo(key, activity, options, error))
    return videos


def read_claim(storage: Storage, video: InboxVideo) -> dict[str, Any] | None:
    try:
        return json.loads(storage.read_bytes(video.claim_key))
    except FileNotFoundError:
        return None


def claim(storage: Storage, video: InboxVideo) -> Start | None:
    """Take a new video: the one caller whose exclusive create wins gets a queued session."""
    session_id = new_session_id()
    body = {"key": video.key, "session_id": session_id, "claimed_at": utc_now_iso(), "claimed_at_unix": time.time()}
    if not storage.create_exclusive(video.claim_key, json.dumps(body).encode()):
        return None
    if not storage.exists(video.key):   # finished and removed by another run between its listing and ours
        storage.delete(video.claim_key)
        return None
    return _queue(storage, video, session_id, attempt=1)


def _queue(storage: Storage, video: InboxVideo, session_id: str, attempt: int,
           previous: dict[str, Any] | None = None) -> Start | None:
    options = AnalysisOptions.from_dict(video.options) if video.error is None else AnalysisOptions(video.activity)
    src = source_uri(storage, video.key)
    if previous is not None:   # same id, same created_at: a rerun overwrites the same keys
        manifest = with_status(previous, "queued", error=None)
    else:
        manifest = new_manifest(session_id, options, src)
        manifest["source"]["filename"] = PurePosixPath(video.key).name
    if video.error is not None:
        write_manifest(storage, failed(manifest, video.error))
        return None
    write_manifest(storage, manifest)
    return Start(session_id, video.key, src, options.to_dict(), attempt)


def attempts(storage: Storage, video: InboxVideo) -> int:
    return 1 + len(list(storage.list(video.attempt_prefix)))


@dataclass(frozen=True)
class Retry:
    """A session to run again, as the survey saw it: attempt `attempt` is what it may start."""

    video: InboxVideo
    manifest: dict[str, Any] | None
    session_id: str
    attempt: int


@dataclass
class Survey:
    """What the inbox holds, sorted by what to do about it."""

    new: list[InboxVideo] = field(default_factory=list)
    running: list[str] = field(default_factory=list)                       # session ids
    done: list[tuple[InboxVideo, str]] = field(default_factory=list)       # completed: remove from the inbox
    retry: list[Retry] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)                        # for a person to look at


def survey(storage: Storage, owner: str = "local", max_attempts: int = 3, now: float | None = None) -> Survey:
    now = time.time() if now is None else now
    out = Survey()
    for video in find_videos(storage, owner):
        taken = read_claim(storage, video)
        if taken is None:
            out.new.append(video)
            continue
        sid = taken["session_id"]
        manifest = read_manifest(storage, sid)
        status = manifest.get("status") if manifest else None
        if status == "completed":
            out.done.append((video, sid))
        elif status in ("queued", "processing"):
            out.running.append(sid)
        elif manifest is None and now - float(taken.get("claimed_at_unix", 0)) < ORPHAN_AFTER_S:
            out.running.append(sid)   # just claimed by a run that is still writing the manifest
        elif (manifest is None or (manifest.get("error") or {}).get("code") in TRANSIENT_CODES) \
                and (done_attempts := attempts(storage, video)) < max_attempts:
            out.retry.append(Retry(video, manifest, sid, done_attempts + 1))
        else:
            out.failed.append(sid)
    return out


def retry(storage: Storage, planned: Retry) -> Start | None:
    """Run the session again under its id. Everyone who saw the same failure plans the same attempt
    number; the exclusive create of that attempt's marker picks one of them."""
    if not storage.create_exclusive(planned.video.attempt_key(planned.attempt), utc_now_iso().encode()):
        return None
    return _queue(storage, planned.video, planned.session_id, attempt=planned.attempt, previous=planned.manifest)


def remove_finished(storage: Storage, video: InboxVideo) -> None:
    """The session is complete: the video leaves the inbox (its claim last, so nobody takes it again)."""
    storage.delete(video.key)
    if storage.exists(video.sidecar_key):
        storage.delete(video.sidecar_key)
    for key in list(storage.list(video.attempt_prefix)):
        storage.delete(key)
    storage.delete(video.claim_key)
