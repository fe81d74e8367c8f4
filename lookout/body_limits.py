"""Request bodies: how large, and of which type, each route accepts them.

Every route reads JSON and gets the request limit, whatever type the client declares (a body
sent as text/plain is still read, so it must not escape the limit), except the routes marked
with `accepts_uploads`: they take files (multipart, raw bytes) up to the upload limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Endpoint = TypeVar("Endpoint", bound=Callable[..., object])
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def accepts_uploads(endpoint: Endpoint) -> Endpoint:
    """Mark a route that takes files: the upload limit applies, and any content type."""
    endpoint.accepts_uploads = True  # type: ignore[attr-defined]
    return endpoint


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def upload_routes(router: Any) -> list[BaseRoute]:
    """The routes marked with `accepts_uploads`, included routers searched too."""
    found: list[BaseRoute] = []
    for route in getattr(router, "routes", ()):
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            found += upload_routes(included)
        elif getattr(getattr(route, "endpoint", None), "accepts_uploads", False):
            found.append(route)
    return found


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse bodies over the limit while they stream in, never buffering them whole, and
    bodies of a type the route does not read (415)."""

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self._upload_routes: list[BaseRoute] | None = None  # found at the first request

    def _accepts_uploads(self, scope: Scope) -> bool:
        if scope["method"] not in METHODS_WITH_BODY:
            return False
        if self._upload_routes is None:
            self._upload_routes = upload_routes(getattr(scope.get("app"), "router", None))
        return any(route.matches(scope)[0] == Match.FULL for route in self._upload_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type, declared, chunked = "", None, False
        for name, value in scope["headers"]:
            key = name.lower()
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                declared = value.decode("latin-1")
            elif key == b"transfer-encoding":
                chunked = True
        has_body = chunked or (declared not in (None, "0"))
        if not has_body:
            # Nothing to count and nothing to refuse: no need to watch receive and send.
            await self.app(scope, receive, send)
            return
        uploads = self._accepts_uploads(scope)
        if has_body and not uploads and content_type and not is_json_type(content_type):
            await _answer(send, 415, f"Content-Type {content_type!r} is not accepted: send JSON")
            return
        limit = self.upload_limit if uploads and not is_json_type(content_type) else self.json_limit
        if declared and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Parsers may turn our exception into their own 400; the answer is still 413.
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await _too_large(send, limit)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    await _answer(send, 413, f"request body is larger than {limit} bytes")


async def _answer(send: Send, status: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
