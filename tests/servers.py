"""Real servers for tests, on free loopback ports: the GCS emulator, a Prefect server, a
`motionlens worker`, and a small proxy that adds to the emulator what it lacks.

Every server runs in its own process group (`start_new_session=True`) so that stopping it also
stops its children (uvicorn under `prefect server start`, flow-run processes under the worker).
Stopping sends SIGTERM to the group, waits, then SIGKILL. Output goes to a log file whose tail is
shown when a server does not come up.
"""

from __future__ import annotations

import contextlib
import email.parser
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import httpx

BIN = Path(sys.executable).parent
QUIET_PREFECT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One server subprocess in its own process group, with its output in `log_path`."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         cwd=self.cwd, start_new_session=True)
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode if self.proc else '?'} "
                                   f"before {what}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} not {what} after {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM to the whole group, then SIGKILL after `timeout_s`; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(10)
        self._signal_group(signal.SIGKILL)  # children that outlived their parent
        return self.proc.returncode

    def kill(self) -> None:
        """Like a machine losing power: SIGKILL to the group at once."""
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(10)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # start_new_session: the group id is the pid
        except ProcessLookupError:
            pass


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- GCS emulator ---------------------------------------------------------------------------------

@dataclass
class GcsEmulator:
    """`gcp-storage-emulator` on 127.0.0.1; in memory, or on disk so that it can be restarted."""

    tmp: Path
    data_dir: Path | None = None
    port: int = field(default_factory=free_port)
    process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> GcsEmulator:
        store = ["-d", str(self.data_dir)] if self.data_dir else []
        memory = [] if self.data_dir else ["--in-memory"]
        argv = [str(BIN / "gcp-storage-emulator"), *store, "start", "--host", "127.0.0.1", "--port", str(self.port),
                *memory, "-q"]
        self.process = ServerProcess("gcp-storage-emulator", argv, self.tmp / f"gcs-emulator-{self.port}.log").start()
        self.process.wait_until(lambda: httpx.get(self.url + "/", timeout=2).text == "OK", timeout_s, "healthy")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self) -> GcsEmulator:
        self.stop()
        return self.start()

    def create_bucket(self, name: str) -> None:
        r = httpx.post(f"{self.url}/storage/v1/b", params={"project": "test"}, json={"name": name}, timeout=10)
        if r.status_code not in (200, 409):
            raise RuntimeError(f"could not create bucket {name}: {r.status_code} {r.text}")


@contextlib.contextmanager
def running_gcs_emulator(tmp: Path, data_dir: Path | None = None) -> Iterator[GcsEmulator]:
    """A started `GcsEmulator` (in memory, or on disk under `data_dir`), stopped on exit whatever happens.

    It stops whichever process the emulator has by then, so a test that restarted it leaves no orphan.
    """
    emulator = GcsEmulator(tmp, data_dir=data_dir)
    try:
        yield emulator.start()
    finally:
        emulator.stop()


# --- Prefect server and worker ----------------------------------------------------------------------

def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = {**QUIET_PREFECT, "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@dataclass
class PrefectServer:
    """`prefect server start` with its own PREFECT_HOME and SQLite database in `tmp`."""

    tmp: Path
    port: int = field(default_factory=free_port)
    scheduler: bool = False          # off: tests trigger scheduled deployments themselves
    process: ServerProcess | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout_s: float = 120.0) -> PrefectServer:
        home = self.tmp / "prefect-server-home"
        home.mkdir(parents=True, exist_ok=True)
        env = {**prefect_env(home),
               "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
               "PREFECT_UI_ENABLED": "false",
               "PREFECT_API_SERVICES_SCHEDULER_ENABLED": "true" if self.scheduler else "false"}
        argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = ServerProcess("prefect server", argv, self.tmp / "prefect-server.log", env).start()
        self.process.wait_until(lambda: httpx.get(self.api_url + "/health", timeout=2).status_code == 200,
                                timeout_s, "healthy")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=15)

    def deployment_names(self) -> set[str]:
        r = httpx.post(self.api_url + "/deployments/filter", json={"limit": 200}, timeout=10)
        r.raise_for_status()
        flows = httpx.post(self.api_url + "/flows/filter", json={"limit": 200}, timeout=10).json()
        flow_names = {f["id"]: f["name"] for f in flows}
        return {f"{flow_names.get(d['flow_id'], '?')}/{d['name']}" for d in r.json()}


def start_worker(tmp: Path, api_url: str, storage_uri: str, env: Mapping[str, str],
                 expect: tuple[str, ...], server: PrefectServer, timeout_s: float = 120.0) -> ServerProcess:
    """`motionlens worker --storage URI`, ready when the server lists the `expect`ed deployments."""
    home = tmp / "worker-home"
    home.mkdir(parents=True, exist_ok=True)
    full_env = {**prefect_env(home, api_url), "PREFECT_RUNNER_POLL_FREQUENCY": "1", **env}
    argv = [str(BIN / "motionlens"), "worker", "--storage", storage_uri]
    worker = ServerProcess("motionlens worker", argv, tmp / "worker.log", full_env, cwd=home).start()  # not the repo
    worker.wait_until(lambda: set(expect) <= server.deployment_names(), timeout_s, "serving its deployments")
    return worker


# --- a proxy in front of the emulator ---------------------------------------------------------------

@dataclass
class ProxiedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    bucket: str | None
    object_name: str | None


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te",
               "trailer", "upgrade"}


class GcsProxy:
    """A loopback HTTP proxy in front of the emulator that adds what the emulator lacks.

    - Preconditions: `ifGenerationMatch` is enforced (412 when the object's generation differs,
      0 meaning "must not exist"), atomically, since requests pass one at a time.
    - Faults: `drop_next_responses(n)` forwards the next n requests that match and then hangs up
      without answering (a lost response); `on_request` sees every request before it is forwarded
      (a test stops the emulator there, "in the middle of publishing"). When the upstream is down
      the client's connection is closed without an answer, as a dead server would.
    """

    def __init__(self, upstream: str, *, enforce_preconditions: bool = True) -> None:
        self.upstream = urlparse(upstream)
        self.enforce_preconditions = enforce_preconditions
        self.on_request: Callable[[ProxiedRequest], None] | None = None
        self._drop: tuple[int, Callable[[ProxiedRequest], bool]] = (0, lambda r: False)
        self._lock = threading.Lock()
        self.log: list[tuple[ProxiedRequest, int | None]] = []   # every request (without body) and its status
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gcs-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GcsProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def drop_next_responses(self, n: int, match: Callable[[ProxiedRequest], bool] = lambda r: True) -> None:
        with self._lock:
            self._drop = (n, match)

    # internals
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = self._parse(h, body)
        if self.on_request is not None:
            self.on_request(req)
        with self._lock:
            status = self._precondition_status(req) if self.enforce_preconditions else None
            if status is not None:
                self.log.append((replace(req, body=b""), status))
                self._reply(h, status, {"Content-Type": "application/json"}, json.dumps(
                    {"error": {"code": status, "message": "At least one of the pre-conditions you specified did "
                               "not hold.", "errors": [{"reason": "conditionNotMet"}]}}).encode())
                return
            try:
                status, headers, data = self._forward(req)
            except OSError:
                self.log.append((replace(req, body=b""), None))
                h.close_connection = True          # upstream down: hang up without an answer
                return
            self.log.append((replace(req, body=b""), status))
            drop_n, match = self._drop
            if drop_n > 0 and match(req):
                self._drop = (drop_n - 1, match)
                h.close_connection = True          # done upstream, but the answer is "lost"
                return
        self._reply(h, status, headers, data)

    def _parse(self, h: BaseHTTPRequestHandler, body: bytes) -> ProxiedRequest:
        url = urlparse(h.path)
        query = parse_qs(url.query)
        parts = url.path.split("/")
        bucket = name = None
        if "b" in parts:
            i = parts.index("b")
            bucket = parts[i + 1] if len(parts) > i + 1 else None
            if len(parts) > i + 3 and parts[i + 2] == "o":
                name = unquote("/".join(parts[i + 3:]))
        if "name" in query:
            name = query["name"][0]
        elif name is None and body and "multipart/related" in (h.headers.get("Content-Type") or ""):
            msg = email.parser.BytesParser().parsebytes(
                b"Content-Type: " + h.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
            parts = msg.get_payload() if msg.is_multipart() else []
            if parts:   # the first part of a multipart upload is the object's JSON metadata
                name = json.loads(parts[0].get_payload(decode=True)).get("name")
        return ProxiedRequest(h.command, url.path, query, dict(h.headers), body, bucket, name)

    def _precondition_status(self, req: ProxiedRequest) -> int | None:
        wanted = req.query.get("ifGenerationMatch")
        if not wanted or not req.bucket or not req.object_name:
            return None
        status, _, data = self._forward(ProxiedRequest(
            "GET", f"/storage/v1/b/{req.bucket}/o/{quote(req.object_name, safe='')}", {}, {}, b"", req.bucket,
            req.object_name))
        current = int(json.loads(data)["generation"]) if status == 200 else 0
        return None if current == int(wanted[0]) else 412

    def _forward(self, req: ProxiedRequest) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            query = "&".join(f"{quote(k)}={quote(v)}" for k, vs in req.query.items() for v in vs)
            headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(req.method, req.path + (f"?{query}" if query else ""), body=req.body or None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k: v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}, data
        finally:
            conn.close()

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], data: bytes) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


@contextlib.contextmanager
def running_gcs_proxy(emulator: GcsEmulator) -> Iterator[GcsProxy]:
    """A started `GcsProxy` in front of `emulator`, shut down on exit whatever happens."""
    proxy = GcsProxy(emulator.url).start()   # started before `try`: stopping an unstarted proxy would hang
    try:
        yield proxy
    finally:
        proxy.stop()
