"""Pose results kept in the storage, keyed by what determines them, so pose never runs twice.

`cache/pose/{owner tag}/{video_sha256}-{model}-{model_sha256[:12]}-{selection}-p{num_poses}[-w{start}-{end}].npz` holds the raw athlete
`PoseSequence` (the same NPZ as a session's `pose.npz`), and the `.json` beside it what was seen
of the people in view (the quality block needs it). The JSON is written second: an entry counts
only when both exist, so a crash between the two writes is a miss, never a half entry.

Entries are per owner (the tag is a hash of the owner's name): a hit is much faster than a miss,
so a shared entry would tell one owner that another had analysed the same video. Padding hits to
the time of a miss would cancel the cache; keying by owner only loses reuse across owners (the
same clip analysed by two accounts), while an owner's reruns still hit.

Whatever goes wrong with the cache only costs time: an unreadable or unreachable entry is a miss
and a failed write is logged, never raised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.errors import StorageUnavailable
from pipeline.manifest import json_safe
from pipeline.options import MODELS, AnalysisOptions
from pipeline.pose.models import model_sha256, resolve_model
from pipeline.pose.parallel import pose_settings
from pipeline.pose.sequence import PoseSequence
from pipeline.storage import Storage

log = logging.getLogger("motionlens.pose_cache")

PREFIX = "cache/pose/"


def athlete_selection(options: AnalysisOptions) -> str:
    """The selection `run_pose` really uses (`auto` depends on the activity)."""
    if options.select != "auto":
        return options.select
    return "moving" if options.activity == "running" else "largest"


def owner_tag(owner: str) -> str:
    """The owner's cache folder: a hash (owner names may hold characters keys may not, and the
    store's listing need not show account names)."""
    return "o" + hashlib.sha256(owner.encode()).hexdigest()[:16]


def cache_key(video_sha256: str, options: AnalysisOptions) -> str:
    model_path = resolve_model(options.model)
    name = options.model if options.model in MODELS else "custom"   # a path: its sha256 tells models apart
    select = athlete_selection(options)
    select_tag = select if select in ("largest", "moving") else "at-" + hashlib.sha1(select.encode()).hexdigest()[:8]
    if not re.fullmatch(r"[0-9a-f]{64}", video_sha256):
        raise ValueError(f"not a sha256 hex digest: {video_sha256!r}")
    _, num_poses = pose_settings(options.activity, options.exercise)      # "auto" tracks one person: other keypoints
    return (f"{PREFIX}{owner_tag(options.owner)}/{video_sha256}-{name}-{model_sha256(model_path)[:12]}-{select_tag}"
            f"-p{num_poses}{window_tag(options)}.npz")


def window_tag(options: AnalysisOptions) -> str:
    """'' for the whole clip (the keys of earlier entries stay valid), else the window in ms: a
    window's pose holds its frames only, and its tracking starts at its first frame."""
    window = options.window
    if window.whole:
        return ""
    end = "end" if window.end_s is None else str(round(window.end_s * 1000))
    return f"-w{round(window.start_s * 1000)}-{end}"


def _people_key(key: str) -> str:
    return key[: -len(".npz")] + ".json"


def load(storage: Storage, key: str, dest: Path) -> dict[str, Any] | None:
    """The people info of a cached entry, with its NPZ copied to `dest`; None on a miss."""
    try:
        if not storage.exists(_people_key(key)):
            return None
        people = json.loads(storage.read_bytes(_people_key(key)))
        storage.download_file(key, dest)
        PoseSequence.load_npz(str(dest))  # a damaged entry is a miss, not a failed session
        return people
    except (OSError, ValueError, KeyError, StorageUnavailable) as exc:
        log.warning("pose cache entry %s unusable (%s); running pose", key, exc)
        dest.unlink(missing_ok=True)
        return None


def save(storage: Storage, key: str, npz: Path, people: dict[str, Any]) -> bool:
    try:
        storage.upload_file(key, npz, content_type="application/octet-stream")
        storage.write_bytes(_people_key(key), json.dumps(json_safe(people)).encode(), content_type="application/json")
        return True
    except (OSError, StorageUnavailable) as exc:
        log.warning("could not store pose cache entry %s (%s)", key, exc)
        return False


def cached_pose(storage: Storage, video_sha256: str, options: AnalysisOptions, dest: Path,
                compute: Callable[[], tuple[Path, dict[str, Any]]]) -> tuple[Path, dict[str, Any], bool]:
    """(pose NPZ at `dest`, people, hit): from the cache, else `compute()` and store the result."""
    key = cache_key(video_sha256, options)
    people = load(storage, key, dest)
    if people is not None:
        return dest, people, True
    path, people = compute()
    if path != dest:
        shutil.copyfile(path, dest)
    save(storage, key, dest, people)
    return dest, people, False
