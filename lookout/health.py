"""Liveness (the process answers) and readiness (it can serve: the database responds)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from lookout import __version__
from lookout.deps import SessionDep
from lookout.errors import Unavailable
from lookout.route_table import deferred

log = logging.getLogger(__name__)

# Built once: every liveness probe answers the same bytes.
_ALIVE = {"status": "ok", "version": __version__}
# Documented by hand: a response model would have FastAPI build a pydantic field for it, and
# check it against pydantic v1 (an import of 50 ms), before a worker's first answer.
_STATUS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "title": "Response Health Api Health Get",  # the title FastAPI gave it
}
_STATUS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Successful Response",
        "content": {"application/json": {"schema": _STATUS_SCHEMA}},
    }
}


async def health() -> dict[str, str]:
    """Liveness: 200 while the process answers. No database work, so a slow database never
    makes a supervisor restart healthy workers; ask /api/ready for that."""
    return _ALIVE


def ready(session: SessionDep) -> dict[str, str]:
    """Readiness: 200 when the database answers too; 503 naming the reason otherwise."""
    try:
        session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("not ready: the database does not answer: %s", exc)
        raise Unavailable("the database does not answer") from None
    return {"status": "ready", "version": __version__}


LIVENESS_PATH = "/api/health"


class Liveness:
    """Answer `GET /api/health` before the rest of the app: the same bytes as the documented
    route, without the framework's layers (routing, dependencies, serialization), which cost
    more than a probe's answer itself. Sits inside the path aliases, the security headers and
    local mode's check, so a probe gets what any other request gets from those."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        rendered = JSONResponse(_ALIVE)  # the framework's own bytes and headers, made once
        self.body = rendered.body
        self.headers = tuple(rendered.raw_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == scope.get("root_path", "") + LIVENESS_PATH
        ):
            # A fresh list: a layer outside adds its headers to the message it is given.
            headers = list(self.headers)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
            return
        await self.app(scope, receive, send)


def install(app: FastAPI, *, responses: dict[int | str, dict[str, object]]) -> None:
    """Add liveness and readiness to the app itself, ahead of every other route.

    `GET /api/health` is answered by `Liveness` before the router; its route documents it and
    refuses other methods. Not through an included router: the router tries routes in order,
    and an included router is one more level every readiness probe would pass through.
    """
    app.add_api_route(
        LIVENESS_PATH,
        health,
        methods=["GET"],
        tags=["health"],
        response_model=None,
        responses=_STATUS_RESPONSE,
    )
    app.router.add_api_route(
        "/api/ready",
        ready,
        methods=["GET"],
        tags=["health"],
        responses=responses,
        route_class_override=deferred(APIRoute),
    )
