"""The metrics panel: live values in a corner of the video.

`LiveMetrics` computes, once per clip and vectorized over time, what the panel shows at each
frame (current angles, jumps landed so far and the last height, rolling cadence, reps done and
bar velocity), reading `ActivityResult.summary` defensively: the metric modules add keys over time.
`MetricPanelAnnotator` draws rows of (label, value) in a rounded translucent card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.weightlifting import bar_m_per_px
from pipeline.render import style
from pipeline.render.style import Image, px

FloatArray = NDArray[np.float64]
DASH = "–"


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    accent: style.RGB | None = None     # a coloured tick before the label (ties a value to its arc)
    highlight: bool = False             # value drawn in the accent colour (a fresh result)


def _finite_num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        return None
    return float(v)


def _items(summary: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    v = summary.get(key)
    return [x for x in v if isinstance(x, Mapping)] if isinstance(v, list) else []


def _times(items: Sequence[Mapping[str, Any]], key: str) -> FloatArray:
    return np.array([_finite_num(it.get(key)) if _finite_num(it.get(key)) is not None else np.nan for it in items],
                    np.float64)


def _count_until(event_times: FloatArray, t: FloatArray) -> NDArray[np.int64]:
    """(T,) how many of the (finite) event times are <= each t."""
    ev = np.sort(event_times[np.isfinite(event_times)])
    return np.searchsorted(ev, t, side="right").astype(np.int64)


def _last_value(event_times: FloatArray, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(T,) value of the last event at or before t (NaN before the first), and seconds since it."""
    ok = np.isfinite(event_times)
    order = np.argsort(event_times[ok])
    ev, vals = event_times[ok][order], values[ok][order]
    k = np.searchsorted(ev, t, side="right") - 1
    has = k >= 0
    kk = np.clip(k, 0, max(len(ev) - 1, 0))
    value = np.where(has, vals[kk] if len(ev) else np.nan, np.nan)
    since = np.where(has, t - (ev[kk] if len(ev) else 0), np.inf)
    return value, since


def _deg(v: float) -> str:
    return style.degrees(v) if np.isfinite(v) else DASH


class LiveMetrics:
    """Per-frame panel rows for one clip. Build once; `rows(i)` is a cheap lookup and format."""

    FRESH_S = 1.2   # a new result (height, rep) is highlighted this long

    def __init__(self, time_s: FloatArray, angles: Mapping[str, FloatArray], summary: Mapping[str, Any] | None,
                 events: Sequence[Any], activity: str, sides: Sequence[str], *,
                 trail_xy: FloatArray | None = None) -> None:
        self.t = np.asarray(time_s, np.float64)
        self.activity = activity
        self.summary = dict(summary or {})
        self.sides = tuple(sides)
        n = len(self.t)
        nan = np.full(n, np.nan)

        def angle(name: str) -> FloatArray:
            vals = [np.asarray(angles[f"{s}_{name}"], np.float64) for s in self.sides if f"{s}_{name}" in angles]
            if not vals:
                return nan
            if len(vals) == 1:
                return vals[0][:n]
            with np.errstate(invalid="ignore"):
                stacked = np.stack(vals)[:, :n]
                cnt = np.isfinite(stacked).sum(axis=0)
                return np.where(cnt > 0, np.nansum(stacked, axis=0) / np.maximum(cnt, 1), np.nan)

        self.side_colour = style.side_colour(self.sides[0]) if len(self.sides) == 1 else style.CENTRE
        self.knee, self.hip, self.elbow = angle("knee_flexion"), angle("hip_flexion"), angle("elbow_flexion")
        trunk = np.asarray(angles.get("trunk", nan), np.float64)[:n]
        self.trunk_lean = style.trunk_lean(trunk)
        self._init_activity(events, trail_xy)

    # -------------------------------------------------------------- per activity

    def _init_activity(self, events: Sequence[Any], trail_xy: FloatArray | None) -> None:
        s, t = self.summary, self.t
        if self.activity == "jumping":
            jumps = _items(s, "jumps")
            landing = _times(jumps, "landing_s")
            self.jumps_done = _count_until(landing, t)
            self.height, self.height_since = _last_value(landing, _times(jumps, "jump_height_m"), t)
            self.flight, _ = _last_value(landing, _times(jumps, "flight_time_s"), t)
        elif self.activity == "running":
            steps = _items(s, "steps")
            strikes = np.sort(_times(steps, "foot_strike_s"))
            strikes = strikes[np.isfinite(strikes)]
            if not len(strikes):  # fall back on the events when the summary has no step list
                strikes = np.sort(np.array([_ev(e, "time_s") for e in events if _ev(e, "type") == "foot_strike"],
                                           np.float64))
            self.steps_done = _count_until(strikes, t)
            # the session's cadence when the analysis gives one (so the video agrees with the report),
            # else a rolling one from the strikes so far
            session = _finite_num(s.get("cadence_spm"))
            self.cadence = np.full(len(t), session) if session is not None else self._rolling_cadence(strikes, t)
            toe_offs = _times(steps, "toe_off_s")
            contact = toe_offs - _times(steps, "foot_strike_s")
            self.contact, _ = _last_value(toe_offs, contact, t)
        else:
            reps = _items(s, "reps")
            ends = _times(reps, "end_s")
            self.reps_done = _count_until(ends, t)
            self.rep_velocity, self.rep_since = _last_value(ends, _times(reps, "mean_concentric_velocity_m_s"), t)
            self.bar_velocity = self._bar_velocity(trail_xy)

    @staticmethod
    def _rolling_cadence(strikes: FloatArray, t: FloatArray, last_n: int = 8) -> FloatArray:
        """Steps per minute over the last `last_n` foot strikes before each t (NaN with fewer than 3)."""
        k = np.searchsorted(strikes, t, side="right")           # strikes so far
        lo = np.maximum(k - last_n, 0)
        have = (k - lo) >= 3
        first = strikes[np.clip(lo, 0, max(len(strikes) - 1, 0))] if len(strikes) else np.zeros_like(t)
        last = strikes[np.clip(k - 1, 0, max(len(strikes) - 1, 0))] if len(strikes) else np.zeros_like(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            cad = 60.0 * (k - lo - 1) / (last - first)
        return np.where(have & np.isfinite(cad), cad, np.nan)

    def _bar_velocity(self, bar_xy: FloatArray | None) -> FloatArray:
        """(T,) vertical bar velocity, m/s, up positive; NaN without a scale (the plate or the athlete's height)."""
        m_per_px = bar_m_per_px(self.summary)
        if bar_xy is None or m_per_px is None or len(self.t) < 3:
            return np.full(len(self.t), np.nan)
        y = np.asarray(bar_xy, np.float64)[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return -np.gradient(y, self.t) * m_per_px

    # -------------------------------------------------------------- rows

    def title(self) -> str:
        if self.activity == "weightlifting":
            ex = self.summary.get("exercise")
            return str(ex).replace("_", " ").upper() if isinstance(ex, str) else "LIFT"
        return {"jumping": "JUMPS", "running": "RUNNING"}.get(self.activity, self.activity.upper())

    def rows(self, i: int) -> list[Row]:
        c = self.side_colour
        if self.activity == "jumping":
            h = self.height[i]
            return [Row("Knee", _deg(self.knee[i]), c), Row("Hip", _deg(self.hip[i]), c),
                    Row("Jumps", str(int(self.jumps_done[i]))),
                    Row("Height", f"{h * 100:.1f} cm" if np.isfinite(h) else DASH,
                        style.GOOD, highlight=self.height_since[i] < self.FRESH_S),
                    Row("Flight", f"{self.flight[i] * 1000:.0f} ms" if np.isfinite(self.flight[i]) else DASH)]
        if self.activity == "running":
            cad = self.cadence[i]
            return [Row("Cadence", f"{cad:.0f} spm" if np.isfinite(cad) else DASH),
                    Row("Steps", str(int(self.steps_done[i]))),
                    Row("Contact", f"{self.contact[i] * 1000:.0f} ms" if np.isfinite(self.contact[i]) else DASH),
                    Row("Knee", _deg(self.knee[i]), c), Row("Trunk lean", _deg(self.trunk_lean[i]), style.CENTRE)]
        rows = [Row("Reps", str(int(self.reps_done[i]))), Row("Knee", _deg(self.knee[i]), c),
                Row("Hip", _deg(self.hip[i]), c), Row("Trunk", _deg(self.trunk_lean[i]), style.CENTRE)]
        v = self.bar_velocity[i]
        if np.isfinite(self.bar_velocity).any():
            arrow = "↑" if v > 0.05 else "↓" if v < -0.05 else ""
            rows.append(Row("Bar speed", f"{arrow}{abs(v):.2f} m/s" if np.isfinite(v) else DASH, style.BAR_TRAIL))
        rv = self.rep_velocity[i]
        if np.isfinite(self.rep_velocity).any():
            rows.append(Row("Last rep", f"{rv:.2f} m/s" if np.isfinite(rv) else DASH, style.GOOD,
                            highlight=self.rep_since[i] < self.FRESH_S))
        return rows

    def value_templates(self) -> list[str]:
        """Widest strings a value can take, so the panel keeps one width for the whole clip."""
        return ["888°", "88.8 cm", "888 ms", "888 spm", "↑8.88 m/s", "88"]


def _ev(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, Mapping) else getattr(e, key, None)


class MetricPanelAnnotator:
    """A card in the top-left corner: a title line, then rows of label (muted) and value (bold)."""

    def __init__(self, font_size: float = 18.0, opacity: float = 0.62, margin: float = 16.0,
                 corner: str = "tl") -> None:
        self.font_size, self.opacity, self.margin, self.corner = font_size, opacity, margin, corner

    def layout(self, frame_shape: tuple[int, ...], rows: Sequence[Row], title: str,
               templates: Sequence[str] = ()) -> tuple[int, int, int, int]:
        s = style.scale_for(frame_shape)
        fl, fv, ft = self._sizes(s)
        label_w = max([style.text_size(r.label, fl)[0] for r in rows] + [0])
        value_w = max([style.text_size(r.value, fv, True)[0] for r in rows]
                      + [style.text_size(v, fv, True)[0] for v in templates] + [0])
        pad, tick = px(14, s), px(10, s)
        w = max(pad * 2 + tick + label_w + px(18, s) + value_w,
                pad * 2 + style.text_size(title, ft, True)[0] + px(70, s))
        line = int(fv * 1.55)
        h = pad * 2 + int(ft * 1.7) + line * len(rows) - int(fv * 0.3)
        m = px(self.margin, s)
        H, W = frame_shape[:2]
        x = m if self.corner[1] == "l" else W - m - w
        y = m if self.corner[0] == "t" else H - m - h
        return x, y, x + w, y + h

    def _sizes(self, s: float) -> tuple[int, int, int]:
        return px(self.font_size * 0.9, s, 9), px(self.font_size * 1.12, s, 10), px(self.font_size * 0.72, s, 8)

    def annotate(self, frame: Image, rows: Sequence[Row], title: str = "", *, clock: str = "",
                 templates: Sequence[str] = ()) -> Image:
        if not rows and not title:
            return frame
        s = style.scale_for(frame)
        fl, fv, ft = self._sizes(s)
        x0, y0, x1, y1 = self.layout(frame.shape, rows, title, templates)
        pad, tick = px(14, s), px(10, s)
        style.fill_rounded(frame, (x0, y0, x1, y1), style.PANEL, self.opacity, radius=px(12, s))
        y = y0 + pad
        style.draw_text(frame, title, (x0 + pad, y), ft, style.MUTED, bold=True)
        if clock:
            style.draw_text(frame, clock, (x1 - pad, y), ft, style.MUTED, anchor="rt")
        y += int(ft * 1.7)
        line = int(fv * 1.55)
        for r in rows:
            cy = y + fv // 2 + px(1, s)
            if r.accent is not None:
                cv2.rectangle(frame, (x0 + pad, cy - int(fv * 0.38)), (x0 + pad + px(4, s, 2), cy + int(fv * 0.38)),
                              r.accent, -1)
            style.draw_text(frame, r.label, (x0 + pad + tick, cy), fl, style.MUTED, anchor="lm")
            colour = r.accent if (r.highlight and r.accent is not None) else style.TEXT
            style.draw_text(frame, r.value, (x1 - pad, cy), fv, colour, bold=True, anchor="rm")
            y += line
        return frame

