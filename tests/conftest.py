"""Test session: real PostgreSQL, a real S3 API server and live Lookout servers on loopback.

In CI (CI=true) a missing component fails the run; on a laptop those tests skip with a reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bench.ui import CHROMIUM, CHROMIUM_ARGS
from lookout.app import create_app
from lookout.config import Settings
from lookout.db import make_engine, make_session_factory
from lookout.migrate import upgrade
from lookout.models import Base
from tests.support import LiveServer, Lookout, free_port

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
HMAC_SECRET = "test-hmac-secret"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A request that timed out shows where every thread (the live servers') stood then."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(httpx.TimeoutException):
        report.sections.append(("threads when the client gave up", _thread_stacks()))
    return report


def _thread_stacks() -> str:
    frames = sys._current_frames()
    stacks = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        if frame is not None and thread is not threading.current_thread():
            stacks.append(f"--- {thread.name}\n" + "".join(traceback.format_stack(frame)))
    return "\n".join(stacks)


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere: CI must run every component for real."""
    if IN_CI:
        pytest.fail(f"required test component unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    try:
        import pgserver
    except ImportError as exc:
        unavailable(f"pgserver is not installed: {exc}")
    folder = tempfile.mkdtemp(prefix="lookout-pg-")
    try:
        server = pgserver.get_server(folder, cleanup_mode="stop")
    except Exception as exc:
        unavailable(f"could not start PostgreSQL with pgserver: {exc}")
    _skip_durability(server)
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


_pg_counter = iter(range(1_000_000))


def _skip_durability(server: Any) -> None:
    """No flush to disk on commit: a test database need not survive a power cut.

    Each test copies the template (about 6 MB of WAL), so a full run writes gigabytes and
    checkpoints several times; with every commit waiting for its flush, a slow disk stalled
    one commit past a client's 30 s timeout in CI.
    """
    with _admin(server) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(sa.text(f"ALTER SYSTEM SET {setting} = off"))
        conn.execute(sa.text("SELECT pg_reload_conf()"))


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped after it (a smaller cluster to
    checkpoint)."""
    url = new_postgres_database(postgres_server)
    yield url
    with _admin(postgres_server) as conn:
        name = sa.engine.make_url(url).database
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _admin(server: Any) -> Iterator[sa.Connection]:
    """A connection to the server's maintenance database, outside any transaction."""
    admin = make_engine(server.get_uri(), pool_size=1)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    finally:
        admin.dispose()


def new_postgres_database(server: Any) -> str:
    """The URL of a fresh migrated database: a copy of the session's template."""
    _ensure_template(server)
    name = f"lookout_test_{os.getpid()}_{next(_pg_counter)}"
    with _admin(server) as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE lookout_template'))
    base = sa.engine.make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://"))
    return base.set(database=name).render_as_string(hide_password=False)


def _ensure_template(server: Any) -> None:
    with _admin(server) as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname='lookout_template'")
        ).first()
        if not exists:
            conn.execute(sa.text('CREATE DATABASE "lookout_template"'))
            url = sa.engine.make_url(
                server.get_uri().replace("postgresql://", "postgresql+psycopg://")
            )
            upgrade(url.set(database="lookout_template").render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "lookout.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each API test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "db" / "lookout.db"
        target.parent.mkdir()
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 API server on loopback."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] is not installed: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "LOOKOUT_DATA_DIR": tmp_path / "data",
        "DATABASE_URL": database_url,
        "LOOKOUT_SECRET_KEY": "test-signing-key",
        "ML_CALLBACK_HMAC_SECRET": HMAC_SECRET,
        # The fake platforms and frame sources of the tests listen on loopback.
        "LOOKOUT_FETCH_ALLOW_PRIVATE": True,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def start_lookout(settings: Settings, backend: str) -> Lookout:
    app = create_app(settings)
    server = LiveServer(app).start()
    engine = make_engine(settings.resolved_database_url, pool_size=2)
    return Lookout(
        settings=settings, server=server, sessions=make_session_factory(engine), backend=backend
    )


@pytest.fixture
def lookout_factory(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """Start Lookout servers with settings overrides, on this test's database."""
    started: list[Lookout] = []
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"

    def start(**overrides: Any) -> Lookout:
        instance = start_lookout(make_settings(tmp_path, database_url, **overrides), backend)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.close()
        instance.server.stop()


@pytest.fixture
def lookout(lookout_factory: Any) -> Lookout:
    """Lookout with API-key auth only (no local mode, no proxy)."""
    return lookout_factory()


@pytest.fixture
def tables() -> list[str]:
    return sorted(Base.metadata.tables)


# One browser for the whole session (here, so every folder's tests share it: two Playwright
# sync instances cannot run at once).
@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed: {exc}")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        unavailable(f"could not launch {CHROMIUM}: {exc}")
    yield browser
    browser.close()
    playwright.stop()
