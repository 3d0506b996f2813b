"""One run, all the numbers of issue 9: per-stage CPU, end-to-end fps, ratio to the naive loop, share of
the 2-core limit and peak memory, on squat_side.mp4 and on a 1080p clip made from it in /tmp.

    python -m bench.run                       # squat_side + a 30 s 1080x1920 clip, 3 repeats
    python -m bench.run --clips squat --repeats 5
    python -m bench.run --cli                 # also `motionlens analyze` against a running Prefect server
    python -m bench.run --long-minutes 10     # peak RSS of our pipeline on a 10-minute 1080p clip

Every variant runs in its own process (own imports, own peak RSS), and the variants alternate within
each repeat, so a busy machine slows them alike: compare the ratios measured in the same run.
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
from pathlib import Path
from typing import Any

from bench.common import QUIET, ROOT, SQUAT, make_clip, median, run_child

CLIP_DIR = Path(tempfile.gettempdir()) / "motionlens-bench"


def clip_paths(names: list[str], seconds_1080p: float) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in names:
        if name == "squat":
            out[name] = SQUAT
        elif name == "1080p":
            CLIP_DIR.mkdir(exist_ok=True)
            out[name] = make_clip(CLIP_DIR / f"squat_1080x1920_{seconds_1080p:g}s.mp4", width=1080, height=1920,
                                  seconds=seconds_1080p)
        else:
            out[name] = Path(name)
    return out


def limits(st: dict[str, float], naive_poses: int, ours_poses: str) -> dict[str, float]:
    """CPU ms per frame of each pipeline's stages, and the 2-core frame rate that bounds it."""
    naive = st["decode"] + st[f"pose_P{naive_poses}"] + st["draw_naive"] + st["encode_mp4writer"]
    pose = st["pose_P1"] + st["census_amortized"] if ours_poses == "auto" else st[f"pose_P{ours_poses}"]
    ours = 2 * st["decode"] + pose + st["draw_annotator"] + st["encode_h264writer"]
    return {"naive_ms": naive, "naive_limit_fps": 2000 / naive, "ours_ms": ours, "ours_limit_fps": 2000 / ours}


class PrefectServer:
    """`prefect server start` on 127.0.0.1 with its own PREFECT_HOME; stopped by PID (its process group)."""

    def __init__(self, port: int = 4299) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="motionlens-bench-prefect-"))
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {**QUIET, "PREFECT_HOME": str(self.home)}

    def start(self, timeout_s: float = 180) -> float:
        import httpx

        t = time.perf_counter()
        log = (self.home / "server.log").open("wb")
        env = {**os.environ, **self.env(), "PREFECT_UI_ENABLED": "false",
               "PREFECT_API_SERVICES_SCHEDULER_ENABLED": "false",
               "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.home / 'prefect.db'}"}
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
                                      "127.0.0.1", "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        while time.perf_counter() - t < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError((self.home / "server.log").read_text()[-2000:])
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return time.perf_counter() - t
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError("prefect server did not start")

    def stop(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.home, ignore_errors=True)


def run_cli(video: Path, env: dict[str, str], pythonpath: str | None) -> dict[str, Any]:
    """`motionlens analyze VIDEO --activity weightlifting --json`, process start to exit."""
    storage = Path(tempfile.mkdtemp(prefix="motionlens-bench-store-"))
    full_env = {**os.environ, **env}
    if pythonpath:
        full_env["PYTHONPATH"] = pythonpath + os.pathsep + full_env.get("PYTHONPATH", "")
    t = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "motionlens"), "analyze", str(video), "--activity",
                           "weightlifting", "--exercise", "back_squat", "--storage", str(storage), "--json"],
                          capture_output=True, text=True, env=full_env, cwd=ROOT)
    wall = time.perf_counter() - t
    shutil.rmtree(storage, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "timings_s": m.get("timings_s"), "processing_time_s": m.get("processing_time_s"),
            "stderr_tail": proc.stderr.strip().splitlines()[-4:]}


def fmt(x: float, nd: int = 1) -> str:
    return f"{x:.{nd}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", default="squat,1080p", help="squat, 1080p or video paths, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds-1080p", type=float, default=30.0)
    p.add_argument("--naive-poses", type=int, default=1, help="num_poses of the naive loop (DESIGN §9: 1)")
    p.add_argument("--num-poses", default="auto", help="ours: auto | 1 | 3")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sequential", action="store_true", help="also the pre-issue-9 stages (estimate_athlete + render_with)")
    p.add_argument("--cli", action="store_true", help="also `motionlens analyze` against a running Prefect server")
    p.add_argument("--cli-pythonpath", help="also run the CLI from this source tree (to compare a change)")
    p.add_argument("--cli-env", action="append", default=[], help="KEY=VALUE for the CLI runs (e.g. MOTIONLENS_WORKERS=2)")
    p.add_argument("--long-minutes", type=float, default=0.0, help="peak RSS of ours on a 1080p clip this long")
    p.add_argument("--json", help="also write every raw result to this file")
    a = p.parse_args()

    clips = clip_paths([c for c in a.clips.split(",") if c], a.seconds_1080p)
    raw: dict[str, Any] = {}
    server = PrefectServer() if a.cli or a.cli_pythonpath else None
    if server is not None:
        print(f"prefect server started in {server.start():.1f} s ({server.url})", flush=True)
    try:
        for name, video in clips.items():
            st = run_child("bench.stages", str(video))
            lim = limits(st, a.naive_poses, a.num_poses)
            rows: dict[str, list[dict[str, Any]]] = {}
            for _ in range(a.repeats):
                rows.setdefault("naive", []).append(run_child("bench.naive", str(video), "--num-poses",
                                                              str(a.naive_poses)))
                rows.setdefault("ours", []).append(run_child("bench.ours", str(video), "--workers", str(a.workers),
                                                             "--num-poses", a.num_poses))
                if a.sequential:
                    rows.setdefault("sequential", []).append(run_child("bench.ours", str(video), "--sequential",
                                                                       "--num-poses", "3"))
                if server is not None:
                    env = {**server.env(), "PREFECT_API_URL": server.url,
                           **dict(kv.split("=", 1) for kv in a.cli_env)}
                    if a.cli:
                        rows.setdefault("cli", []).append(run_cli(video, env, None))
                    if a.cli_pythonpath:
                        rows.setdefault("cli " + a.cli_pythonpath, []).append(run_cli(video, env, a.cli_pythonpath))
            raw[name] = {"video": str(video), "stages": st, "limits": lim, "runs": rows}
            if rows:
                report(name, video, st, lim, rows, a)
        if a.long_minutes > 0:
            CLIP_DIR.mkdir(exist_ok=True)
            long_clip = make_clip(CLIP_DIR / f"squat_1080x1920_{a.long_minutes:g}min.mp4", width=1080, height=1920,
                                  seconds=a.long_minutes * 60 - 1, preset="ultrafast")
            r = run_child("bench.ours", str(long_clip), "--workers", str(a.workers), "--num-poses", a.num_poses,
                          env={"MOTIONLENS_MAX_DURATION_S": str(a.long_minutes * 60 + 5)}, timeout=4 * 3600)
            raw["long"] = r
            print(f"\n{a.long_minutes:g}-minute 1080x1920 clip ({r['frames']} frames): ours {fmt(r['fps'])} fps, "
                  f"wall {fmt(r['wall_s'])} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    finally:
        if server is not None:
            server.stop()
    if a.json:
        Path(a.json).write_text(json.dumps(raw, indent=1))


def report(name: str, video: Path, st: dict[str, float], lim: dict[str, float], rows: dict[str, list[dict[str, Any]]],
           a: argparse.Namespace) -> None:
    print(f"\n== {name}: {video.name} ({int(st['width'])}x{int(st['height'])}) ==")
    print("per-stage CPU ms/frame (each stage alone): " + ", ".join(
        f"{k} {st[k]:.1f}" for k in ("decode", "pose_P1", "pose_P3", "census_amortized", "draw_naive",
                                     "draw_annotator", "encode_mp4writer", "encode_h264writer")))
    print(f"naive loop: {lim['naive_ms']:.1f} ms CPU/frame -> 2-core limit {lim['naive_limit_fps']:.1f} fps; "
          f"ours (decodes twice, richer drawing): {lim['ours_ms']:.1f} ms -> {lim['ours_limit_fps']:.1f} fps")
    naive_fps = [r["fps"] for r in rows["naive"]]
    frames = rows["naive"][0]["frames"]
    for key, runs in rows.items():
        if key.startswith("cli"):
            fps = [frames / r["wall_s"] for r in runs]
            ratio = [f / n for f, n in zip(fps, naive_fps)]
            print(f"  motionlens analyze [{key}] (Prefect server, process start to exit): median {median([r['wall_s'] for r in runs]):.2f} s "
                  f"= {median(fps):.1f} fps, x{median(ratio):.2f} the naive loop, "
                  f"{100 * median(fps) / lim['naive_limit_fps']:.0f} % of the naive 2-core limit; "
                  f"timings {runs[-1]['timings_s']}")
            continue
        fps = [r["fps"] for r in runs]
        ratio = [f / n for f, n in zip(fps, naive_fps)]
        stages = ""
        if "stages" in runs[0]:
            stages = "; stages wall/CPU s: " + ", ".join(
                f"{s} {median([r['stages'][s]['wall_s'] for r in runs]):.2f}/{median([r['stages'][s]['cpu_s'] for r in runs]):.2f}"
                for s in runs[0]["stages"])
        print(f"  {runs[0]['variant']:28s} median {median(fps):5.1f} fps (runs {[round(f, 1) for f in fps]}), "
              f"x{median(ratio):.2f} naive, {100 * median(fps) / lim['naive_limit_fps']:.0f} % of naive limit, "
              f"{100 * median(fps) / lim['ours_limit_fps']:.0f} % of own limit, CPU {median([r['cpu_s'] for r in runs]):.1f} s, "
              f"peak RSS {median([r['peak_rss_mb'] for r in runs]):.0f} MB{stages}", flush=True)


if __name__ == "__main__":
    main()
