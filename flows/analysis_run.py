"""`analyze-session` as the worker serves it: the analysis flow plus what a deployment needs.

The body is `flows.analyze.analyze_session` (called as `.fn`, so its tasks belong to this run);
around it, the session is marked `processing` when the run starts, and the hooks of
`flows/hooks.py` end it `failed` with the reason if the run fails, crashes or is cancelled.
Callers pass `session_id` (the hooks need it to find the session) and `storage_uri`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.analyze import analyze_session
from flows.hooks import SESSION_HOOKS
from pipeline.analysis import mark_processing
from pipeline.manifest import new_manifest
from pipeline.options import AnalysisOptions
from pipeline.session import is_valid_session_id, new_session_id, read_manifest
from pipeline.storage import open_storage

ANALYSIS_FLOW = "analyze-session"


@flow(name=ANALYSIS_FLOW, log_prints=True, flow_run_name="analyze-{session_id}", **SESSION_HOOKS)
def analyze_session_run(source: str, options: dict[str, Any], storage_uri: str | None = None,
                        session_id: str | None = None) -> dict[str, Any]:
    """Analyse one video into a published session; returns the manifest (failed ones too)."""
    if session_id is not None and not is_valid_session_id(session_id):
        raise ValueError(f"malformed session id {session_id!r}")
    session_id = session_id or new_session_id()
    storage = open_storage(storage_uri)
    base = read_manifest(storage, session_id) or new_manifest(session_id, AnalysisOptions.from_dict(options), source)
    mark_processing(storage, base)
    return analyze_session.fn(source, options, storage_uri=storage_uri, session_id=session_id)
