"""Pick the language of recommendation texts: `?lang=` first, then `Accept-Language`, then English."""

from __future__ import annotations

from collections.abc import Collection

DEFAULT_LANGUAGE = "en"


def _primary(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").split("-")[0]


def parse_accept_language(header: str) -> list[str]:
    """Primary language tags by decreasing q (ties keep header order); q=0 and junk are dropped."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, *params = item.strip().split(";")
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip() and q > 0:
            weighted.append((-q, position, _primary(tag)))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(lang: str | None, accept_language: str | None, available: Collection[str]) -> str:
    if lang and _primary(lang) in available:
        return _primary(lang)
    for tag in parse_accept_language(accept_language or ""):
        if tag == "*":
            break  # "anything": our default is as good as any
        if tag in available:
            return tag
    return DEFAULT_LANGUAGE
