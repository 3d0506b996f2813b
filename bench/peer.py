"""MotionLens against the peer, kinemotion, on the same jump clips in one run (issue 16).

    python -m bench.peer [--venv DIR] [--repeats 3] [--clips cmj60,jumps30,cmj1080p30,cmj464p60]

Each tool as a user runs it from the command line, in a fresh process:
  kinemotion cmj-analyze CLIP -j out.json -o debug.mp4       (its own venv, created on demand)
  motionlens analyze CLIP --activity jumping --json            (our venv, a fresh storage each run,
                                                                so the pose cache never helps)
interleaved within each repeat (the order alternates), medians over repeats; the ratio is ours /
kinemotion's, paired within a repeat. Flight-time error against the clip's `.truth.json`: the
peer reports one jump, so both are scored on the true jump nearest the peer's takeoff; ours is
also scored on every true jump. Derived clips (a 1080x1920 30 fps upscale and a 464x832 60 fps
downscale of the synthetic CMJ, same motion so the same truth) are made once in
$TMPDIR/motionlens-bench/peer/, never committed. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CACHE, QUIET, ROOT, SHARED_VIDEOS, median

PEER_DIR = CACHE / "peer"
DEFAULT_VENV = CACHE / "kinemotion-venv"
PEER_PACKAGE = "kinemotion==0.82.0"


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    truth: Path


def _derive(src: Path, dst: Path, width: int, height: int, step: int) -> Path:
    """`src` resized to width x height, keeping every `step`-th frame (its time kept: same truth)."""
    import av
    import cv2
    import numpy as np
    from fractions import Fraction

    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(src)) as c, av.open(str(tmp), "w") as out:
        rate = Fraction(c.streams.video[0].average_rate) / step
        st = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "18", "g": "60"})
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        for i, f in enumerate(c.decode(c.streams.video[0])):
            if i % step:
                continue
            img = cv2.resize(f.to_ndarray(format="rgb24"), (width, height),
                             interpolation=cv2.INTER_CUBIC if width > f.width else cv2.INTER_AREA)
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    tmp.rename(dst)
    return dst


def clips(names: list[str]) -> list[Clip]:
    cmj = SHARED_VIDEOS / "cmj_synthetic_60fps.mp4"
    cmj_truth = cmj.with_suffix(".truth.json")
    makers = {
        "cmj60": lambda: Clip("synthetic CMJ 608x1080 60 fps", cmj, cmj_truth),
        "jumps30": lambda: Clip("synthetic jumps 30 fps", SHARED_VIDEOS / "jumps_synthetic_30fps.mp4",
                                SHARED_VIDEOS / "jumps_synthetic_30fps.truth.json"),
        "cmj1080p30": lambda: Clip("CMJ upscaled 1080x1920 30 fps",
                                   _derive(cmj, PEER_DIR / "cmj_1080x1920_30fps.mp4", 1080, 1920, 2), cmj_truth),
        "cmj464p60": lambda: Clip("CMJ 464x832 60 fps", _derive(cmj, PEER_DIR / "cmj_464x832_60fps.mp4", 464, 832, 1),
                                  cmj_truth),
    }
    return [makers[n]() for n in names]


def ensure_peer(venv: Path) -> Path:
    """The peer's console script, installing it into its own venv (never ours) when missing."""
    exe = venv / "bin" / "kinemotion"
    if not exe.exists():
        print(f"installing {PEER_PACKAGE} into {venv} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEER_PACKAGE], check=True)
    return exe


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one child process, start to exit (its CPU: RUSAGE_CHILDREN deltas)."""
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, proc


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_peer(exe: Path, clip: Clip, work: Path) -> dict[str, Any]:
    out_json, debug = work / "out.json", work / "debug.mp4"
    c = _children_cpu()
    wall, proc = _timed([str(exe), "cmj-analyze", str(clip.path), "-j", str(out_json), "-o", str(debug)],
                              {**os.environ, "GLOG_minloglevel": "2"}, work)
    if proc.returncode != 0:
        raise RuntimeError(f"kinemotion failed on {clip.path}:\n{proc.stderr[-2000:]}")
    data = json.loads(out_json.read_text())
    d, fps = data["data"], data["metadata"]["video"]["fps"]
    jumps = [{"takeoff_s": d["takeoff_frame"] / fps, "flight_time_s": d["flight_time_ms"] / 1000}]
    return {"wall_s": wall, "cpu_s": _children_cpu() - c, "jumps": jumps, "video_bytes": debug.stat().st_size}


def run_ours(clip: Clip, work: Path, env: dict[str, str], motionlens: Path) -> dict[str, Any]:
    storage = work / "store"
    c = _children_cpu()
    wall, proc = _timed([str(motionlens), "analyze", str(clip.path), "--activity", "jumping",
                               "--storage", str(storage), "--json"],
                              {**os.environ, **QUIET, "PYTHONPATH": str(ROOT), **env}, work)
    if proc.returncode != 0:
        raise RuntimeError(f"motionlens failed on {clip.path}:\n{proc.stderr[-2000:]}")
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    video = storage / m["artifacts"]["analyzed_video"]
    return {"wall_s": wall, "cpu_s": _children_cpu() - c, "timings": m["timings_s"],
            "jumps": [{"takeoff_s": j["takeoff_s"], "flight_time_s": j["flight_time_s"]} for j in m["metrics"]["jumps"]],
            "video_bytes": video.stat().st_size}


def flight_errors_ms(jumps: list[dict[str, float]], truth: list[dict[str, float]], on: list[int]) -> list[float]:
    """|flight time - truth| for the true jumps `on`, each matched to the detected jump nearest its takeoff
    (a true jump with no detection within 0.3 s counts as missed: inf)."""
    out = []
    for i in on:
        t = truth[i]
        near = min(jumps, key=lambda j: abs(j["takeoff_s"] - t["takeoff_s"]), default=None)
        ok = near is not None and abs(near["takeoff_s"] - t["takeoff_s"]) < 0.3
        out.append(abs(near["flight_time_s"] - t["flight_time_s"]) * 1000 if ok else float("inf"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"kinemotion's own venv (default {DEFAULT_VENV})")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clips", default="cmj60,jumps30,cmj1080p30,cmj464p60")
    p.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment for our runs, e.g. MOTIONLENS_ORCHESTRATOR=prefect")
    a = p.parse_args(argv)
    peer = ensure_peer(a.venv.resolve())
    ours_env = dict(kv.split("=", 1) for kv in a.ours_env)
    motionlens = Path(sys.executable).parent / "motionlens"
    results: list[dict[str, Any]] = []
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()[0]:.1f}; "
          f"{a.repeats} repeats, interleaved", file=sys.stderr)
    for clip in clips([c.strip() for c in a.clips.split(",") if c.strip()]):
        truth = json.loads(clip.truth.read_text())["jumps"]
        runs: dict[str, list[dict[str, Any]]] = {"kinemotion": [], "motionlens": []}
        for r in range(a.repeats):
            order = ["kinemotion", "motionlens"] if r % 2 == 0 else ["motionlens", "kinemotion"]
            for tool in order:
                work = Path(tempfile.mkdtemp(prefix=f"peer-{tool}-"))
                try:
                    runs[tool].append(run_peer(peer, clip, work) if tool == "kinemotion"
                                      else run_ours(clip, work, ours_env, motionlens))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
        km, ml = runs["kinemotion"], runs["motionlens"]
        peer_jump = min(range(len(truth)), key=lambda i: abs(truth[i]["takeoff_s"] - km[0]["jumps"][0]["takeoff_s"]))
        row = {
            "clip": clip.name, "path": str(clip.path),
            "kinemotion_s": median([x["wall_s"] for x in km]), "motionlens_s": median([x["wall_s"] for x in ml]),
            "ratio": median([m["wall_s"] / k["wall_s"] for m, k in zip(ml, km)]),
            "kinemotion_cpu_s": median([x["cpu_s"] for x in km]), "motionlens_cpu_s": median([x["cpu_s"] for x in ml]),
            "kinemotion_walls": [round(x["wall_s"], 2) for x in km], "motionlens_walls": [round(x["wall_s"], 2) for x in ml],
            "flight_err_ms_kinemotion": flight_errors_ms(km[0]["jumps"], truth, [peer_jump])[0],
            "flight_err_ms_motionlens": flight_errors_ms(ml[0]["jumps"], truth, [peer_jump])[0],
            "flight_err_ms_motionlens_all": flight_errors_ms(ml[0]["jumps"], truth, list(range(len(truth)))),
            "motionlens_stages_s": {k: median([x["timings"].get(k, 0.0) for x in ml])
                                    for k in ("pose", "metrics", "export", "render", "images", "publish")},
        }
        results.append(row)
        print(f"{clip.name}: kinemotion {row['kinemotion_s']:.2f} s {row['kinemotion_walls']}, "
              f"motionlens {row['motionlens_s']:.2f} s {row['motionlens_walls']}, ratio {row['ratio']:.2f}; "
              f"flight-time error {row['flight_err_ms_kinemotion']:.1f} vs {row['flight_err_ms_motionlens']:.1f} ms "
              f"(ours on every jump: {', '.join(f'{e:.1f}' for e in row['flight_err_ms_motionlens_all'])}); "
              f"our stages {', '.join(f'{k} {v:.1f}' for k, v in row['motionlens_stages_s'].items())}",
              file=sys.stderr)
    print(f"| clip | kinemotion s | motionlens s | ratio | flight err ms (peer / ours, same jump) |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clip']} | {r['kinemotion_s']:.1f} | {r['motionlens_s']:.1f} | {r['ratio']:.2f} | "
              f"{r['flight_err_ms_kinemotion']:.1f} / {r['flight_err_ms_motionlens']:.1f} |")
    print(json.dumps({"load_average": os.getloadavg(), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
