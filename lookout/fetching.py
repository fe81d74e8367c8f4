"""The client the server fetches URLs with (frames given by URL), guarded against SSRF.

A URL a caller hands the server must not make it reach what only the server can reach: the
loopback interface, the private network, the cloud metadata address. Unless private addresses
are allowed (`LOOKOUT_FETCH_ALLOW_PRIVATE`; local mode allows them by default), every
connection, each redirect hop's included, resolves its host once, checks every address the
name has, and connects to the address it checked. So the name the check saw is the name the
connection uses (an internationalised host is checked in its ASCII form, as it is resolved),
a name that resolves differently a moment later (DNS rebinding) changes nothing, and a host
that cannot be resolved is refused rather than let through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx


class BlockedAddress(httpx.RequestError):
    """The URL's host is not a public address and private addresses are not allowed."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` names (its ASCII form, as sent to DNS), or BlockedAddress."""
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
        infos = socket.getaddrinfo(ascii_host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BlockedAddress(f"{host} cannot be resolved, so it cannot be checked") from exc
    # Scope ids (fe80::1%eth0) are not part of the address itself.
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def public_address(host: str, port: int) -> str:
    """The address to connect to for `host`, once every address it names is public."""
    addresses = resolve(host, port)
    for address in addresses:
        if not ipaddress.ip_address(address).is_global:
            raise BlockedAddress(f"{host} resolves to {address}, not a public address")
    return addresses[0]


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Opens TCP connections only to checked public addresses (resolved here, once)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        address = public_address(host, port)
        # TLS still verifies the certificate against `host`: httpcore wraps this stream with
        # the request's host name, not the address connected to.
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class PublicOnlyTransport(httpx.HTTPTransport):
    """An HTTP transport whose every connection goes to a checked public address."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx builds its pool without a way to pass a network backend: build it again,
        # with the same settings and ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=self._pool._ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicOnlyBackend(),
        )


def make_fetch_client(*, allow_private: bool) -> httpx.Client:
    """One pooled client for everything the server fetches."""
    limits = httpx.Limits(max_connections=32)
    transport = (
        httpx.HTTPTransport(limits=limits) if allow_private else PublicOnlyTransport(limits=limits)
    )
    return httpx.Client(
        timeout=httpx.Timeout(30, connect=10),
        follow_redirects=True,
        transport=transport,
        # A proxy from the environment would connect for us, past the check.
        trust_env=allow_private,
        # The client serves every caller: a cookie one caller's URL sets must not go with
        # another caller's request to that host.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )
