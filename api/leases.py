"""Which API process is responsible for a submitted session, kept in the storage: `runs/{id}.json`.

A lease is taken before the 202 and released when the session ends (or when a Prefect run takes it
over). It names its owner (`pipeline.liveness`) and carries what a rerun needs (activity, source,
options, owner), so a session left `queued`/`processing` by a process that died can be found in
one listing of `runs/` and requeued or failed (`api.recovery`). An owner that cannot be checked
from here (another host) is presumed dead when it has not renewed its lease for `ttl_s`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pipeline.liveness import is_alive, this_process
from pipeline.storage import Storage

PREFIX = "runs/"


def lease_key(session_id: str) -> str:
    return f"{PREFIX}{session_id}.json"


@dataclass(frozen=True)
class Lease:
    session_id: str
    activity: str
    source: str
    options: dict[str, Any]
    owner: str
    attempt: int = 1
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    process: dict[str, Any] = field(default_factory=this_process)
    renewed_at_unix: float = field(default_factory=time.time)
    handed_back: bool = False  # released by a shutdown: anyone may take it over at once

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Lease:
        return cls(**json.loads(data))

    def owner_gone(self, ttl_s: float, now: float | None = None) -> bool:
        if self.handed_back:
            return True
        alive = is_alive(self.process)
        if alive is None:
            return (time.time() if now is None else now) - self.renewed_at_unix > ttl_s
        return not alive


def take(storage: Storage, lease: Lease) -> bool:
    return storage.create_exclusive(lease_key(lease.session_id), lease.to_json())


def read(storage: Storage, session_id: str) -> Lease | None:
    try:
        return Lease.from_json(storage.read_bytes(lease_key(session_id)))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):  # torn or foreign: treat as an abandoned lease
        return None


def write(storage: Storage, lease: Lease) -> None:
    storage.write_bytes(lease_key(lease.session_id), lease.to_json(), "application/json")


def renew(storage: Storage, lease: Lease) -> Lease:
    held = read(storage, lease.session_id)
    if held is None or held.token != lease.token:
        return lease  # taken over or released meanwhile: not ours to renew
    fresh = replace(lease, renewed_at_unix=time.time())
    write(storage, fresh)
    return fresh


def release(storage: Storage, lease: Lease) -> None:
    held = read(storage, lease.session_id)
    if held is None or held.token == lease.token:
        storage.delete(lease_key(lease.session_id))


def claim_abandoned(storage: Storage, held: Lease) -> Lease | None:
    """Take over a lease whose owner is gone; None when another process got there first."""
    successor = replace(held, token=uuid.uuid4().hex, process=this_process(), renewed_at_unix=time.time(),
                        handed_back=False, attempt=held.attempt + 1)
    if not storage.create_exclusive(f"{PREFIX}takeover/{held.session_id}-{held.token}", successor.token.encode()):
        return None
    write(storage, successor)
    return successor


def forget_takeovers(storage: Storage, session_id: str) -> None:
    for key in list(storage.list(f"{PREFIX}takeover/{session_id}-")):
        storage.delete(key)


def all_leases(storage: Storage) -> list[str]:
    """Session ids with a lease (one listing of `runs/`)."""
    return [k[len(PREFIX):-len(".json")] for k in storage.list(PREFIX)
            if k.endswith(".json") and "/" not in k[len(PREFIX):]]
