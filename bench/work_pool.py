"""Clips per minute on a Prefect `process` work pool with 1 and 2 workers vs `motionlens analyze` in a loop.

    python -m bench.work_pool [--clips 4] [--clip jumps_synthetic_30fps.mp4] [--repeats 1]

A `prefect server` on 127.0.0.1 (own home, stopped by PID), the deployments registered with
`flows.deployments.deploy_to_pool`, then per repeat, in turn: the CLI in a loop (in-process, no
Prefect), the batch on 1 worker, the batch on 2 workers (`prefect worker start --pool`, already
running when the clock starts: workers are long-lived). Every clip gets a storage of its own, so
the pose cache never helps. Clock: first submission to the last run's end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import QUIET, ROOT, SHARED_VIDEOS, median


def cli_loop(sources: list[Path], work: Path) -> float:
    t = time.perf_counter()
    for i, src in enumerate(sources):
        subprocess.run([str(Path(sys.executable).parent / "motionlens"), "analyze", str(src), "--activity", "jumping",
                        "--storage", str(work / f"cli-{i}")], check=True, capture_output=True,
                       env={k: v for k, v in {**os.environ, **QUIET, "PYTHONPATH": str(ROOT)}.items()
                            if k != "PREFECT_API_URL"})
    return time.perf_counter() - t


def pool_batch(server, pool: str, sources: list[Path], work: Path, tag: str) -> float:
    from tests.work_pool import wait_for_runs
    from flows.triggers import submit_analysis
    from pipeline.session import new_session_id
    from prefect.settings import PREFECT_API_URL, temporary_settings

    t = time.perf_counter()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        ids = [submit_analysis((work / f"{tag}-{i}").as_uri(), new_session_id(), str(src), {"activity": "jumping"},
                               tags=[tag]) for i, src in enumerate(sources)]
    runs = wait_for_runs(server.api_url, ids, timeout_s=3600)
    wall = time.perf_counter() - t
    bad = [r.state_name for r in runs.values() if not r.state.is_completed()]
    if bad:
        raise RuntimeError(f"runs did not complete: {bad}")
    return wall


def main(argv: list[str] | None = None) -> int:
    from tests.servers import PrefectServer
    from tests.work_pool import create_pool, pool_workers_running, register

    p = argparse.ArgumentParser()
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--clip", default="jumps_synthetic_30fps.mp4")
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    sources = [SHARED_VIDEOS / a.clip] * a.clips
    pool = "motionlens-bench"
    server = PrefectServer(tmp).start()
    walls: dict[str, list[float]] = {"cli loop": [], "pool, 1 worker": [], "pool, 2 workers": []}
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()[0]:.1f}; {a.clips} x {a.clip}",
          file=sys.stderr)
    try:
        create_pool(tmp, server, pool)
        register(tmp, server, (tmp / "default-store").as_uri(), pool)
        for r in range(a.repeats):
            walls["cli loop"].append(cli_loop(sources, tmp / f"r{r}"))
            for n in (1, 2):
                with pool_workers_running(tmp / f"r{r}-w{n}", server, pool, n):
                    walls[f"pool, {n} worker{'s' if n > 1 else ''}"].append(
                        pool_batch(server, pool, sources, tmp / f"r{r}", f"w{n}"))
            print(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in walls.items()), file=sys.stderr)
    finally:
        server.stop()
    rows = {k: {"wall_s": median(v), "clips_per_min": a.clips / median(v) * 60} for k, v in walls.items()}
    for k, v in rows.items():
        print(f"{k}: {v['wall_s']:.1f} s for {a.clips} clips, {v['clips_per_min']:.2f} clips/min", file=sys.stderr)
    print(json.dumps({"clip": a.clip, "clips": a.clips, "load_average": os.getloadavg(), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
