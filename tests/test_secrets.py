"""Finding 5: secrets written whole or not at all, 0600; a broken signing key recovered; /health
says what is broken.

The disk-full case is real, not simulated in Python: the write runs in a child process whose
RLIMIT_FSIZE is 1 byte, so the kernel refuses to grow any file past that (EFBIG), as it
refuses with ENOSPC on a full disk, at the same `write` call. (A tiny tmpfs needs root to mount,
and a read-only directory does not stop root, which these tests may run as.) SIGXFSZ is ignored
in the child so that the write fails instead of killing it, which is what a full disk does.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from api.app import create_app
from api.keys import create_key
from api.settings import ApiSettings
from api.signing import SECRET_KEY, load_secret
from pipeline.storage import LocalStorage
from tests.support_api import TestClient, make_session

ROOT = Path(__file__).resolve().parents[1]


def _limit_file_size() -> None:  # runs in the child, between fork and exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an ignored signal stays ignored across exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))


def run_with_full_disk(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a child Python whose files cannot grow past 1 byte; its stdout is a pipe (not limited)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, preexec_fn=_limit_file_size, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"})


def test_full_disk_leaves_no_empty_signing_key_and_the_next_start_works(tmp_path: Path) -> None:
    root = tmp_path / "store"
    child = run_with_full_disk(f"""
        from api.signing import load_secret
        from pipeline.errors import StorageUnavailable
        from pipeline.storage import LocalStorage
        try:
            load_secret(LocalStorage({str(root)!r}), None)
        except StorageUnavailable as exc:
            print("refused:", exc.code)
    """)
    assert "refused: storage_unavailable" in child.stdout, child.stdout + child.stderr
    assert not (root / SECRET_KEY).exists()  # the old code left it here, empty, for good
    assert not list((root / "auth").glob(".tmp-*"))
    # Space is back (no limit in this process): the secret is created, whole and private.
    secret = load_secret(LocalStorage(root), None)
    assert len(secret) == 32 and bytes.fromhex((root / SECRET_KEY).read_text()) == secret
    assert stat.S_IMODE((root / SECRET_KEY).stat().st_mode) == 0o600


def test_full_disk_creating_a_key_leaves_no_partial_record(tmp_path: Path) -> None:
    root = tmp_path / "store"
    child = run_with_full_disk(f"""
        from api.keys import create_key
        from pipeline.errors import StorageUnavailable
        from pipeline.storage import LocalStorage
        try:
            create_key(LocalStorage({str(root)!r}), "alice", ["sessions:read"])
        except (OSError, StorageUnavailable) as exc:
            print("refused:", type(exc).__name__)
    """)
    assert "refused: StorageUnavailable" in child.stdout, child.stdout + child.stderr
    assert not [p for p in (root / "auth" / "keys").glob("*") if p.is_file()]
    create_key(LocalStorage(root), "alice", ["sessions:read"])
    (record,) = (root / "auth" / "keys").glob("*.json")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and json.loads(record.read_bytes())["owner"] == "alice"


@pytest.mark.parametrize("content", [b"", b"not hex at all", b"abcd"])
def test_empty_or_corrupt_signing_key_is_regenerated_with_a_log_line(
        tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture) -> None:
    storage = LocalStorage(tmp_path)
    storage.write_bytes(SECRET_KEY, content)
    with caplog.at_level(logging.WARNING, "motionlens.api"):
        secret = load_secret(storage, None)
    assert len(secret) == 32 and load_secret(storage, None) == secret
    assert any("empty or corrupt" in r.getMessage() for r in caplog.records)


def test_session_detail_is_200_again_after_an_empty_signing_key(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write_bytes(SECRET_KEY, b"")  # what a full disk left with the old code
    token, _ = create_key(storage, "alice", ["sessions:read"])
    m = make_session(storage)
    client = TestClient(create_app(storage, ApiSettings()))
    r = client.get(f"/jumping/sessions/{m['session_id']}/", headers={"Authorization": f"API-KEY {token}"})
    assert r.status_code == 200 and "sig=" in r.json()["video_url"], r.text


def test_health_names_what_is_broken(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    create_key(storage, "alice", ["sessions:read"])
    client = TestClient(create_app(storage, ApiSettings()))
    ok = client.get("/health")
    assert ok.status_code == 200, ok.text
    assert {k: ok.json()[k] for k in ("storage", "storage_writable", "signing_key", "key_store")} == {
        "storage": "ok", "storage_writable": "ok", "signing_key": "ok", "key_store": "ok"}
    (record,) = (tmp_path / "auth" / "keys").glob("*.json")
    record.write_bytes(b"{truncated")
    broken = client.get("/health")
    assert broken.status_code == 503 and broken.headers["retry-after"]
    assert broken.json()["key_store"] == "failed" and broken.json()["status"] == "degraded"
    assert broken.json()["error"]["code"] == "degraded" and "key_store" in broken.json()["error"]["message"]


def test_health_reports_a_full_disk(tmp_path: Path) -> None:
    root = tmp_path / "store"
    storage = LocalStorage(root)
    create_key(storage, "alice", ["sessions:read"])
    load_secret(storage, None)
    child = run_with_full_disk(f"""
        import json
        from api.app import create_app
        from api.settings import ApiSettings
        from pipeline.storage import LocalStorage
        from tests.support_api import TestClient
        r = TestClient(create_app(LocalStorage({str(root)!r}), ApiSettings())).get("/health")
        print(json.dumps({{"status_code": r.status_code, **r.json()}}))
    """)
    health = json.loads(child.stdout.strip().splitlines()[-1])
    assert health["status_code"] == 503 and health["storage"] == "ok", health
    assert health["storage_writable"] == "failed" and health["signing_key"] == "ok" and health["key_store"] == "ok"
