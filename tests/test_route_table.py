"""Routes declared on a RouteTable are built once, on the app's own router."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from lookout.app import ERROR_RESPONSES, create_app
from lookout.config import Settings
from lookout.jsonbody import CheckedJSONRoute


def _app(tmp_path: Path):
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
