"""`lookout export`: a project's reviewed truth or a model's boxes as a dataset (folder or zip)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lookout.cli_support import (
    DATE,
    Context,
    command_context,
    console,
    err_console,
    parse_uuid,
    progress_bar,
    resolve_project,
)
from lookout.errors import InvalidInput
from lookout.exports.splits import SPLIT_RULE
from lookout.format_names import RESULTS_FILE

if TYPE_CHECKING:
    from lookout.exports.schemas import ExportOptions, ExportSummary
    from lookout.exports.service import ExportPlan
    from lookout.exports.splits import SplitReport


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
    out: Annotated[
        Path,
        typer.Option(help="A folder, a file ending in .zip, or for coco-results a .json file."),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="coco, yolo, voc, csv, jsonl, or coco-results: a model's boxes as the COCO "
            "results list for COCO.loadRes (--out x.json writes it as is), on the frames and with "
            "the image and category ids of a coco export of the same selection "
            "(--source model:NAME).",
        ),
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
        str,
        typer.Option(help=f"train,val,test fractions for sequences without a split. {SPLIT_RULE}"),
    ] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Seed of the split draw.")] = 0,
    redraw_splits: Annotated[
        bool,
        typer.Option(
            help="Draw the selected sequences' splits again with --split and --seed, and keep "
            "the new ones."
        ),
    ] = False,
    base_url: Annotated[
        str | None, typer.Option(help="Lookout's URL, for image links (reference mode).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            help=(
                "Only sequences whose review changed at or after this time (ISO, with a zone, "
                "e.g. 2026-12-01T00:00:00Z). Each export prints the value for the next one."
            )
        ),
    ] = None,
) -> None:
    """Export a project's reviewed truth or a model's boxes as a dataset (folder or zip).

    Frames of one sequence always land in the same split, stored on the sequence the first
    time it is exported and kept by every later export (`lookout set-split` moves one).

    Memory stays flat: frames are read a page at a time and images copied one at a time.
    """
    from lookout.db import utcnow
    from lookout.exports import service
    from lookout.exports.schemas import RESULTS_FORMAT, ExportOptions, parse_split
    from lookout.truth.selection import make_selection

    since = _parse_changed_since(changed_since)
    with command_context(user) as ctx:
        # Reviews saved from here on (less the feed's settling time) go in the next export.
        next_since = utcnow() - timedelta(seconds=ctx.settings.changes_settle_seconds)
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
            changed_since=since,
        )
        options = ExportOptions(
            format=format,
            images=images,
            split=parse_split(split),
            seed=seed,
            base_url=base_url or ctx.settings.public_url,
            redraw_splits=redraw_splits,
        )
        try:
            plan = service.plan_export(
                ctx.session,
                principal=ctx.principal,
                selection=selection,
                results=options.format == RESULTS_FORMAT,
            )
        except InvalidInput as exc:
            if since is not None and exc.field == "selection":
                # A nightly pull with nothing new is not a failure.
                console.print(f"nothing changed since {since.isoformat()}: nothing written")
                console.print(f"next time: --changed-since {next_since.isoformat()}")
                return
            if exc.field != "class":
                raise
            # A usage error like any unknown option value (typer's exit 2), not a failure.
            err_console.print(f"[red]error:[/red] --{exc.message}")
            raise typer.Exit(2) from exc
        ctx.session.commit()
        _prepare_output(out, force)
        report = service.prepare_export(ctx.session, plan=plan, options=options)
        summary = _write(ctx, plan, options, out)
    console.print(_summary_table(summary))
    _warn(report, summary)
    console.print(f"written to {out}")
    console.print(f"next time, only what changed since: --changed-since {next_since.isoformat()}")


def _parse_changed_since(value: str | None) -> datetime | None:
    """An aware time from the option; a usage error (exit 2) otherwise."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        err_console.print(
            f"[red]error:[/red] --changed-since: {value!r} is not an ISO date and time with a "
            "zone (e.g. 2026-12-01T00:00:00Z)"
        )
        raise typer.Exit(2)
    return when


def _warn(report: SplitReport, summary: ExportSummary) -> None:
    """Say loudly what would make the dataset mislead a trainer (an empty val split)."""
    messages = list(report.warnings)
    if summary.images and not summary.splits["val"] and not report.warnings:
        messages.append("val is empty in this export (YOLO's data.yaml points val at train)")
    for message in messages:
        err_console.print(f"[bold yellow]warning:[/bold yellow] {message}")


def _write(ctx: Context, plan: ExportPlan, options: ExportOptions, out: Path) -> ExportSummary:
    """Write the export to `out` with a progress bar; a failed export leaves nothing behind."""
    from lookout.exports import service
    from lookout.exports.schemas import RESULTS_FORMAT
    from lookout.exports.sinks import open_output

    sink, handle = open_output(out, RESULTS_FILE if options.format == RESULTS_FORMAT else None)
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
                prepared=True,
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


def set_split(
    sequence: Annotated[str, typer.Argument(help="Sequence id.")],
    split: Annotated[str, typer.Argument(help="train, val or test.")],
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
) -> None:
    """Put a sequence in a split: every later export keeps it there."""
    from lookout.exports import splits

    with command_context(user) as ctx:
        sequence_id = parse_uuid(sequence, "sequence")
        assert sequence_id is not None  # a required argument
        splits.set_split(ctx.session, principal=ctx.principal, sequence_id=sequence_id, split=split)
    console.print(f"sequence {sequence_id} is in {split}")
