"""`motionlens analyze`: check every input first, then analyse each clip, then report.

Bad options and bad files are refused before the pipeline (or Prefect) is imported, each
with one `error: CODE: message` line. With several clips, a refused or failed clip does not stop
the others; a table and a CSV summarise them all and the exit code is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from motionlens.batch import expand_sources, print_table, write_csv
from motionlens.progress import FrameProgress
from motionlens.summary import bar_path_file, headline, recommendations, table_row, user_language
from motionlens.validate import check_model, check_source
from pipeline.errors import PipelineError
from pipeline.options import AnalysisOptions
from pipeline.pose.quiet import detach_native_stderr


def options_from_args(a: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(
        activity=a.activity, exercise=a.exercise, athlete_height_m=a.athlete_height, body_mass_kg=a.body_mass,
        treadmill_speed_m_s=a.treadmill_speed, model=a.model, jump_type=a.jump_type, sex=a.sex, age=a.age,
        level=a.level, select=a.select, owner=a.owner, render=not a.no_render,
        start_s=getattr(a, "start", None), end_s=getattr(a, "end", None))


def window_frames(options: AnalysisOptions, probe: Any) -> int:
    """Frames the analysis will decode (the progress bar's length): the window's, else the clip's."""
    if options.window.whole:
        return probe.frame_count
    stop = probe.duration_s if options.end_s is None else min(options.end_s, probe.duration_s)
    return max(1, round((stop - options.window.start_s) * probe.fps))


def error_line(exc: PipelineError, source: str | None = None) -> str:
    where = f" ({source})" if source else ""
    return f"error: {exc.code}: {exc.message}{where}"


def run(a: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    options = options_from_args(a)           # InvalidOption -> main's one error line
    check_model(options)
    sources = expand_sources(a.video)
    several = len(sources) > 1
    ok: dict[str, int] = {}                  # source -> frames (1 when unknown: a remote source)
    manifests: dict[str, dict[str, Any]] = {}
    for source in sources:
        try:
            probe = check_source(source)
            if probe is not None:
                options.check_window(probe.duration_s)   # a window outside the clip: refused before start-up
            ok[source] = window_frames(options, probe) if probe else 1
        except PipelineError as exc:
            manifests[source] = record_refused(a.storage, source, options, exc)
            if a.json:
                print(json.dumps(manifests[source]), flush=True)
            print(error_line(exc, source if several else None), file=sys.stderr)
    if not ok:
        if several:
            print(f"error: no_video: none of the {len(sources)} inputs can be analysed", file=sys.stderr)
        return 2

    detach_native_stderr()
    from motionlens import runner  # in-process, or a Prefect flow run when an API is there

    how = runner.choose()
    print(f"running {how.why}", file=sys.stderr)
    import_s = time.perf_counter() - t0
    lang = user_language(a.lang)
    for n, (source, frames) in enumerate(ok.items(), 1):
        label = f"[{n}/{len(ok)}] {Path(source).name}" if several else ""
        progress = FrameProgress(frames, passes=1 if a.no_render else 2, label=label)
        started = time.perf_counter()
        try:
            manifest = runner.analyze(source, options.to_dict(), a.storage, on_frame=progress.update,
                                      orchestration=how)
        except Exception as exc:  # a bug (recorded in the session as internal_error): the batch goes on
            if not several:
                raise
            manifest = {"status": "failed", "activity": options.activity,
                        "error": {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            progress.close()
        manifests[source] = manifest
        if a.json:
            print(json.dumps(manifest), flush=True)
        _report(manifest, a.storage, lang, import_s if n == 1 else 0.0, time.perf_counter() - started
                + (import_s if n == 1 else 0.0), source if several else None)
    if several:
        rows = [table_row(s, manifests[s]) for s in sources]
        print_table(rows, sys.stderr)
        path = write_csv(rows, Path(a.csv or "motionlens-summary.csv"))
        print(f"summary CSV: {path.resolve()}", file=sys.stderr)
    elif a.csv:
        write_csv([table_row(s, m) for s, m in manifests.items()], Path(a.csv))
    return 0 if all(m["status"] == "completed" for m in manifests.values()) else 2


def record_refused(storage_uri: str | None, source: str, options: AnalysisOptions,
                   exc: PipelineError) -> dict[str, Any]:
    """A refused file is still a failed session with its code (DESIGN §10), written in milliseconds."""
    from pipeline.manifest import failed, new_manifest
    from pipeline.session import new_session_id, write_manifest
    from pipeline.storage import open_storage

    manifest = failed(new_manifest(new_session_id(), options, source), exc)
    write_manifest(open_storage(storage_uri), manifest)
    return manifest


def _report(manifest: dict[str, Any], storage_uri: str | None, lang: str, import_s: float, total_s: float,
            source: str | None) -> None:
    if manifest["status"] != "completed":
        err = manifest.get("error") or {"code": "internal_error", "message": "the session did not complete"}
        print(error_line(PipelineError(err["message"], code=err["code"]), source), file=sys.stderr)
        return
    processing = manifest.get("processing_time_s") or 0.0
    print(f"session {manifest['session_id']} completed in {total_s:.1f} s "
          f"(analysis {processing:.1f} s, imports {import_s:.1f} s, orchestration and other overhead "
          f"{max(total_s - processing - import_s, 0):.1f} s)" + (f" — {source}" if source else ""), file=sys.stderr)
    print(f"  {headline(manifest)}", file=sys.stderr)
    for w in manifest.get("warnings") or []:
        print(f"  warning: {w['code']}: {w['message']}", file=sys.stderr)
    recs = recommendations(manifest, lang)
    if recs:
        print("  recommendations:", file=sys.stderr)
        for line in recs:
            print(f"   {line}", file=sys.stderr)
    _print_where(manifest, storage_uri)


def _print_where(manifest: dict[str, Any], storage_uri: str | None) -> None:
    from pipeline.storage import LocalStorage, open_storage

    storage = open_storage(storage_uri)
    arts = manifest["artifacts"]
    if isinstance(storage, LocalStorage):
        print(f"  manifest:       {storage.path('sessions/' + manifest['session_id'] + '/session.json')}", file=sys.stderr)
        if arts.get("analyzed_video"):
            print(f"  annotated video: {storage.path(arts['analyzed_video'])}", file=sys.stderr)
        if bar := bar_path_file(manifest):
            print(f"  bar path:       {storage.path(bar)}", file=sys.stderr)
        print(f"  Parquet tables: {storage.root / 'exports'}", file=sys.stderr)
    else:
        print(f"  stored under {storage.uri}/sessions/{manifest['session_id']}/", file=sys.stderr)
