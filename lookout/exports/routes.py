"""HTTP: a dataset export streamed as a zip."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict

from lookout.db import utcnow
from lookout.deps import BaseUrlDep, PrincipalDep, SessionDep, StorageDep, get_runtime
from lookout.exports import splits
from lookout.exports.schemas import RESULTS_FORMAT, ExportOptions, parse_split
from lookout.format_names import RESULTS_FILE
from lookout.jsonbody import CheckedJSONRoute
from lookout.route_table import RouteTable
from lookout.schema import Schema
from lookout.truth.selection import make_selection

if TYPE_CHECKING:
    from lookout.exports.sinks import Writable

router = RouteTable(tags=["exports"], route_class=CheckedJSONRoute)


def archive_name(project_name: str, fmt: str, suffix: str = "zip") -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", project_name)[:80] or "project"
    return f"lookout_{safe}_{fmt}_{utcnow().strftime('%Y%m%dT%H%M%S')}.{suffix}"


@router.get(
    "/api/exports",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {}, "application/json": {}},
            "description": "The dataset as a zip (coco-results: the results list as JSON)",
        },
        400: {"description": "Unknown format, bad option or empty selection"},
        404: {"description": "No such project (or not yours)"},
    },
)
def export_dataset(
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
    project_id: uuid.UUID,
    format: Annotated[
        str,
        Query(
            description="coco, yolo, voc, csv, jsonl, or coco-results: a model's boxes as a COCO "
            "results list (one JSON file, for COCO.loadRes) with the image and category ids of a "
            "coco export of the same selection"
        ),
    ] = "coco",
    source: Annotated[
        str, Query(description="`reviews` (reviewed truth) or `model:<name>[@version]`")
    ] = "reviews",
    stage: Annotated[
        list[str] | None,
        Query(description="Review stages (repeatable); default annotated; `any` for all"),
    ] = None,
    date_from: date | None = None,
    date_to: Annotated[date | None, Query(description="Inclusive")] = None,
    camera_id: uuid.UUID | None = None,
    class_name: Annotated[
        list[str] | None, Query(alias="class", description="Keep these classes (repeatable)")
    ] = None,
    class_from: Annotated[
        str, Query(description="Class of a reviewed box: `smoke` or the track's `smoke_type`")
    ] = "smoke",
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    negatives: Annotated[
        bool, Query(description="Also frames without boxes (and false positives with types)")
    ] = False,
    images: Annotated[str, Query(description="`copy` the images or `reference` them")] = "copy",
    split: Annotated[
        str | None,
        Query(description=f"train,val,test fractions of new sequences. {splits.SPLIT_RULE}"),
    ] = None,
    seed: Annotated[int, Query(description="Seed of the split draw")] = 0,
    redraw_splits: Annotated[
        bool, Query(description="Draw the selected sequences' splits again (and keep them)")
    ] = False,
    changed_since: Annotated[
        datetime | None,
        Query(description="Only sequences whose review changed since this time (with a zone)"),
    ] = None,
) -> StreamingResponse:
    """Stream a dataset of a project as a zip, written while it downloads.

    The selection is checked first (a 4xx names the problem, e.g. an empty selection), the
    frames' ids and the new sequences' splits are stored; the zip is then produced entry by
    entry, images streamed from storage one at a time. Warnings (an empty val split) come in
    `X-Lookout-Warning`.
    """
    # The writers (and Pillow) load with the first export, not with every server worker.
    from lookout.exports import service
    from lookout.exports.sinks import SingleFileSink, ZipSink, stream_in_thread

    selection = make_selection(
        project_id=project_id,
        source=source,
        stage=stage,
        date_from=date_from,
        date_to=date_to,
        camera_id=camera_id,
        classes=class_name,
        class_from=class_from,
        min_confidence=min_confidence,
        negatives=negatives,
        changed_since=changed_since,
    )
    options = ExportOptions(
        format=format,
        images=images,
        split=parse_split(split),
        seed=seed,
        base_url=base_url,
        redraw_splits=redraw_splits,
    )
    plan = service.plan_export(
        session, principal=principal, selection=selection, results=format == RESULTS_FORMAT
    )
    report = service.prepare_export(session, plan=plan, options=options)  # commits
    sessions = get_runtime(request).sessions

    results = format == RESULTS_FORMAT  # one JSON file, served as is

    def produce(out: Writable) -> None:
        with sessions() as export_session:
            sink = SingleFileSink(out, RESULTS_FILE) if results else ZipSink(out)
            service.write_export(
                export_session, storage, plan=plan, options=options, sink=sink, prepared=True
            )
            sink.close()

    filename = archive_name(plan.project_name, format, "json" if results else "zip")
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
    }
    if report.warnings:
        headers["X-Lookout-Warning"] = "; ".join(report.warnings)
    return StreamingResponse(
        stream_in_thread(produce),
        media_type="application/json" if results else "application/zip",
        headers=headers,
    )


class SplitWrite(Schema):
    """The split a sequence is put in."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["train", "val", "test"]


class SplitRead(Schema):
    sequence_id: uuid.UUID
    split: str


@router.put(
    "/api/sequences/{sequence_id}/split",
    response_model=SplitRead,
    responses={404: {"description": "No such sequence (or not yours)"}},
)
def set_sequence_split(
    sequence_id: uuid.UUID, body: SplitWrite, session: SessionDep, principal: PrincipalDep
) -> SplitRead:
    """Put a sequence in train, val or test; every later export keeps it there."""
    splits.set_split(session, principal=principal, sequence_id=sequence_id, split=body.split)
    return SplitRead(sequence_id=sequence_id, split=body.split)
