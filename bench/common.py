"""Shared helpers of the benchmarks: CPU and RSS accounting, child processes, test clips made in /tmp."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = (ROOT.parent / "shared" / "fixtures" / "videos").resolve()
SQUAT = SHARED_VIDEOS / "squat_side.mp4"
CACHE = Path(tempfile.gettempdir()) / "motionlens-bench"     # clips and poses the benchmarks make once
QUIET = {"GLOG_minloglevel": "2", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
         "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "PREFECT_LOGGING_LEVEL": "WARNING"}


def cpu_s() -> float:
    """CPU seconds of this process, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    """High-water RSS of this process image (VmHWM). Not ru_maxrss: Linux keeps that across exec, so a
    child started by a big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Wall and CPU time of named steps."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}

    def __call__(self, name: str, fn: Any, *args: Any, **kw: Any) -> Any:
        c, w = cpu_s(), time.perf_counter()
        out = fn(*args, **kw)
        self.steps[name] = {"wall_s": time.perf_counter() - w, "cpu_s": cpu_s() - c}
        return out


def run_child(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run `python -m module args` (a fresh process: own imports, own peak RSS); its last stdout line is JSON."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **QUIET, **(env or {})}, timeout=timeout)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def make_clip(dst: Path, *, width: int, height: int, seconds: float, src: Path = SQUAT, crf: int = 23,
              preset: str = "veryfast") -> Path:
    """`src` scaled to width x height and looped to `seconds`, H.264 in MP4, streamed (a few frames in
    memory). Made once in /tmp; never committed."""
    import av
    import cv2
    import numpy as np

    if dst.exists():
        return dst
    with av.open(str(src)) as c:
        rate = c.streams.video[0].average_rate
    n = int(round(seconds * float(rate)))
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=rate, options={"preset": preset, "crf": str(crf), "g": "60"})
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        i = 0
        while i < n:
            with av.open(str(src)) as c:
                for f in c.decode(c.streams.video[0]):
                    if i >= n:
                        break
                    img = cv2.resize(f.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_AREA)
                    for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                        out.mux(p)
                    i += 1
        for p in st.encode():
            out.mux(p)
    tmp.rename(dst)
    return dst


def emit(result: dict[str, Any]) -> None:
    """The child's answer: one JSON line on stdout."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
