"""Several clips in one `motionlens analyze`: expand folders and globs, then a table and a CSV."""

from __future__ import annotations

import csv
import glob
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from motionlens.validate import local_path

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
CSV_COLUMNS = ("clip", "session_id", "activity", "status", "error", "count", "main", "main_unit", "warnings")


def expand_sources(args: Sequence[str]) -> list[str]:
    """Each argument as given, a folder as its video files (sorted, not recursive), and a pattern the
    shell did not expand (`"clips/*.mp4"` in quotes, or on Windows) as its matches; no duplicates."""
    out: list[str] = []
    for arg in args:
        path = local_path(arg)
        if path is not None and path.is_dir():
            out += sorted(str(p) for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        elif path is not None and not path.exists() and glob.has_magic(arg):
            out += sorted(glob.glob(arg)) or [arg]   # no match: reported as a missing file
        else:
            out.append(arg)
    return list(dict.fromkeys(out))


def write_csv(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def print_table(rows: Sequence[dict[str, Any]], stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} clip(s)", title_justify="left")
    for col in ("clip", "activity", "status", "count", "main", "warnings"):
        table.add_column(col, justify="right" if col in ("count", "main") else "left", overflow="fold")
    for r in rows:
        main = "" if r.get("main") is None else f"{r['main']:.3g} {r.get('main_unit') or ''}"
        status = r["status"] if not r.get("error") else f"{r['status']}: {r['error']}"
        table.add_row(Path(r["clip"]).name, r.get("activity") or "", status or "",
                      "" if r.get("count") is None else str(r["count"]), main, r.get("warnings") or "")
    Console(file=stream, width=max(Console(file=stream).width, 100)).print(table)
