"""`motionlens server start|stop|status`: a local Prefect server kept running between analyses.

Started once (≈ 10-20 s on 2 cores), it makes every later `motionlens analyze` a Prefect flow run
that shows in its UI, for ≈ 2-3 s of overhead per run instead of the ephemeral API's 10-17 s.
`motionlens.runner` finds it through the state file `$PREFECT_HOME/motionlens-server.json`
(no PREFECT_API_URL needed); `stop` ends it by the process id recorded there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4200
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def state_path() -> Path:
    return prefect_home() / "motionlens-server.json"


def _read_state() -> dict[str, Any] | None:
    try:
        return json.loads(state_path().read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(api_url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(api_url + "/health", timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


def running_server_url() -> str | None:
    """The API URL of the server `start` left running (its process alive and healthy), else None."""
    state = _read_state()
    if not state or not _alive(int(state["pid"])):
        return None
    return state["api_url"] if healthy(state["api_url"]) else None


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def start(port: int | None = None, timeout_s: float = 180.0) -> dict[str, Any]:
    """Start `prefect server start` on 127.0.0.1 in the background (its own session, log in
    PREFECT_HOME), wait until healthy, record it; an already running one is returned as is."""
    if (state := _read_state()) and running_server_url():
        return {**state, "already_running": True}
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port(port or DEFAULT_PORT)
    prefect_bin = Path(sys.executable).parent / "prefect"
    argv = [str(prefect_bin), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log = home / "motionlens-server.log"
    env = {**os.environ, **QUIET, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    api_url = f"http://127.0.0.1:{port}/api"
    state = {"pid": proc.pid, "port": port, "api_url": api_url, "ui_url": f"http://127.0.0.1:{port}",
             "log": str(log), "started_at": time.time()}
    deadline = time.monotonic() + timeout_s
    while not healthy(api_url):
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            _terminate(proc.pid)
            raise TimeoutError(f"prefect server not healthy after {timeout_s:.0f} s; see {log}")
        time.sleep(0.5)
    state_path().write_text(json.dumps(state))
    return state


def _terminate(pid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM to the server's process group (it runs in its own session), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:       # not our child: poll whether it is gone
                if not _alive(pid):
                    return
            time.sleep(0.2)


def stop() -> dict[str, Any] | None:
    """Stop the server `start` recorded; None when none was recorded."""
    state = _read_state()
    if state is None:
        return None
    if _alive(int(state["pid"])):
        _terminate(int(state["pid"]))
    state_path().unlink(missing_ok=True)
    return state


def status() -> dict[str, Any] | None:
    state = _read_state()
    if state is None:
        return None
    return {**state, "running": running_server_url() is not None}


def main(action: str, port: int | None = None) -> int:
    """The `motionlens server` command."""
    if action == "start":
        print("starting a Prefect server on 127.0.0.1 (once; ≈ 10-20 s)...", file=sys.stderr)
        state = start(port)
        what = "already running" if state.get("already_running") else "started"
        print(f"Prefect server {what} (pid {state['pid']}): UI {state['ui_url']}  API {state['api_url']}",
              file=sys.stderr)
        print("`motionlens analyze` now runs as Prefect flow runs shown there; "
              "`motionlens server stop` ends it.", file=sys.stderr)
        return 0
    if action == "stop":
        state = stop()
        print(f"stopped the Prefect server (pid {state['pid']})" if state else "no Prefect server recorded",
              file=sys.stderr)
        return 0
    state = status()
    if state and state["running"]:
        print(f"running (pid {state['pid']}): UI {state['ui_url']}  API {state['api_url']}")
        return 0
    print("not running (`motionlens analyze` runs in-process; `motionlens server start` to see runs in Prefect)")
    return 3
