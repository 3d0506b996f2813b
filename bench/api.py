"""The retrieval API under load: requests/s, latency, and the server's CPU time per request.

Two servers on 127.0.0.1, each one uvicorn process: `motionlens serve` over a storage holding one
session really analysed by `pipeline.analysis.run_session` (power_clean_side.mp4, weightlifting,
exercise clean, with its annotated video), and `bench/bare_app.py`, a bare Starlette JSON endpoint
served the same way. Concurrent httpx clients (one keep-alive connection each) send N requests to
each endpoint; every repeat measures all endpoints, in a rotated order, and the table gives medians.

The server's CPU time per request (user + system of its process, all threads, from /proc/PID/stat)
is the number to compare: it moves much less than requests/s and latency with what else runs on the
machine (it still rises under contention, for both servers alike: compare ratios from one run).
Requests/s and latency are bounded by the load generator, which runs on the same 2 cores.

The storage is built once (a child process: mediapipe stays out of the load generator) in
`$TMPDIR/motionlens-bench/api-store`, with `api-store.json` (session id and API key) beside it.

    python -m bench.api [--requests 2000] [--export-requests 300] [--concurrency 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CACHE, QUIET, ROOT, SHARED_VIDEOS, emit, median, run_child
from tests.support_api import stop_process

STORE = CACHE / "api-store"
STORE_INFO = CACHE / "api-store.json"
CLIP = SHARED_VIDEOS / "power_clean_side.mp4"
OWNER = "bench"
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def prepare() -> dict[str, str]:
    """Analyse CLIP into a fresh storage and create a key; the storage replaces STORE only when complete."""
    from api.keys import create_key
    from pipeline.analysis import run_session
    from pipeline.options import AnalysisOptions
    from pipeline.storage import LocalStorage

    part = STORE.with_name(STORE.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    storage = LocalStorage(part)
    manifest = run_session(storage, str(CLIP), AnalysisOptions("weightlifting", exercise="clean", owner=OWNER))
    if manifest["status"] != "completed":
        raise RuntimeError(f"analysis of {CLIP.name} failed: {manifest.get('error')}")
    token, _ = create_key(storage, OWNER, ("sessions:read", "exports:read"))
    STORE_INFO.unlink(missing_ok=True)
    shutil.rmtree(STORE, ignore_errors=True)
    part.rename(STORE)
    info = {"session_id": manifest["session_id"], "activity": "weightlifting", "token": token, "clip": CLIP.name}
    STORE_INFO.write_text(json.dumps(info))
    return info


def cached_store() -> dict[str, str]:
    if STORE_INFO.exists():
        info = json.loads(STORE_INFO.read_text())
        if (STORE / "sessions" / info["session_id"] / "session.json").is_file():
            return info
    print(f"analysing {CLIP.name} once into {STORE} ...", flush=True)
    return run_child("bench.api", "--prepare")


# --- servers -----------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process, all its threads (10 ms ticks)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; utime, stime are fields 14, 15
        return (int(fields[11]) + int(fields[12])) * _TICK_S


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(name: str, argv: list[str], ready_path: str, timeout_s: float = 60) -> Server:
    """`python argv --port N` on 127.0.0.1; waits until `ready_path` answers 200. The log is a file,
    not a pipe: uvicorn's access log would fill a pipe and block the server."""
    import httpx

    port = _free_port()
    log = CACHE / f"api-bench-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, **QUIET})
    server = Server(name, f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(server.base + ready_path, timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"{name} did not answer {ready_path} in {timeout_s:.0f} s")
        time.sleep(0.1)


# --- load --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    name: str
    server: Server
    path: str
    headers: dict[str, str]
    requests: int


async def _drive(ep: Endpoint, concurrency: int, warmup: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    sizes: list[int] = []

    async def worker(client: httpx.AsyncClient, n: int, record: bool) -> None:
        for _ in range(n):
            t = time.perf_counter()
            r = await client.get(ep.path, headers=ep.headers)
            elapsed = time.perf_counter() - t
            if r.status_code != 200:
                raise RuntimeError(f"{ep.name}: GET {ep.path} -> {r.status_code} {r.text[:300]}")
            if record:
                latencies.append(elapsed)
                sizes.append(r.num_bytes_downloaded)

    clients = [httpx.AsyncClient(base_url=ep.server.base, timeout=60, limits=httpx.Limits(max_connections=1))
               for _ in range(concurrency)]
    try:
        await asyncio.gather(*(worker(c, warmup, False) for c in clients))  # connects, warms caches
        share = [ep.requests // concurrency + (i < ep.requests % concurrency) for i in range(concurrency)]
        server_cpu, client_cpu, wall = ep.server.cpu_s(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(c, n, True) for c, n in zip(clients, share, strict=True)))
        wall = time.perf_counter() - wall
        client_cpu = time.process_time() - client_cpu
        server_cpu = ep.server.cpu_s() - server_cpu
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    latencies.sort()
    n = len(latencies)
    return {"rps": n / wall, "p50_ms": 1000 * latencies[n // 2], "p95_ms": 1000 * latencies[int(0.95 * n)],
            "server_us": 1e6 * server_cpu / n, "client_us": 1e6 * client_cpu / n, "bytes": median(sizes)}


def idle_cpu_ms_per_s(servers: list[Server], seconds: float = 2.0) -> dict[str, float]:
    before = {s.name: s.cpu_s() for s in servers}
    time.sleep(seconds)
    return {s.name: 1000 * (s.cpu_s() - before[s.name]) / seconds for s in servers}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000, help="per endpoint and repeat (light endpoints)")
    p.add_argument("--export-requests", type=int, default=300, help="per repeat for the export")
    p.add_argument("--concurrency", type=int, default=4, help="clients, one keep-alive connection each")
    p.add_argument("--warmup", type=int, default=25, help="unmeasured requests per client before each measure")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    CACHE.mkdir(exist_ok=True)
    if a.prepare:
        emit(prepare())
        return
    info = cached_store()
    sid, auth = info["session_id"], {"Authorization": f"API-KEY {info['token']}"}
    gzip = {"Accept-Encoding": "gzip"}
    servers: list[Server] = []
    try:
        api = start_server("serve", ["-m", "motionlens.cli", "serve", "--host", "127.0.0.1", "--storage", str(STORE)],
                           "/health")
        servers.append(api)
        bare = start_server("bare", ["-m", "bench.bare_app"], "/")
        servers.append(bare)
        idle = idle_cpu_ms_per_s(servers)
        endpoints = [
            Endpoint("bare", bare, "/", gzip, a.requests),
            Endpoint("health", api, "/health", gzip, a.requests),
            Endpoint("detail", api, f"/weightlifting/sessions/{sid}/", {**auth, **gzip}, a.requests),
            Endpoint("export", api, f"/weightlifting/sessions/{sid}/export/", {**auth, **gzip}, a.export_requests),
        ]
        runs: list[dict[str, dict[str, float]]] = []
        for r in range(a.repeats):
            order = endpoints[r % len(endpoints):] + endpoints[:r % len(endpoints)]
            runs.append({ep.name: asyncio.run(_drive(ep, a.concurrency, a.warmup)) for ep in order})
            print(f"repeat {r + 1}/{a.repeats}: " + ", ".join(
                f"{name} {m['server_us']:.0f} µs/{m['rps']:.0f} req/s" for name, m in runs[-1].items()), flush=True)
    finally:
        for s in servers:
            stop_process(s.proc)
    report(a, runs, idle, info)


def report(a: argparse.Namespace, runs: list[dict[str, dict[str, float]]], idle: dict[str, float],
           info: dict[str, str]) -> None:
    names = list(runs[0])
    names.sort(key=["bare", "health", "detail", "export"].index)
    med = {n: {k: median([run[n][k] for run in runs]) for k in runs[0][n]} for n in names}
    # Paired within a repeat, then the median over repeats.
    ratios = {
        "detail_server_cpu_x_bare": median([run["detail"]["server_us"] / run["bare"]["server_us"] for run in runs]),
        "detail_rps_share_of_bare": median([run["detail"]["rps"] / run["bare"]["rps"] for run in runs]),
        "health_server_cpu_x_bare": median([run["health"]["server_us"] / run["bare"]["server_us"] for run in runs]),
    }
    paths = {"bare": "bare Starlette GET /", "health": "GET /health",
             "detail": "GET /weightlifting/sessions/{id}/", "export": "GET .../export/ (JSON, gzip)"}
    print(f"\n{info['clip']} session {info['session_id']}; {a.concurrency} keep-alive clients, "
          f"{a.requests} requests ({a.export_requests} for the export) x {a.repeats} repeats; medians\n")
    print(f"{'endpoint':<36} {'body B':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'server CPU µs/req':>18} "
          f"{'1-core req/s':>13} {'client CPU µs/req':>18}")
    for n in names:
        m = med[n]
        print(f"{paths[n]:<36} {m['bytes']:>7.0f} {m['rps']:>7.0f} {m['p50_ms']:>7.2f} {m['p95_ms']:>7.2f} "
              f"{m['server_us']:>18.0f} {1e6 / m['server_us']:>13.0f} {m['client_us']:>18.0f}")
    print("(1-core req/s = 1 s / server CPU per request: what the one uvicorn process could serve with a core "
          "to itself)")
    print(f"\nsession detail: {ratios['detail_server_cpu_x_bare']:.2f}x the bare endpoint's server CPU per request, "
          f"i.e. a server-bound throughput of {100 / ratios['detail_server_cpu_x_bare']:.0f} % of it "
          f"(DESIGN §9 asks >= 50 %);")
    print(f"measured req/s: {100 * ratios['detail_rps_share_of_bare']:.0f} % of the bare endpoint's "
          "(bounded by the load generator on the same cores).")
    print("server CPU when idle, ms/s: " + ", ".join(f"{k} {v:.1f}" for k, v in idle.items()))
    emit({"variant": "api", "clip": info["clip"], "concurrency": a.concurrency, "requests": a.requests,
          "export_requests": a.export_requests, "repeats": a.repeats, "median": med, "ratios": ratios,
          "idle_cpu_ms_per_s": idle, "runs": runs})


if __name__ == "__main__":
    main()
