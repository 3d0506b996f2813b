"""Parquet tables of a session (DESIGN §5): keypoints, angles, events, metrics, sessions.

Built column-wise from whole arrays (no per-row Python). Files are zstd-compressed, carry the
schema version in their metadata, and are laid out hive-style
(`exports/{table}/activity=.../date=.../{session_id}.parquet`) so that
`pd.read_parquet(".../exports/angles", filters=[("activity", "=", "running")])` reads every
session at once. Partition columns live in the path only, never in the files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.metrics.result import ActivityResult
from pipeline.pose.landmarks import NAMES, NUM_LANDMARKS
from pipeline.pose.sequence import PoseSequence

SCHEMA_VERSION = "1"
TABLES = ("keypoints", "angles", "events", "metrics", "sessions")
# zstd's fast level -1 rather than Arrow's default 1: a 10-minute session's keypoints are written in
# ~12 % less CPU for a file ~3 % larger (noisy real-pose-like data; smooth data: the same size).
ZSTD_LEVEL = -1


def _metadata(table: str) -> dict[bytes, bytes]:
    return {b"motionlens.schema_version": SCHEMA_VERSION.encode(), b"motionlens.table": table.encode(),
            b"motionlens.pipeline_version": __version__.encode()}


def _with_meta(table: pa.Table, name: str) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **_metadata(name)})


def processing_metadata(analysis: Any, model: str, model_sha256: str | None = None) -> dict[str, Any]:
    """What a scientist needs to reproduce a number of this session: the pose model, the low-pass
    cut-off, where the metre came from, the frame rate and the code version. `analysis` is a
    `pipeline.metrics.activity.Analysis`."""
    from pipeline.metrics.activity import activity_module

    summary = analysis.result.summary or {}
    scale = summary.get("scale") or {}
    seq = analysis.seq
    return {"activity": analysis.result.activity, "exercise": summary.get("exercise"),
            "model": model, "model_sha256": model_sha256,
            "filter": "zero-phase Butterworth (sosfiltfilt)",
            "filter_cutoff_hz": float(activity_module(analysis.result.activity).CUTOFF_HZ),
            "scale_source": scale.get("source"), "m_per_px": scale.get("m_per_px"),
            "bar_m_per_px": scale.get("bar_m_per_px"),
            "fps": float(seq.fps), "frame_count": len(seq), "width": seq.width, "height": seq.height,
            "view": analysis.view.view, "facing": analysis.view.facing, "pipeline_version": __version__}


def with_processing(table: pa.Table, processing: Mapping[str, Any]) -> pa.Table:
    """`motionlens.processing` (all of it, JSON) plus one `motionlens.<key>` per scalar, so that
    `pq.read_schema(path).metadata` answers "which model, which cut-off" without parsing."""
    extra = {b"motionlens.processing": json.dumps(dict(processing)).encode()}
    extra.update({f"motionlens.{k}".encode(): str(v).encode() for k, v in processing.items() if v is not None})
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})


def _repeat_string(value: str, n: int) -> pa.Array:
    """A plain string column of one repeated value, built from its buffers (fast for millions of rows)."""
    data = value.encode()
    if n * len(data) >= 2**31:                   # beyond 32-bit offsets: let Arrow build it
        return pa.DictionaryArray.from_arrays(np.zeros(n, np.int8), pa.array([value])).cast(pa.string())
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def _floats(x: np.ndarray) -> pa.Array:
    """A float column with NaN stored as null; without NaN (the usual case) a zero-copy view."""
    x = np.ascontiguousarray(x)
    missing = np.isnan(x)
    return pa.array(x, mask=missing) if missing.any() else pa.array(x)


def keypoints_table(session_id: str, seq: PoseSequence) -> pa.Table:
    """Long format: one row per frame x landmark."""
    t, n = len(seq), NUM_LANDMARKS
    frame = np.repeat(np.arange(t, dtype=np.int32), n)
    landmark = pa.DictionaryArray.from_arrays(np.tile(np.arange(n, dtype=np.int8), t), pa.array(NAMES))
    cols: dict[str, Any] = {
        "session_id": _repeat_string(session_id, t * n),
        "frame": pa.array(frame),
        "time_s": _floats(np.repeat(seq.time_s, n)),
        "landmark_id": pa.array(np.tile(np.arange(n, dtype=np.int8), t)),
        "landmark": landmark,
        "x_px": _floats(seq.image_xy[..., 0].ravel()),
        "y_px": _floats(seq.image_xy[..., 1].ravel()),
        "z": _floats(seq.image_z.ravel()),
        "world_x": _floats(seq.world_xyz[..., 0].ravel()),
        "world_y": _floats(seq.world_xyz[..., 1].ravel()),
        "world_z": _floats(seq.world_xyz[..., 2].ravel()),
        "visibility": _floats(seq.visibility.ravel()),
        "presence": _floats(seq.presence.ravel()),
    }
    return _with_meta(pa.table(cols), "keypoints")


def angles_table(session_id: str, seq: PoseSequence, angles: dict[str, np.ndarray]) -> pa.Table:
    """Wide format: one row per frame, one float column per angle (degrees)."""
    t = len(seq)
    cols: dict[str, Any] = {
        "session_id": _repeat_string(session_id, t),
        "frame": pa.array(np.arange(t, dtype=np.int32)),
        "time_s": pa.array(seq.time_s),
    }
    cols.update({name: _floats(np.asarray(v, np.float32)) for name, v in angles.items()})
    table = pa.table(cols)
    meta = {b"motionlens.units": json.dumps({name: "deg" for name in angles}).encode()}
    return _with_meta(table.replace_schema_metadata(meta), "angles")


def events_table(session_id: str, result: ActivityResult) -> pa.Table:
    ev = result.events
    schema = pa.schema([("session_id", pa.string()), ("type", pa.string()), ("side", pa.string()),
                        ("index", pa.int32()), ("frame", pa.int32()), ("time_s", pa.float64())])
    return _with_meta(pa.table({
        "session_id": [session_id] * len(ev), "type": [e.type for e in ev], "side": [e.side for e in ev],
        "index": [e.index for e in ev], "frame": [e.frame for e in ev], "time_s": [e.time_s for e in ev],
    }, schema=schema), "events")


def metrics_table(session_id: str, result: ActivityResult) -> pa.Table:
    ms = result.metrics
    schema = pa.schema([("session_id", pa.string()), ("name", pa.string()), ("value", pa.float64()),
                        ("unit", pa.string()), ("side", pa.string()), ("index", pa.int32())])
    # one pass over the rows (a running session has ~20,000); None, NaN and inf values are stored as null
    names, values, units, sides, index = (list(c) for c in zip(*((m.name, m.value, m.unit, m.side, m.index)
                                                                   for m in ms))) if ms else ([], [], [], [], [])
    value = np.array(values, dtype=np.float64)
    return _with_meta(pa.table({
        "session_id": _repeat_string(session_id, len(ms)), "name": names,
        "value": pa.array(value, mask=~np.isfinite(value)), "unit": units, "side": sides, "index": index,
    }, schema=schema), "metrics")


def sessions_table(manifest: dict[str, Any]) -> pa.Table:
    """One row per session: identity, source facts, options and the headline numbers."""
    probe = manifest.get("probe") or {}
    quality = manifest.get("quality") or {}
    row = {
        "session_id": manifest["session_id"], "owner": manifest.get("owner"),
        "status": manifest.get("status"), "created_at": manifest.get("created_at"),
        "source_sha256": (manifest.get("source") or {}).get("sha256"),
        "duration_s": probe.get("duration_s"), "fps": probe.get("fps"), "frame_count": probe.get("frame_count"),
        "width": probe.get("width"), "height": probe.get("height"),
        "view": quality.get("view"), "facing": quality.get("facing"),
        "detected_share": quality.get("detected_share"),
        "model": (manifest.get("model") or {}).get("name"), "pipeline_version": manifest.get("pipeline_version"),
        "options_json": json.dumps(manifest.get("options") or {}),
        "metrics_json": json.dumps(manifest.get("metrics") or {}),
    }
    return with_processing(_with_meta(pa.Table.from_pylist([row]), "sessions"), _manifest_processing(manifest))


def _manifest_processing(manifest: dict[str, Any]) -> dict[str, Any]:
    """`processing_metadata` as far as the manifest tells it (the `sessions` row is written from it)."""
    from pipeline.metrics.activity import activity_module

    metrics = manifest.get("metrics") or {}
    scale = metrics.get("scale") or {}
    model = manifest.get("model") or {}
    activity = manifest.get("activity")
    cutoff = metrics.get("filter_cutoff_hz")
    if cutoff is None and activity:
        cutoff = float(activity_module(activity).CUTOFF_HZ)
    return {"activity": activity, "exercise": metrics.get("exercise"), "model": model.get("name"),
            "model_sha256": model.get("sha256"), "filter": "zero-phase Butterworth (sosfiltfilt)",
            "filter_cutoff_hz": cutoff, "scale_source": scale.get("source"), "m_per_px": scale.get("m_per_px"),
            "bar_m_per_px": scale.get("bar_m_per_px"), "fps": (manifest.get("probe") or {}).get("fps"),
            "pipeline_version": manifest.get("pipeline_version") or __version__}


def write_table(table: pa.Table, path: Path) -> Path:
    """zstd Parquet, each column in the encoding that is fastest for it here at about the same size:
    strings (ids, names) and times dictionary-encoded; measured floats, nearly all distinct,
    byte-stream-split (a dictionary for them doubled the write time of a 10-minute session's
    keypoints, 594,000 rows, and split bytes compress ~15 % smaller); integers (frame numbers,
    landmark ids) plain, which zstd shrinks below their dictionary encoding, in half the time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    measured = [f.name for f in table.schema if pa.types.is_floating(f.type) and f.name != "time_s"]
    repeated = [f.name for f in table.schema
                if f.name not in measured and not pa.types.is_integer(f.type)]
    pq.write_table(table, path, compression="zstd", compression_level=ZSTD_LEVEL, use_dictionary=repeated,
                   use_byte_stream_split=measured)
    return path


def write_tables(tables: Mapping[str, tuple[pa.Table, Path]]) -> dict[str, Path]:
    """`write_table` for several tables at once, one thread each: pyarrow encodes and compresses
    without the GIL, so a session's tables take about as long as its largest (the keypoints) rather
    than the sum. The CPU time is the same; this only uses a second core."""
    if len(tables) <= 1:
        return {name: write_table(table, path) for name, (table, path) in tables.items()}
    with ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="parquet") as pool:
        futures = {name: pool.submit(write_table, table, path) for name, (table, path) in tables.items()}
        return {name: f.result() for name, f in futures.items()}
