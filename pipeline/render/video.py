"""Render the annotated video: every source frame, at its source time, with the overlay drawn on it.

One streaming pass (decode -> draw -> encode), memory bounded by a few frames. The source's
audio is carried over (`mp4.H264Writer`). Drawing is `frame.FrameAnnotator`, which callers can
also use on their own frames (e.g. in another process, overlapped with pose estimation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.metrics.result import ActivityResult
from pipeline.pose.sequence import PoseSequence
from pipeline.render.frame import FrameAnnotator
from pipeline.render.mp4 import H264Writer, source_timing
from pipeline.video import WHOLE, Frame, TimeWindow, iter_frames


def render_video(video: Path, seq: PoseSequence, angles: Mapping[str, NDArray[np.float64]], activity: str,
                 out_path: Path, on_frame: Callable[[Frame], None] | None = None, *,
                 result: ActivityResult | None = None, view: Any = None, audio: bool = True) -> Path:
    """Write `out_path` from `video` with `seq`'s overlay; returns the path.

    `result` adds the event markers and the metrics panel's numbers (jump heights, cadence, reps);
    without it only the pose, angles and trail are drawn. `on_frame` is called after each frame.
    """
    annotator = FrameAnnotator(seq, angles, result, activity=activity, view=view)
    return render_with(video, annotator, out_path, on_frame=on_frame, audio=audio)


DEFAULT_MAX_SIDE = 1280     # px, the annotated video's longer side: 720p, plenty for a phone or a laptop


def render_max_side() -> int | None:
    """MOTIONLENS_RENDER_MAX_SIDE (default 1280; 0 = the source's size)."""
    value = int(os.environ.get("MOTIONLENS_RENDER_MAX_SIDE", DEFAULT_MAX_SIDE))
    return value if value > 0 else None


def capped(draw: Callable[[NDArray[np.uint8], int], NDArray[np.uint8]],
           max_side: int | None) -> Callable[[NDArray[np.uint8], int], NDArray[np.uint8]]:
    """`draw`, then the drawn frame scaled down (area filter) so its longer side is at most `max_side`:
    at 1080x1920 libx264 costs ≈ 5x the drawing (docs/performance.md), and scales with the pixels."""
    if not max_side:
        return draw

    def scaled(image: NDArray[np.uint8], index: int) -> NDArray[np.uint8]:
        out = draw(image, index)
        h, w = out.shape[:2]
        if max(h, w) <= max_side:
            return out
        k = max_side / max(h, w)
        size = (max(2, round(w * k / 2) * 2), max(2, round(h * k / 2) * 2))    # even sides for yuv420p
        return cv2.resize(out, size, interpolation=cv2.INTER_AREA)

    return scaled


def render_analysis(video: Path, analysis: Any, out_path: Path, on_frame: Callable[[Frame], None] | None = None,
                    *, audio: bool = True, workers: int | None = None, max_side: int | None | bool = True,
                    window: TimeWindow = WHOLE) -> Path:
    """`render_video` for a `pipeline.metrics.activity.Analysis` (events and panel included).

    With more than one worker (default: MOTIONLENS_WORKERS, else the usable cores) decoding, drawing
    and encoding overlap in threads (`pipeline.pipelined`): the same file, sooner. The video's longer
    side is capped at `max_side` px (True: `render_max_side()`; None: the source's size). Only the
    frames inside `window` (those the pose covers) are decoded and drawn."""
    from pipeline.pipelined import render_overlapped
    from pipeline.pose.parallel import pose_settings

    annotator = capped(FrameAnnotator.from_analysis(analysis).annotate,
                       render_max_side() if max_side is True else (max_side or None))
    if (workers or pose_settings()[0]) > 1:
        return render_overlapped(video, annotator, out_path, on_frame=on_frame, audio=audio, window=window)
    return render_with(video, annotator, out_path, on_frame=on_frame, audio=audio, window=window)


def render_with(video: Path, annotator: FrameAnnotator | Callable[[NDArray[np.uint8], int], NDArray[np.uint8]],
                out_path: Path, *, on_frame: Callable[[Frame], None] | None = None, audio: bool = True,
                window: TimeWindow = WHOLE) -> Path:
    """Decode `video`, draw each frame with `annotator` (an object with `annotate(image, index)` or a
    function of (image, index)), and encode it at the frame's own time (a window's video starts at
    its first frame: `window_origin`)."""
    draw = annotator.annotate if hasattr(annotator, "annotate") else annotator
    timing = source_timing(video)
    frames = iter_frames(video, window=window)
    first = next(frames)
    origin = window_origin(window, first.time_s)
    drawn = draw(first.image, first.index)
    height, width = drawn.shape[:2]          # the drawn size: `capped` may scale it down
    with H264Writer(out_path, width, height, timing.fps, time_base=timing.time_base,
                    audio_from=video if audio and timing.has_audio else None,
                    audio_offset_s=timing.first_time_s + origin,
                    audio_end_s=window_audio_end(window, origin)) as writer:
        for frame, image in _chain((first, drawn), ((f, draw(f.image, f.index)) for f in frames)):
            writer.write(image, frame.time_s - origin)
            if on_frame is not None:
                on_frame(frame)
    return Path(out_path)


def window_origin(window: TimeWindow, first_time_s: float) -> float:
    """Source time shown at 0 s in the annotated video: 0 for the whole clip (its own clock kept),
    a window's first frame otherwise (the video covers the window only; its sound follows)."""
    return 0.0 if window.whole else first_time_s


def window_audio_end(window: TimeWindow, origin: float) -> float:
    """Where the annotated video's sound stops (its own clock): the window's end, else the source's."""
    return float("inf") if window.end_s is None else window.end_s - origin


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest
