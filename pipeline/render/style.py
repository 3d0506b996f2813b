"""Look and drawing primitives shared by the annotators: palette, sizes, anti-aliased text.

Everything draws in place on RGB uint8 frames. Sizes are given for a 720-pixel short side and
scaled with `scale_for`, so a portrait phone clip and a 4K clip get the same proportions.
Text is real TrueType (DejaVu Sans, shipped with matplotlib) rendered once per (text, size) into
an alpha mask and blended on the frame; OpenCV's Hershey fonts look dated and lack "°".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
RGB = tuple[int, int, int]

# Palette (RGB). Left/right follow the common clinical convention of warm = left, cool = right.
LEFT: RGB = (255, 149, 20)
RIGHT: RGB = (40, 170, 255)
CENTRE: RGB = (236, 239, 244)
TEXT: RGB = (246, 247, 249)
MUTED: RGB = (160, 168, 181)
PANEL: RGB = (14, 17, 23)
OUTLINE: RGB = (8, 10, 14)
HIP_TRAIL: RGB = (0, 229, 190)
BAR_TRAIL: RGB = (255, 214, 10)
GOOD: RGB = (52, 211, 153)
ALERT: RGB = (255, 99, 99)
VIOLET: RGB = (180, 150, 255)


def side_colour(name: str) -> RGB:
    """Colour of a landmark / angle name by its side ('left_knee_flexion' -> LEFT)."""
    n = name.lower()
    if n.startswith("left") or "_left" in n:
        return LEFT
    if n.startswith("right") or "_right" in n:
        return RIGHT
    return CENTRE


def scale_for(frame_or_shape: Image | tuple[int, ...]) -> float:
    """1.0 on a 720-pixel short side (0.84 on 608x1080 portrait, 3.0 on 4K)."""
    shape = frame_or_shape.shape if isinstance(frame_or_shape, np.ndarray) else frame_or_shape
    return max(min(shape[:2]) / 720.0, 0.3)


def px(value: float, s: float, minimum: int = 1) -> int:
    return max(minimum, int(round(value * s)))


def pt(p: NDArray[np.floating]) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def degrees(value: float) -> str:
    """'87°'; never '-0°'."""
    v = int(round(float(value)))
    return f"{v if v else 0}°"


def trunk_lean(trunk_deg):
    """Lean from the vertical, forward positive, in (-180, 180], from the trunk's segment angle
    (anticlockwise from the forward horizontal): 90° upright -> 0°."""
    return (90.0 - np.asarray(trunk_deg, np.float64) + 180.0) % 360.0 - 180.0


def finite(*points: NDArray[np.floating]) -> bool:
    return all(bool(np.isfinite(p).all()) for p in points)


# ------------------------------------------------------------------ text

def _font_path(bold: bool) -> str:
    import matplotlib  # its data folder always has DejaVu Sans

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@lru_cache(maxsize=64)
def _font(size: int, bold: bool):  # -> PIL.ImageFont.FreeTypeFont
    from PIL import ImageFont

    return ImageFont.truetype(_font_path(bold), size)


@dataclass(frozen=True)
class TextSprite:
    """Alpha masks (0..1) of a rendered string: `fill` for the glyphs, `halo` for an outline around them."""

    fill: NDArray[np.float32]
    halo: NDArray[np.float32] | None
    ascent: int     # pixels from the sprite's top to the baseline

    @property
    def size(self) -> tuple[int, int]:
        return self.fill.shape[1], self.fill.shape[0]


@lru_cache(maxsize=4096)
def text_sprite(text: str, size: int, bold: bool = False, halo: int = 0) -> TextSprite:
    from PIL import Image as PILImage, ImageDraw

    font = _font(max(6, size), bold)
    left, top, right, bottom = font.getbbox(text, stroke_width=halo)
    ascent, _ = font.getmetrics()
    w, h = max(1, right - left), max(1, bottom - top)
    pad = halo
    canvas = (w + 2 * pad, h + 2 * pad)
    origin = (pad - left, pad - top)
    fill = PILImage.new("L", canvas, 0)
    ImageDraw.Draw(fill).text(origin, text, font=font, fill=255)
    halo_mask = None
    if halo:
        m = PILImage.new("L", canvas, 0)
        ImageDraw.Draw(m).text(origin, text, font=font, fill=255, stroke_width=halo, stroke_fill=255)
        halo_mask = np.asarray(m, np.float32) / 255.0
    return TextSprite(np.asarray(fill, np.float32) / 255.0, halo_mask, ascent + pad - top)


def text_size(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    return text_sprite(text, size, bold).size


def blend_mask(frame: Image, mask: NDArray[np.float32], x: int, y: int, colour: RGB, opacity: float = 1.0) -> None:
    """frame[y:y+h, x:x+w] = mix(frame, colour, mask * opacity), clipped to the frame."""
    h, w = mask.shape
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1 or opacity <= 0:
        return
    a = mask[y0 - y:y1 - y, x0 - x:x1 - x, None] * np.float32(opacity)
    roi = frame[y0:y1, x0:x1]
    roi[:] = (roi * (1 - a) + np.asarray(colour, np.float32) * a + 0.5).astype(np.uint8)


def draw_text(frame: Image, text: str, org: tuple[int, int], size: int, colour: RGB = TEXT, *, bold: bool = False,
              halo: int = 0, halo_colour: RGB = OUTLINE, opacity: float = 1.0,
              anchor: str = "lt") -> tuple[int, int, int, int]:
    """Draw `text` with its box anchored at `org` ('l'/'c'/'r' + 't'/'m'/'b'); returns the box (x0, y0, x1, y1)."""
    if not text:
        return org[0], org[1], org[0], org[1]
    sprite = text_sprite(text, size, bold, halo)
    w, h = sprite.size
    x = org[0] - {"l": 0, "c": w // 2, "r": w}[anchor[0]]
    y = org[1] - {"t": 0, "m": h // 2, "b": h}[anchor[1]]
    if sprite.halo is not None:
        blend_mask(frame, sprite.halo, x, y, halo_colour, 0.85 * opacity)
    blend_mask(frame, sprite.fill, x, y, colour, opacity)
    return x, y, x + w, y + h


# ------------------------------------------------------------------ shapes

@lru_cache(maxsize=256)
def _rounded_mask(w: int, h: int, r: int) -> NDArray[np.float32]:
    """Anti-aliased rounded rectangle, drawn 4x larger and shrunk."""
    k = 4
    big = np.zeros((h * k, w * k), np.uint8)
    r = max(0, min(r, w // 2, h // 2)) * k
    W, H = w * k - 1, h * k - 1
    cv2.rectangle(big, (r, 0), (W - r, H), 255, -1)
    cv2.rectangle(big, (0, r), (W, H - r), 255, -1)
    for cx, cy in ((r, r), (W - r, r), (r, H - r), (W - r, H - r)):
        cv2.circle(big, (cx, cy), r, 255, -1)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def fill_rounded(frame: Image, box: tuple[int, int, int, int], colour: RGB = PANEL, opacity: float = 0.6,
                 radius: int = 8) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    blend_mask(frame, _rounded_mask(x1 - x0, y1 - y0, radius), x0, y0, colour, opacity)


def badge(frame: Image, text: str, org: tuple[int, int], size: int, colour: RGB, *, text_colour: RGB = TEXT,
          anchor: str = "lm", opacity: float = 1.0, bold: bool = True, dot: bool = True) -> tuple[int, int, int, int]:
    """A pill: dark translucent background, a coloured dot, then the text. Returns its box."""
    tw, th = text_size(text, size, bold)
    pad_x, pad_y = int(size * 0.55), int(size * 0.32)
    dot_r = int(size * 0.28) if dot else 0
    gap = int(size * 0.4) if dot else 0
    w, h = tw + 2 * pad_x + 2 * dot_r + gap, th + 2 * pad_y
    x = org[0] - {"l": 0, "c": w // 2, "r": w}[anchor[0]]
    y = org[1] - {"t": 0, "m": h // 2, "b": h}[anchor[1]]
    H, W = frame.shape[:2]
    x, y = min(max(x, 2), max(W - w - 2, 2)), min(max(y, 2), max(H - h - 2, 2))
    fill_rounded(frame, (x, y, x + w, y + h), PANEL, 0.72 * opacity, radius=h // 2)
    if dot:
        overlay_circle(frame, (x + pad_x + dot_r, y + h // 2), dot_r, colour, opacity)
    draw_text(frame, text, (x + pad_x + 2 * dot_r + gap, y + h // 2), size, text_colour, bold=bold,
              opacity=opacity, anchor="lm")
    return x, y, x + w, y + h


def overlay_circle(frame: Image, centre: tuple[int, int], radius: int, colour: RGB, opacity: float = 1.0,
                   thickness: int = -1) -> None:
    """A filled (or ring) anti-aliased circle blended at `opacity`."""
    if opacity >= 0.99:
        cv2.circle(frame, centre, radius, colour, thickness, cv2.LINE_AA)
        return
    m = radius + max(thickness, 0) + 2
    x0, y0 = centre[0] - m, centre[1] - m
    mask = np.zeros((2 * m + 1, 2 * m + 1), np.uint8)
    cv2.circle(mask, (m, m), radius, 255, thickness, cv2.LINE_AA)
    blend_mask(frame, mask.astype(np.float32) / 255.0, x0, y0, colour, opacity)


def dashed_line(img: Image, p0: tuple[float, float], p1: tuple[float, float], colour: RGB, thickness: int,
                dash: float, gap: float | None = None) -> None:
    gap = dash * 0.8 if gap is None else gap
    x0, y0 = p0
    dx, dy = p1[0] - x0, p1[1] - y0
    length = math.hypot(dx, dy)
    if length < 1:
        return
    ux, uy = dx / length, dy / length
    d = 0.0
    while d < length:
        e = min(d + dash, length)
        cv2.line(img, (int(round(x0 + ux * d)), int(round(y0 + uy * d))),
                 (int(round(x0 + ux * e)), int(round(y0 + uy * e))), colour, thickness, cv2.LINE_AA)
        d = e + gap


class Layer:
    """Draw opaque shapes on a copy of a region, then blend the region back at one opacity.

    Cheaper than blending the whole frame: only the bounding box of what is drawn is copied.
    """

    def __init__(self, frame: Image, box: tuple[int, int, int, int]) -> None:
        H, W = frame.shape[:2]
        x0, y0, x1, y1 = box
        self.frame = frame
        self.x0, self.y0 = max(int(x0), 0), max(int(y0), 0)
        self.x1, self.y1 = min(int(x1), W), min(int(y1), H)
        self.empty = self.x0 >= self.x1 or self.y0 >= self.y1
        self.base = None if self.empty else frame[self.y0:self.y1, self.x0:self.x1].copy()

    def blend(self, opacity: float) -> None:
        """Mix the drawn region with what was there before, `opacity` of the drawing."""
        if self.empty or opacity >= 0.999:
            return
        roi = self.frame[self.y0:self.y1, self.x0:self.x1]
        cv2.addWeighted(roi, opacity, self.base, 1 - opacity, 0, dst=roi)
