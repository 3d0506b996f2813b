"""Keeping both cores busy for the whole analysis: pose on chunks in threads, then an overlapped render.

Why two phases and not "render chunk k while pose runs on chunk k+1": the annotated video draws
the *cleaned* pose (left/right swaps undone by a whole-clip majority vote, gaps filled, zero-phase
low-pass) and the whole clip's events and metrics, so no frame can be drawn before every frame
has been posed. Each phase uses both cores on its own instead:

1. pose  — `pipeline.pose.parallel`: consecutive chunks, one thread each (decode by seeking +
   MediaPipe, both of which release the GIL);
2. metrics and exports — whole-array NumPy, tens of milliseconds;
3. render — this module: a thread decodes frame i+2.., another draws frame i+1 while the calling
   thread converts frame i to YUV and hands it to libx264, which encodes on its own threads. The output
   is the very file `pipeline.render.video.render_with` writes (same writer, same frames, same
   order), only sooner.

Memory is bounded by the frames in flight (2 x `QUEUE_FRAMES` RGB frames + the decoder's and
libx264's own look-ahead), never by the length of the video.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.video import WHOLE, Frame, TimeWindow, iter_frames

QUEUE_FRAMES = 4

Draw = Callable[[NDArray[np.uint8], int], NDArray[np.uint8]]
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(out: "queue.Queue[Any]", item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decode(video: Path, out: "queue.Queue[Any]", stop: threading.Event, window: TimeWindow = WHOLE) -> None:
    """Every frame of `video` in `window` into `out` (then _DONE, or the error); stops early when asked."""
    try:
        for frame in iter_frames(video, window=window):
            if not _put(out, frame, stop):
                return
        _put(out, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, _Failed(exc), stop)


def _draw(draw: Draw, inp: "queue.Queue[Any]", out: "queue.Queue[Any]", stop: threading.Event) -> None:
    """Frames from `inp`, drawn, into `out` as (frame, image); passes _DONE and errors on."""
    try:
        while not stop.is_set():
            try:
                item = inp.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE or isinstance(item, _Failed):
                _put(out, item, stop)
                return
            if not _put(out, (item, draw(item.image, item.index)), stop):
                return
    except BaseException as exc:
        _put(out, _Failed(exc), stop)


def render_overlapped(video: str | Path, annotator: Any, out_path: str | Path, *,
                      on_frame: Callable[[Frame], None] | None = None, audio: bool = True,
                      queue_frames: int = QUEUE_FRAMES, window: TimeWindow = WHOLE) -> Path:
    """`pipeline.render.video.render_with` with decoding, drawing and encoding overlapped.

    `annotator`: an object with `annotate(image, index)` (e.g. `render.frame.FrameAnnotator`) or a
    function of (image, index) returning the drawn image.
    """
    from pipeline.render.mp4 import H264Writer, source_timing
    from pipeline.render.video import window_audio_end, window_origin

    video = Path(video)
    draw: Draw = annotator.annotate if hasattr(annotator, "annotate") else annotator
    timing = source_timing(video)
    decoded: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_frames))
    frames: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_frames))
    stop = threading.Event()
    threads = [threading.Thread(target=_decode, args=(video, decoded, stop, window), name="render-decode", daemon=True),
               threading.Thread(target=_draw, args=(draw, decoded, frames, stop), name="render-draw", daemon=True)]
    for t in threads:
        t.start()
    writer, origin = None, 0.0
    try:
        while True:
            item = frames.get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                raise item.exc
            frame, image = item
            if writer is None:
                height, width = image.shape[:2]      # the drawn size (the render may cap it)
                origin = window_origin(window, frame.time_s)
                writer = H264Writer(out_path, width, height, timing.fps, time_base=timing.time_base,
                                    audio_from=video if audio and timing.has_audio else None,
                                    audio_offset_s=timing.first_time_s + origin,
                                    audio_end_s=window_audio_end(window, origin))
            writer.write(image, frame.time_s - origin)
            if on_frame is not None:
                on_frame(frame)
    finally:
        stop.set()
        for t in threads:
            t.join()
        if writer is not None:
            writer.close()
    return Path(out_path)
