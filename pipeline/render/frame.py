"""`FrameAnnotator`: everything drawn on one frame of a clip, built once from the analysis.

    annotator = FrameAnnotator.from_analysis(analysis)      # or FrameAnnotator(seq, angles, result)
    image = annotator.annotate(image, frame_index)          # RGB uint8, drawn in place

All per-frame values (angles, trails, which events are flashing, panel numbers) are computed here
once, vectorized over the clip; `annotate` only looks them up and draws. It holds arrays and plain
objects only, so it pickles: build it in a worker process to overlap drawing with pose or encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.result import ActivityResult
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence
from pipeline.render import style
from pipeline.render.annotators import AngleArcAnnotator, ArcDef, SkeletonAnnotator, flexion_arc
from pipeline.render.events import EventFlashAnnotator, MarkerTrack, TimelineAnnotator, event_markers
from pipeline.render.panel import LiveMetrics, MetricPanelAnnotator
from pipeline.render.trails import TrailAnnotator, trail_points, trail_window
from pipeline.render.style import Image

FloatArray = NDArray[np.float64]

# Lifts where the arms bend on purpose: the elbow angle is worth showing.
ELBOW_EXERCISES = {"bench_press", "overhead_press", "clean", "snatch", "clean_and_jerk"}
TRAIL_SECONDS = {"jumping": 1.5, "running": 1.0, "weightlifting": 2.5}


def visible_sides(seq: PoseSequence, view: Any = None, primary: str | None = None) -> tuple[str, ...]:
    """The side(s) to draw angles for: the one nearer the camera in a side view, both from the front.

    `primary` is the analysis' own choice when it made one (see `primary_side`).
    """
    if getattr(view, "view", None) == "front":
        return ("left", "right")
    if primary in ("left", "right"):
        return (primary,)
    legs = {side: [L[f"{side.upper()}_{n}"].value for n in ("HIP", "KNEE", "ANKLE", "SHOULDER")]
            for side in ("left", "right")}
    score = {side: float(np.nansum(seq.visibility[:, idx])) for side, idx in legs.items()}
    return ("left",) if score["left"] >= score["right"] else ("right",)


def primary_side(summary: Mapping[str, Any]) -> str | None:
    """The side an activity analysis measured on, when it says (`primary_side`, `leg_side`)."""
    for key in ("primary_side", "leg_side"):
        if summary.get(key) in ("left", "right"):
            return str(summary[key])
    return None


def arcs_for(activity: str, sides: Sequence[str], exercise: str | None = None) -> list[ArcDef]:
    """The joint angles that matter for the activity, on the given sides."""
    joints = ["knee", "hip"]
    if activity == "weightlifting" and exercise in ELBOW_EXERCISES:
        joints.append("elbow")
    return [flexion_arc(side, j) for side in sides for j in joints]


class FrameAnnotator:
    """Skeleton, angle arcs, trail, event flashes, metrics panel and timeline for one clip."""

    def __init__(self, seq: PoseSequence, angles: Mapping[str, FloatArray], result: ActivityResult | None = None, *,
                 activity: str | None = None, view: Any = None, duration_s: float | None = None,
                 panel: bool = True, timeline: bool = True, flashes: bool = True) -> None:
        self.activity = activity or (result.activity if result is not None else "jumping")
        summary = result.summary if result is not None and isinstance(result.summary, dict) else {}
        events = list(result.events) if result is not None else []
        self.seq = seq
        self.time_s = np.asarray(seq.time_s, np.float64)
        # a front/back view withholds sagittal flexion from the jump metrics (view_limits_metrics): not drawn
        # either. The jumps' own view (read around the flights) decides when the summary has it.
        jump_view = summary.get("view") if self.activity == "jumping" else None
        frontal = jump_view == "front" if isinstance(jump_view, str) else bool(getattr(view, "frontal", False))
        hidden = ("_knee_flexion", "_hip_flexion") if self.activity == "jumping" and frontal else ()
        self.angles = {k: np.asarray(v, np.float64) for k, v in angles.items() if not (hidden and k.endswith(hidden))}
        self.sides = visible_sides(seq, view, primary_side(summary))
        exercise = summary.get("exercise") if isinstance(summary.get("exercise"), str) else None

        self.skeleton = SkeletonAnnotator()
        self.arcs = AngleArcAnnotator([] if hidden else arcs_for(self.activity, self.sides, exercise))
        bar_source = summary.get("bar_source") if isinstance(summary.get("bar_source"), str) else None
        self.trail_xy, trail_name = trail_points(seq, self.activity, bar_source)
        self.trail = TrailAnnotator(style.BAR_TRAIL if trail_name == "bar" else style.HIP_TRAIL)
        self.trail_start = self._trail_starts(summary)
        self.markers = MarkerTrack(event_markers(events, summary, self.activity))
        self.flash = EventFlashAnnotator() if flashes else None
        self.live = LiveMetrics(self.time_s, self.angles, summary, events, self.activity, self.sides,
                                trail_xy=self.trail_xy) if panel else None
        self.panel = MetricPanelAnnotator()
        self.timeline = TimelineAnnotator() if timeline else None
        end = duration_s if duration_s else (float(self.time_s[-1]) if len(self.time_s) else 0.0)
        self.duration_s = max(end, 1e-6)
        self.ticks = [(m.time_s / self.duration_s, m.colour) for m in self.markers.markers if m.timeline]

    @classmethod
    def from_analysis(cls, analysis: Any, **kw: Any) -> "FrameAnnotator":
        """From a `pipeline.metrics.activity.Analysis` (draws on its cleaned sequence)."""
        return cls(analysis.seq, analysis.angles, analysis.result, view=analysis.view, **kw)

    def __len__(self) -> int:
        return len(self.time_s)

    def _trail_starts(self, summary: Mapping[str, Any]) -> NDArray[np.int64]:
        """(T,) first frame of the trail drawn at each frame: a time window, or the current rep of a lift."""
        start = trail_window(self.time_s, TRAIL_SECONDS.get(self.activity, 1.5))
        if self.activity == "weightlifting" and len(self.time_s) and isinstance(summary.get("reps"), list):
            for rep in summary["reps"]:
                if not isinstance(rep, Mapping):
                    continue
                t0, t1 = rep.get("start_s"), rep.get("end_s") or rep.get("lockout_s")
                if not isinstance(t0, (int, float)):
                    continue
                t1 = float(t1) if isinstance(t1, (int, float)) else float(self.time_s[-1])
                f0 = int(np.searchsorted(self.time_s, t0))
                during = (self.time_s >= t0) & (self.time_s <= t1 + 1.0)
                start[during] = np.minimum(start[during], f0)
        return start

    def annotate(self, image: Image, frame_index: int) -> Image:
        """Draw frame `frame_index`'s overlay on `image` (in place; returned). Frames past the pose are left as is."""
        i = int(frame_index)
        if not 0 <= i < len(self.time_s):
            return image
        t = float(self.time_s[i])
        xy, vis = self.seq.image_xy[i], self.seq.visibility[i]
        if self.timeline is not None:
            self.timeline.annotate(image, t / self.duration_s, self.ticks)
        self.trail.annotate(image, self.trail_xy[self.trail_start[i]:i + 1])
        self.skeleton.annotate(image, xy, vis)
        self.arcs.annotate(image, xy, vis, {k: v[i] for k, v in self.angles.items() if i < len(v)})
        if self.flash is not None:
            self.flash.annotate(image, xy, self.markers.active(t), self.trail_xy[i])
        if self.live is not None:
            self.panel.annotate(image, self.live.rows(i), self.live.title(), clock=f"{t:5.2f} s",
                                templates=self.live.value_templates())
        return image
