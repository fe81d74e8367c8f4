"""`lookout export`, and what the dataset and evaluation commands share (session, caller)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.auth.principal import Principal
from lookout.config import Settings
from lookout.db import make_engine, make_session_factory
from lookout.errors import InvalidInput, LookoutError
from lookout.projects.models import Project
from lookout.storage import ObjectStorage, StorageError, make_storage

console = Console()
err_console = Console(stderr=True)

DATE = ["%Y-%m-%d"]


@dataclass
class Context:
    settings: Settings
    session: Session
    storage: ObjectStorage
    principal: Principal


@contextmanager
def command_context(user: str | None) -> Iterator[Context]:
    """Session, storage and caller of a command; domain errors exit 1 with their message."""
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


def cli_principal(session: Session, settings: Settings, email: str | None) -> Principal:
    """The named user (with their access), or the local admin who sees every project."""
    if email:
        return accounts.principal_for(session, accounts.get_user(session, email=email), via="cli")
    user = accounts.get_or_create_user(session, email=settings.local_user_email, is_admin=True)
    session.commit()
    return accounts.principal_for(session, user, via="local")


def resolve_project(session: Session, principal: Principal, value: str) -> uuid.UUID:
    """A project by id, or by name when the name is unique among the caller's projects."""
    from lookout.projects import service as projects

    try:
        return projects.get_project(session, principal=principal, project_id=uuid.UUID(value)).id
    except ValueError:
        pass
    query = projects.visible_projects(principal).where(Project.name == value)
    found = list(session.scalars(query.order_by(Project.id)))
    if not found:
        raise InvalidInput(f"project: no project named {value!r}", field="project")
    if len(found) > 1:
        ids = ", ".join(str(p.id) for p in found)
        raise InvalidInput(f"project: several projects are named {value!r}; use an id: {ids}")
    return found[0].id


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


def _prepare_output(out: Path, force: bool) -> None:
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            return
        if not force:
            raise InvalidInput(
                f"out: {out} already exists; pass --force to replace it", field="out"
            )
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()


def export(
    project: Annotated[str, typer.Option(help="Project id or name.")],
    out: Annotated[Path, typer.Option(help="A folder, or a file ending in .zip.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="coco, yolo, voc, csv or jsonl.")
    ] = "coco",
    source: Annotated[
        str,
        typer.Option(
            help="`reviews` (reviewed truth), or a model: `model:NAME` or `model:NAME@VERSION`."
        ),
    ] = "reviews",
    stage: Annotated[
        list[str] | None,
        typer.Option(help="Review stage (repeatable). Default annotated; `any` for all."),
    ] = None,
    date_from: Annotated[datetime | None, typer.Option("--from", formats=DATE)] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=DATE, help="Inclusive.")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="Camera id.")] = None,
    class_name: Annotated[
        list[str] | None, typer.Option("--class", help="Keep this class (repeatable).")
    ] = None,
    class_from: Annotated[
        str, typer.Option(help="Reviewed box class: `smoke` or the track's `smoke_type`.")
    ] = "smoke",
    min_confidence: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    negatives: Annotated[
        bool, typer.Option(help="Also frames without boxes, and false positives with types.")
    ] = False,
    images: Annotated[str, typer.Option(help="`copy` the images or `reference` them.")] = "copy",
    split: Annotated[
        str, typer.Option(help="train,val,test fractions (by sequence).")
    ] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    base_url: Annotated[
        str | None, typer.Option(help="Lookout's URL, for image links (reference mode).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """Export a project's reviewed truth or a model's boxes as a dataset (folder or zip).

    Frames of one sequence always land in the same split. Memory stays flat: frames are read
    a page at a time and images copied from storage one at a time.
    """
    from lookout.exports import service
    from lookout.exports.schemas import ExportOptions, make_selection, parse_split
    from lookout.exports.sinks import open_output

    with command_context(user) as ctx:
        project_id = resolve_project(ctx.session, ctx.principal, project)
        camera_id = _uuid(camera, "camera")
        selection = make_selection(
            project_id=project_id,
            source=source,
            stage=stage,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            camera_id=camera_id,
            classes=class_name,
            class_from=class_from,
            min_confidence=min_confidence,
            negatives=negatives,
        )
        options = ExportOptions(
            format=format,
            images=images,
            split=parse_split(split),
            seed=seed,
            base_url=base_url or ctx.settings.public_url,
        )
        plan = service.plan_export(ctx.session, principal=ctx.principal, selection=selection)
        ctx.session.commit()
        _prepare_output(out, force)
        sink, handle = open_output(out)
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"export {format}", total=plan.candidates)
                summary = service.write_export(
                    ctx.session,
                    ctx.storage,
                    plan=plan,
                    options=options,
                    sink=sink,
                    on_progress=lambda n: bar.advance(task, n),
                )
            sink.close()
        except BaseException:
            if handle is not None:
                handle.close()
            _remove(out)
            raise
        if handle is not None:
            handle.close()
    table = Table("images", "boxes", "negatives", "skipped", "train", "val", "test", "classes")
    table.add_row(
        str(summary.images),
        str(summary.boxes),
        str(summary.negatives),
        str(summary.skipped),
        *(str(summary.splits[s]) for s in ("train", "val", "test")),
        ", ".join(summary.classes),
    )
    console.print(table)
    console.print(f"written to {out}")


def _remove(out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out, ignore_errors=True)
    else:
        out.unlink(missing_ok=True)


def _uuid(value: str | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {value!r} is not an id", field=field) from exc
