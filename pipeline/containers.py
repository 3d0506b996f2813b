"""Recognising a video container by its first bytes (no decoder needed: the API uses it too)."""

from __future__ import annotations

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
SNIFF_BYTES = 64


def sniff_container(head: bytes) -> str | None:
    """The file suffix for a video container recognised by its first bytes, else None (uploads and
    downloads both judge a file by its content, whatever it claims to be)."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return ".mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska / WebM
        return ".webm" if b"webm" in head[:SNIFF_BYTES] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return None
