"""`motionlens keys create` on a store it cannot write: one `error: CODE: message` line, exit 2.

Read-only for real: the store is bind-mounted read-only in a private mount namespace (`unshare`),
which stops root too (a chmod would not). Where namespaces are not allowed, the second case still
runs: a store whose parent is a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS_CREATE = [sys.executable, "-m", "motionlens.cli", "keys", "create", "--owner", "alice", "--storage"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _read_only_mount_works(tmp_path: Path) -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-rm"]
    probe = subprocess.run([*prefix, "sh", "-c", f"mount --bind {tmp_path} {tmp_path}"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def _assert_one_error_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: storage_unavailable: cannot write"), lines
    assert "Traceback" not in result.stderr and result.stdout == ""  # no token printed for a key not stored


def test_keys_create_on_a_read_only_mounted_store(tmp_path: Path) -> None:
    prefix = _read_only_mount_works(tmp_path)
    if prefix is None:
        pytest.skip("no mount namespace here (unshare -m) to make a real read-only store")
    store = tmp_path / "store"
    (store / "auth" / "keys").mkdir(parents=True)
    script = (f"mount --bind {store} {store} && mount -o remount,bind,ro {store} && "
              f"exec {' '.join(KEYS_CREATE)} {store}")
    result = _run([*prefix, "sh", "-c", script])
    assert "Read-only file system" in result.stderr
    _assert_one_error_line(result)
    assert not list((store / "auth" / "keys").iterdir())


def test_keys_create_where_the_store_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    _assert_one_error_line(_run([*KEYS_CREATE, str(tmp_path / "a-file" / "store")]))
