"""Routes declared on a RouteTable are built once, on the app's own router."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from lookout.app import ERROR_RESPONSES, create_app
from lookout.config import Settings
from lookout.jsonbody import CheckedJSONRoute
from lookout.route_table import build_all
from tests.support import Lookout


def _app(tmp_path: Path) -> Any:
    return create_app(
        Settings(LOOKOUT_DATA_DIR=tmp_path / "data", LOOKOUT_SECRET_KEY="k", _env_file=None)
    )


def test_every_route_is_served_directly_by_the_apps_router(tmp_path: Path) -> None:
    app = _app(tmp_path)
    api_routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
    # No included-router entries, whose routes FastAPI would build again at the first request.
    assert {type(r).__name__ for r in app.router.routes} <= {
        "APIRoute",
        "CheckedJSONRoute",
        "PageRoute",
        "Mount",
        "Route",
    }
    paths = {(r.path, m) for r in api_routes for m in r.methods}
    assert ("/api/projects", "POST") in paths and ("/api/analyses/{analysis_id}", "GET") in paths
    project_route = next(r for r in api_routes if r.path == "/api/projects")
    assert isinstance(project_route, CheckedJSONRoute) and "projects" in project_route.tags


def test_error_responses_refer_to_one_documented_error_body(tmp_path: Path) -> None:
    spec = _app(tmp_path).openapi()
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["detail"]
    answers = spec["paths"]["/api/projects"]["post"]["responses"]
    for status in ERROR_RESPONSES:
        schema = answers[str(status)]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def _route(app: Any, path: str, method: str) -> APIRoute:
    return next(
        r
        for r in app.router.routes
        if isinstance(r, APIRoute) and r.path == path and method in r.methods
    )


def test_a_route_is_built_at_its_first_request(lookout: Lookout) -> None:
    app = lookout.server.app
    route = _route(app, "/api/projects", "GET")
    other = _route(app, "/api/analyses/{analysis_id}", "GET")
    # Matched, named and listed without FastAPI's build (a worker answers sooner).
    assert "dependant" not in vars(route) and "app" not in vars(route)
    assert route.path_format == "/api/projects" and route.name and route.methods == {"GET"}
    assert getattr(route, "effective_candidates", None) is None  # not a name the build sets
    assert "dependant" not in vars(route)

    client = lookout.keyed_client()
    answer = client.post("/api/projects", json={"name": "Built at first use"})
    assert answer.status_code == 201, answer.text
    listed = client.get("/api/projects")
    assert listed.status_code == 200
    assert "Built at first use" in [p["name"] for p in listed.json()]
    assert "dependant" in vars(route) and route.response_field is not None
    assert "dependant" not in vars(other)  # the others wait for their own first request


def test_every_route_builds_and_the_document_builds_them(tmp_path: Path) -> None:
    app = _app(tmp_path)
    routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
    built_at_start = [r.path for r in routes if "dependant" in vars(r)]
    # Liveness answers at once; the docs pages have nothing to build.
    assert len(routes) > 100 and built_at_start == ["/api/health", "/docs", "/docs/oauth2-redirect"]
    spec = app.openapi()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for route in routes:
        assert "dependant" in vars(route), route.path  # made for the document
        if route.include_in_schema:
            assert {(route.path_format, m) for m in route.methods} <= documented


def test_a_route_built_by_several_threads_at_once_is_built_once(tmp_path: Path) -> None:
    route = _route(_app(tmp_path), "/api/projects", "POST")
    start = threading.Barrier(8)
    seen: list[Any] = []

    def first_use() -> None:
        start.wait()
        seen.append(route.app)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(app is seen[0] for app in seen)
    build_all([route])  # already built: nothing changes
    assert route.app is seen[0]
