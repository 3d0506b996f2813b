"""Lift analysis: key-position images per rep, charts and recommendations (I/O: reads the video).

For every rep, the real video frame at each key position (start, bottom or catch, lockout...) with
the skeleton, joint angles, the bar path so far and a caption; plus a bar-path chart, an
angles-over-time chart, a bar-velocity chart (with the athlete's height) and the recommendations
of `pipeline.metrics.recommendations`. Files are written to `out_dir`; the returned dict names
them relative to it (the lead uploads them to `sessions/{id}/lift-analysis/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.recommendations import recommend
from pipeline.metrics.reps import nearest_frame
from pipeline.metrics.result import ActivityResult
from pipeline.metrics.weightlifting import PROFILES, Signals, bar_m_per_px, build_signals, primary_side
from pipeline.pose.sequence import PoseSequence
from pipeline.render import style
from pipeline.render.annotators import TRUNK_ARC, AngleArcAnnotator, SkeletonAnnotator, flexion_arc
from pipeline.render.charts import angles_chart, bar_path_chart, velocity_chart
from pipeline.render.panel import MetricPanelAnnotator, Row
from pipeline.video import grab_frames

FloatArray = NDArray[np.float64]
Image = NDArray[np.uint8]
MAX_IMAGE_SIDE = 1280


@dataclass(frozen=True)
class KeyPosition:
    rep: int
    position: str
    time_s: float
    frame: int

    @property
    def file(self) -> str:
        return f"rep{self.rep + 1}_{self.position}.png"


def key_positions(reps: list[Mapping[str, Any]], exercise: str, t: FloatArray) -> list[KeyPosition]:
    """The positions worth a picture in each rep, in time order."""
    profile = PROFILES[exercise]
    out = []
    for rep in reps:
        if profile.olympic:
            names = [("start", "start_s"), ("extension", "full_extension_s"), ("catch", "catch_s")]
            if "recovery" in rep.get("phases", {}) or rep.get("jerk_lockout_s") is not None:
                names.append(("lockout", "lockout_s"))
        elif profile.rest == "high":
            names = [("start", "start_s"), ("bottom", "bottom_s"), ("lockout", "top_s")]
        else:
            names = [("start", "start_s"), ("lockout", "top_s"), ("end", "end_s")]
        for name, key in names:
            if key == "top_s" and rep.get(key) is None:
                key = "lockout_s"
            if rep.get(key) is not None:
                out.append(KeyPosition(rep["index"], name, float(rep[key]), nearest_frame(t, rep[key])))
    return out


class BarPathAnnotator:
    """The bar's path as a polyline up to the current frame, a dot where it is, and a dashed
    vertical through its starting point (the ideal straight path)."""

    def __init__(self, colour: style.RGB = style.BAR_TRAIL, thickness: float = 3.0) -> None:
        self.colour, self.thickness = colour, thickness

    def annotate(self, frame: Image, path: FloatArray) -> Image:
        ok = np.isfinite(path).all(axis=1)
        if not ok.any():
            return frame
        s = style.scale_for(frame)
        th = style.px(self.thickness, s, 2)
        pts = np.round(path[ok]).astype(np.int32)
        x0 = float(pts[0, 0])
        top, bottom = float(pts[:, 1].min() - 40 * s), float(pts[:, 1].max() + 40 * s)
        style.dashed_line(frame, (x0, top), (x0, bottom), style.MUTED, max(1, th // 2), dash=style.px(8, s))
        cv2.polylines(frame, [pts.reshape(-1, 1, 2)], False, style.OUTLINE, th + style.px(2, s), cv2.LINE_AA)
        cv2.polylines(frame, [pts.reshape(-1, 1, 2)], False, self.colour, th, cv2.LINE_AA)
        head = (int(pts[-1, 0]), int(pts[-1, 1]))
        cv2.circle(frame, head, style.px(8, s, 3), style.OUTLINE, -1, cv2.LINE_AA)
        cv2.circle(frame, head, style.px(6, s, 2), self.colour, -1, cv2.LINE_AA)
        return frame


def _fit(image: Image) -> Image:
    h, w = image.shape[:2]
    k = MAX_IMAGE_SIDE / max(h, w)
    return image if k >= 1 else cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


def _caption(kp: KeyPosition, rep: Mapping[str, Any], angles: Mapping[str, FloatArray],
             side: str) -> tuple[str, list[Row]]:
    i = kp.frame
    rows = []
    for label, value in (("Knee", angles[f"{side}_knee_flexion"][i]), ("Hip", angles[f"{side}_hip_flexion"][i]),
                         ("Trunk lean", 90.0 - angles["trunk"][i])):
        if np.isfinite(value):
            rows.append(Row(label, f"{value:.0f}°"))
    depth_key = "catch_" if kp.position == "catch" else ""
    if kp.position in ("bottom", "catch") and rep.get(f"{depth_key}depth"):
        rows.append(Row("Depth", f"{rep[f'{depth_key}depth'].replace('_', ' ')} "
                                 f"({rep[f'{depth_key}thigh_angle_deg']:+.0f}°)"))
    if kp.position == "lockout" and rep.get("mean_concentric_velocity_m_s") is not None:
        rows.append(Row("Mean velocity", f"{rep['mean_concentric_velocity_m_s']:.2f} m/s"))
    return f"REP {kp.rep + 1} · {kp.position.upper()} · {kp.time_s:.2f} s", rows


def build_lift_report(video_path: Path, seq: PoseSequence, angles: Mapping[str, NDArray[np.float64]],
                      result: ActivityResult, out_dir: Path, *,
                      bar_xy: NDArray[np.floating] | None = None) -> dict[str, Any]:
    """Write the lift-analysis PNGs to `out_dir`; returns {"images", "charts", "recommendations"}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = result.summary
    exercise = summary.get("exercise") or "back_squat"
    reps: list[dict[str, Any]] = list(summary.get("reps") or [])
    if len(seq) == 0:
        return {"images": [], "charts": [], "recommendations": recommend(summary)}
    side = summary.get("primary_side") or primary_side(seq)
    t = seq.time_s.astype(np.float64)
    facing = -1.0 if summary.get("facing") == "left" else 1.0
    sig = build_signals(seq, PROFILES[exercise], facing, side, bar_xy)
    angles = {k: np.where(sig.reliable, v, np.nan) for k, v in angles.items()}   # as the metrics saw them

    images = []
    positions = key_positions(reps, exercise, t)
    frames = grab_frames(Path(video_path), seq.time_s, [kp.frame for kp in positions])
    skeleton, bar, panel = SkeletonAnnotator(), BarPathAnnotator(), MetricPanelAnnotator()
    arcs = AngleArcAnnotator([flexion_arc(side, "knee"), flexion_arc(side, "hip"), TRUNK_ARC])
    for kp in positions:
        image = frames.get(kp.frame)
        if image is None:
            continue
        image = image.copy()
        rep = reps[kp.rep]
        first = int(np.searchsorted(t, rep["start_s"]))
        bar.annotate(image, sig.bar[min(first, kp.frame):kp.frame + 1])
        xy, vis = seq.image_xy[kp.frame], seq.visibility[kp.frame]
        skeleton.annotate(image, xy, vis)
        arcs.annotate(image, xy, vis, {k: float(v[kp.frame]) for k, v in angles.items()})
        title, rows = _caption(kp, rep, angles, side)
        panel.annotate(image, rows, title)
        cv2.imwrite(str(out_dir / kp.file), cv2.cvtColor(_fit(image), cv2.COLOR_RGB2BGR))
        images.append({"file": kp.file, "rep": kp.rep, "position": kp.position, "time_s": round(kp.time_s, 3)})

    charts = _charts(out_dir, t, sig, angles, reps, exercise, side, summary)
    return {"images": images, "charts": charts, "recommendations": recommend(summary)}


def _charts(out_dir: Path, t: FloatArray, sig: Signals, angles: Mapping[str, NDArray[np.float64]],
            reps: list[dict[str, Any]], exercise: str, side: str, summary: Mapping[str, Any]) -> list[dict[str, str]]:
    title = exercise.replace("_", " ")
    m_per_px = bar_m_per_px(summary)
    k, unit = (100 * m_per_px, "cm") if m_per_px else (1.0, "px")
    bar_path_chart(out_dir / "bar_path.png", t, sig.bar_forward * k, sig.bar_h * k, reps, unit, f"{title}: bar path")
    series = {f"{side} knee flexion": angles[f"{side}_knee_flexion"],
              f"{side} hip flexion": angles[f"{side}_hip_flexion"], "trunk lean": 90.0 - angles["trunk"]}
    angles_chart(out_dir / "angles.png", t, series, reps, f"{title}: angles over time")
    charts = [{"file": "bar_path.png", "kind": "bar_path"}, {"file": "angles.png", "kind": "angles"}]
    if m_per_px:
        velocity_chart(out_dir / "bar_velocity.png", t, sig.bar_v * m_per_px, reps, f"{title}: bar vertical velocity")
        charts.append({"file": "bar_velocity.png", "kind": "bar_velocity"})
    return charts
