"""The one SSRF guard: fetch a user-given URL only when it leads to a public address.

`check_url` parses the URL with httpx's own parser (the one that sends the request, so no parser
differential), resolves the host once and refuses it unless every address is public. Because it
judges the *resolved* address, every spelling of an address is covered: `2130706433`, `127.1`,
`0x7f000001`, `0177.0.0.1`, `0`, `[::1]`, `[::ffff:127.0.0.1]`, and IPv6 forms that embed an IPv4
address (IPv4-mapped/-compatible, 6to4, Teredo, NAT64) are judged by the address they embed.

`guarded_client` checks every request and every redirect hop, then connects to the address it
checked (the Host header and TLS SNI keep the name), so a DNS answer that changes between the
check and the connection (rebinding) cannot lead anywhere else.

`MOTIONLENS_URL_ALLOWLIST` (comma-separated CIDRs, empty by default) allows non-public addresses
for tests and private deployments, e.g. `127.0.0.0/8` or `10.1.0.0/16`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

ALLOWLIST_ENV = "MOTIONLENS_URL_ALLOWLIST"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL may not be fetched; the message says why (for logs, not for API clients)."""


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str
    port: int
    address: str  # the resolved address the connection must go to


def allowlist() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The CIDRs of `MOTIONLENS_URL_ALLOWLIST`, read at each check (tests set it per fixture)."""
    raw = os.environ.get(ALLOWLIST_ENV, "")
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in raw.split(",") if item.strip()]
    except ValueError as exc:
        raise UnsafeUrl(f"{ALLOWLIST_ENV} is not a list of CIDRs: {exc}") from None


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address: the one traffic is delivered to
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def is_public(ip: IPAddress) -> bool:
    """False for loopback, private, shared (CGNAT), link-local, multicast, reserved, unspecified and
    documentation addresses, including when embedded in an IPv6 address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public(inner)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def is_allowed(ip: IPAddress) -> bool:
    if is_public(ip):
        return True
    candidates = [ip] + ([inner] if (inner := embedded_ipv4(ip)) is not None else [])
    return any(c in net for net in allowlist() for c in candidates if c.version == net.version)


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise UnsafeUrl(f"cannot resolve {host!r}: {exc}") from None
    # `%scope` suffixes of link-local IPv6 answers are dropped: the address class is what counts.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, schemes: Collection[str] = ("http", "https")) -> CheckedUrl:
    """Parse and resolve `url`; raise `UnsafeUrl` unless its scheme is allowed and every address
    the host resolves to is public (or allow-listed)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in schemes:
        raise UnsafeUrl(f"scheme {parsed.scheme!r} is not allowed")
    host = parsed.host
    if not host:
        raise UnsafeUrl("the URL has no host")
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    if port is None:
        raise UnsafeUrl(f"no port for scheme {parsed.scheme!r}")
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeUrl(f"{host!r} resolves to no address")
    # Every answer must pass: a name that resolves to a public and a private address is refused.
    refused = [str(a) for a in addresses if not is_allowed(a)]
    if refused:
        raise UnsafeUrl(f"{host!r} resolves to a non-public address ({', '.join(refused)})")
    return CheckedUrl(url=str(parsed), scheme=parsed.scheme, host=host, port=port, address=str(addresses[0]))


class _GuardedTransport(httpx.BaseTransport):
    """Checks each request (redirect hops are new requests) and sends it to the checked address."""

    def __init__(self, schemes: Collection[str], **kwargs: Any) -> None:
        self._schemes = tuple(schemes)
        self._inner = httpx.HTTPTransport(**kwargs)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        checked = check_url(str(request.url), schemes=self._schemes)
        # A copy goes to the address: the client builds redirects from the original request's URL.
        # The Host header keeps the name, and so do TLS SNI and the certificate check.
        extensions = dict(request.extensions)
        if checked.scheme == "https":
            extensions["sni_hostname"] = checked.host
        to_address = httpx.Request(request.method, request.url.copy_with(host=checked.address),
                                   headers=request.headers, stream=request.stream, extensions=extensions)
        return self._inner.handle_request(to_address)

    def close(self) -> None:
        self._inner.close()


def guarded_client(*, timeout: float | httpx.Timeout, max_redirects: int = 3,
                   schemes: Collection[str] = ("http", "https"), **kwargs: Any) -> httpx.Client:
    """An httpx client that only reaches public addresses, on every hop, at the address it checked.

    Follows at most `max_redirects` redirects (0 = refuse them). Environment proxies and .netrc are
    ignored (`trust_env=False`): a proxy would connect to the name itself, after our check.
    `verify`/`cert` go to the transport; other keyword arguments to `httpx.Client`."""
    transport_kw = {k: kwargs.pop(k) for k in ("verify", "cert", "http2", "retries") if k in kwargs}
    return httpx.Client(transport=_GuardedTransport(schemes, **transport_kw), timeout=timeout,
                        follow_redirects=max_redirects > 0, max_redirects=max_redirects, trust_env=False,
                        **kwargs)
