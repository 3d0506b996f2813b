"""Our analysis of one video in-process (no Prefect): pose -> metrics -> Parquet -> annotated video.

    python -m bench.ours VIDEO [--workers 2] [--num-poses auto|1|3] [--sequential] [--activity weightlifting]

`--sequential` runs the stages as they were before issue 9 (`estimate_athlete`, `render_with`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import Clock, cpu_s, emit


def analyze(video: str, *, activity: str, exercise: str | None, workers: int, num_poses: str,
            sequential: bool, out_dir: Path) -> dict[str, object]:
    from pipeline.analysis import Workspace, export_tables
    from pipeline.metrics.activity import analyze_pose
    from pipeline.options import AnalysisOptions
    from pipeline.pipelined import render_overlapped
    from pipeline.pose.athlete import estimate_athlete
    from pipeline.pose.parallel import estimate_athlete_parallel
    from pipeline.render.frame import FrameAnnotator
    from pipeline.render.video import render_with

    clock = Clock()
    t0, c0 = time.perf_counter(), cpu_s()
    options = AnalysisOptions(activity, exercise=exercise)
    select = "moving" if activity == "running" else "largest"
    if sequential:
        seq, people = clock("pose", estimate_athlete, video, model="full", select=select,
                            num_poses=3 if num_poses == "auto" else int(num_poses))
    else:
        n = num_poses if num_poses == "auto" else int(num_poses)
        seq, people = clock("pose", estimate_athlete_parallel, video, model="full", select=select,
                            workers=workers, num_poses=n)
    analysis = clock("metrics", analyze_pose, seq, options)
    ws = Workspace(out_dir)
    clock("exports", export_tables, "bench", "2000-01-01", analysis, ws)
    annotator = FrameAnnotator.from_analysis(analysis)
    render = render_with if sequential else render_overlapped
    clock("render", render, Path(video), annotator, out_dir / "analyzed.mp4")
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    frames = len(seq)
    return {"frames": frames, "wall_s": wall, "cpu_s": cpu, "fps": frames / wall, "stages": clock.steps,
            "num_poses": people.get("num_poses"), "pose_chunks": people.get("pose_chunks"),
            "athlete_track": people.get("athlete_track")}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("video")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--num-poses", default="auto")
    p.add_argument("--sequential", action="store_true")
    p.add_argument("--activity", default="weightlifting")
    p.add_argument("--exercise", default="back_squat")
    a = p.parse_args()
    t_import = time.perf_counter()
    import pipeline.analysis  # noqa: F401  (the imports the CLI pays, timed apart)
    import pipeline.pose.parallel  # noqa: F401
    import pipeline.render.frame  # noqa: F401
    import_s = time.perf_counter() - t_import
    out_dir = Path(tempfile.mkdtemp(prefix="motionlens-bench-"))
    try:
        r = analyze(a.video, activity=a.activity, exercise=a.exercise if a.activity == "weightlifting" else None,
                    workers=a.workers, num_poses=a.num_poses, sequential=a.sequential, out_dir=out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    name = "sequential stages" if a.sequential else f"ours workers={a.workers} P={a.num_poses}"
    emit({"variant": name, "import_s": import_s, **r})


if __name__ == "__main__":
    main()
