"""fd 2 silencing from several pose threads at once: restored when the last one leaves."""

from __future__ import annotations

import os
import threading

from pipeline.pose.quiet import native_stderr_silenced


def _target(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def test_overlapping_threads_restore_fd2(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("MOTIONLENS_DEBUG", raising=False)
    devnull = _target(os.open(os.devnull, os.O_WRONLY))
    before = _target(2)
    assert before != devnull
    inside: list[tuple[int, int]] = []
    start = threading.Barrier(8)

    def work(i: int) -> None:
        start.wait()
        for k in range(200):
            with native_stderr_silenced():
                inside.append(_target(2))
                if (i + k) % 3 == 0:
                    with native_stderr_silenced():      # nested, as the census inside a chunk does
                        inside.append(_target(2))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inside and all(t == devnull for t in inside)
    assert _target(2) == before
