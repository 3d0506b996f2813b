"""Pictures of a session: the angle-over-time chart and a contact sheet of key frames (PNG).

    images = session_images(video, analysis, out_dir)   # {"angle_chart": Path, "contact_sheet": Path}

The analysis stores them as `sessions/{id}/{path.name}` under the manifest's `artifacts.images`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.render import style
from pipeline.render.frame import FrameAnnotator, primary_side, visible_sides
from pipeline.video import grab_frames

FloatArray = NDArray[np.float64]
IMAGE_FILES = {"angle_chart": "angles.png", "contact_sheet": "contact-sheet.png"}
MAX_GROUPS = 3          # jumps / reps / strides on the contact sheet


def _hex(rgb: style.RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def session_images(video: Path, analysis: Any, out_dir: Path) -> dict[str, Path]:
    """Write the angle chart and the contact sheet into `out_dir`; returns {name: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = analysis.result
    summary = result.summary if isinstance(result.summary, dict) else {}
    sides = visible_sides(analysis.seq, analysis.view, primary_side(summary))
    return {
        "angle_chart": angle_chart(analysis.seq.time_s, analysis.angles, result.activity, summary, result.events,
                                   out_dir / IMAGE_FILES["angle_chart"], sides=sides),
        "contact_sheet": contact_sheet(video, analysis, out_dir / IMAGE_FILES["contact_sheet"]),
    }


# ------------------------------------------------------------------ angle chart

@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float
    label: str


def activity_spans(activity: str, summary: Mapping[str, Any]) -> list[Span]:
    """Flight phases of jumps, or reps of a lift, to shade on the chart."""
    def num(d: Mapping[str, Any], k: str) -> float | None:
        v = d.get(k)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else None

    out = []
    if activity == "jumping":
        for k, j in enumerate(x for x in summary.get("jumps") or [] if isinstance(x, Mapping)):
            a, b, h = num(j, "takeoff_s"), num(j, "landing_s"), num(j, "jump_height_m")
            if a is not None and b is not None:
                out.append(Span(a, b, f"J{k + 1}" + (f" {h * 100:.0f} cm" if h is not None else "")))
    elif activity == "weightlifting":
        for k, r in enumerate(x for x in summary.get("reps") or [] if isinstance(x, Mapping)):
            a, b = num(r, "start_s"), num(r, "end_s") or num(r, "lockout_s")
            if a is not None and b is not None:
                out.append(Span(a, b, f"Rep {k + 1}"))
    return out


def chart_series(activity: str, angles: Mapping[str, FloatArray], sides: Sequence[str],
                 exercise: str | None = None) -> list[tuple[str, list[str]]]:
    """[(panel title, [angle names])] to plot, both sides where both exist."""
    panels = [("Knee flexion", [f"{s}_knee_flexion" for s in ("left", "right")]),
              ("Hip flexion", [f"{s}_hip_flexion" for s in ("left", "right")])]
    if activity == "weightlifting" and exercise in {"bench_press", "overhead_press", "clean", "snatch",
                                                     "clean_and_jerk"}:
        panels.append(("Elbow flexion", [f"{s}_elbow_flexion" for s in ("left", "right")]))
    if activity in ("weightlifting", "running"):
        panels.append(("Trunk lean", ["trunk"]))
    return [(title, [n for n in names if n in angles and np.isfinite(angles[n]).any()]) for title, names in panels]


def angle_chart(time_s: FloatArray, angles: Mapping[str, FloatArray], activity: str, summary: Mapping[str, Any],
                events: Sequence[Any], out_path: Path, *, sides: Sequence[str] = ("left", "right"),
                width_px: int = 1800) -> Path:
    """Stacked panels of the key angles over time, events marked; PNG at `out_path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    exercise = summary.get("exercise") if isinstance(summary.get("exercise"), str) else None
    panels = [p for p in chart_series(activity, angles, sides, exercise) if p[1]] or [("Knee flexion", [])]
    dpi = 150
    fig = Figure(figsize=(width_px / dpi, 1.1 + 1.9 * len(panels)), dpi=dpi, facecolor="white")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    t = np.asarray(time_s, np.float64)
    spans = activity_spans(activity, summary)
    strikes = [(float(_ev(e, "time_s")), _ev(e, "side")) for e in events if _ev(e, "type") == "foot_strike"
               and isinstance(_ev(e, "time_s"), (int, float))]
    bottoms = [float(_ev(e, "time_s")) for e in events if _ev(e, "type") == "rep_bottom"
               and isinstance(_ev(e, "time_s"), (int, float))]
    for ax, (title, names) in zip(axes, panels):
        for sp in spans:
            ax.axvspan(sp.start_s, sp.end_s, color="#8b5cf6" if activity == "weightlifting" else "#10b981",
                       alpha=0.09, lw=0)
        for b in bottoms:
            ax.axvline(b, color=_hex(style.VIOLET), lw=1.0, ls=(0, (3, 3)))
        for name in names:
            v = np.asarray(angles[name], np.float64)[: len(t)]
            if name == "trunk":
                v = style.trunk_lean(v)
            near = len(sides) == 1 and name.startswith(sides[0])
            colour = "#334155" if name == "trunk" else _hex(style.side_colour(name))
            ax.plot(t[: len(v)], v, color=colour, lw=2.0 if near or name == "trunk" else 1.3,
                    alpha=1.0 if near or name == "trunk" or len(sides) != 1 else 0.55,
                    label=name.split("_")[0].capitalize() if name != "trunk" else "Trunk (from vertical)")
        if strikes:
            lo, hi = ax.get_ylim()
            for ts, side in strikes:
                ax.plot([ts, ts], [hi - (hi - lo) * 0.07, hi], color=_hex(style.side_colour(side or "")), lw=1.6)
        ax.set_ylabel(f"{title} (°)", fontsize=9, color="#334155")
        ax.grid(True, color="#e2e8f0", lw=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#94a3b8")
        ax.tick_params(labelsize=8, colors="#475569")
        if names:
            ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=len(names))
    top = axes[0]
    for sp in spans:
        top.annotate(sp.label, xy=((sp.start_s + sp.end_s) / 2, 1.0), xycoords=("data", "axes fraction"),
                     ha="center", va="bottom", fontsize=8, color="#475569")
    if len(t):
        axes[-1].set_xlim(float(t[0]), float(t[-1]))
    axes[-1].set_xlabel("time (s)", fontsize=9, color="#334155")
    heading = _title(activity, summary)
    fig.suptitle(heading, x=0.01, ha="left", fontsize=11, fontweight="bold", color="#0f172a")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out_path, dpi=dpi, facecolor="white")
    return Path(out_path)


def _ev(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, Mapping) else getattr(e, key, None)


def _title(activity: str, summary: Mapping[str, Any]) -> str:
    if activity == "weightlifting":
        ex = summary.get("exercise")
        return (str(ex).replace("_", " ").capitalize() if isinstance(ex, str) else "Lift") + " — joint angles"
    return {"jumping": "Jumps", "running": "Running"}.get(activity, activity.capitalize()) + " — joint angles"


# ------------------------------------------------------------------ contact sheet

@dataclass(frozen=True)
class KeyFrame:
    frame: int
    group: str      # "Jump 1", "Rep 2", "Stride"
    label: str      # "Takeoff", "Bottom"


def key_frames(analysis: Any, max_groups: int = MAX_GROUPS) -> list[KeyFrame]:
    """The frames that tell the story: per jump, rep or stride; evenly spaced ones as a fallback."""
    seq, result = analysis.seq, analysis.result
    t = np.asarray(seq.time_s, np.float64)
    summary = result.summary if isinstance(result.summary, dict) else {}
    n = len(t)
    if n == 0:
        return []

    def at(time_s: Any) -> int | None:
        if not isinstance(time_s, (int, float)) or isinstance(time_s, bool) or not np.isfinite(time_s):
            return None
        return int(np.clip(np.argmin(np.abs(t - float(time_s))), 0, n - 1))

    knee = _mean_angle(analysis.angles, "knee_flexion", n)
    out: list[KeyFrame] = []
    if result.activity == "jumping":
        for k, j in enumerate([x for x in summary.get("jumps") or [] if isinstance(x, Mapping)][:max_groups]):
            to, la = at(j.get("takeoff_s")), at(j.get("landing_s"))
            if to is None or la is None:
                continue
            cm = _extreme(knee, max(0, int(np.searchsorted(t, t[to] - 1.0))), to, np.nanargmax)
            absorb = _extreme(knee, la, min(n - 1, int(np.searchsorted(t, t[la] + 0.5))), np.nanargmax)
            frames = [(cm, "Lowest"), (to, "Takeoff"), ((to + la) // 2, "Flight"), (absorb or la, "Landing")]
            out += [KeyFrame(f, f"Jump {k + 1}", lab) for f, lab in frames if f is not None]
    elif result.activity == "weightlifting":
        for k, r in enumerate([x for x in summary.get("reps") or [] if isinstance(x, Mapping)][:max_groups]):
            frames = [(at(r.get("start_s")), "Start"),
                      (at(r.get("bottom_s")), "Catch" if r.get("catch_s") else "Bottom"),
                      (at(r.get("end_s") or r.get("lockout_s")), "Finish")]
            out += [KeyFrame(f, f"Rep {k + 1}", lab) for f, lab in frames if f is not None]
    elif result.activity == "running":
        steps = [x for x in summary.get("steps") or [] if isinstance(x, Mapping)]
        full = [s for s in steps if at(s.get("foot_strike_s")) is not None and at(s.get("toe_off_s")) is not None]
        mid = full[max(0, len(full) // 2 - 1):][:2]
        for s in mid:
            side = s.get("side") if s.get("side") in ("left", "right") else ""
            tag = f" {side[0].upper()}" if side else ""
            out += [KeyFrame(at(s["foot_strike_s"]), "Stride", "Strike" + tag),
                    KeyFrame(at(s["toe_off_s"]), "Stride", "Toe-off" + tag)]
    if not out:
        seen = np.flatnonzero(seq.detected)
        pick = seen[np.linspace(0, len(seen) - 1, min(6, len(seen))).round().astype(int)] if len(seen) else []
        out = [KeyFrame(int(f), "Clip", f"{t[f]:.2f} s") for f in pick]
    return out


def _mean_angle(angles: Mapping[str, FloatArray], name: str, n: int) -> FloatArray:
    vals = [np.asarray(angles[f"{s}_{name}"], np.float64)[:n] for s in ("left", "right") if f"{s}_{name}" in angles]
    if not vals:
        return np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        stacked = np.stack(vals)
        cnt = np.isfinite(stacked).sum(axis=0)
        return np.where(cnt > 0, np.nansum(stacked, axis=0) / np.maximum(cnt, 1), np.nan)


def _extreme(x: FloatArray, lo: int, hi: int, fn: Any) -> int | None:
    seg = x[lo:hi + 1]
    if not len(seg) or not np.isfinite(seg).any():
        return None
    return lo + int(fn(seg))


def contact_sheet(video: Path, analysis: Any, out_path: Path, *, tile_height: int = 520, columns: int | None = None,
                  keys: Sequence[KeyFrame] | None = None) -> Path:
    """A grid of annotated key frames cropped to the athlete, each captioned; PNG at `out_path`."""
    keys = list(keys) if keys is not None else key_frames(analysis)
    seq = analysis.seq
    annot = FrameAnnotator.from_analysis(analysis, panel=False, timeline=False, flashes=False)
    images = grab_frames(video, seq.time_s, [k.frame for k in keys])
    keys = [k for k in keys if k.frame in images]
    groups: list[str] = list(dict.fromkeys(k.group for k in keys))
    cols = columns or max([sum(1 for k in keys if k.group == g) for g in groups] + [1])
    rows = [[k for k in keys if k.group == g] for g in groups] if cols <= 4 else \
        [keys[i:i + cols] for i in range(0, len(keys), cols)]
    aspect = _crop_aspect(seq)
    tile_w = int(tile_height * aspect) // 2 * 2
    cap_h, gap, head = 64, 12, 0
    W = cols * tile_w + (cols + 1) * gap
    H = head + len(rows) * (tile_height + cap_h) + (len(rows) + 1) * gap
    sheet = np.full((max(H, 1), max(W, 1), 3), 246, np.uint8)
    box = _athlete_box(seq, aspect)
    knee_angles = {k: v for k, v in analysis.angles.items() if any(k.startswith(sd) for sd in annot.sides)}
    knee = _mean_angle(knee_angles, "knee_flexion", len(seq))
    for r, row in enumerate(rows):
        for c, k in enumerate(row):
            img = annot.annotate(images[k.frame].copy(), k.frame)
            x0, y0, x1, y1 = box
            crop = _crop(img, (x0, y0, x1, y1))
            tile = cv2.resize(crop, (tile_w, tile_height), interpolation=cv2.INTER_AREA)
            x = gap + c * (tile_w + gap)
            y = head + gap + r * (tile_height + cap_h + gap)
            sheet[y:y + tile_height, x:x + tile_w] = tile
            cap = sheet[y + tile_height:y + tile_height + cap_h, x:x + tile_w]
            cap[:] = 255
            style.draw_text(sheet, f"{k.group} · {k.label}", (x + 14, y + tile_height + 12), 22, (15, 23, 42),
                            bold=True)
            detail = f"{seq.time_s[k.frame]:.2f} s"
            if np.isfinite(knee[k.frame]):
                detail += f"   knee {style.degrees(knee[k.frame])}"
            style.draw_text(sheet, detail, (x + 14, y + tile_height + 40), 17, (71, 85, 105))
    cv2.imwrite(str(out_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return Path(out_path)


def _crop_aspect(seq: Any) -> float:
    """Width/height of the tiles: the frame's, but at most square (people are tall)."""
    return float(np.clip(seq.width / seq.height, 0.5, 1.0))


def _athlete_box(seq: Any, aspect: float) -> tuple[int, int, int, int]:
    """One crop box for every tile, around everywhere the athlete went (so tiles compare), at `aspect`."""
    xy = seq.image_xy.reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    W, H = seq.width, seq.height
    if not len(xy):
        return 0, 0, W, H
    x0, y0 = np.percentile(xy, 1, axis=0)
    x1, y1 = np.percentile(xy, 99, axis=0)
    w, h = (x1 - x0) * 1.25, (y1 - y0) * 1.2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if w / max(h, 1) > aspect:
        h = w / aspect
    else:
        w = h * aspect
    if w > W:
        w, h = W, W / aspect
    if h > H:
        h, w = H, H * aspect
    bx0 = float(np.clip(cx - w / 2, 0, W - w))
    by0 = float(np.clip(cy - h / 2, 0, H - h))
    return int(bx0), int(by0), int(bx0 + w), int(by0 + h)


def _crop(img: NDArray[np.uint8], box: tuple[int, int, int, int]) -> NDArray[np.uint8]:
    x0, y0, x1, y1 = box
    crop = img[max(y0, 0):y1, max(x0, 0):x1]
    return crop if crop.size else img
