"""Making test videos at test time (rotated copies, VFR, noise, truncated, audio-only...)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def reencode(src: Path, dst: Path, *, rotate_pixels_cw: bool = False, display_rotation: int = 0,
             max_frames: int | None = None) -> Path:
    """Re-encode `src` (optionally turning the pixels clockwise and declaring a display rotation)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        st = out.add_stream("libx264", rate=s.average_rate, options={"preset": "ultrafast"})
        first = True
        for i, frame in enumerate(inp.decode(s)):
            if max_frames is not None and i >= max_frames:
                break
            img = frame.to_ndarray(format="rgb24")
            if rotate_pixels_cw:
                img = np.ascontiguousarray(np.rot90(img, k=-1))
            if first:
                st.height, st.width = img.shape[:2]
                st.pix_fmt = "yuv420p"
                if display_rotation:
                    st.set_display_rotation(display_rotation)
                first = False
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return dst


def synthetic_video(dst: Path, frames: int = 30, size: tuple[int, int] = (320, 240), fps: int = 30,
                    times_s: list[float] | None = None, noise: bool = True) -> Path:
    """Frames of noise (no person), at a constant rate or at the given times (VFR)."""
    rng = np.random.default_rng(0)
    w, h = size
    with av.open(str(dst), "w") as out:
        st = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.codec_context.time_base = Fraction(1, 1000)
        for i in range(frames if times_s is None else len(times_s)):
            img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8) if noise else np.zeros((h, w, 3), np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = int(round((i / fps if times_s is None else times_s[i]) * 1000))
            f.time_base = Fraction(1, 1000)
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return dst


def audio_only(dst: Path) -> Path:
    with av.open(str(dst), "w") as out:
        st = out.add_stream("aac", rate=44100)
        st.layout = "mono"
        for i in range(20):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 44100, i * 1024
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return dst


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(c.streams.video[0])]
