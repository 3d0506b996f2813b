"""The URLs the API hands out: playable/downloadable file links and links to its own routes.

A store that can sign URLs itself (GCS: `signed_url(key, expires_s) -> str | None`) does so;
otherwise — local folders, or GCS without signing credentials — the API signs an HMAC link to
its own `/files/` route, which serves the file with Range support.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from starlette.requests import Request
from starlette.routing import Route

from api.settings import ApiSettings
from api.signing import LinkSigner, load_secret
from pipeline.storage import Storage


class Links:
    def __init__(self, storage: Storage, settings: ApiSettings) -> None:
        self.storage = storage
        self.settings = settings
        self._signer: LinkSigner | None = None
        self._lock = threading.Lock()
        self._paths: dict[str, str] = {}

    @property
    def signer(self) -> LinkSigner:
        # Loaded on first use, not at start-up: the store may be briefly unreachable then.
        with self._lock:
            if self._signer is None:
                self._signer = LinkSigner(load_secret(self.storage, self.settings.signing_secret))
            return self._signer

    def base(self, request: Request) -> str:
        return (self.settings.public_base_url or str(request.base_url)).rstrip("/")

    def route(self, request: Request, name: str, **path_params: str) -> str:
        # `url_path_for` walks every route on each call and a detail builds five links: keep
        # each route's path template instead.
        template = self._paths.get(name)
        if template is None:
            template = next(r.path_format for r in request.app.routes if isinstance(r, Route) and r.name == name)
            self._paths[name] = template
        return self.base(request) + template.format(**{k: quote(v, safe="") for k, v in path_params.items()})

    def file(self, request: Request, key: str) -> str:
        ttl = self.settings.link_ttl_s
        signed_url = getattr(self.storage, "signed_url", None)
        if callable(signed_url):
            url = signed_url(key, ttl)
            if url:
                return str(url)
        exp, sig = self.signer.sign(key, ttl)
        return f"{self.base(request)}/files/{quote(key, safe='/=')}?exp={exp}&sig={sig}"

    def file_or_none(self, request: Request, key: object) -> str | None:
        return self.file(request, key) if isinstance(key, str) and key else None
