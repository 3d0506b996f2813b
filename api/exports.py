"""A session's Parquet tables (DESIGN §5) as column-oriented JSON: `{"table": {"column": [values]}}`.

Columns are serialised by pandas' C JSON writer, not `json.dumps` on Python lists: a 10-minute
session has ~600k keypoint rows, and NaN must become `null` (JSON has no NaN).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.storage import Storage

JSON_TABLES = ("keypoints", "angles", "events", "metrics")
_DECIMALS = 6  # µs for times, sub-pixel for coordinates; float32 noise beyond that is not data
_HIDDEN_METADATA = (b"pandas", b"ARROW:schema")


def read_table(storage: Storage, key: str) -> pa.Table:
    return pq.read_table(pa.BufferReader(storage.read_bytes(key)))


def _column_json(column: pa.ChunkedArray) -> str:
    return str(column.to_pandas().to_json(orient="records", double_precision=_DECIMALS, date_format="iso"))


def columns_json(table: pa.Table, drop: Iterable[str] = ("session_id",)) -> str:
    """`{"col": [...], ...}`; `session_id` is dropped because the response states it once."""
    skip = set(drop)
    parts = [f"{json.dumps(name)}:{_column_json(table.column(name))}"
             for name in table.column_names if name not in skip]
    return "{" + ",".join(parts) + "}"


def table_metadata(table: pa.Table) -> dict[str, str]:
    meta = table.schema.metadata or {}
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in meta.items()
            if k not in _HIDDEN_METADATA}


def _timestamps(tables: dict[str, pa.Table]) -> str:
    # One (frame, time_s) row per video frame; the angles table is wide, so it has exactly that.
    source = tables.get("angles")
    if source is None and "keypoints" in tables:
        kp = tables["keypoints"]
        grouped = kp.group_by("frame").aggregate([("time_s", "min")])
        source = grouped.select(["frame", "time_s_min"]).rename_columns(["frame", "time_s"]).sort_by("frame")
    if source is None or not {"frame", "time_s"} <= set(source.column_names):
        return "null"
    return columns_json(source.select(["frame", "time_s"]))


def export_json(storage: Storage, manifest: dict[str, Any], exports: dict[str, str], tables: list[str]) -> bytes:
    loaded = {name: read_table(storage, exports[name]) for name in tables if name in exports}
    head = {"session_id": manifest["session_id"], "activity": manifest["activity"], "format": "json",
            "tables": list(loaded), "metadata": {name: table_metadata(t) for name, t in loaded.items()}}
    parts = [json.dumps(head)[:-1], f'"timestamps":{_timestamps(loaded)}']
    parts += [f"{json.dumps(name)}:{columns_json(table)}" for name, table in loaded.items()]
    return (",".join(parts) + "}").encode()


# --- files a biomechanist opens directly: OpenSim .trc / .mot, CSV ----------------------------------

FILE_FORMATS = ("trc", "mot", "csv")
CSV_TABLES = ("angles", "keypoints", "events", "metrics")
_MEDIA = {"trc": "text/plain; charset=utf-8", "mot": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _m_per_px(manifest: dict[str, Any]) -> float | None:
    scale = (manifest.get("metrics") or {}).get("scale") or {}
    value = scale.get("m_per_px")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def export_file(storage: Storage, manifest: dict[str, Any], exports: dict[str, str], fmt: str,
                table: str | None = None) -> tuple[bytes, str, str]:
    """(body, media type, file name) of `fmt`: `trc` from the keypoints, `mot` from the angles,
    `csv` of one table (`table`, default the angles)."""
    import numpy as np
    import pyarrow.csv as pacsv

    from pipeline import opensim
    from pipeline.pose.landmarks import NAMES

    sid = manifest["session_id"]
    if fmt == "trc":
        time_s, xy, world = opensim.keypoint_arrays(read_table(storage, exports["keypoints"]))
        probe = manifest.get("probe") or {}
        height = float(probe.get("height") or np.nanmax(xy[..., 1], initial=0.0))
        scale = _m_per_px(manifest) or opensim.metres_per_pixel_from_world(xy, world) or 1.0
        rate = float(probe.get("fps") or (1 / np.nanmedian(np.diff(time_s)) if len(time_s) > 1 else 30.0))
        name = f"{sid}.trc"
        text = opensim.trc_text(time_s, opensim.image_markers_m(xy, height, scale), NAMES, rate_hz=rate, filename=name)
        return text.encode(), _MEDIA["trc"], name
    if fmt == "mot":
        angles = read_table(storage, exports["angles"])
        time_s = angles.column("time_s").to_numpy(zero_copy_only=False)
        return (opensim.mot_text(time_s, opensim.angle_columns(angles), name=f"{sid}_angles").encode(),
                _MEDIA["mot"], f"{sid}_angles.mot")
    name = table or "angles"
    data = read_table(storage, exports[name])
    plain = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in data.schema])
    out = io.BytesIO()
    pacsv.write_csv(data.cast(plain), out)
    return out.getvalue(), _MEDIA["csv"], f"{name}-{sid}.csv"
