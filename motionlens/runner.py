"""Where `motionlens analyze` runs its steps: in this process, or as a Prefect flow run.

Prefect's start-up is the CLI's largest fixed cost (docs/performance.md): without a configured API
it starts a temporary one (≈ 10-17 s on 2 cores, two Python processes importing the server stack)
that also competes with the pose threads for the cores. So:

- `PREFECT_API_URL` set, or a server started by `motionlens server start` is up: the
  `analyze-session` flow runs against it (retries, records, the UI) — ≈ 2-3 s per run;
- otherwise the same steps (`pipeline.analysis.run_session`, the sequence and failure policy the
  flow wraps) run in this process, and the run is appended to a local run log (`run_log_path`)
  so operators still see every run: what, when, where, how it ended.

`MOTIONLENS_ORCHESTRATOR=prefect|in-process` forces one (`prefect` without an API = the old
ephemeral Prefect).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

IN_PROCESS = "in-process"
PREFECT = "prefect"


@dataclass(frozen=True)
class Orchestration:
    mode: str                  # IN_PROCESS | PREFECT
    api_url: str | None        # the Prefect API runs are reported to (None: ephemeral or in-process)
    why: str                   # one line for the CLI's summary


def run_log_path() -> Path:
    """One JSON line per in-process run: $MOTIONLENS_RUN_LOG, else ~/.motionlens/runs.jsonl."""
    env = os.environ.get("MOTIONLENS_RUN_LOG")
    return Path(env) if env else Path.home() / ".motionlens" / "runs.jsonl"


def choose() -> Orchestration:
    """The orchestration for this run, decided without importing Prefect (1-5 s)."""
    from motionlens.server import running_server_url

    forced = (os.environ.get("MOTIONLENS_ORCHESTRATOR") or "").strip().lower()
    if forced not in ("", PREFECT, IN_PROCESS):
        from pipeline.errors import InvalidOption

        raise InvalidOption(f"MOTIONLENS_ORCHESTRATOR must be {PREFECT} or {IN_PROCESS}, not {forced!r}")
    if api := os.environ.get("PREFECT_API_URL"):
        if forced == IN_PROCESS:
            return Orchestration(IN_PROCESS, None, "in-process (MOTIONLENS_ORCHESTRATOR)")
        return Orchestration(PREFECT, api, f"Prefect flow run on {api}")
    if forced != IN_PROCESS and (local := running_server_url()):
        return Orchestration(PREFECT, local, f"Prefect flow run on the local server {local}")
    if forced == PREFECT:
        return Orchestration(PREFECT, None, "Prefect flow run on a temporary (ephemeral) API")
    return Orchestration(IN_PROCESS, None, f"in-process, no Prefect API configured (run logged in {run_log_path()})")


def analyze(video: str, options: dict[str, Any], storage_uri: str | None,
            on_frame: Callable[[Any], None] | None = None,
            orchestration: Orchestration | None = None) -> dict[str, Any]:
    """Analyse one video into a published session the chosen way; returns the manifest."""
    how = orchestration or choose()
    if how.mode == PREFECT:
        if how.api_url:
            os.environ["PREFECT_API_URL"] = how.api_url      # before Prefect reads its settings
        import logging

        from flows.analyze import analyze_session

        # an expected failure (a bad video) is reported once, as `error: CODE: message`, not also by Prefect
        logging.getLogger("prefect.task_runs").setLevel(logging.CRITICAL)
        return analyze_session(video, options, storage_uri=storage_uri, on_frame=on_frame)
    return run_in_process(video, options, storage_uri, on_frame)


def run_in_process(video: str, options: dict[str, Any], storage_uri: str | None,
                   on_frame: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """`pipeline.analysis.run_session` here, logged to the run log (a bug is logged, then raised)."""
    from pipeline.analysis import run_session
    from pipeline.options import AnalysisOptions
    from pipeline.session import new_session_id
    from pipeline.storage import open_storage
    from pipeline.video import VideoLimits

    storage = open_storage(storage_uri)
    session_id = new_session_id()
    started = datetime.now(timezone.utc)
    t = time.perf_counter()
    record: dict[str, Any] = {"session_id": session_id, "source": video, "storage": storage.uri,
                              "activity": options.get("activity"), "orchestrator": IN_PROCESS,
                              "host": socket.gethostname(), "pid": os.getpid(),
                              "started_at": started.isoformat(timespec="seconds")}
    try:
        manifest = run_session(storage, video, AnalysisOptions.from_dict(options), session_id=session_id,
                               limits=VideoLimits.from_env(), on_frame=on_frame)
    except BaseException as exc:
        record.update(state="crashed", error=f"{type(exc).__name__}: {exc}")
        raise
    else:
        error = manifest.get("error") or {}
        record.update(state=manifest["status"], error=error.get("code"))
        return manifest
    finally:
        record["duration_s"] = round(time.perf_counter() - t, 3)
        append_run(record)


def append_run(record: dict[str, Any]) -> None:
    """One line in the run log; a log that cannot be written never fails the analysis."""
    path = run_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError:
        pass


def recent_runs(limit: int = 20) -> list[dict[str, Any]]:
    """The last `limit` in-process runs, oldest first."""
    try:
        lines = run_log_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
