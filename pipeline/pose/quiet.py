"""Silence MediaPipe/LiteRT's native start-up chatter (it writes straight to fd 2, past Python)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block, unless MOTIONLENS_DEBUG is set."""
    if os.environ.get("MOTIONLENS_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
