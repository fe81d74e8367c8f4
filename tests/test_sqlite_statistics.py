"""A server keeps SQLite's statistics fresh, so its planner picks indexes by the data."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from lookout.db import keep_sqlite_statistics, make_engine
from lookout.migrate import upgrade
from tests.support import Lookout, run_async

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _stat_rows(path: str, table: str) -> int | None:
    """Rows SQLite's statistics count for `table` (None: no statistics yet)."""
    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            return None
        row = db.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table,)).fetchone()
    return None if row is None else int(row[0].split()[0])


@SQLITE
def test_a_server_analyzes_its_sqlite_database_when_it_starts(
    lookout: Lookout, database_url: str
) -> None:
    path = database_url.removeprefix("sqlite:///")
    alice = lookout.keyed_client("alice@example.org")
    assert alice.get("/api/projects").status_code == 200
    # The template database never ran ANALYZE; the server's start did (of the tables it
    # found rows in: the migrations' own).
    for _ in range(100):
        if _stat_rows(path, "alembic_version") is not None:
            break
        run_async(asyncio.sleep(0.05))
    assert _stat_rows(path, "alembic_version") == 1


def test_statistics_follow_the_data_while_the_server_runs(tmp_path: Path) -> None:
    path = str(tmp_path / "lookout.db")
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    async def grow_then_wait() -> int | None:
        keeper = asyncio.create_task(keep_sqlite_statistics(engine, every=0.05))
        try:
            await asyncio.sleep(0.2)
            with sqlite3.connect(path) as db:
                db.executemany(
                    "INSERT INTO groups (id, name, created_at, updated_at) "
                    "VALUES (?, ?, '2026-01-01', '2026-01-01')",
                    [(f"{n:032x}", f"g{n}") for n in range(500)],
                )
            for _ in range(200):
                if _stat_rows(path, "groups") == 500:
                    break
                await asyncio.sleep(0.05)
            return _stat_rows(path, "groups")
        finally:
            keeper.cancel()

    try:
        assert run_async(grow_then_wait()) == 500
    finally:
        engine.dispose()


def test_nothing_to_keep_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:  # returns at once instead of looping
        run_async(asyncio.wait_for(keep_sqlite_statistics(engine, every=0.01), timeout=30))
    finally:
        engine.dispose()
