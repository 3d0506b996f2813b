"""Everything after pose on a 10-minute session (18,000 frames at 30 fps), step by step, in ms.

Cleaning, view, angles, the activity's events and metrics, and the Parquet tables, on synthetic
landmarks of each activity: weightlifting = the real squat_side pose tiled to 10 minutes, running =
`tests/support/gait.py`, jumping = `tests/support/jump_clips.py` (a jump every 4 s). The target
(DESIGN §9) is < 100 ms for the whole chain.

The steps run one after the other on one thread, so their CPU ms add up to the chain's cost. Then,
separately, the four Parquet tables are written at once with `export.write_tables` (one thread
each): its wall time is what an export stage using it waits, its CPU ms the same work as one by one.

    python -m bench.metrics [--frames 18000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, ROOT, SQUAT, emit



def squat_session(frames: int, fps: float = 30.0) -> Any:
    from pipeline.pose.parallel import estimate_athlete_parallel
    from pipeline.pose.sequence import PoseSequence

    CACHE.mkdir(exist_ok=True)
    cached = CACHE / "squat_side_raw_pose.npz"
    if not cached.exists():
        estimate_athlete_parallel(SQUAT)[0].save_npz(str(cached))
    one = PoseSequence.load_npz(str(cached))
    reps = -(-frames // len(one))
    arrays = {k: np.concatenate([v] * reps)[:frames] for k, v in one.arrays().items() if k != "time_s"}
    rng = np.random.default_rng(0)    # noise: tiled repeats would make Parquet unrealistically compressible
    for name, sd in (("image_xy", 0.5), ("image_z", 0.01), ("world_xyz", 0.002)):
        arrays[name] = arrays[name] + rng.normal(0, sd, arrays[name].shape).astype(np.float32)
    for name in ("visibility", "presence"):
        arrays[name] = np.clip(arrays[name] + rng.normal(0, 0.01, arrays[name].shape), 0, 1).astype(np.float32)
    return PoseSequence(time_s=np.arange(frames) / fps, width=one.width, height=one.height, fps=fps, **arrays)


def running_session(frames: int, fps: float = 30.0) -> Any:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.support.gait import RUNNING, synth_gait

    return synth_gait(RUNNING, fps=fps, duration_s=frames / fps, noise_px=1.0)[0]


def jumping_session(frames: int, fps: float = 30.0) -> Any:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.support.jump_clips import Jump, stick_sequence

    duration = frames / fps
    jumps = [Jump(takeoff_s=t, flight_s=0.45, cm_theta=0.5) for t in np.arange(2.0, duration - 2.0, 4.0)]
    return stick_sequence(jumps, duration=duration, fps=fps, noise_px=1.0)


def steps(raw: Any, activity: str) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """CPU ms and wall ms of each step after pose, in pipeline order (single-threaded: on a quiet
    machine they agree; on a busy one the CPU ms are the step's own cost)."""
    from pipeline import export
    from pipeline.metrics.activity import activity_module, angle_summary
    from pipeline.metrics.angles import compute_angles
    from pipeline.metrics.view import detect_view, facing_sign
    from pipeline.options import AnalysisOptions
    from pipeline.pose.cleaning import clean

    options = AnalysisOptions(activity, exercise="back_squat" if activity == "weightlifting" else None)
    module = activity_module(activity)
    ms: dict[str, float] = {}
    wall: dict[str, float] = {}

    def step(name: str, fn: Any, *args: Any, **kw: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        ms[name] = 1000 * (time.process_time() - c)
        wall[name] = 1000 * (time.perf_counter() - t)
        return out

    seq = step("clean", clean, raw, cutoff_hz=module.CUTOFF_HZ)
    view = step("view", detect_view, seq)
    angles = step("angles", lambda: compute_angles(seq, facing_sign(seq)))
    extra = {"jumping": {"raw": raw}, "weightlifting": {"bar_xy": None}}.get(activity, {})
    result = step(f"{activity}.analyze", module.analyze, seq, angles, view, options, **extra)
    step("angle_summary", angle_summary, angles)
    with tempfile.TemporaryDirectory() as d:
        tables = {
            "keypoints": step("table keypoints", export.keypoints_table, "s", seq),
            "angles": step("table angles", export.angles_table, "s", seq, angles),
            "events": step("table events", export.events_table, "s", result),
            "metrics": step("table metrics", export.metrics_table, "s", result),
        }
        for name, table in tables.items():
            step(f"write {name}", export.write_table, table, Path(d) / f"{name}.parquet")
    ms["total"] = sum(ms.values())
    wall["total"] = sum(wall.values())
    return ms, wall, tables


def threaded_writes(tables: dict[str, Any]) -> tuple[float, float]:
    """CPU ms (all threads) and wall ms of writing the tables at once with `export.write_tables`."""
    from pipeline import export

    with tempfile.TemporaryDirectory() as d:
        t, c = time.perf_counter(), time.process_time()
        export.write_tables({name: (table, Path(d) / f"{name}.parquet") for name, table in tables.items()})
        return 1000 * (time.process_time() - c), 1000 * (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=18000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--activities", default="weightlifting,running,jumping")
    a = p.parse_args()
    makers = {"weightlifting": squat_session, "running": running_session, "jumping": jumping_session}
    out: dict[str, Any] = {}
    for activity in a.activities.split(","):
        raw = makers[activity](a.frames)
        runs, tables = [], {}
        for _ in range(a.repeats + 1):
            ms, wall_ms, tables = steps(raw, activity)
            runs.append((ms, wall_ms))
        runs = runs[1:]                                                  # the first run warms caches
        med = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
        wall = statistics.median(r[1]["total"] for r in runs)
        threads = [threaded_writes(tables) for _ in range(a.repeats + 1)][1:]
        med["writes in threads"] = statistics.median(r[0] for r in threads)
        threads_wall = statistics.median(r[1] for r in threads)
        out[activity] = med
        print(f"{activity} ({len(raw)} frames), CPU ms: "
              + ", ".join(f"{k} {v:.1f}" for k, v in med.items() if k != "writes in threads")
              + f" (wall total {wall:.0f} ms); the 4 tables written at once in threads: wall {threads_wall:.0f} ms, "
              f"CPU {med['writes in threads']:.0f} ms", flush=True)
    emit({"variant": "metrics", "frames": a.frames, "median_ms": out})


if __name__ == "__main__":
    main()
