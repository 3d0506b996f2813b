"""Per-stage CPU cost per frame, each stage alone on the first frames of a video (ms of CPU per frame).

    python -m bench.stages VIDEO [--frames 150]
"""

from __future__ import annotations

import argparse
import os

from bench.common import cpu_s, emit


def per_frame_ms(fn, n: int) -> float:
    c = cpu_s()
    fn()
    return 1000 * (cpu_s() - c) / n


def measure(video: str, n: int) -> dict[str, float]:
    from bench.naive import draw_skeleton
    from pipeline.metrics.activity import analyze_pose
    from pipeline.options import AnalysisOptions
    from pipeline.pose.estimate import detect
    from pipeline.pose.models import resolve_model
    from pipeline.pose.parallel import Census
    from pipeline.pose.sequence import PoseSequence
    from pipeline.render.frame import FrameAnnotator
    from pipeline.render.mp4 import H264Writer
    from pipeline.video import Mp4Writer, iter_frames

    def decode() -> list:
        out = []
        for f in iter_frames(video):
            if f.index >= n:
                break
            out.append(f)
        return out

    frames = decode()
    n = len(frames)
    h, w = frames[0].image.shape[:2]
    model = resolve_model("full")
    res: dict[str, float] = {"frames": n, "width": w, "height": h}
    res["decode"] = per_frame_ms(decode, n)
    det1 = None
    for p in (1, 3):
        box: list = []
        res[f"pose_P{p}"] = per_frame_ms(lambda: box.append(detect(frames, model, num_poses=p)), n)
        det1 = det1 or box[0]
    census = Census(model)
    res["census_frame"] = per_frame_ms(lambda: [census.people(f) for f in frames[:20]], 20)
    census.close()
    res["census_amortized"] = res["census_frame"] / max(1.0, census.interval_s * 30)
    images = [f.image.copy() for f in frames]
    xy = det1.image_xy[:, 0]
    res["draw_naive"] = per_frame_ms(lambda: [draw_skeleton(im.copy(), xy[i]) for i, im in enumerate(images)], n)
    seq = PoseSequence(time_s=det1.time_s, image_xy=det1.image_xy[:, 0], image_z=det1.image_z[:, 0],
                       world_xyz=det1.world_xyz[:, 0], visibility=det1.visibility[:, 0],
                       presence=det1.presence[:, 0], width=w, height=h, fps=30.0)
    ann = FrameAnnotator.from_analysis(analyze_pose(seq, AnalysisOptions("weightlifting", exercise="back_squat")))
    res["draw_annotator"] = per_frame_ms(lambda: [ann.annotate(im.copy(), i) for i, im in enumerate(images)], n)
    copy_ms = per_frame_ms(lambda: [im.copy() for im in images], n)
    res["draw_naive"] -= copy_ms
    res["draw_annotator"] -= copy_ms

    def encode(cls) -> None:
        with cls("/tmp/motionlens-bench-enc.mp4", w, h, 30.0) as wr:
            for f in frames:
                wr.write(f.image, f.time_s)

    res["encode_mp4writer"] = per_frame_ms(lambda: encode(Mp4Writer), n)
    res["encode_h264writer"] = per_frame_ms(lambda: encode(H264Writer), n)
    os.unlink("/tmp/motionlens-bench-enc.mp4")
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("video")
    p.add_argument("--frames", type=int, default=150)
    a = p.parse_args()
    emit({"variant": "stages", **measure(a.video, a.frames)})


if __name__ == "__main__":
    main()
