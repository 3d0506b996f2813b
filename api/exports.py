"""A session's Parquet tables (DESIGN §5) as column-oriented JSON: `{"table": {"column": [values]}}`.

Columns are serialised by pandas' C JSON writer, not `json.dumps` on Python lists: a 10-minute
session has ~600k keypoint rows, and NaN must become `null` (JSON has no NaN).
"""

from __future__ import annotations

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
