"""Silence MediaPipe/LiteRT's native start-up chatter (it writes straight to fd 2, past Python)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# fd 2 is one per process: pose threads (pipeline.pose.parallel) enter and leave the silenced block
# at overlapping times, so the first to enter redirects it and the last to leave restores it.
_lock = threading.Lock()
_depth = 0
_saved_fd = -1


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block, unless MOTIONLENS_DEBUG is set. Thread-safe and nestable."""
    if os.environ.get("MOTIONLENS_DEBUG"):
        yield
        return
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _depth, _saved_fd
    with _lock:
        if _depth == 0:
            sys.stderr.flush()
            _saved_fd = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _depth += 1


def _leave() -> None:
    global _depth, _saved_fd
    with _lock:
        _depth -= 1
        if _depth == 0:
            os.dup2(_saved_fd, 2)
            os.close(_saved_fd)
            _saved_fd = -1


def detach_native_stderr() -> None:
    """For the CLI: keep Python's stderr on the terminal but send fd 2 (native C++ logs) to /dev/null.

    MediaPipe and LiteRT log warnings from their own threads at any time, not only at start-up.
    Set MOTIONLENS_DEBUG=1 to see them.
    """
    if os.environ.get("MOTIONLENS_DEBUG"):
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
