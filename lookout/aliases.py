"""VISTA's spellings of API paths, served by Lookout's one route table.

VISTA serves its API under three prefixes: `/api` (people), `/api-key` (API-key callers) and
`/api-ml` (pipelines), and its scripts spell some paths with a trailing slash
(`POST /api/projects/`). `PathAliases` rewrites such a request's path to the canonical one
before any other middleware, the router or a dependency sees it:

- `/api-key/...` and `/api-ml/...` become `/api/...`: the same routes, answered, authenticated
  and authorised exactly as under `/api` (the prefix grants and skips nothing: what a caller
  may do depends on its credentials, never on the prefix it chose);
- a path ending in `/` that no route answers becomes the path without it, when a route answers
  that, instead of the router's 307 redirect (whose absolute `Location` names the scheme the
  server saw, `http` behind a TLS proxy, and which curl does not follow for a POST). A path
  some route answers as spelled (a mounted folder, a storage key) is left alone.

`raw_path` keeps what the client sent: Lookout's v1 signature covers the path as sent, and
logs show it. The rewritten scope is a copy; the server's own record of the request is kept.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from lookout.route_index import split_root

CANONICAL_PREFIX = "/api"
ALIAS_PREFIXES = ("/api-key", "/api-ml")


def unaliased(route_path: str) -> str:
    """The path with an alias prefix (`/api-key`, `/api-ml`) replaced by `/api`."""
    for prefix in ALIAS_PREFIXES:
        if route_path == prefix or route_path.startswith(prefix + "/"):
            return CANONICAL_PREFIX + route_path[len(prefix) :]
    return route_path


class PathAliases:
    """Rewrite alias prefixes and unserved trailing slashes to the canonical path (see the
    module's docstring); everything else passes untouched."""

    def __init__(self, app: ASGIApp, *, routes: Any) -> None:
        self.app = app
        # The app's router (or a list of routes), read when needed: routes may be added after
        # the middleware is.
        self._routes = routes

    def _matches(self, scope: Scope) -> bool:
        routes = getattr(self._routes, "routes", self._routes)
        return any(route.matches(scope)[0] is not Match.NONE for route in routes)

    def _canonical(self, scope: Scope, root: str, route_path: str) -> str:
        path = unaliased(route_path)
        if len(path) > 1 and path.endswith("/"):
            stripped = path.rstrip("/")
            if (
                stripped
                and not self._matches({**scope, "path": root + path})
                and self._matches({**scope, "path": root + stripped})
            ):
                return stripped
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root, route_path = split_root(scope)
        canonical = self._canonical(scope, root, route_path)
        if canonical != route_path:
            raw = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
            scope = {**scope, "path": root + canonical, "raw_path": raw}
        await self.app(scope, receive, send)
