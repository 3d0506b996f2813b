"""Server paths never leave the API: error messages (ours, and those stored in manifests by the
pipeline) keep only the last component of any absolute path under a system or data directory."""

from __future__ import annotations

import re
from typing import Any

# Absolute paths under the usual roots, not preceded by something that makes them part of a URL
# ("http://host/tmp/x") or of a relative path ("a/tmp/x").
_PATH = re.compile(r"(?<![\w:/.~-])/(?:tmp|var|home|root|srv|opt|usr|etc|proc|sys|dev|mnt|media|data|work|app|run|"
                   r"private|Users|Volumes|nix)(?:/[^\s'\",;:()\[\]{}<>]*)?")


def without_paths(text: str) -> str:
    return _PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def public_error(error: Any) -> Any:
    """A manifest's `error` block as clients see it (the stored one keeps the details)."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return {**error, "message": without_paths(error["message"])}
    return error
