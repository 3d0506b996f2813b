"""Who owns a piece of work, and whether that owner is still running.

An owner is a process named by host, PID namespace, PID and start time (clock ticks since boot,
from /proc): a PID alone is reused, the start time tells a new process under an old PID apart.
On the same host and namespace liveness is exact; elsewhere it is unknown (None) and callers
fall back on how recently the owner renewed its claim.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any


def _start_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@functools.cache
def _identity(pid: int) -> dict[str, Any]:
    return {"host": socket.gethostname(), "pidns": _pid_namespace(), "pid": pid, "start": _start_ticks(pid)}


def this_process() -> dict[str, Any]:
    """The owner record of the calling process (cached per PID: a fork gets its own)."""
    return dict(_identity(os.getpid()))


def process_on_this_host(pid: int) -> dict[str, Any]:
    """The owner record of another process of this host and PID namespace."""
    return {**_identity(os.getpid()), "pid": pid, "start": _start_ticks(pid)}


def is_alive(owner: dict[str, Any]) -> bool | None:
    """True / False when the owner runs on this host and PID namespace, None when it cannot be told."""
    me = _identity(os.getpid())
    if owner.get("host") != me["host"] or owner.get("pidns") != me["pidns"]:
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == me["pid"]:
        return owner.get("start") == me["start"]
    start = _start_ticks(pid)
    if start is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): the PID exists, start time unknown
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return owner.get("start") is None
    return start == owner.get("start")
