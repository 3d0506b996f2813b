"""The faster Parquet export writes the same tables: schema, metadata, values and nulls.

`write_table` picks an encoding per column (dictionary for strings and times, byte-stream-split for
measured floats, plain for integers); `write_tables` writes several at once in threads; the table
builders take zero-copy paths when nothing is missing. None of it may change what a reader gets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import export
from pipeline.metrics.result import ActivityResult, Event, Metric
from pipeline.pose.sequence import PoseSequence


def _sequence(n: int = 120, gap: bool = True) -> PoseSequence:
    rng = np.random.default_rng(0)
    seq = PoseSequence.empty(n, width=640, height=480, fps=30.0)
    xy = rng.normal(300, 50, (n, 33, 2)).astype(np.float32)
    z = rng.normal(0, 0.1, (n, 33)).astype(np.float32)
    world = rng.normal(0, 0.5, (n, 33, 3)).astype(np.float32)
    if gap:
        xy[10:14] = np.nan
        z[10:14] = np.nan
        world[10:14] = np.nan
    vis = rng.random((n, 33)).astype(np.float32)
    return seq.with_arrays(image_xy=xy, image_z=z, world_xyz=world, visibility=vis, presence=vis)


def _result() -> ActivityResult:
    metrics = [Metric("a", 1.5, "s"), Metric("b", float("nan"), "m", "left", 0),
               Metric("c", float("inf"), "deg", "right", 1), Metric("d", None, "s"),  # type: ignore[arg-type]
               Metric("e", 2, "count", None, 3)]
    events = [Event("takeoff", 1.25, 37, None, 0), Event("foot_strike", 2.0, 60, "left", None)]
    return ActivityResult("jumping", {}, events=events, metrics=metrics)


def _tables(gap: bool = True) -> dict[str, pa.Table]:
    seq = _sequence(gap=gap)
    angles = {"left_knee_flexion": np.where(np.arange(len(seq)) % 7 == 0, np.nan, np.arange(len(seq), dtype=float)),
              "trunk": np.linspace(-10, 10, len(seq))}
    return {"keypoints": export.keypoints_table("s1-abc", seq), "angles": export.angles_table("s1-abc", seq, angles),
            "events": export.events_table("s1-abc", _result()), "metrics": export.metrics_table("s1-abc", _result())}


@pytest.mark.parametrize("gap", [True, False])
def test_written_tables_read_back_identical(tmp_path: Path, gap: bool) -> None:
    for name, table in _tables(gap).items():
        path = export.write_table(table, tmp_path / f"{name}.parquet")
        back = pq.read_table(path)
        assert back.equals(table, check_metadata=True), name
        assert back.schema.metadata[b"motionlens.schema_version"] == export.SCHEMA_VERSION.encode()


def test_nan_is_stored_as_null_and_types_are_kept() -> None:
    t = _tables()
    kp = t["keypoints"]
    assert kp.column("x_px").null_count == 4 * 33 and kp.column("visibility").null_count == 0
    assert kp.schema.field("session_id").type == pa.string()
    assert pa.types.is_dictionary(kp.schema.field("landmark").type)
    assert kp.column("session_id").to_pylist() == ["s1-abc"] * kp.num_rows
    assert t["angles"].column("left_knee_flexion").null_count == 18
    assert t["metrics"].column("value").to_pylist() == [1.5, None, None, None, 2.0]
    assert t["metrics"].column("session_id").to_pylist() == ["s1-abc"] * 5


def test_empty_result_tables(tmp_path: Path) -> None:
    empty = ActivityResult("running", {})
    for name, table in (("events", export.events_table("s", empty)), ("metrics", export.metrics_table("s", empty))):
        assert table.num_rows == 0
        assert pq.read_table(export.write_table(table, tmp_path / f"{name}.parquet")).equals(table)


def test_measured_floats_are_not_dictionary_encoded(tmp_path: Path) -> None:
    """A dictionary for ~600,000 distinct floats doubled the keypoints' write time: keep it off them."""
    path = export.write_table(_tables()["keypoints"], tmp_path / "k.parquet")
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    for col in ("x_px", "y_px", "z", "world_x", "world_y", "world_z", "visibility", "presence"):
        assert "BYTE_STREAM_SPLIT" in encodings[col] and "RLE_DICTIONARY" not in encodings[col], col
    assert "RLE_DICTIONARY" in encodings["session_id"]
    assert meta.column(0).compression == "ZSTD"


def test_write_tables_in_threads_equals_one_by_one(tmp_path: Path) -> None:
    tables = _tables()
    paths = export.write_tables({name: (t, tmp_path / "threads" / f"{name}.parquet") for name, t in tables.items()})
    assert set(paths) == set(tables)
    for name, table in tables.items():
        one = export.write_table(table, tmp_path / "one" / f"{name}.parquet")
        assert pq.read_table(paths[name]).equals(pq.read_table(one), check_metadata=True)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_repeat_string(n: int) -> None:
    assert export._repeat_string("sess-é", n).equals(pa.array(["sess-é"] * n, pa.string()))
