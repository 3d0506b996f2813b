"""Prefect's fixed cost per run, process start to exit, for a 5-task flow that does nothing:
ephemeral API with a fresh PREFECT_HOME (cold), the same home again (warm), and a running
`prefect server` on 127.0.0.1 (started here with its own PREFECT_HOME, stopped by PID after).

    python -m bench.prefect_overhead [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median, run_child
from bench.run import PrefectServer


def python_s(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    rows: dict[str, list[float]] = {}
    inner: dict[str, list[float]] = {}
    for _ in range(a.repeats):
        rows.setdefault("python -c pass", []).append(python_s("pass"))
        rows.setdefault("import prefect", []).append(python_s("import prefect"))
        rows.setdefault("import flows.analyze (all pipeline imports)", []).append(python_s("import flows.analyze"))
        home = Path(tempfile.mkdtemp(prefix="motionlens-bench-prefect-home-"))
        try:
            for case in ("ephemeral cold (fresh PREFECT_HOME)", "ephemeral warm (same PREFECT_HOME)"):
                r = run_child("bench.trivial_flow", env={"PREFECT_HOME": str(home), "PREFECT_API_URL": ""})
                rows.setdefault(case, []).append(r["process_wall_s"])
                inner.setdefault(case, []).append(r["flow_s"])
        finally:
            shutil.rmtree(home, ignore_errors=True)
    server = PrefectServer(port=4298)
    started = server.start()
    try:
        run_child("bench.trivial_flow", env={**server.env(), "PREFECT_API_URL": server.url})   # registers the flow
        for _ in range(a.repeats):
            r = run_child("bench.trivial_flow", env={**server.env(), "PREFECT_API_URL": server.url})
            rows.setdefault("running prefect server", []).append(r["process_wall_s"])
            inner.setdefault("running prefect server", []).append(r["flow_s"])
    finally:
        server.stop()
    print(f"prefect server start (once): {started:.1f} s")
    for case, values in rows.items():
        extra = f" (flow call {median(inner[case]):.2f} s)" if case in inner else ""
        print(f"{case:48s} median {median(values):5.2f} s  runs {[round(v, 2) for v in values]}{extra}")


if __name__ == "__main__":
    main()
