"""The terminal progress bar of `motionlens analyze` (rich), fed one decoded frame at a time.

The console is looked up when the bar is made, not at import: the CLI swaps `sys.stderr` for a
copy of the terminal (`detach_native_stderr`) after this module is imported. Off a terminal
(a pipe, a log file, `--json` in a script) nothing is drawn.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

STAGES = ("pose", "render")


class FrameProgress:
    """One bar per pass over the frames: pose, then (unless `--no-render`) the annotated video."""

    def __init__(self, frames: int, passes: int, stream: TextIO | None = None, label: str = "") -> None:
        self.frames, self.passes, self.done = max(frames, 1), passes, 0
        console = Console(file=stream or sys.stderr)
        self.enabled = console.is_terminal
        self._bar = Progress(TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("frames"), TimeRemainingColumn(), console=console,
                             disable=not self.enabled, refresh_per_second=8, transient=False)
        prefix = f"{label} " if label else ""
        self._tasks: list[TaskID] = [self._bar.add_task(prefix + stage, total=self.frames)
                                     for stage in STAGES[:passes]]
        self._bar.start()

    def update(self, _frame: Any = None) -> None:
        stage = min(self.done // self.frames, len(self._tasks) - 1)
        self.done += 1
        self._bar.advance(self._tasks[stage])

    def close(self) -> None:
        self._bar.stop()
