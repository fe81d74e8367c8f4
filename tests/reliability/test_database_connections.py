"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when the database
dropped them (a restart, a failover, an administrator's `pg_terminate_backend`)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from lookout.db import PING_AFTER_IDLE_SECONDS, make_engine

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _drop_connections_of(database_url: str) -> int:
    """Terminate every other session on the database, as a restart would; how many."""
    admin = sa.create_engine(database_url, poolclass=sa.NullPool)
    with admin.connect() as conn:
        dropped = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return int(dropped)


def _counting_pings(engine: sa.Engine) -> list[int]:
    """Count the pings the engine sends (the dialect's own ping is still what runs)."""
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


def test_a_connection_used_just_now_is_not_pinged_an_idle_one_is(postgres_url: str) -> None:
    # A window far longer than a slow machine's pause between two uses of the connection.
    engine = make_engine(postgres_url, pool_size=1, ping_after_idle=2.0)
    pings = _counting_pings(engine)
    try:
        for _ in range(5):  # new, then reused at once: as under load
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        assert pings == []
        time.sleep(2.1)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 2")).scalar_one() == 2
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_an_idle_connection_the_database_dropped_is_replaced(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1, ping_after_idle=0.3)
    try:
        with engine.connect() as conn:
            first = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert _drop_connections_of(postgres_url) >= 1
        time.sleep(0.4)
        with engine.connect() as conn:  # the ping finds it gone; a new one answers
            second = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


@POSTGRES
def test_the_server_recovers_when_the_database_drops_its_connections(
    lookout_factory: Any, database_url: str
) -> None:
    """Right after the drop at most one request fails, with a 503 that says to try again, and
    the next one is served; after an idle second no request fails at all."""
    lookout = lookout_factory()
    key = lookout.user_with_key("alice@example.org")
    client = lookout.client({"X-API-Key": key})
    for _ in range(3):
        assert client.get("/api/projects").status_code == 200

    assert _drop_connections_of(database_url) >= 1
    answers = [client.get("/api/projects") for _ in range(4)]
    failed = [answer for answer in answers if answer.status_code != 200]
    assert len(failed) <= 1, [a.text for a in answers]
    for answer in failed:
        assert answer.status_code == 503 and "try again" in answer.json()["detail"]
    assert answers[-1].status_code == 200

    assert _drop_connections_of(database_url) >= 1
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
    assert [client.get("/api/projects").status_code for _ in range(3)] == [200, 200, 200]
