"""`lookout export`: a project's reviewed truth or a model's boxes as a dataset (folder or zip)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lookout.cli_support import (
    DATE,
    Context,
    command_context,
    console,
    parse_uuid,
    progress_bar,
    resolve_project,
)
from lookout.errors import InvalidInput

if TYPE_CHECKING:
    from lookout.exports.schemas import ExportOptions, ExportSummary
    from lookout.exports.service import ExportPlan


def _prepare_output(out: Path, force: bool) -> None:
    """Refuse an existing `out` unless forced (then remove it); an empty folder is fine."""
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
    from lookout.exports.schemas import ExportOptions, parse_split
    from lookout.truth.selection import make_selection

    with command_context(user) as ctx:
        project_id = resolve_project(ctx.session, ctx.principal, project)
        camera_id = parse_uuid(camera, "camera")
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
        summary = _write(ctx, plan, options, out)
    console.print(_summary_table(summary))
    console.print(f"written to {out}")


def _write(ctx: Context, plan: ExportPlan, options: ExportOptions, out: Path) -> ExportSummary:
    """Write the export to `out` with a progress bar; a failed export leaves nothing behind."""
    from lookout.exports import service
    from lookout.exports.sinks import open_output

    sink, handle = open_output(out)
    try:
        with progress_bar() as bar:
            task = bar.add_task(f"export {options.format}", total=plan.candidates)
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
    return summary


def _summary_table(summary: ExportSummary) -> Table:
    """What the export holds: counts, images per split and classes."""
    table = Table("images", "boxes", "negatives", "skipped", "train", "val", "test", "classes")
    table.add_row(
        str(summary.images),
        str(summary.boxes),
        str(summary.negatives),
        str(summary.skipped),
        *(str(summary.splits[s]) for s in ("train", "val", "test")),
        ", ".join(summary.classes),
    )
    return table


def _remove(out: Path) -> None:
    """Remove a half-written export."""
    if out.is_dir():
        shutil.rmtree(out, ignore_errors=True)
    else:
        out.unlink(missing_ok=True)
