"""How the pose workers get their frames, on 2 cores (pose phase only, num_poses=3, squat_side.mp4):

- seek:      each thread opens the file, seeks to its chunk and decodes it (`pipeline.pose.parallel`);
- one-decoder: one thread decodes the whole clip once and deals frames alternately to two pose
             threads (valid for num_poses=3 on one person only: that landmarker has no memory);
- processes: two processes, each seeking to its chunk (start-up, imports and model load included).

    python -m bench.feed [--repeats 3]
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.common import SQUAT, cpu_s, median


def seek_threads(video: Path) -> int:
    from pipeline.pose.models import resolve_model
    from pipeline.pose.parallel import detect_parallel

    return len(detect_parallel(video, resolve_model("full"), workers=2, num_poses=3).detections)


def one_decoder(video: Path) -> int:
    from pipeline.pose.models import resolve_model
    from pipeline.pose.parallel import _detect_gated
    from pipeline.video import iter_frames

    model = resolve_model("full")
    queues: list[queue.Queue] = [queue.Queue(4), queue.Queue(4)]
    out: list = [None, None]

    def frames(q: queue.Queue):
        while (f := q.get()) is not None:
            yield f

    def pose(k: int) -> None:
        out[k] = _detect_gated(frames(queues[k]), model, 3, None)

    threads = [threading.Thread(target=pose, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for f in iter_frames(video):
        queues[f.index % 2].put(f)
    for q in queues:
        q.put(None)
    for t in threads:
        t.join()
    return len(out[0]) + len(out[1])


def _chunk_in_process(video: str, k: int) -> int:
    from pipeline.pose.models import resolve_model
    from pipeline.pose.parallel import _detect_gated, index_video, iter_chunk, plan_chunks

    index = index_video(video)
    chunk = plan_chunks(index, 2)[k]
    return len(_detect_gated(iter_chunk(video, index, chunk), resolve_model("full"), 3, None))


def processes(video: Path) -> int:
    import multiprocessing as mp

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        return sum(pool.map(_chunk_in_process, [str(video)] * 2, [0, 1]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("video", nargs="?", default=str(SQUAT))
    a = p.parse_args()
    video = Path(a.video)
    import pipeline.pose.parallel  # noqa: F401  (imports outside the timings, as in a running pipeline)

    res: dict[str, list[tuple[float, float]]] = {}
    for _ in range(a.repeats):
        for name, fn in (("seek (threads)", seek_threads), ("one decoder (threads)", one_decoder),
                         ("seek (spawned processes)", processes)):
            t, c = time.perf_counter(), cpu_s()
            n = fn(video)
            res.setdefault(name, []).append((n / (time.perf_counter() - t), cpu_s() - c))
    for name, runs in res.items():
        fps = [r[0] for r in runs]
        print(f"{name:28s} median {median(fps):5.1f} fps (runs {[round(f, 1) for f in fps]})"
              + (f", parent CPU {median([r[1] for r in runs]):.1f} s" if "process" not in name else ""))


if __name__ == "__main__":
    main()
