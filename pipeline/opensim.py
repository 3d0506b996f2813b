"""OpenSim files from a session's tables, as Sports2D / Pose2Sim / OpenCap write them.

- `.trc` (markers): the published layout (OpenSim "Marker (.trc) files"): line 1
  `PathFileType 4 (X/Y/Z) <file>`; line 2 the names `DataRate CameraRate NumFrames NumMarkers Units
  OrigDataRate OrigDataStartFrame OrigNumFrames`; line 3 their values; line 4 `Frame# Time` and each
  marker name followed by two empty cells; line 5 `X1 Y1 Z1 X2 ...`; a blank line; then one row per
  frame. A missing marker is left blank. Coordinates are the image-plane keypoints in metres, as
  Sports2D writes a 2-D session: X to the right, Y up, Z = 0 (one camera sees no depth). The metre is
  the session's scale (the athlete's height) or, without one, MediaPipe's own world landmarks.
- `.mot` (angles): `Coordinates`, `version=1`, `nRows`, `nColumns` (time included), `inDegrees=yes`,
  `endheader`, then `time` and one column per exported angle (degrees; NaN where not measured).

Tab-separated; every column is formatted in one vectorised call (pandas' C writer), not per frame.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from pipeline.pose.landmarks import NAMES

FloatArray = NDArray[np.float64]
# segments whose length the image and MediaPipe's world landmarks both measure (the scale without a height)
_SCALE_SEGMENTS = ((11, 23), (12, 24), (23, 25), (24, 26), (25, 27), (26, 28), (11, 12), (23, 24))
_NOT_ANGLES = ("session_id", "frame", "time_s")


def keypoint_arrays(table: pa.Table) -> tuple[FloatArray, FloatArray, FloatArray]:
    """time_s (T,), image xy (T, 33, 2) in px and world xyz (T, 33, 3) in m from the long `keypoints` table."""
    n = len(NAMES)
    cols = table.column_names
    if "landmark_id" in cols:
        lm = table.column("landmark_id").to_numpy()
    elif pa.types.is_integer(table.schema.field("landmark").type):
        lm = table.column("landmark").to_numpy()
    else:
        lm = pd.Categorical(table.column("landmark").to_pandas().astype(str), categories=NAMES).codes
    frame = table.column("frame").to_numpy()
    frames = int(frame.max()) + 1 if len(frame) else 0
    slot = frame.astype(np.int64) * n + lm.astype(np.int64)

    def grid(name: str) -> FloatArray:
        out = np.full(frames * n, np.nan)
        out[slot] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        return out.reshape(frames, n)

    time_s = np.full(frames, np.nan)
    time_s[frame] = table.column("time_s").to_numpy(zero_copy_only=False)
    xy = np.stack([grid("x_px"), grid("y_px")], axis=-1)
    world = np.stack([grid("world_x"), grid("world_y"), grid("world_z")], axis=-1)
    return time_s, xy, world


def metres_per_pixel_from_world(xy: FloatArray, world: FloatArray) -> float | None:
    """Median ratio of the same body segments' lengths in the world landmarks (m) and the image (px)."""
    a, b = np.array(_SCALE_SEGMENTS).T
    px = np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)
    m = np.linalg.norm(world[:, a, :2] - world[:, b, :2], axis=-1)   # the image plane's two axes
    ok = np.isfinite(px) & np.isfinite(m) & (px > 1)
    return float(m[ok].sum() / px[ok].sum()) if ok.any() else None


def image_markers_m(xy: FloatArray, frame_height_px: float, m_per_px: float) -> FloatArray:
    """(T, M, 3) metres: X right, Y up (from the bottom edge), Z = 0 — Sports2D's 2-D convention."""
    out = np.zeros((*xy.shape[:2], 3))
    out[..., 0] = xy[..., 0] * m_per_px
    out[..., 1] = (frame_height_px - xy[..., 1]) * m_per_px
    out[..., 2] = np.where(np.isfinite(xy[..., 0]), 0.0, np.nan)
    return out


def trc_text(time_s: FloatArray, markers: FloatArray, names: Sequence[str], *, rate_hz: float,
             filename: str = "markers.trc", units: str = "m") -> str:
    """A `.trc` file of `markers` (T, M, 3) named `names`, sampled at `rate_hz`."""
    t, m = markers.shape[:2]
    head = [f"PathFileType\t4\t(X/Y/Z)\t{filename}",
            "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
            f"{rate_hz:.2f}\t{rate_hz:.2f}\t{t}\t{m}\t{units}\t{rate_hz:.2f}\t1\t{t}",
            "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in names),
            "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, m + 1)),
            ""]
    body = pd.DataFrame(markers.reshape(t, m * 3))
    body.insert(0, "time", time_s)
    body.insert(0, "frame", np.arange(1, t + 1))
    buf = io.StringIO()
    body.to_csv(buf, sep="\t", header=False, index=False, na_rep="", float_format="%.6f", lineterminator="\n")
    return "\n".join(head) + "\n" + buf.getvalue()


def mot_text(time_s: FloatArray, angles: Mapping[str, FloatArray], *, name: str = "angles") -> str:
    """A `.mot` storage file: time and one column per angle, degrees."""
    head = [name, "version=1", f"nRows={len(time_s)}", f"nColumns={len(angles) + 1}", "inDegrees=yes", "",
            "Units are S.I. units (second, meters, Newtons, ...)",
            "If the header above contains a line with 'inDegrees', this indicates whether rotational values "
            "are in degrees (yes) or radians (no).", "", "endheader"]
    body = pd.DataFrame({"time": time_s, **{k: np.asarray(v, np.float64) for k, v in angles.items()}})
    buf = io.StringIO()
    body.to_csv(buf, sep="\t", index=False, na_rep="NaN", float_format="%.6f", lineterminator="\n")
    return "\n".join(head) + "\n" + buf.getvalue()


def angle_columns(table: pa.Table) -> dict[str, FloatArray]:
    """The angle columns of the wide `angles` table (all but its keys)."""
    return {name: table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            for name in table.column_names if name not in _NOT_ANGLES}
