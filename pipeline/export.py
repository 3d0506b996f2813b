"""Parquet tables of a session (DESIGN §5): keypoints, angles, events, metrics, sessions.

Built column-wise from whole arrays (no per-row Python). Files are zstd-compressed, carry the
schema version in their metadata, and are laid out hive-style
(`exports/{table}/activity=.../date=.../{session_id}.parquet`) so that
`pd.read_parquet(".../exports/angles", filters=[("activity", "=", "running")])` reads every
session at once. Partition columns live in the path only, never in the files.
"""

from __future__ import annotations

import json
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


def _metadata(table: str) -> dict[bytes, bytes]:
    return {b"motionlens.schema_version": SCHEMA_VERSION.encode(), b"motionlens.table": table.encode(),
            b"motionlens.pipeline_version": __version__.encode()}


def _with_meta(table: pa.Table, name: str) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **_metadata(name)})


def _repeat_string(value: str, n: int) -> pa.Array:
    """A plain string column of one repeated value, built in C++ (fast for millions of rows)."""
    return pa.DictionaryArray.from_arrays(np.zeros(n, np.int8), pa.array([value])).cast(pa.string())


def keypoints_table(session_id: str, seq: PoseSequence) -> pa.Table:
    """Long format: one row per frame x landmark."""
    t, n = len(seq), NUM_LANDMARKS
    frame = np.repeat(np.arange(t, dtype=np.int32), n)
    landmark = pa.DictionaryArray.from_arrays(np.tile(np.arange(n, dtype=np.int8), t), pa.array(NAMES))
    cols: dict[str, Any] = {
        "session_id": _repeat_string(session_id, t * n),
        "frame": frame,
        "time_s": np.repeat(seq.time_s, n),
        "landmark_id": np.tile(np.arange(n, dtype=np.int8), t),
        "landmark": landmark,
        "x_px": seq.image_xy[..., 0].ravel(),
        "y_px": seq.image_xy[..., 1].ravel(),
        "z": seq.image_z.ravel(),
        "world_x": seq.world_xyz[..., 0].ravel(),
        "world_y": seq.world_xyz[..., 1].ravel(),
        "world_z": seq.world_xyz[..., 2].ravel(),
        "visibility": seq.visibility.ravel(),
        "presence": seq.presence.ravel(),
    }
    return _with_meta(pa.table({k: pa.array(v, from_pandas=True) if isinstance(v, np.ndarray) else v
                                for k, v in cols.items()}), "keypoints")


def angles_table(session_id: str, seq: PoseSequence, angles: dict[str, np.ndarray]) -> pa.Table:
    """Wide format: one row per frame, one float column per angle (degrees)."""
    t = len(seq)
    cols: dict[str, Any] = {
        "session_id": _repeat_string(session_id, t),
        "frame": pa.array(np.arange(t, dtype=np.int32)),
        "time_s": pa.array(seq.time_s),
    }
    cols.update({name: pa.array(np.asarray(v, np.float32), from_pandas=True) for name, v in angles.items()})
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
    values = [None if m.value is None or not np.isfinite(m.value) else float(m.value) for m in ms]
    return _with_meta(pa.table({
        "session_id": [session_id] * len(ms), "name": [m.name for m in ms], "value": values,
        "unit": [m.unit for m in ms], "side": [m.side for m in ms], "index": [m.index for m in ms],
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
    return _with_meta(pa.Table.from_pylist([row]), "sessions")


def write_table(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return path
