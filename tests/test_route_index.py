"""The route index picks, for every path the app serves, what the full router would pick."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount

from lookout.app import create_app
from lookout.route_index import RouteIndex, _leading_segments, _template_key
from tests.conftest import make_settings
from tests.security.access_rules import flatten_routes
from tests.support import run_async

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE_ID = str(uuid.UUID(int=7))


def _routes(app: Any) -> Any:
    """The app's routes and mounts, those of included routers opened up."""
    for route in flatten_routes(app.router.routes):
        yield getattr(route, "starlette_route", None) or getattr(route, "original_route", route)


def _sample_paths(app: Any) -> list[str]:
    """A path for every route template (parameters filled in), some near misses, and junk."""
    paths = {"/", "/nothing/here", "/api", "/api/", "/api/nothing", "//api/projects", "/API/x"}
    for route in _routes(app):
        template = route.path + "/{rest:path}" if isinstance(route, Mount) else route.path
        filled = re.sub(r"\{[^}:]+:path\}", "a/b.jpg", template)
        filled = re.sub(r"\{[^}:]+:int\}", "7", filled)
        filled = re.sub(r"\{[^}]+\}", SAMPLE_ID, filled)
        paths.update({filled, filled + "/", filled + "/extra", filled.upper()})
    return sorted(paths)


async def _outcome(app: Any, method: str, path: str) -> tuple[Any, ...]:
    """Which endpoint took the request, with which parameters, and the status it answered."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        # A client address of its own per request: the brake on failed logins never steps in.
        "client": (f"10.0.{len(path) % 250}.{len(method)}", 1234),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__qualname__", type(endpoint).__qualname__)
    return (name, scope.get("path_params"), statuses)


def _outcomes(indexed: Any, full: Any, paths: list[str]) -> list[tuple[str, str, Any, Any]]:
    """(method, path, outcome through the index, outcome through the full router)."""

    async def run() -> list[tuple[str, str, Any, Any]]:
        found = []
        for path in paths:
            for method in METHODS:
                mine = await _outcome(indexed, method, path)
                found.append((method, path, mine, await _outcome(full, method, path)))
        return found

    return run_async(run())


def test_the_index_chooses_as_the_full_router_does(tmp_path: Path, sqlite_template: Path) -> None:
    database = tmp_path / "lookout.db"
    shutil.copy(sqlite_template, database)
    settings = make_settings(tmp_path, f"sqlite:///{database}", LOOKOUT_LOCAL_MODE=False)
    indexed, full = create_app(settings), create_app(settings)
    assert isinstance(indexed.router.middleware_stack, RouteIndex)
    full.router.middleware_stack = full.router.app  # the router as FastAPI ships it
    paths = _sample_paths(indexed)
    assert len(paths) > 400

    outcomes = _outcomes(indexed, full, paths)
    assert [o for o in outcomes if o[2] != o[3]] == []
    endpoints = {mine[0] for _, _, mine, _ in outcomes}
    statuses = {status for _, _, mine, _ in outcomes for status in mine[2]}
    # The comparison reached the routes: most endpoints, and every kind of answer.
    assert len(endpoints) > 100
    assert {401, 404, 405} <= statuses


def test_an_added_route_is_served(tmp_path: Path, sqlite_template: Path) -> None:
    """Routes added after the first request are found: the index is rebuilt when they change."""
    database = tmp_path / "lookout.db"
    shutil.copy(sqlite_template, database)
    app = create_app(make_settings(tmp_path, f"sqlite:///{database}", LOOKOUT_LOCAL_MODE=False))
    assert run_async(_outcome(app, "GET", "/late/route"))[2] == [404]

    @app.get("/late/route")
    async def late() -> dict[str, str]:
        return {}

    assert run_async(_outcome(app, "GET", "/late/route"))[2] == [200]


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("/", ("", None)),
        ("/docs", ("docs", None)),
        ("/api/analyses/{analysis_id}", ("api", "analyses")),
        ("/api/{name}/things", ("api", None)),
        ("/{anything:path}", (None, None)),
        ("/files{suffix}", (None, None)),
        ("/api/images:batch", ("api", "images:batch")),
        ("relative", (None, None)),
    ],
)
def test_what_a_template_fixes(template: str, key: tuple[str | None, str | None]) -> None:
    assert _template_key(template) == key


def test_a_request_path_s_leading_segments() -> None:
    assert _leading_segments("/") == ("", "")
    assert _leading_segments("/api") == ("api", "")
    assert _leading_segments("/api/analyses/x/y") == ("api", "analyses")


def _tangled_app(indexed: bool) -> Any:
    """Routes whose order decides: literal before parameter, a catch-all last, a mount."""
    from fastapi import APIRouter, FastAPI
    from starlette.staticfiles import StaticFiles

    app = FastAPI(redirect_slashes=False)
    items = APIRouter(prefix="/items")

    @app.get("/items/special")
    async def special() -> str:
        return "special"

    @items.get("/{item_id}")
    async def item(item_id: str) -> str:
        return item_id

    @items.delete("/{item_id}/tags/{tag}")
    async def untag(item_id: str, tag: str) -> str:
        return tag

    app.include_router(items)
    static = Path(__file__).parent
    app.mount("/items/files", StaticFiles(directory=static), name="files")

    @app.get("/{anything:path}")
    async def anything(anything: str) -> str:
        return anything

    if indexed:
        RouteIndex.install(app.router)
    return app


def test_order_decides_as_in_the_full_router() -> None:
    indexed, full = _tangled_app(True), _tangled_app(False)
    paths = [
        "/",
        "/items",
        "/items/special",
        "/items/7",
        "/items/7/tags/x",
        "/items/files/x",
        "/other/thing",
        "/items/special/tags/x",
    ]

    outcomes = _outcomes(indexed, full, paths)
    assert [o for o in outcomes if o[2] != o[3]] == []
    by_request = {(method, path): mine for method, path, mine, _ in outcomes}
    assert by_request[("GET", "/items/special")][0].endswith("special")
    assert by_request[("GET", "/items/7")][0].endswith("item")
    assert by_request[("DELETE", "/items/7/tags/x")][0].endswith("untag")
    assert by_request[("GET", "/items/7/tags/x")][0].endswith("anything")
    assert by_request[("POST", "/items/7")][2] == [405]
