"""Fixtures of the ML analysis API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.analyses.ml_support import Setup, make_setup
from tests.conftest import make_settings, start_lookout
from tests.support import Lookout


@pytest.fixture
def ml(lookout: Lookout) -> Setup:
    """Lookout (SQLite and PostgreSQL) with a user, a project and a 640x480 image."""
    return make_setup(lookout)


@pytest.fixture(scope="module")
def shared_sqlite(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Setup]:
    """One SQLite Lookout for a whole module: for case tables that don't depend on the database.

    Each case creates its own analysis, so cases never see each other's state.
    """
    import shutil

    folder = tmp_path_factory.mktemp("ml-shared")
    database = folder / "lookout.db"
    shutil.copy(sqlite_template, database)
    instance = start_lookout(make_settings(folder, f"sqlite:///{database}"), "sqlite")
    try:
        yield make_setup(instance)
    finally:
        instance.close()
        instance.server.stop()


def start_sqlite(tmp_path: Path, sqlite_template: Path, **overrides: Any) -> Lookout:
    import shutil

    database = tmp_path / "alt.db"
    shutil.copy(sqlite_template, database)
    return start_lookout(make_settings(tmp_path, f"sqlite:///{database}", **overrides), "sqlite")


@pytest.fixture
def sqlite_factory(tmp_path: Path, sqlite_template: Path) -> Iterator[Any]:
    """Start SQLite-only Lookout servers with settings overrides (for settings tests)."""
    started: list[Lookout] = []

    def start(**overrides: Any) -> Setup:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        instance = start_sqlite(folder, sqlite_template, **overrides)
        started.append(instance)
        return make_setup(instance)

    yield start
    for instance in started:
        instance.close()
        instance.server.stop()
