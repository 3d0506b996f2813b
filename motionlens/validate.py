"""Refuse a bad input before any start-up (Prefect's takes ≈ 15 s): options, the file, the model.

The checks are those the API applies (the options model, the container sniff that answers 415), so
a clip the API would refuse is refused here too, with the same code, in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.errors import InvalidOption, NotAVideo, VideoNotFound
from pipeline.options import AnalysisOptions
from pipeline.video import ProbeInfo, VideoLimits, probe

REMOTE = ("http://", "https://", "gs://")
_HEAD_BYTES = 64


def local_path(source: str) -> Path | None:
    """The file a source names on this machine; None for a remote one."""
    if source.startswith(REMOTE):
        return None
    return Path(unquote(urlparse(source).path)) if source.startswith("file://") else Path(source)


def check_source(source: str, limits: VideoLimits | None = None) -> ProbeInfo | None:
    """The probe of a local video (None for a remote source, checked when fetched); a specific
    `PipelineError` when it is missing, not a video container, undecodable or over the limits."""
    from api.uploads import sniff_container  # the API's own test of "is this a video container"

    path = local_path(source)
    if path is None:
        return None
    if "://" in source and not source.startswith("file://"):
        raise InvalidOption(f"unsupported source {source!r}: give a file path, file://, http(s):// or gs:// URI")
    if not path.exists():
        raise VideoNotFound(f"no such file: {path}")
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
        if sniff_container(head) is None:
            raise NotAVideo(f"{path.name} is {_kind(head)}, not a video container; "
                            "give an MP4/MOV, WebM/MKV or AVI video")
    return probe(path, limits or VideoLimits.from_env())


def check_model(options: AnalysisOptions) -> None:
    from pipeline.pose.models import resolve_model

    resolve_model(options.model)  # ModelNotFound names where it looked


def _kind(head: bytes) -> str:
    for magic, kind in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
                        (b"%PDF", "a PDF document"), (b"ID3", "an MP3 audio file"), (b"PK\x03\x04", "a ZIP archive")):
        if head.startswith(magic):
            return kind
    return "an unrecognised file"
