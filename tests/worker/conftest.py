"""Fixtures of the worker tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings, start_lookout
from tests.support import Lookout
from tests.worker.support import Project, make_project, tiny_yolo


@pytest.fixture
def project(lookout: Lookout) -> Project:
    """Lookout (SQLite and PostgreSQL) with a user, a project and one 128x96 image."""
    return make_project(lookout, images=1)


@pytest.fixture
def sqlite_project(tmp_path: Path, sqlite_template: Path) -> Iterator[Project]:
    """The same on SQLite only, for behaviour of the worker that no database changes."""
    database = tmp_path / "db" / "lookout.db"
    database.parent.mkdir()
    shutil.copy(sqlite_template, database)
    instance = start_lookout(make_settings(tmp_path, f"sqlite:///{database}"), "sqlite")
    try:
        yield make_project(instance, images=1)
    finally:
        instance.close()
        instance.server.stop()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """The tiny YOLO-shaped model whose detections are `support.EXPECTED`."""
    return tiny_yolo(tmp_path / "tiny_yolo.onnx")


@pytest.fixture(autouse=True)
def _close_test_engines(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the test-side connection pools of this test's servers once it is over (PostgreSQL
    allows a limited number of connections for the whole session)."""
    yield
    for value in request.node.funcargs.values():
        instance = value.lookout if isinstance(value, Project) else value
        if isinstance(instance, Lookout):
            bind = instance.sessions.kw.get("bind")
            if bind is not None:
                bind.dispose()
