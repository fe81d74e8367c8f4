"""The client the server fetches URLs with (frames given by URL), guarded against SSRF.

A URL a caller hands the server must not make it reach what only the server can reach: the
loopback interface, the private network, the cloud metadata address. Every request, each
redirect hop included, is checked against the addresses its host resolves to, unless private
addresses are allowed (`LOOKOUT_FETCH_ALLOW_PRIVATE`; local mode allows them by default).
The check happens before connecting, so a host that resolves differently a moment later (DNS
rebinding) is not covered; a deployment that needs that too should fetch through an egress
proxy.
"""

from __future__ import annotations

import ipaddress
import socket

import httpx


class BlockedAddress(httpx.RequestError):
    """The URL's host is not a public address and private addresses are not allowed."""


def non_public_address(host: str) -> str | None:
    """An address `host` resolves to that is not globally routable, or None."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None  # the connection will fail with its own, clearer error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return str(address)
    return None


class PublicOnlyTransport(httpx.HTTPTransport):
    """Refuses requests whose host resolves to a loopback, private or reserved address."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if (address := non_public_address(host)) is not None:
            message = f"{host} resolves to {address}, not a public address"
            raise BlockedAddress(message, request=request)
        return super().handle_request(request)


def make_fetch_client(*, allow_private: bool) -> httpx.Client:
    """One pooled client for everything the server fetches."""
    limits = httpx.Limits(max_connections=32)
    transport_class = httpx.HTTPTransport if allow_private else PublicOnlyTransport
    transport = transport_class(limits=limits)
    return httpx.Client(
        timeout=httpx.Timeout(30, connect=10), follow_redirects=True, transport=transport
    )
