"""Event markers: a label flashed at the athlete around each event's time, and a timeline strip.

`event_markers` turns `ActivityResult.events` into what to show (label, colour, where on the
body); `MarkerTrack` finds, vectorized, which markers are on at a time and how strongly;
`EventFlashAnnotator` and `TimelineAnnotator` draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import Landmark as L
from pipeline.render import style
from pipeline.render.style import Image, px

FEET = (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX, L.LEFT_HEEL, L.RIGHT_HEEL)
HIPS = (L.LEFT_HIP, L.RIGHT_HIP)


@dataclass(frozen=True)
class Marker:
    time_s: float
    label: str
    colour: style.RGB
    anchor: tuple[int, ...]        # landmarks whose midpoint the label points at; () = the trail's head (the bar)
    pre_s: float = 0.08            # shown this long before the event...
    post_s: float = 0.7            # ...and fades out over this long after it
    timeline: bool = True          # also ticked on the timeline strip


def _item(summary: Mapping[str, Any], key: str, index: int | None) -> Mapping[str, Any]:
    """summary[key][index] when it is a dict (defensive: the metric modules evolve)."""
    items = summary.get(key)
    if index is None or not isinstance(items, list):
        return {}
    for it in items:
        if isinstance(it, dict) and it.get("index") == index:
            return it
    return items[index] if 0 <= index < len(items) and isinstance(items[index], dict) else {}


def _num(d: Mapping[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else None


def _side_feet(side: str | None) -> tuple[int, ...]:
    if side == "left":
        return (L.LEFT_HEEL, L.LEFT_FOOT_INDEX)
    if side == "right":
        return (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX)
    return FEET


def event_markers(events: Sequence[Any], summary: Mapping[str, Any] | None, activity: str) -> list[Marker]:
    """The markers to flash for `events` (`result.Event`s or dicts with type/time_s/side/index)."""
    summary = summary or {}
    out: list[Marker] = []
    for e in events:
        get = e.get if isinstance(e, dict) else lambda k, _e=e: getattr(_e, k, None)
        kind, t, side, index = get("type"), get("time_s"), get("side"), get("index")
        side = side if side in ("left", "right") else None
        index = int(index) if isinstance(index, (int, np.integer)) and not isinstance(index, bool) else None
        if not isinstance(t, (int, float)) or not np.isfinite(t):
            continue
        t = float(t)
        if kind == "takeoff":
            out.append(Marker(t, "Takeoff", style.GOOD, FEET, post_s=0.4))   # gone by the landing
        elif kind == "landing":
            h = _num(_item(summary, "jumps", index), "jump_height_m")
            out.append(Marker(t, f"Landing · {h * 100:.1f} cm" if h is not None else "Landing", style.ALERT, FEET,
                              post_s=1.0))
        elif kind in ("foot_strike", "toe_off"):
            # steps come 3 a second: strikes get a short label, toe-offs only the ring
            colour = style.side_colour(side or "")
            label = f"Strike {side[0].upper()}" if kind == "foot_strike" and side else \
                "Strike" if kind == "foot_strike" else ""
            out.append(Marker(t, label, colour, _side_feet(side), pre_s=0.03, post_s=0.3,
                              timeline=kind == "foot_strike"))
        elif kind == "rep_bottom":
            out.append(Marker(t, "Bottom", style.VIOLET, HIPS, post_s=0.8))
        elif kind == "rep_end":
            rep = _item(summary, "reps", index)
            v = _num(rep, "mean_concentric_velocity_m_s")
            n = (index + 1) if isinstance(index, int) else None
            text = f"Rep {n}" if n else "Rep"
            out.append(Marker(t, text + (f" · {v:.2f} m/s" if v is not None else " done"), style.GOOD, (),
                              post_s=1.0))
        elif kind == "peak_bar_height":
            out.append(Marker(t, "Peak bar", style.BAR_TRAIL, (), post_s=0.5, timeline=False))
    return out


class MarkerTrack:
    """Which markers are visible at a time, and at what opacity (fade in, hold, fade out)."""

    def __init__(self, markers: Sequence[Marker]) -> None:
        self.markers = list(markers)
        self.t = np.array([m.time_s for m in self.markers], np.float64)
        self.start = self.t - np.array([m.pre_s for m in self.markers], np.float64)
        self.end = self.t + np.array([m.post_s for m in self.markers], np.float64)

    def active(self, time_s: float) -> list[tuple[Marker, float, float]]:
        """[(marker, opacity, seconds since the event)] for markers on at `time_s`, oldest first."""
        if not self.markers:
            return []
        on = np.flatnonzero((self.start <= time_s) & (time_s <= self.end))
        out = []
        for k in on:
            m = self.markers[k]
            age = time_s - m.time_s
            if age < 0:
                a = 1.0 - (-age / m.pre_s if m.pre_s > 0 else 0.0) * 0.6
            else:
                fade = 0.35 * m.post_s        # hold, then fade over the last 35 %
                a = 1.0 if age < m.post_s - fade else max(0.0, (m.post_s - age) / fade)
            out.append((m, float(a), float(age)))
        return out


class EventFlashAnnotator:
    """A ring that pulses out from the body point of the event and a labelled pill beside it."""

    def __init__(self, font_size: float = 19.0, ring_radius: float = 14.0) -> None:
        self.font_size, self.ring_radius = font_size, ring_radius

    def annotate(self, frame: Image, xy: NDArray[np.floating], active: Sequence[tuple[Marker, float, float]],
                 tracked: NDArray[np.floating] | None = None) -> Image:
        """`tracked` is the trail's current point, where markers without landmarks (the bar) point."""
        s = style.scale_for(frame)
        H, W = frame.shape[:2]
        body = xy[np.isfinite(xy).all(axis=1)]
        if not len(body):
            return frame
        taken: list[tuple[int, int, int, int]] = []
        for m, opacity, age in active:
            pts = xy[list(m.anchor)] if m.anchor else np.asarray([tracked if tracked is not None else (np.nan, np.nan)])
            pts = pts[np.isfinite(pts).all(axis=1)]
            if not len(pts) or opacity <= 0.02:
                continue
            c = style.pt(pts.mean(axis=0))
            grow = float(np.clip(age / 0.35, 0, 1)) if age >= 0 else 0.0
            r = px(self.ring_radius * (1 + 1.2 * grow), s, 4)
            style.overlay_circle(frame, c, r, m.colour, opacity * (1 - 0.6 * grow), thickness=px(3, s, 2))
            style.overlay_circle(frame, c, px(4, s, 2), m.colour, opacity)
            if not m.label:
                continue
            # the label beside the body (not over it, nor over the angle values), level with the point
            size = px(self.font_size, s, 10)
            tw = _box_at((0, 0), m.label, size, "lm")[2]
            gap = px(34, s)
            right_x, left_x = int(body[:, 0].max()) + gap, int(body[:, 0].min()) - gap
            on_right = right_x + tw < W - px(8, s) or left_x - tw < px(8, s)
            floor = H - px(44, s) - size      # keep clear of the timeline strip
            org = (right_x if on_right else left_x, min(c[1], floor))
            anchor = "lm" if on_right else "rm"
            for _ in range(6):   # stack upwards, away from the ground and the timeline
                box = _box_at(org, m.label, size, anchor)
                if not any(_overlap(box, b) for b in taken):
                    break
                org = (org[0], org[1] - (box[3] - box[1]) - px(6, s))
            box = style.badge(frame, m.label, org, size, m.colour, anchor=anchor, opacity=opacity)
            taken.append(box)
            lead_x = box[0] if on_right else box[2]
            _leader(frame, c, r, (lead_x, (box[1] + box[3]) // 2), m.colour, px(2, s), opacity * 0.8)
        return frame


def _leader(frame: Image, c: tuple[int, int], r: int, to: tuple[int, int], colour: style.RGB, th: int,
            opacity: float) -> None:
    """A thin line from the ring's edge to the label."""
    d = np.subtract(to, c).astype(np.float64)
    n = float(np.hypot(*d))
    if n <= r + 2:
        return
    p0 = (int(c[0] + d[0] / n * r), int(c[1] + d[1] / n * r))
    layer = style.Layer(frame, (min(p0[0], to[0]) - th, min(p0[1], to[1]) - th,
                                max(p0[0], to[0]) + th + 1, max(p0[1], to[1]) + th + 1))
    cv2.line(frame, p0, to, colour, th, cv2.LINE_AA)
    layer.blend(opacity)


def _box_at(org: tuple[int, int], text: str, size: int, anchor: str) -> tuple[int, int, int, int]:
    """The box `style.badge` would draw (before it is kept inside the frame)."""
    tw, th = style.text_size(text, size, True)
    w = tw + 2 * int(size * 0.55) + 2 * int(size * 0.28) + int(size * 0.4)
    h = th + 2 * int(size * 0.32)
    x = org[0] - {"l": 0, "c": w // 2, "r": w}[anchor[0]]
    y = org[1] - {"t": 0, "m": h // 2, "b": h}[anchor[1]]
    return x, y, x + w, y + h


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class TimelineAnnotator:
    """A thin strip along the bottom: the clip's duration, event ticks and the playhead."""

    def __init__(self, height: float = 5.0, margin: float = 16.0, opacity: float = 0.85) -> None:
        self.height, self.margin, self.opacity = height, margin, opacity

    def annotate(self, frame: Image, progress: float, ticks: Sequence[tuple[float, style.RGB]]) -> Image:
        s = style.scale_for(frame)
        H, W = frame.shape[:2]
        m, h = px(self.margin, s), px(self.height, s, 3)
        x0, x1, y = m, W - m, H - m - h
        style.fill_rounded(frame, (x0, y, x1, y + h), (255, 255, 255), 0.28, radius=h // 2)
        xp = int(x0 + (x1 - x0) * float(np.clip(progress, 0, 1)))
        if xp - x0 >= h:
            style.fill_rounded(frame, (x0, y, xp, y + h), (255, 255, 255), 0.8, radius=h // 2)
        for pos, colour in ticks:
            xt = int(x0 + (x1 - x0) * float(np.clip(pos, 0, 1)))
            cv2.line(frame, (xt, y - px(4, s)), (xt, y + h + px(3, s)), colour, px(2, s, 2), cv2.LINE_AA)
        cv2.circle(frame, (xp, y + h // 2), px(6, s, 3), style.OUTLINE, -1, cv2.LINE_AA)
        cv2.circle(frame, (xp, y + h // 2), px(5, s, 3), (255, 255, 255), -1, cv2.LINE_AA)
        return frame
