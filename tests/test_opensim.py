"""OpenSim `.trc` / `.mot` and CSV exports: the published layout field by field, OpenSim's own
readers, and the API's export route (`?format=trc|mot|csv`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from pipeline.export import angles_table, keypoints_table
from pipeline.opensim import (
    angle_columns, image_markers_m, keypoint_arrays, metres_per_pixel_from_world, mot_text, trc_text,
)
from pipeline.pose.landmarks import NAMES
from tests.support.gait import synth_gait
from tests.support_api import Harness, build_harness, make_session

TRC_FIELDS = ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate", "OrigDataStartFrame",
              "OrigNumFrames"]


@pytest.fixture(scope="module")
def gait():
    seq, _ = synth_gait(px_per_m=300.0, duration_s=2.0)
    return seq


def gait_trc(seq) -> tuple[str, np.ndarray]:
    time_s, xy, _ = keypoint_arrays(keypoints_table("s1", seq))
    markers = image_markers_m(xy, seq.height, 1 / 300.0)
    return trc_text(time_s, markers, NAMES, rate_hz=seq.fps, filename="s1.trc"), markers


def test_trc_follows_the_published_header_layout_field_by_field(gait) -> None:
    text, markers = gait_trc(gait)
    lines = text.split("\n")
    assert lines[0].split("\t") == ["PathFileType", "4", "(X/Y/Z)", "s1.trc"]
    assert lines[1].split("\t") == TRC_FIELDS
    values = dict(zip(TRC_FIELDS, lines[2].split("\t"), strict=True))
    t = len(gait)
    assert float(values["DataRate"]) == float(values["CameraRate"]) == float(values["OrigDataRate"]) == gait.fps
    assert int(values["NumFrames"]) == int(values["OrigNumFrames"]) == t
    assert int(values["NumMarkers"]) == 33 and values["Units"] == "m" and values["OrigDataStartFrame"] == "1"
    names_row = lines[3].split("\t")
    assert names_row[:2] == ["Frame#", "Time"]
    assert names_row[2::3] == list(NAMES) and set(names_row[3::3]) | set(names_row[4::3]) == {""}
    xyz = lines[4].split("\t")
    assert xyz[:2] == ["", ""] and xyz[2:] == [f"{a}{i}" for i in range(1, 34) for a in "XYZ"]
    assert lines[5] == ""
    rows = [r.split("\t") for r in lines[6:] if r]
    assert len(rows) == t and all(len(r) == 2 + 3 * 33 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(1, t + 1))
    assert np.allclose([float(r[1]) for r in rows], gait.time_s, atol=1e-6)
    got = np.array([[float(v) if v else np.nan for v in r[2:]] for r in rows]).reshape(t, 33, 3)
    assert np.allclose(got, markers, atol=1e-6, equal_nan=True)
    # Y is up: the head is above the ankles
    assert np.nanmean(got[:, 0, 1]) > np.nanmean(got[:, 27, 1])


def test_mot_columns_are_the_exported_angles(gait) -> None:
    from pipeline.metrics.angles import compute_angles
    from pipeline.metrics.view import facing_sign

    angles = compute_angles(gait, facing_sign(gait))
    table = angles_table("s1", gait, angles)
    text = mot_text(table.column("time_s").to_numpy(), angle_columns(table), name="s1_angles")
    head, body = text.split("endheader\n")
    meta = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    assert meta["nRows"] == str(len(gait)) and meta["nColumns"] == str(len(angles) + 1)
    assert meta["inDegrees"] == "yes" and meta["version"] == "1"
    header, *rows = body.strip("\n").split("\n")
    assert header.split("\t") == ["time", *angles]
    assert len(rows) == len(gait)
    first = dict(zip(header.split("\t"), rows[10].split("\t"), strict=True))
    assert float(first["left_knee_flexion"]) == pytest.approx(float(angles["left_knee_flexion"][10]), abs=1e-5)


def test_opensims_own_readers_open_both_files(gait, tmp_path: Path) -> None:
    osim = pytest.importorskip("opensim")
    from pipeline.metrics.angles import compute_angles
    from pipeline.metrics.view import facing_sign

    trc, markers = gait_trc(gait)
    (tmp_path / "s1.trc").write_text(trc)
    table = osim.TimeSeriesTableVec3(str(tmp_path / "s1.trc"))    # through TRCFileAdapter
    assert table.getNumRows() == len(gait) and table.getNumColumns() == 33
    assert list(table.getColumnLabels()) == list(NAMES)
    assert table.getTableMetaDataAsString("Units") == "m"
    v = table.getRowAtIndex(5)[27]         # left ankle, 6th frame
    assert [v.get(0), v.get(1), v.get(2)] == pytest.approx(markers[5, 27], abs=1e-6)

    angles = compute_angles(gait, facing_sign(gait))
    at = angles_table("s1", gait, angles)
    (tmp_path / "s1.mot").write_text(mot_text(at.column("time_s").to_numpy(), angle_columns(at)))
    sto = osim.TimeSeriesTable(str(tmp_path / "s1.mot"))
    assert list(sto.getColumnLabels()) == list(angles) and sto.getNumRows() == len(gait)
    assert sto.getTableMetaDataAsString("inDegrees") == "yes"


def test_without_a_height_the_metre_comes_from_the_world_landmarks(gait) -> None:
    _, xy, world = keypoint_arrays(keypoints_table("s1", gait))
    assert metres_per_pixel_from_world(xy, world) == pytest.approx(1 / 300.0, rel=0.15)


# --- over the API ------------------------------------------------------------------------------

@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return build_harness(tmp_path / "store")


def test_the_export_route_gives_trc_mot_and_csv_files(h: Harness) -> None:
    m = make_session(h.storage)
    url = f"/jumping/sessions/{m['session_id']}/export/"
    trc = h.get(url + "?format=trc")
    assert trc.status_code == 200 and trc.headers["content-disposition"].endswith(f'{m["session_id"]}.trc"')
    lines = trc.text.split("\n")
    assert lines[0].startswith("PathFileType\t4\t(X/Y/Z)") and lines[2].split("\t")[2:5] == ["30", "33", "m"]
    mot = h.get(url + "?format=mot")
    assert mot.status_code == 200 and "inDegrees=yes" in mot.text
    assert mot.text.split("endheader\n")[1].split("\n")[0] == "time\tleft_knee_flexion\tright_knee_flexion"
    rows = list(csv.DictReader(io.StringIO(h.get(url + "?format=csv&table=metrics").text)))
    assert [r["name"] for r in rows] == ["jump_height_m", "flight_time_s"] and rows[0]["unit"] == "m"
    assert h.get(url + "?format=csv").text.startswith('"session_id","frame","time_s","left_knee_flexion"')
    assert h.get(url + "?format=csv&table=secrets").json()["error"]["code"] == "invalid_parameter"
    assert h.get(url + "?format=xml").json()["error"]["code"] == "invalid_parameter"
