"""Temporary folders tagged with their owner process, so that those of dead runs can be removed.

`motionlens-{kind}.p{pid}s{start ticks}.XXXX` under the temp dir: a run killed with SIGKILL
cannot clean up after itself; the next API start-up (`clean_dead`) removes the folders whose
owner no longer runs (same host and PID namespace only: `/tmp` may be shared).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path

from pipeline.liveness import is_alive, this_process

log = logging.getLogger("motionlens")

# Dots delimit the tag: kinds (session id prefixes) never contain one.
_TAGGED = re.compile(r"^motionlens-[^.]*\.p(\d+)s(\d+)\.")


def owner_tag() -> str:
    me = this_process()
    return f"p{me['pid']}s{me['start'] or 0}"


def make_temp_dir(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"motionlens-{kind.replace('.', '-')}.{owner_tag()}."))


def clean_dead(root: Path | None = None) -> list[Path]:
    """Remove the tagged temp folders (and files) of processes that are gone; returns what was removed."""
    root = Path(root or tempfile.gettempdir())
    me = this_process()
    removed = []
    for entry in root.glob("motionlens-*"):
        match = _TAGGED.match(entry.name)
        if match is None:
            continue
        owner = {**me, "pid": int(match[1]), "start": int(match[2]) or None}
        if is_alive(owner) is False:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    if removed:
        log.warning("removed %d temporary folder(s) of runs that died: %s", len(removed),
                    ", ".join(p.name for p in removed[:5]))
    return removed
