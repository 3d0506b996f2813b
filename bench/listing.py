"""Session listing cost with N stored sessions, over a folder and the GCS emulator (docs/api.md).

`python -m bench.listing [N]` (default 300): the first page in a fresh app (reads every manifest
once), the next pages (only versions are checked), and for comparison listing and reading every
manifest, which a listing without the index would do for each page. In-process (TestClient), pages of 50.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from pipeline.gcs_storage import GcsSettings, GcsStorage
from pipeline.storage import LocalStorage, Storage
from tests.servers import running_gcs_emulator
from tests.support_api import TestClient, make_session


def fill(storage: Storage, n: int) -> None:
    for i in range(n):
        make_session(storage, status="completed" if i % 3 else "failed", exports=False, analyzed=False,
                     error={"code": "x", "message": "y"})


def measure(name: str, storage: Storage, n: int) -> None:
    app = create_app(storage, ApiSettings(signing_secret="bench-secret-0123456789"))
    auth = {"Authorization": f"Bearer {create_key(storage, 'alice', ('sessions:read',))[0]}"}
    with TestClient(app) as client:
        t = time.perf_counter()
        r = client.get("/sessions/?limit=50", headers=auth)
        cold = time.perf_counter() - t
        warm = []
        url = r.json()["links"]["next"]
        while url:
            t = time.perf_counter()
            r = client.get(url, headers=auth)
            warm.append(time.perf_counter() - t)
            url = r.json()["links"]["next"]
    keys = [k for k in storage.list("sessions/") if k.endswith("/session.json")]
    t = time.perf_counter()
    for key in keys:
        json.loads(storage.read_bytes(key))
    naive = time.perf_counter() - t
    warm.sort()
    print(f"{name}: {n} sessions, first page {cold * 1000:.0f} ms, next pages median {warm[len(warm) // 2] * 1000:.1f} ms "
          f"({len(warm)} pages), manifests read {app.state.session_index.reads}; "
          f"listing + reading every manifest {naive * 1000:.0f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalStorage(Path(tmp) / "store")
        fill(local, n)
        measure("local folder", local, n)
        with running_gcs_emulator(Path(tmp)) as emulator:
            emulator.create_bucket("bench")
            gcs = GcsStorage("bench", "p", settings=GcsSettings(emulator_host=emulator.url, retry_timeout_s=5.0))
            fill(gcs, n)
            measure("GCS emulator", gcs, n)


if __name__ == "__main__":
    main()
