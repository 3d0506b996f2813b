"""The naive sequential loop of DESIGN §9: PyAV decode -> PoseLandmarker -> cv2 drawing -> libx264 veryfast.

One frame at a time, one thread of our own (libx264 still uses its threads, as it does anywhere).

    python -m bench.naive VIDEO [--num-poses 1] [--model full] [--out /tmp/naive.mp4]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from bench.common import cpu_s, emit


def draw_skeleton(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Plain cv2 lines and dots on the landmarks of the first person (NaN = not drawn)."""
    from pipeline.pose.landmarks import BONES

    ok = np.isfinite(xy).all(axis=1)
    pts = np.nan_to_num(xy).astype(np.int32)
    for a, b in BONES:
        if ok[a] and ok[b]:
            cv2.line(image, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])), (0, 255, 0), 3)
    for p in pts[ok]:
        cv2.circle(image, (int(p[0]), int(p[1])), 4, (255, 255, 255), -1)
    return image


def naive_loop(video: str, out: str, *, model: str = "full", num_poses: int = 1) -> dict[str, float]:
    import mediapipe as mp

    from pipeline.pose.estimate import _frame_rows, open_landmarker
    from pipeline.pose.models import resolve_model
    from pipeline.video import Mp4Writer, iter_frames, probe

    t0, c0 = time.perf_counter(), cpu_s()
    info = probe(video)
    n, last_ms = 0, -1
    with open_landmarker(resolve_model(model), num_poses) as landmarker, \
            Mp4Writer(out, info.width, info.height, info.fps) as writer:
        for frame in iter_frames(video):
            ms = max(int(round(frame.time_s * 1000)), last_ms + 1)
            last_ms = ms
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.image), ms)
            xy = _frame_rows(result, info.width, info.height, num_poses)[0]
            writer.write(draw_skeleton(frame.image, xy[0]), frame.time_s)
            n += 1
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    return {"frames": n, "wall_s": wall, "cpu_s": cpu, "fps": n / wall}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("video")
    p.add_argument("--out", default="/tmp/motionlens-bench-naive.mp4")
    p.add_argument("--model", default="full")
    p.add_argument("--num-poses", type=int, default=1)
    a = p.parse_args()
    emit({"variant": f"naive P={a.num_poses}", **naive_loop(a.video, a.out, model=a.model, num_poses=a.num_poses)})


if __name__ == "__main__":
    main()
