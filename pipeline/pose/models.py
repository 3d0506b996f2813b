"""Resolving a PoseLandmarker bundle by name (lite|full|heavy) or path, offline.

Search order for a name: the repo's vendored `models/`, `$MOTIONLENS_MODEL_DIR`, then the user
cache (`$XDG_CACHE_HOME/motionlens/models`). Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from pipeline.errors import ModelNotFound

MODEL_NAMES = ("lite", "full", "heavy")
VENDORED_DIR = Path(__file__).resolve().parents[2] / "models"


def search_dirs() -> list[Path]:
    dirs = [VENDORED_DIR]
    if env := os.environ.get("MOTIONLENS_MODEL_DIR"):
        dirs.append(Path(env))
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "motionlens" / "models"
    dirs.append(cache)
    return dirs


def resolve_model(name_or_path: str) -> Path:
    """Path of the `.task` bundle for a model name or an explicit path."""
    if name_or_path in MODEL_NAMES:
        filename = f"pose_landmarker_{name_or_path}.task"
        for d in search_dirs():
            if (d / filename).is_file():
                return d / filename
        where = ", ".join(str(d) for d in search_dirs())
        raise ModelNotFound(f"model {name_or_path!r} ({filename}) not found in {where}; "
                            f"put the bundle in $MOTIONLENS_MODEL_DIR")
    path = Path(name_or_path)
    if path.suffix == ".task" and path.is_file():
        return path
    raise ModelNotFound(f"model {name_or_path!r} is neither one of {', '.join(MODEL_NAMES)} nor a .task file")


@lru_cache(maxsize=8)
def model_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
