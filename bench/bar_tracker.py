"""The plate tracker (`pipeline.metrics.bar_tracker.track_bar`) on lifts with a plate in view: its
cost next to the pose's, how much of the clip it follows, and how stable its numbers are.

Clips: `power_clean_side.mp4` itself, and the clip looped to `--seconds` at 720x1280 and at
1080x1920 (made once in $TMPDIR/motionlens-bench). The loop repeats the same clean, so every rep
should give the same numbers: the spread of a rep metric across the loop's reps is the tracker's
own instability (no ground truth needed). Pose: 2 threads, num_poses=3 (as for a clean), cached per
clip. Each tracker run is measured alone, CPU of all threads. Then the ground truth: the real plate
moved along a known path (`tests/support/plate_clip.py`) at both sizes, the tracker's error in
pixels and the bar's peak velocity and height through the metrics, plate-scaled, against the truth.

    python -m bench.bar_tracker [--seconds 10] [--repeats 3] [--csrt TEMPLATE,SCALES,SEGMENTATION]

`--csrt 100,17,0` runs everything with other CSRT settings (template size, number of scales,
segmentation on/off) than OpenCV's defaults (200,33,1), the comparison in
docs/metrics/weightlifting.md §5.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, SHARED_VIDEOS, cpu_s, emit, make_clip

CLEAN = SHARED_VIDEOS / "power_clean_side.mp4"


def clips(seconds: float) -> dict[str, Path]:
    CACHE.mkdir(exist_ok=True)
    return {"power_clean_side": CLEAN,
            **{f"loop {w}x{h}": make_clip(CACHE / f"power_clean_loop_{w}x{h}_{seconds:g}s.mp4", width=w, height=h,
                                          seconds=seconds, src=CLEAN) for w, h in ((720, 1280), (1080, 1920))}}


def raw_pose(video: Path) -> tuple[Any, float, float]:
    """The clip's raw pose (cached), and the pose's CPU and wall seconds when it was computed here."""
    from pipeline.pose.parallel import estimate_athlete_parallel
    from pipeline.pose.sequence import PoseSequence

    cached = CACHE / f"{video.stem}_raw_pose_p3.npz"
    if cached.exists():
        return PoseSequence.load_npz(str(cached)), float("nan"), float("nan")
    c, t = cpu_s(), time.perf_counter()
    seq = estimate_athlete_parallel(video, workers=2, num_poses=3)[0]
    cpu, wall = cpu_s() - c, time.perf_counter() - t
    seq.save_npz(str(cached))
    return seq, cpu, wall


def rep_numbers(seq: Any, track: Any) -> list[dict[str, float | None]]:
    from pipeline.metrics.activity import analyze_pose
    from pipeline.options import AnalysisOptions

    options = AnalysisOptions("weightlifting", exercise="clean")
    reps = analyze_pose(seq, options, bar_xy=track.xy, plate_radius_px=track.plate_radius_px).result.summary["reps"]
    keys = ("mean_concentric_velocity_m_s", "peak_concentric_velocity_m_s", "peak_bar_height_m")
    return [{k: r.get(k) for k in keys} for r in reps]


def spread(reps: list[dict[str, float | None]], key: str) -> float | None:
    values = [r[key] for r in reps if r[key] is not None]
    return round(max(values) - min(values), 3) if len(values) > 1 else None


def measure(name: str, video: Path, repeats: int) -> dict[str, Any]:
    from pipeline.metrics.bar_tracker import track_bar

    seq, pose_cpu, pose_wall = raw_pose(video)
    cpu, wall = [], []
    for _ in range(repeats):
        c, t = cpu_s(), time.perf_counter()
        track = track_bar(video, seq)
        cpu.append(cpu_s() - c)
        wall.append(time.perf_counter() - t)
    reps = rep_numbers(seq, track)
    n = len(seq)
    return {"clip": name, "frames": n, "tracker_cpu_ms_per_frame": round(1000 * statistics.median(cpu) / n, 1),
            "tracker_wall_s": round(statistics.median(wall), 2),
            "pose_cpu_ms_per_frame": round(1000 * pose_cpu / n, 1) if np.isfinite(pose_cpu) else None,
            "pose_wall_s": round(pose_wall, 2) if np.isfinite(pose_wall) else None,
            "tracked_share": round(float(np.isfinite(track.xy).all(axis=1).mean()), 3),
            "plate_radius_px": None if track.plate_radius_px is None else round(track.plate_radius_px, 1),
            "reps": reps,
            "spread_mean_velocity_m_s": spread(reps, "mean_concentric_velocity_m_s"),
            "spread_peak_velocity_m_s": spread(reps, "peak_concentric_velocity_m_s")}


def measure_truth(width: int, height: int) -> dict[str, Any]:
    from pipeline.metrics.activity import analyze_pose
    from pipeline.metrics.bar_tracker import track_bar
    from pipeline.options import AnalysisOptions
    from tests.support.plate_clip import make_plate_clip

    truth = make_plate_clip(CACHE / f"plate_truth_{width}x{height}.mp4", width=width, height=height)
    c = cpu_s()
    track = track_bar(truth.path, truth.seq)
    cpu = cpu_s() - c
    error = np.linalg.norm(track.xy - truth.hub_xy, axis=1)
    options = AnalysisOptions("weightlifting", exercise="clean")
    rep = analyze_pose(truth.seq, options, bar_xy=track.xy,
                       plate_radius_px=track.plate_radius_px).result.summary["reps"][0]
    return {"clip": f"truth {width}x{height}", "tracker_cpu_ms_per_frame": round(1000 * cpu / len(truth.time_s), 1),
            "tracked_share": round(float(np.isfinite(track.xy).all(axis=1).mean()), 3),
            "error_px_median": round(float(np.nanmedian(error)), 1),
            "error_px_p90": round(float(np.nanpercentile(error, 90)), 1),
            "plate_radius_px": track.plate_radius_px, "plate_radius_truth_px": round(truth.radius_px, 1),
            "peak_velocity_m_s": rep["peak_concentric_velocity_m_s"],
            "peak_velocity_truth_m_s": round(float(truth.velocity_m_s.max()), 3),
            "peak_bar_height_m": rep["peak_bar_height_m"], "peak_bar_height_truth_m": float(truth.height_m.max())}


def use_csrt_settings(spec: str) -> None:
    """Make the tracker build CSRT with `spec` = "template,scales,segmentation" (a variant to compare)."""
    import cv2

    from pipeline.metrics import bar_tracker

    template, scales, segmentation = spec.split(",")

    def create() -> Any:
        params = cv2.TrackerCSRT.Params()
        params.template_size, params.number_of_scales = float(template), int(scales)
        params.use_segmentation = segmentation not in ("0", "false", "no")
        return cv2.TrackerCSRT.create(params)

    bar_tracker._create_tracker = create


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--csrt", default=None, help="TEMPLATE,SCALES,SEGMENTATION, e.g. 100,17,0")
    a = p.parse_args()
    if a.csrt:
        use_csrt_settings(a.csrt)
    results = [measure(name, path, a.repeats) for name, path in clips(a.seconds).items()]
    for r in results:
        print(f"{r['clip']}: {r['frames']} frames, tracker {r['tracker_cpu_ms_per_frame']} ms CPU/frame "
              f"({r['tracker_wall_s']} s wall; pose {r['pose_cpu_ms_per_frame']} ms/frame when computed here), "
              f"tracked {100 * r['tracked_share']:.0f} %, plate {r['plate_radius_px']} px, {len(r['reps'])} reps, "
              f"spread across reps: mean velocity {r['spread_mean_velocity_m_s']}, "
              f"peak {r['spread_peak_velocity_m_s']} m/s", flush=True)
    truths = [measure_truth(w, h) for w, h in ((720, 1280), (1080, 1920))]
    for r in truths:
        print(f"{r['clip']}: tracker {r['tracker_cpu_ms_per_frame']} ms CPU/frame, tracked "
              f"{100 * r['tracked_share']:.0f} %, hub error median {r['error_px_median']} px, p90 {r['error_px_p90']} px, "
              f"plate {r['plate_radius_px']:.1f} px (truth {r['plate_radius_truth_px']}), peak velocity "
              f"{r['peak_velocity_m_s']} m/s (truth {r['peak_velocity_truth_m_s']}), peak bar height "
              f"{r['peak_bar_height_m']} m (truth {r['peak_bar_height_truth_m']})", flush=True)
    emit({"variant": "bar_tracker", "csrt": a.csrt or "default", "results": results, "truth": truths})


if __name__ == "__main__":
    main()
