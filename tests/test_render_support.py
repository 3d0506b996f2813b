"""Helpers for the rendering tests (no tests here): synthetic poses, real-clip analyses, video facts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pipeline.metrics.activity import Analysis, analyze_pose
from pipeline.options import AnalysisOptions
from pipeline.pose.landmarks import Landmark as L
from pipeline.pose.sequence import PoseSequence


def figure_xy(width: int, height: int, knee_bend: float = 0.0) -> np.ndarray:
    """(33, 2) a side-view stick figure facing right, centred, standing or with bent knees (0..1)."""
    xy = np.full((33, 2), np.nan, np.float32)
    cx, s = width / 2, height / 720
    hip_y, shoulder_y = 380 * s + 60 * s * knee_bend, 230 * s + 60 * s * knee_bend
    for side, dx in (("LEFT", -6 * s), ("RIGHT", 6 * s)):
        p = lambda name: L[f"{side}_{name}"]  # noqa: E731
        xy[p("SHOULDER")] = (cx + dx, shoulder_y)
        xy[p("ELBOW")] = (cx + dx + 10 * s, shoulder_y + 70 * s)
        xy[p("WRIST")] = (cx + dx + 30 * s, shoulder_y + 130 * s)
        xy[p("HIP")] = (cx + dx, hip_y)
        knee = (cx + dx + 90 * s * knee_bend, hip_y + 120 * s - 40 * s * knee_bend)
        xy[p("KNEE")] = knee
        xy[p("ANKLE")] = (cx + dx, 620 * s)
        xy[p("HEEL")] = (cx + dx - 12 * s, 635 * s)
        xy[p("FOOT_INDEX")] = (cx + dx + 35 * s, 638 * s)
        xy[p("PINKY")] = xy[p("INDEX")] = xy[p("THUMB")] = xy[p("WRIST")] + (4 * s, 8 * s)
        xy[p("EYE")] = xy[p("EYE_INNER")] = xy[p("EYE_OUTER")] = (cx + dx + 12 * s, shoulder_y - 70 * s)
        xy[p("EAR")] = (cx + dx - 4 * s, shoulder_y - 65 * s)
    xy[L.NOSE] = (cx + 22 * s, shoulder_y - 60 * s)
    xy[L.MOUTH_LEFT] = xy[L.MOUTH_RIGHT] = (cx + 18 * s, shoulder_y - 45 * s)
    return xy


def figure_sequence(time_s: np.ndarray | list[float], width: int = 320, height: int = 240,
                    bend: np.ndarray | None = None, visibility: float = 0.95) -> PoseSequence:
    """A PoseSequence of the stick figure at `time_s`, knees bending by `bend` (per frame, 0..1)."""
    t = np.asarray(time_s, np.float64)
    bend = np.zeros(len(t)) if bend is None else np.asarray(bend, np.float64)
    xy = np.stack([figure_xy(width, height, b) for b in bend]).astype(np.float32)
    world = np.zeros((len(t), 33, 3), np.float32)
    world[..., :2] = (xy - xy[:, [L.LEFT_HIP]]) / height * 1.7
    vis = np.full((len(t), 33), visibility, np.float32)
    fps = float(1 / np.median(np.diff(t))) if len(t) > 1 else 30.0
    return PoseSequence(time_s=t, image_xy=xy, image_z=np.zeros((len(t), 33), np.float32), world_xyz=world,
                        visibility=vis, presence=vis.copy(), width=width, height=height, fps=fps)


def analyse(raw: PoseSequence, activity: str, **options: object) -> Analysis:
    """`analyze_pose` as the pipeline runs it."""
    return analyze_pose(raw, AnalysisOptions(activity, **options))


def video_with_audio(dst: Path, *, frames: int = 45, fps: int = 30, size: tuple[int, int] = (320, 240),
                     audio_codec: str = "aac", container: str | None = None, tone_hz: float = 440.0) -> Path:
    """A clip of moving bars with a sine tone, `audio_codec` in `container` (by suffix when None)."""
    w, h = size
    rate = 48000
    with av.open(str(dst), "w", format=container) as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        a_s = out.add_stream(audio_codec, rate=rate)
        a_s.layout = "mono"
        a_fmt = "s16" if audio_codec.startswith("pcm") else "fltp"
        samples_per_frame = 1024
        total_samples = int(frames / fps * rate)
        n_audio = total_samples // samples_per_frame
        audio_packets, video_i = 0, 0
        for k in range(max(frames, n_audio)):
            if video_i < frames and (k * samples_per_frame / rate >= video_i / fps or k >= n_audio):
                img = np.zeros((h, w, 3), np.uint8)
                img[:, (video_i * 7) % w:(video_i * 7) % w + 20] = (200, 60, 30)
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = video_i, Fraction(1, fps)
                for p in vs.encode(f):
                    out.mux(p)
                video_i += 1
            if k < n_audio:
                tt = (np.arange(samples_per_frame) + k * samples_per_frame) / rate
                wave = 0.3 * np.sin(2 * np.pi * tone_hz * tt)
                arr = (wave * 32767).astype(np.int16)[None] if a_fmt == "s16" else wave.astype(np.float32)[None]
                af = av.AudioFrame.from_ndarray(arr, format=a_fmt, layout="mono")
                af.sample_rate, af.pts = rate, k * samples_per_frame
                for p in a_s.encode(af):
                    out.mux(p)
                audio_packets += 1
        while video_i < frames:
            f = av.VideoFrame.from_ndarray(np.zeros((h, w, 3), np.uint8), format="rgb24")
            f.pts, f.time_base = video_i, Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
            video_i += 1
        for p in vs.encode():
            out.mux(p)
        for p in a_s.encode():
            out.mux(p)
    return dst


def streams(path: Path) -> dict[str, dict[str, object]]:
    """Facts about each stream type of a file."""
    out: dict[str, dict[str, object]] = {}
    with av.open(str(path)) as c:
        for s in c.streams:
            cc = s.codec_context
            out.setdefault(s.type, {"codec": cc.name, "time_base": s.time_base, "profile": cc.profile,
                                    "pix_fmt": getattr(cc, "pix_fmt", None),
                                    "sample_rate": getattr(cc, "sample_rate", None),
                                    "colorspace": getattr(cc, "colorspace", None)})
    return out


def audio_packets(path: Path) -> list[tuple[int, int]]:
    """(pts, size) of every audio packet."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [(int(p.pts), p.size) for p in c.demux(c.streams.audio[0]) if p.size and p.pts is not None]
