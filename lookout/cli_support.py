"""What the commands share: consoles, a session, and for the data commands (export,
import-dataset, evaluate) storage and the caller.

`command_context` opens the database and storage as the named user (or the local admin) and
turns domain errors into a message and exit code; `resolve_project` finds a project by id or
by its name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console

from lookout.config import Settings
from lookout.errors import InvalidInput, LookoutError

# The database, storage and accounts load inside the functions that use them: each server
# process imports `lookout.cli` (and so this module) before it answers uvicorn's health checks.
if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import Session

    from lookout.auth.principal import Principal
    from lookout.storage import ObjectStorage

console = Console()
err_console = Console(stderr=True)

DATE = ["%Y-%m-%d"]


@dataclass
class Context:
    """A command's settings, session, storage and caller."""

    settings: Settings
    session: Session
    storage: ObjectStorage
    principal: Principal


@contextmanager
def command_context(user: str | None) -> Iterator[Context]:
    """Session, storage and caller of a command; domain errors exit 1 with their message."""
    from lookout.db import make_engine, make_session_factory
    from lookout.storage import StorageError, make_storage

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            principal = cli_principal(session, settings, user)
            yield Context(settings, session, make_storage(settings), principal)
    except LookoutError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    except StorageError as exc:
        err_console.print(f"[red]error:[/red] object storage failed: {exc}")
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            err_console.print(f"[red]error:[/red] {where}: {problem['msg']}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@contextmanager
def cli_session() -> Iterator[Session]:
    """A session on the configured database; domain errors exit 1 with their message."""
    from lookout.db import make_engine, make_session_factory

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
            session.commit()
    except LookoutError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def cli_principal(session: Session, settings: Settings, email: str | None) -> Principal:
    """The named user (with their access), or the local admin who sees every project."""
    from lookout.accounts import service as accounts

    if email:
        return accounts.principal_for(session, accounts.get_user(session, email=email), via="cli")
    user = accounts.get_or_create_user(session, email=settings.local_user_email, is_admin=True)
    session.commit()
    return accounts.principal_for(session, user, via="local")


def resolve_project(session: Session, principal: Principal, value: str) -> uuid.UUID:
    """A project by id, or by name when the name is unique among the caller's projects."""
    from lookout.projects.repository import ProjectRepository

    return ProjectRepository(session, principal).find(value).id


def parse_uuid(value: str | None, field: str) -> uuid.UUID | None:
    """An id given on the command line (None stays None); anything else names the option."""
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {value!r} is not an id", field=field) from exc


def progress_bar() -> Progress:
    """A progress bar on stderr: description, bar, done of total, time elapsed."""
    # Imported here: `lookout serve` (and each server process) never draws one.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
