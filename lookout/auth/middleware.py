"""Checks on every request before any route runs: local mode's loopback-only rule and
credential headers sent once."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost"})

# Misdirected Request: this server does not answer for that host name.
MISDIRECTED = 421


def is_loopback_host(host: str, extra_names: Iterable[str] = ()) -> bool:
    """Whether a Host header's name (port and IPv6 brackets allowed) is this machine's."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    if name in LOOPBACK_NAMES or name in {n.lower() for n in extra_names}:
        return True
    return _is_loopback_address(name)


@functools.lru_cache(maxsize=1024)
def _is_loopback_address(text: str) -> bool:
    """Whether `text` is a loopback IP address; remembered, as every request of local mode
    asks this of its client address and Host (parsing an address costs more than the rest of
    the check)."""
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _is_loopback_client(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    return _is_loopback_address(client[0])


class LocalOnly:
    """In local mode every request acts as the machine's admin, so only the machine may ask.

    A request from another address is refused (403), and so is one naming another host
    (421): a page on any web site can make a browser send requests to a name that resolves
    to 127.0.0.1 (DNS rebinding), but its Host header still carries that name.
    """

    def __init__(self, app: ASGIApp, *, extra_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.extra_hosts = tuple(extra_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _is_loopback_client(scope):
            detail = "this server runs in local mode and answers this machine only"
            await JSONResponse({"detail": detail}, 403)(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is None or not is_loopback_host(host, self.extra_hosts):
            detail = (
                f"this server runs in local mode and does not answer for host {host!r}; "
                "use localhost or 127.0.0.1 (or list the name in LOOKOUT_LOCAL_HOSTS)"
            )
            await JSONResponse({"detail": detail, "field": "host"}, MISDIRECTED)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


class SingleCredentialHeaders:
    """Refuse a request that carries an identity or credential header more than once.

    A proxy that appends rather than replaces would otherwise let the client's own copy be
    the one read.
    """

    def __init__(self, app: ASGIApp, *, names: Iterable[str]) -> None:
        self.app = app
        self.names = frozenset(name.lower().encode("latin-1") for name in names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # ASGI servers hand header names over in lower case.
            repeated = self._first_repeated(scope["headers"])
            if repeated is not None:
                detail = f"header {repeated} was sent more than once"
                body = {"detail": detail, "field": repeated}
                await JSONResponse(body, 400)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _first_repeated(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The alphabetically first credential header sent more than once, if any."""
        # A plain loop: every request pays for this check, and most carry no credential twice.
        seen: set[bytes] = set()
        repeated: set[bytes] = set()
        for key, _ in headers:
            if key in self.names:
                if key in seen:
                    repeated.add(key)
                seen.add(key)
        return min(repeated).decode("latin-1") if repeated else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
