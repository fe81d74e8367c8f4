"""`lookout evaluate`: models against reviewed truth, as tables or JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from lookout.cli_support import DATE, command_context, console, parse_uuid, resolve_project


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def class_table(result: dict[str, Any]) -> Table:
    model = result["model"]
    label = f"{model['name']}@{model['version']}" if model["version"] else model["name"]
    table = Table(
        "class",
        "truth",
        "detections",
        "AP50",
        "AP50:95",
        "precision",
        "recall",
        "F1",
        title=f"{label}: {result['images']} images, confidence >= {result['confidence_threshold']}"
        f", IoU >= {result['iou_threshold']}",
    )
    for block in result["per_class"]:
        table.add_row(
            block["class_name"],
            str(block["truth_boxes"]),
            str(block["detections"]),
            _num(block["ap50"]),
            _num(block["ap"]),
            _num(block["precision"]),
            _num(block["recall"]),
            _num(block["f1"]),
        )
    overall = result["overall"]
    table.add_row(
        "[bold]all[/bold]",
        str(result["truth_boxes"]),
        str(result["detections"]),
        _num(overall["ap50"]),
        _num(overall["ap"]),
        _num(overall["precision"]),
        _num(overall["recall"]),
        _num(overall["f1"]),
    )
    return table


def sequence_line(result: dict[str, Any]) -> str:
    seq = result["sequences"]
    fire = seq["frames_to_fire"]
    return (
        f"smoke sequences caught: {seq['caught']}/{seq['smoke_sequences']} "
        f"({_pct(seq['catch_rate'])}%), frames to fire: median {_num(fire['median'], 1)}, "
        f"mean {_num(fire['mean'], 2)}; false alarms on {seq['false_alarm_sequences']}/"
        f"{seq['sequences_without_smoke']} sequences without smoke"
    )


def comparison_table(results: list[dict[str, Any]]) -> Table:
    table = Table(
        "model",
        "AP50",
        "AP50:95",
        "precision",
        "recall",
        "F1",
        "caught %",
        "median frames",
        title="models side by side",
    )
    for r in results:
        model = r["model"]
        label = f"{model['name']}@{model['version']}" if model["version"] else model["name"]
        o, s = r["overall"], r["sequences"]
        table.add_row(
            label,
            _num(o["ap50"]),
            _num(o["ap"]),
            _num(o["precision"]),
            _num(o["recall"]),
            _num(o["f1"]),
            _pct(s["catch_rate"]),
            _num(s["frames_to_fire"]["median"], 1),
        )
    return table


def evaluate(
    project: Annotated[str, typer.Option(help="Project id or name.")],
    model: Annotated[
        list[str], typer.Option(help="Model as name or name@version (repeatable to compare).")
    ],
    stage: Annotated[
        list[str] | None, typer.Option(help="Review stages taken as truth (default annotated).")
    ] = None,
    date_from: Annotated[datetime | None, typer.Option("--from", formats=DATE)] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=DATE, help="Inclusive.")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="Camera id.")] = None,
    class_name: Annotated[
        list[str] | None, typer.Option("--class", help="Only this class (repeatable).")
    ] = None,
    class_from: Annotated[
        str, typer.Option(help="Truth class: `smoke` or `smoke_type`.")
    ] = "smoke",
    class_agnostic: Annotated[bool, typer.Option(help="Match boxes whatever their class.")] = False,
    iou: Annotated[float, typer.Option(min=0.01, max=1, help="IoU for a match.")] = 0.5,
    threshold: Annotated[float, typer.Option(min=0, max=1, help="Confidence threshold.")] = 0.5,
    include_unanalyzed: Annotated[
        bool, typer.Option(help="Count truth on frames the model never saw as misses.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    store: Annotated[bool, typer.Option(help="Keep metrics and per-box outcomes.")] = True,
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
) -> None:
    """Evaluate models against reviewed truth: AP, precision/recall/F1, sequences caught."""
    from lookout.evaluation import service
    from lookout.evaluation.schemas import EvaluationCreate
    from lookout.truth.selection import parse_model

    results: list[dict[str, Any]] = []
    with command_context(user) as ctx:
        project_id = resolve_project(ctx.session, ctx.principal, project)
        for text in model:
            ref = parse_model(text)
            request = EvaluationCreate(
                project_id=project_id,
                model_name=ref.name,
                model_version=ref.version,
                stage=stage,
                date_from=date_from.date() if date_from else None,
                date_to=date_to.date() if date_to else None,
                camera_id=parse_uuid(camera, "camera"),
                classes=class_name or [],
                class_from=class_from,
                class_agnostic=class_agnostic,
                iou_threshold=iou,
                confidence_threshold=threshold,
                include_unanalyzed=include_unanalyzed,
                store=store,
            )
            result, _ = service.evaluate_model(
                ctx.session, principal=ctx.principal, request=request
            )
            results.append(result)
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
        return
    for result in results:
        console.print(class_table(result))
        console.print(sequence_line(result))
        if result.get("id"):
            console.print(f"stored as evaluation {result['id']}")
    if len(results) > 1:
        console.print(comparison_table(results))
