"""The URLs the API hands out: playable/downloadable file links and links to its own routes.

A store that can sign URLs itself (GCS: `signed_url(key, expires_s) -> str | None`) does so;
otherwise — local folders, or GCS without signing credentials — the API signs an HMAC link to
its own `/files/` route, which serves the file with Range support.
"""

from __future__ import annotations

import functools
import re
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
        signer = self._signer
        if signer is None:
            with self._lock:
                if self._signer is None:
                    self._signer = LinkSigner(load_secret(self.storage, self.settings.signing_secret))
                signer = self._signer
        return signer

    def reload_signer(self) -> None:
        """Read the signing secret again (a health check): recovers one that went missing or corrupt."""
        secret = load_secret(self.storage, self.settings.signing_secret)
        with self._lock:
            self._signer = LinkSigner(secret)

    def base(self, request: Request) -> str:
        """Where links point: `MOTIONLENS_PUBLIC_URL`; else, only when the operator trusts its proxy,
        X-Forwarded-Proto/-Host; else the address the server listens on. Never the Host header: a
        client could make the API hand out (and caches keep) signed links to a host of its choice."""
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        scope = request.scope
        scheme, root = scope.get("scheme", "http"), scope.get("root_path", "")
        if self.settings.trust_proxy_headers:
            host = _first(request.headers.get("x-forwarded-host"))
            if host and _HOST_RE.fullmatch(host):
                proto = _first(request.headers.get("x-forwarded-proto"))
                return f"{proto if proto in ('http', 'https') else scheme}://{host}{root}".rstrip("/")
        server = scope.get("server") or ("127.0.0.1", 80)
        host, port = str(server[0]), server[1]
        if ":" in host:
            host = f"[{host}]"
        default = {"http": 80, "https": 443}.get(scheme)
        return f"{scheme}://{host}{'' if port in (None, default) else f':{port}'}{root}".rstrip("/")

    def route(self, request: Request, name: str, **path_params: str) -> str:
        return self.route_at(self.base(request), request, name, **path_params)

    def route_at(self, base: str, request: Request, name: str, **path_params: str) -> str:
        """`route` under a `base(request)` computed once for the several links of one response."""
        # `url_path_for` walks every route on each call and a detail builds five links: keep
        # each route's path template instead.
        template = self._paths.get(name)
        if template is None:
            template = next(r.path_format for r in request.app.routes if isinstance(r, Route) and r.name == name)
            self._paths[name] = template
        return base + template.format(**{k: _quote(v, "") for k, v in path_params.items()})

    def file(self, request: Request, key: str) -> str:
        return self.file_at(self.base(request), key)

    def file_at(self, base: str, key: str) -> str:
        """`file` under a `base(request)` computed once for the several links of one response."""
        ttl = self.settings.link_ttl_s
        signed_url = getattr(self.storage, "signed_url", None)
        if callable(signed_url):
            url = signed_url(key, ttl)
            if url:
                return str(url)
        exp, sig = self.signer.sign(key, ttl)
        return f"{base}/files/{_quote(key, '/=')}?exp={exp}&sig={sig}"

    def file_or_none(self, request: Request, key: object) -> str | None:
        return self.file(request, key) if isinstance(key, str) and key else None


_HOST_RE = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


def _first(value: str | None) -> str:
    # A proxy chain appends: the first value is what the outermost proxy received.
    return (value or "").split(",")[0].strip().lower()


@functools.lru_cache(maxsize=4096)  # the same session ids and storage keys, quoted for every link
def _quote(text: str, safe: str) -> str:
    return quote(text, safe=safe)
