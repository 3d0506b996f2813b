"""A dependency-free progress bar on stderr, fed one decoded frame at a time."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class FrameProgress:
    def __init__(self, total: int, stream: TextIO = sys.stderr, min_interval_s: float = 0.2) -> None:
        self.total, self.stream, self.min_interval_s = max(total, 1), stream, min_interval_s
        self.done, self._last, self._start = 0, 0.0, time.perf_counter()
        self.enabled = stream.isatty()

    @classmethod
    def for_video(cls, source: str, passes: int) -> "FrameProgress":
        """Total = frames x passes (pose, then render); unknown sizes (remote sources) count one frame."""
        try:
            from pipeline.video import probe

            frames = probe(source).frame_count
        except Exception:  # the flow reports bad input properly; the bar just stays vague
            frames = 1
        return cls(frames * passes)

    def update(self, _frame: Any = None) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.enabled and (now - self._last >= self.min_interval_s or self.done >= self.total):
            self._last = now
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            fps = self.done / max(now - self._start, 1e-9)
            self.stream.write(f"\ranalysing [{bar:<30}] {share:4.0%} {fps:5.1f} frames/s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
