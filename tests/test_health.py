"""Liveness does no database work; readiness asks the database and says when it cannot."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from tests.support import Lookout


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
