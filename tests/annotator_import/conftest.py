"""Fixtures for the pyro-annotator import: the fake pyro-annotator and a local-mode Lookout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lookout.fake_annotator import RunningFakeAnnotator, demo_data, start_fake_annotator
from tests.annotator_import.helpers import run_annotator_import
from tests.platform_import.helpers import Run


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder so a developer's .env is never read."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


@pytest.fixture
def annotator() -> Iterator[RunningFakeAnnotator]:
    """The fake pyro-annotator serving the demo data (tests may change `annotator.data`)."""
    with start_fake_annotator(demo_data()) as running:
        yield running


@pytest.fixture
def local_lookout(lookout_factory: Callable[..., Any]) -> Any:
    """Lookout in local mode on this test's database (SQLite, then PostgreSQL)."""
    return lookout_factory(LOOKOUT_LOCAL_MODE=True)


@pytest.fixture
def run_import(local_lookout: Any, annotator: RunningFakeAnnotator) -> Callable[..., Run]:
    """Run `lookout import-annotations pyro-annotator` against the fake, into local_lookout."""

    def run(*args: str, url: str | None = None, **env: str | None) -> Run:
        return run_annotator_import(local_lookout, url or annotator.url, *args, **env)

    return run
