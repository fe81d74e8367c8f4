"""Fixtures for the platform import: a small fake platform and a local-mode Lookout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lookout.fake_platform import RunningFakePlatform, start_fake_platform
from tests.platform_import.helpers import small_config


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder so a developer's .env is never read."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


@pytest.fixture
def platform() -> Iterator[RunningFakePlatform]:
    """The small fake platform (its config may be changed by the test)."""
    with start_fake_platform(small_config()) as running:
        yield running


@pytest.fixture
def start_platform() -> Iterator[Callable[..., RunningFakePlatform]]:
    """Start fake platforms with other configs."""
    started: list[RunningFakePlatform] = []

    def start(**changes: Any) -> RunningFakePlatform:
        running = start_fake_platform(small_config(**changes))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def local_lookout(lookout_factory: Callable[..., Any]) -> Any:
    """Lookout in local mode: requests without credentials act as the local admin."""
    return lookout_factory(LOOKOUT_LOCAL_MODE=True)
