"""`lookout import-dataset`: a COCO, YOLO, VOC, CSV or JSONL dataset (folder, file or zip)
into a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lookout.cli_support import command_context, console, progress_bar, resolve_project


def import_dataset(
    path: Annotated[
        Path,
        typer.Argument(
            help="A COCO .json file or folder, a YOLO folder (data.yaml), a VOC folder, "
            "annotations.csv or annotations.jsonl (or their folder), or a zip of any of them "
            "(Lookout's exports as they are)."
        ),
    ],
    project: Annotated[str, typer.Option(help="Project id or name.")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="coco, yolo, voc, csv or jsonl (default: detected)."),
    ] = None,
    images: Annotated[
        Path | None,
        typer.Option(help="COCO: folder of the images (default: images/ beside the file)."),
    ] = None,
    import_as: Annotated[
        str, typer.Option("--as", help="`analysis` (a model's boxes) or `reviews` (truth).")
    ] = "analysis",
    model_name: Annotated[
        str | None, typer.Option(help="Model name of the analysis (default: the dataset name).")
    ] = None,
    model_version: Annotated[str, typer.Option(help="Model version of the analysis.")] = "",
    review_stage: Annotated[str, typer.Option(help="Stage of imported reviews.")] = "annotated",
    dry_run: Annotated[bool, typer.Option(help="Only read and check the dataset.")] = False,
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
) -> None:
    """Import a dataset as images with an analysis (or with reviews), to compare and re-export.

    Everything is checked before anything is stored (dangling ids, boxes outside their image,
    missing files); a failure while storing removes what the import created. Images already in
    the project (same bytes) are reused, so a tool's predictions land on the same images.

    Imported as reviews, a sequence keeps the split the dataset gives its frames (COCO's
    `split` field, the data.yaml split that lists them), and later exports keep it there.
    """
    from lookout.datasets import service
    from lookout.formats.registry import read_dataset, unpacked

    with command_context(user) as ctx, unpacked(path) as folder:
        project_id = resolve_project(ctx.session, ctx.principal, project)
        options = service.ImportOptions(
            project_id=project_id,
            import_as=import_as,
            model_name=model_name,
            model_version=model_version,
            review_stage=review_stage,
            max_pixels=ctx.settings.max_image_pixels,
        )
        with console.status("reading the dataset"):
            dataset = read_dataset(folder, format, images)
        if folder != path:  # a zip: name the dataset after it, not the temporary folder
            dataset.name = path.stem
        boxes = sum(len(i.boxes) for i in dataset.images)
        console.print(
            f"{dataset.format} dataset {dataset.name}: {len(dataset.images)} images, "
            f"{boxes} boxes, classes {', '.join(dataset.classes) or '-'}"
        )
        if dry_run:
            console.print("dry run: nothing stored")
            return
        with progress_bar() as bar:
            task = bar.add_task("import", total=len(dataset.images))
            report = service.import_dataset(
                ctx.session,
                ctx.storage,
                principal=ctx.principal,
                dataset=dataset,
                options=options,
                on_progress=lambda n: bar.advance(task, n),
            )
    table = Table("images new", "images reused", "analyses", "boxes", "sequences", "reviews")
    table.add_row(
        str(report.images_created),
        str(report.images_reused),
        str(report.analyses),
        str(report.predictions),
        str(report.sequences),
        str(report.reviews),
    )
    console.print(table)
    for line in report.skipped:
        console.print(f"skipped: {line}")
