"""Liveness does no database work; readiness asks the database and says when it cannot."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.responses import JSONResponse
from sqlalchemy.orm import sessionmaker

from lookout import __version__, health
from tests.support import Lookout, run_async


def _statements(lookout: Lookout) -> list[str]:
    """Record every statement the server's own engine runs from now on."""
    engine = lookout.server.app.state.runtime.sessions.kw["bind"]
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_liveness_touches_no_database_and_readiness_does(lookout: Lookout) -> None:
    client = lookout.client()
    seen = _statements(lookout)
    alive = client.get("/api/health")
    assert alive.status_code == 200 and alive.json()["status"] == "ok"
    assert seen == []
    ready = client.get("/api/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert any("SELECT 1" in statement for statement in seen)


def test_readiness_says_when_the_database_is_gone(lookout: Lookout, tmp_path: Any) -> None:
    runtime = lookout.server.app.state.runtime
    working = runtime.sessions
    broken = sa.create_engine(f"sqlite:///{tmp_path}/missing-folder/lookout.db")
    runtime.sessions = sessionmaker(bind=broken)
    try:
        client = lookout.client()
        assert client.get("/api/health").status_code == 200  # the process still answers
        ready = client.get("/api/ready")
        assert ready.status_code == 503
        assert "database" in ready.json()["detail"]
    finally:
        runtime.sessions = working
        broken.dispose()
    assert lookout.client().get("/api/ready").status_code == 200


def test_liveness_answers_as_the_documented_route_with_every_outer_layer(lookout: Lookout) -> None:
    """The probe is answered before the framework, yet with the route's bytes, the security
    headers and the path aliases every request gets; other methods still reach the router."""
    client = lookout.client()
    alive = client.get("/api/health?probe=1")
    route_body = JSONResponse(run_async(health.health())).body
    assert alive.status_code == 200 and alive.content == route_body
    assert alive.json() == {"status": "ok", "version": __version__}
    assert alive.headers["content-type"] == "application/json"
    assert alive.headers["x-content-type-options"] == "nosniff"
    for alias in ("/api/health/", "/api-ml/health", "/api-key/health"):
        assert client.get(alias).content == route_body, alias
    refused = client.post("/api/health")
    assert refused.status_code == 405 and "detail" in refused.json()
    assert client.head("/api/health").status_code == 405  # as the route answers it
    assert "/api/health" in client.get("/openapi.json").json()["paths"]


def test_liveness_keeps_local_modes_host_check(lookout_factory: Any) -> None:
    lookout = lookout_factory(LOOKOUT_LOCAL_MODE=True)
    client = lookout.client()
    assert client.get("/api/health").status_code == 200
    rebound = client.get("/api/health", headers={"Host": "rebind.test"})
    assert rebound.status_code == 421 and rebound.json()["field"] == "host"


def test_liveness_answers_without_the_app_and_passes_everything_else_on() -> None:
    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(f"{scope['method']} {scope['path']}")

    async def ask(method: str, path: str, root_path: str = "") -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
        await health.Liveness(inner)(scope, None, send)  # type: ignore[arg-type]
        return sent

    answered = run_async(ask("GET", "/lookout/api/health", root_path="/lookout"))
    assert [m["type"] for m in answered] == ["http.response.start", "http.response.body"]
    assert answered[0]["status"] == 200
    assert answered[1]["body"] == JSONResponse(run_async(health.health())).body
    for method, path in [("POST", "/api/health"), ("GET", "/api/ready"), ("GET", "/api/healthz")]:
        assert run_async(ask(method, path)) == []
    assert reached == ["POST /api/health", "GET /api/ready", "GET /api/healthz"]
