"""Composable frame annotators for the body: skeleton and joint-angle arcs.

Style goes in `__init__`, data in `annotate(frame, ...) -> frame` (drawn in place and returned,
so they chain). Sizes scale with the frame (`style.scale_for`). Trails, event markers and the
metrics panel live in `trails.py`, `events.py` and `panel.py`; `frame.FrameAnnotator` composes
them for a whole clip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.pose.landmarks import BODY_BONES, Landmark as L
from pipeline.render import style
from pipeline.render.style import Image, Layer, dashed_line, finite, pt, px

BODY_JOINTS: tuple[int, ...] = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST,
                                L.RIGHT_WRIST, L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE,
                                L.RIGHT_ANKLE)


def _bone_colour(a: int, b: int) -> style.RGB:
    names = L(a).name + L(b).name
    if "LEFT" in names and "RIGHT" not in names:
        return style.LEFT
    if "RIGHT" in names and "LEFT" not in names:
        return style.RIGHT
    return style.CENTRE


class SkeletonAnnotator:
    """Bones coloured by side (left warm, right cool) with a thin dark outline for contrast.

    Confidence fading: a bone is drawn at full strength when both its landmarks are visible
    (>= `solid_visibility`), fainter in between, and not at all below `min_visibility`.
    """

    def __init__(self, thickness: float = 3.0, radius: float = 4.5, min_visibility: float = 0.3,
                 solid_visibility: float = 0.75, faint_opacity: float = 0.35, head: bool = True) -> None:
        self.thickness, self.radius = thickness, radius
        self.min_visibility, self.solid_visibility, self.faint_opacity = min_visibility, solid_visibility, faint_opacity
        self.head = head

    def opacity(self, visibility: NDArray[np.floating]) -> NDArray[np.float64]:
        """Opacity per landmark from its visibility (0 = hidden), in three steps so drawing stays cheap."""
        v = np.nan_to_num(np.asarray(visibility, np.float64))
        span = max(self.solid_visibility - self.min_visibility, 1e-6)
        a = self.faint_opacity + (1 - self.faint_opacity) * np.clip((v - self.min_visibility) / span, 0, 1)
        a = np.round(a * 3) / 3            # 3 levels -> at most 3 blended layers per frame
        return np.where(v >= self.min_visibility, np.clip(a, self.faint_opacity, 1.0), 0.0)

    def annotate(self, frame: Image, xy: NDArray[np.floating], visibility: NDArray[np.floating]) -> Image:
        s = style.scale_for(frame)
        th, r = px(self.thickness, s, 2), px(self.radius, s, 2)
        ok = np.isfinite(xy).all(axis=1)
        alpha = np.where(ok, self.opacity(visibility), 0.0)
        bones = [(a, b, min(alpha[a], alpha[b])) for a, b in BODY_BONES if alpha[a] > 0 and alpha[b] > 0]
        neck = self._neck(xy, alpha) if self.head else None
        pts = xy[ok & (alpha > 0)]
        if not len(pts):
            return frame
        m = 4 * r + th
        box = (pts[:, 0].min() - m, pts[:, 1].min() - m, pts[:, 0].max() + m, pts[:, 1].max() + m)
        for level in sorted({a for *_, a in bones} | set(alpha[list(BODY_JOINTS)][alpha[list(BODY_JOINTS)] > 0]),
                            reverse=True):
            layer = Layer(frame, box) if level < 0.999 else None
            for a, b, al in bones:
                if al == level:
                    cv2.line(frame, pt(xy[a]), pt(xy[b]), style.OUTLINE, th + px(2, s), cv2.LINE_AA)
            for a, b, al in bones:
                if al == level:
                    cv2.line(frame, pt(xy[a]), pt(xy[b]), _bone_colour(a, b), th, cv2.LINE_AA)
            if neck is not None and neck[2] == level:
                cv2.line(frame, neck[0], neck[1], style.OUTLINE, th + px(2, s), cv2.LINE_AA)
                cv2.line(frame, neck[0], neck[1], style.CENTRE, th, cv2.LINE_AA)
                cv2.circle(frame, neck[1], int(r * 1.6), style.OUTLINE, -1, cv2.LINE_AA)
                cv2.circle(frame, neck[1], int(r * 1.6) - px(1, s), style.CENTRE, -1, cv2.LINE_AA)
            for i in BODY_JOINTS:
                if alpha[i] == level:
                    cv2.circle(frame, pt(xy[i]), r + px(1, s), style.OUTLINE, -1, cv2.LINE_AA)
                    cv2.circle(frame, pt(xy[i]), r, (255, 255, 255), -1, cv2.LINE_AA)
                    cv2.circle(frame, pt(xy[i]), max(1, r // 2), _bone_colour(i, i), -1, cv2.LINE_AA)
            if layer is not None:
                layer.blend(level)
        return frame

    @staticmethod
    def _neck(xy: NDArray[np.floating],
              alpha: NDArray[np.floating]) -> tuple[tuple[int, int], tuple[int, int], float] | None:
        """From the shoulders' midpoint to the head (the ears' midpoint, else the nose)."""
        sh = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
        if min(alpha[sh[0]], alpha[sh[1]]) <= 0:
            return None
        ears = [i for i in (L.LEFT_EAR, L.RIGHT_EAR) if alpha[i] > 0 and finite(xy[i])]
        head_pts = ears or ([L.NOSE] if alpha[L.NOSE] > 0 and finite(xy[L.NOSE]) else [])
        if not head_pts:
            return None
        base = (xy[sh[0]] + xy[sh[1]]) / 2
        head = np.mean(xy[head_pts], axis=0)
        return pt(base), pt(head), float(min(alpha[sh[0]], alpha[sh[1]], max(alpha[i] for i in head_pts)))


@dataclass(frozen=True)
class ArcDef:
    """A joint angle drawn at `vertex` from a reference ray to a measured ray.

    Flexion angles (0° at full extension) are drawn as Dartfish does: the reference ray continues
    the proximal segment (`proximal` -> `vertex`) past the joint, dashed, and the arc runs from it
    to the distal segment (`vertex` -> `distal`), so the arc's opening is the value shown.
    With `proximal=None` the reference is the vertical through the vertex (trunk lean).
    """

    name: str                       # key in the angles dict
    vertex: tuple[int, ...]         # landmark(s): several = their midpoint
    proximal: tuple[int, ...] | None
    distal: tuple[int, ...]
    label: str = ""                 # short prefix shown before the value ("Trunk")
    transform: str = "value"        # "value" | "lean" (90 - segment angle, for the trunk)


def flexion_arc(side: str, joint: str) -> ArcDef:
    """`{side}_{joint}_flexion` for knee, hip or elbow, as `pipeline.metrics.angles` defines it."""
    chain = {"knee": ("HIP", "KNEE", "ANKLE"), "hip": ("SHOULDER", "HIP", "KNEE"),
             "elbow": ("SHOULDER", "ELBOW", "WRIST")}[joint]
    a, b, c = (L[f"{side.upper()}_{n}"].value for n in chain)
    return ArcDef(f"{side}_{joint}_flexion", (b,), (a,), (c,))


TRUNK_ARC = ArcDef("trunk", (L.LEFT_HIP, L.RIGHT_HIP), None, (L.LEFT_SHOULDER, L.RIGHT_SHOULDER), "Trunk", "lean")


def arc_value(arc: ArcDef, angles: Mapping[str, float]) -> float:
    v = angles.get(arc.name)
    if v is None or not np.isfinite(v):
        return float("nan")
    return float(style.trunk_lean(v)) if arc.transform == "lean" else float(v)


class AngleArcAnnotator:
    """Joint-angle arcs with their values: a translucent wedge, its rim, and the value in a pill."""

    def __init__(self, arcs: Sequence[ArcDef], radius: float = 30.0, font_size: float = 17.0,
                 min_visibility: float = 0.4, fill_opacity: float = 0.28) -> None:
        self.arcs = tuple(arcs)
        self.radius, self.font_size = radius, font_size
        self.min_visibility, self.fill_opacity = min_visibility, fill_opacity

    def annotate(self, frame: Image, xy: NDArray[np.floating], visibility: NDArray[np.floating],
                 angles: Mapping[str, float]) -> Image:
        s = style.scale_for(frame)
        for arc in self.arcs:
            value = arc_value(arc, angles)
            geometry = self._geometry(arc, xy, visibility)
            if geometry is None or not np.isfinite(value):
                continue
            self._draw(frame, arc, value, *geometry, s)
        return frame

    def _point(self, idx: tuple[int, ...], xy: NDArray[np.floating], vis: NDArray[np.floating]) -> NDArray | None:
        if any(not np.isfinite(vis[i]) or vis[i] < self.min_visibility for i in idx):
            return None
        p = np.mean(xy[list(idx)], axis=0)
        return p if finite(p) else None

    def _geometry(self, arc: ArcDef, xy: NDArray[np.floating], vis: NDArray[np.floating]):
        v = self._point(arc.vertex, xy, vis)
        d = self._point(arc.distal, xy, vis)
        if v is None or d is None:
            return None
        if arc.proximal is None:
            ref_dir = np.array([0.0, -1.0])        # straight up (image y points down)
            ref_len = np.linalg.norm(d - v)
        else:
            p = self._point(arc.proximal, xy, vis)
            if p is None:
                return None
            ref_dir = v - p
            ref_len = np.linalg.norm(ref_dir)
        out_dir = d - v
        out_len = np.linalg.norm(out_dir)
        if ref_len < 2 or out_len < 2:
            return None
        return v, ref_dir / np.linalg.norm(ref_dir), out_dir / out_len, min(ref_len, out_len)

    def _draw(self, frame: Image, arc: ArcDef, value: float, v: NDArray, ref: NDArray, out: NDArray,
              seg_len: float, s: float) -> None:
        colour = style.side_colour(arc.name)
        r = max(int(min(self.radius * s, 0.55 * seg_len)), px(10, s))
        a0 = math.degrees(math.atan2(ref[1], ref[0]))
        a1 = math.degrees(math.atan2(out[1], out[0]))
        sweep = (a1 - a0 + 180) % 360 - 180          # shortest way, signed
        centre = pt(v)
        th = px(2, s)
        box = (centre[0] - r * 2 - th, centre[1] - r * 2 - th, centre[0] + r * 2 + th, centre[1] + r * 2 + th)
        # the dashed reference ray (the straight-limb / vertical line the angle is measured from)
        end = (v[0] + ref[0] * r * 1.6, v[1] + ref[1] * r * 1.6)
        dashed_line(frame, (v[0], v[1]), end, style.OUTLINE, th + px(1, s), dash=px(5, s))
        dashed_line(frame, (v[0], v[1]), end, (255, 255, 255), max(1, th - 1), dash=px(5, s))
        if abs(sweep) >= 1:
            layer = Layer(frame, box)
            cv2.ellipse(frame, centre, (r, r), 0, a0, a0 + sweep, colour, -1, cv2.LINE_AA)
            layer.blend(self.fill_opacity)
            cv2.ellipse(frame, centre, (r, r), 0, a0, a0 + sweep, colour, th, cv2.LINE_AA)
        # the value in a pill just outside the arc, on its bisector; a nearly straight joint's bisector
        # runs along the limb, so turn the label off it (up to 60°) to keep the limb visible
        turn = math.copysign(max(0.0, 60.0 - abs(sweep)), sweep if sweep else 1.0)
        mid = math.radians(a0 + sweep / 2 + turn)
        d = r + px(self.font_size * 1.3, s)
        org = (int(v[0] + math.cos(mid) * d), int(v[1] + math.sin(mid) * d))
        text = f"{arc.label} {style.degrees(value)}".strip()
        style.badge(frame, text, org, px(self.font_size, s, 9), colour, anchor="cm")


class AngleLabelAnnotator:
    """Joint-angle values next to their joints, without arcs (compact; front views, thumbnails)."""

    def __init__(self, joints: Mapping[str, int], font_size: float = 17.0) -> None:
        self.joints, self.font_size = dict(joints), font_size

    def annotate(self, frame: Image, xy: NDArray[np.floating], angles: Mapping[str, float]) -> Image:
        s = style.scale_for(frame)
        for name, idx in self.joints.items():
            value, p = angles.get(name), xy[idx]
            if value is None or not np.isfinite(value) or not finite(p):
                continue
            style.draw_text(frame, style.degrees(value), (int(p[0] + 12 * s), int(p[1])), px(self.font_size, s, 9),
                            style.side_colour(name), bold=True, halo=px(2, s), anchor="lm")
        return frame
