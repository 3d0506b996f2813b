"""The render size cap's cost and quality (issue 16): the same analysis rendered at several caps.

    python -m bench.render_size [VIDEO] [--caps 0,1280,960] [--repeats 3]

Pose and metrics once; then each cap (0 = the source's size) renders in turn, interleaved over
repeats: wall and CPU seconds (medians), file size, and PSNR of the frames against the uncapped
render scaled to the same size with the same area filter (what the cap loses beyond the scaling
itself: encoder artefacts). Default clip: the synthetic CMJ upscaled to 1080x1920 (bench.peer).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import cpu_s, median


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main(argv: list[str] | None = None) -> int:
    from bench.peer import clips
    from pipeline.metrics.activity import analyze_pose
    from pipeline.options import AnalysisOptions
    from pipeline.pose.parallel import estimate_athlete_parallel
    from pipeline.render.video import render_analysis
    from pipeline.video import iter_frames

    p = argparse.ArgumentParser()
    p.add_argument("video", nargs="?")
    p.add_argument("--caps", default="0,1280,960")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    video = Path(a.video) if a.video else clips(["cmj1080p30"])[0].path
    caps = [int(c) for c in a.caps.split(",")]
    seq, _ = estimate_athlete_parallel(video, model="full", workers=2, num_poses=3)
    analysis = analyze_pose(seq, AnalysisOptions("jumping"))
    out_dir = Path(tempfile.mkdtemp(prefix="render-size-"))
    walls: dict[int, list[float]] = {c: [] for c in caps}
    cpus: dict[int, list[float]] = {c: [] for c in caps}
    for _ in range(a.repeats):
        for cap in caps:
            c, t = cpu_s(), time.perf_counter()
            render_analysis(video, analysis, out_dir / f"{cap}.mp4", max_side=cap or None)
            walls[cap].append(time.perf_counter() - t)
            cpus[cap].append(cpu_s() - c)
    rows = []
    for cap in caps:
        out = out_dir / f"{cap}.mp4"
        scores = []
        for i, (small, full) in enumerate(zip(iter_frames(out), iter_frames(out_dir / f"{caps[0]}.mp4"))):
            if i % 10 == 0:
                h, w = small.image.shape[:2]
                scores.append(psnr(small.image, cv2.resize(full.image, (w, h), interpolation=cv2.INTER_AREA)))
        first = next(iter_frames(out)).image.shape
        rows.append({"cap": cap, "size": f"{first[1]}x{first[0]}", "wall_s": median(walls[cap]),
                     "cpu_s": median(cpus[cap]), "mb": out.stat().st_size / 1e6, "psnr_db": median(scores)})
        print(f"cap {cap or 'none'}: {rows[-1]['size']}, render {rows[-1]['wall_s']:.2f} s wall, "
              f"{rows[-1]['cpu_s']:.2f} s CPU, {rows[-1]['mb']:.2f} MB, PSNR vs uncapped scaled "
              f"{rows[-1]['psnr_db']:.1f} dB", file=sys.stderr)
    print(json.dumps({"video": str(video), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
