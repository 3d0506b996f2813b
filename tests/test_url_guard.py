"""The SSRF guard: every spelling of a non-public address is refused, every redirect hop is
re-checked, and the connection goes to the address that was checked (real loopback servers)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipeline.url_guard import ALLOWLIST_ENV, UnsafeUrl, check_url, guarded_client
from tests.loopback_http import Recorder


@pytest.fixture
def server() -> Iterator[Recorder]:
    with Recorder() as rec:
        yield rec


@pytest.fixture
def other_loopback() -> Iterator[Recorder]:
    """A second server on another loopback address, outside a /32 allowlist of the first."""
    with Recorder("127.0.0.2") as rec:
        yield rec


@pytest.mark.parametrize("host", [
    "127.0.0.1", "2130706433", "127.1", "0x7f000001", "0x7f.0.0.1", "017700000001", "0", "0.0.0.0",
    "localhost", "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:169.254.169.254]",
    "[2002:7f00:1::1]", "[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[::127.0.0.1]",
    "169.254.169.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "224.0.0.1", "240.0.0.1",
    "255.255.255.255", "192.0.2.1", "[fe80::1]", "[fc00::1]", "[ff02::1]", "[2001:db8::1]",
])
def test_every_spelling_of_a_non_public_address_is_refused(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWLIST_ENV, raising=False)
    with pytest.raises(UnsafeUrl):
        check_url(f"http://{host}:8080/x.mp4")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/x.mp4",
                                 "gs://bucket/x.mp4", "http:///x.mp4", "not a url", "http://[::1/"])
def test_other_schemes_and_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url)


@pytest.mark.parametrize(("url", "address", "port"), [
    ("http://8.8.8.8/x.mp4", "8.8.8.8", 80),
    ("https://1.1.1.1:8443/x.mp4", "1.1.1.1", 8443),
    ("http://[2606:4700:4700::1111]/x", "2606:4700:4700::1111", 80),
])
def test_public_addresses_pass(url: str, address: str, port: int) -> None:
    checked = check_url(url)
    assert (checked.address, checked.port) == (address, port)


def test_allowlist_admits_its_cidrs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWLIST_ENV, "127.0.0.0/8, fd00::/8")
    assert check_url("http://2130706433:9/x").address == "127.0.0.1"
    assert ipaddress.ip_address(check_url("http://[::ffff:127.0.0.1]:9/x").address).ipv4_mapped == ipaddress.ip_address("127.0.0.1")
    with pytest.raises(UnsafeUrl):
        check_url("http://169.254.169.254/latest/meta-data/")
    monkeypatch.setenv(ALLOWLIST_ENV, "not-a-cidr")
    with pytest.raises(UnsafeUrl):
        check_url("http://127.0.0.1/")


def test_client_refuses_loopback_without_the_allowlist(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWLIST_ENV, raising=False)
    with guarded_client(timeout=5) as client:
        for host in ("127.0.0.1", "2130706433", "127.1", "0x7f000001"):
            with pytest.raises(UnsafeUrl):
                client.get(f"http://{host}:{server.port}/x.mp4")
    assert server.hosts == []  # nothing reached the server


def test_every_redirect_hop_is_checked(server: Recorder, other_loopback: Recorder,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWLIST_ENV, "127.0.0.1/32")
    server.routes["/ok"] = (302, {"Location": "/final"}, b"")
    server.routes["/final"] = (200, {}, b"video")
    server.routes["/to-other"] = (302, {"Location": f"{other_loopback.url}/secret"}, b"")
    server.routes["/to-metadata"] = (307, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    server.routes["/to-decimal"] = (301, {"Location": f"http://2130706434:{other_loopback.port}/"}, b"")
    with guarded_client(timeout=5) as client:
        assert client.get(f"{server.url}/ok").content == b"video"  # an allowed hop is followed
        for path in ("/to-other", "/to-metadata", "/to-decimal"):
            with pytest.raises(UnsafeUrl):
                client.get(f"{server.url}{path}")
    assert other_loopback.hosts == []


def test_redirect_count_is_bounded(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWLIST_ENV, "127.0.0.1/32")
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with guarded_client(timeout=5, max_redirects=3) as client, pytest.raises(httpx.TooManyRedirects):
        client.get(f"{server.url}/loop")
    assert len(server.hosts) == 4
    with guarded_client(timeout=5, max_redirects=0) as client:
        assert client.get(f"{server.url}/loop").status_code == 302  # not followed


def test_connects_to_the_checked_address_not_a_second_lookup(server: Recorder, other_loopback: Recorder,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name answers an allowed address to the check, then another one. There is no
    DNS server here, so the resolver is the one thing replaced; both servers are real."""
    monkeypatch.setenv(ALLOWLIST_ENV, "127.0.0.1/32")
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"] + ["127.0.0.2"] * 10)

    def rebinding(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "rebind.test":
            return real(next(answers), *args, **kw)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with guarded_client(timeout=5) as client:
        assert client.get(f"http://rebind.test:{server.port}/x").content == b"ok"
    assert server.hosts == [f"rebind.test:{server.port}"]  # the Host header keeps the name
    assert other_loopback.hosts == []
