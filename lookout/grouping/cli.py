"""`lookout sequence-groups list|show|decide`: recurring objects from the command line.

(`lookout groups` manages the access groups of users.)

The commands call the grouping service as the API does, as the named user (`--user`) or the
local admin, so they see exactly the groups that user may see. A group is named by its id, or
by its number in its project ("Group 12": `12 --project ridge`).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lookout.cli_support import (
    Context,
    command_context,
    console,
    parse_uuid,
    resolve_project,
)
from lookout.errors import InvalidInput

if TYPE_CHECKING:
    from lookout.grouping.models import SequenceGroup

app = typer.Typer(
    help="Groups of recurring objects: tracks of one camera at the same place across days, "
    "labelled once.",
    no_args_is_help=True,
    add_completion=False,
)

UserOption = Annotated[
    str | None, typer.Option(help="Act as this user (default: the local admin).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
GroupArgument = Annotated[
    str, typer.Argument(help="The group's id, or its number in the project given by --project.")
]
GroupProjectOption = Annotated[
    str | None, typer.Option(help="Project id or name, when the group is given by its number.")
]


def find_group(ctx: Context, group: str, project: str | None) -> SequenceGroup:
    """The group a command names: by id, or by number within --project."""
    from lookout.grouping import service

    value = group.strip()
    if value.lower().startswith("group "):
        value = value[6:].strip()
    if value.isascii() and value.isdigit():
        number = int(value)
        if project is None:
            raise InvalidInput(
                f"project: group {number} is a number within a project; give --project",
                field="project",
            )
        if not 1 <= number <= 2**31 - 1:
            raise InvalidInput(f"group: {number} is not a group number", field="group")
        project_id = resolve_project(ctx.session, ctx.principal, project)
        return service.get_group_by_number(
            ctx.session, principal=ctx.principal, project_id=project_id, number=number
        )
    try:
        group_id = uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput(
            f"group: {group!r} is neither a group id nor a group number", field="group"
        ) from exc
    return service.get_group(ctx.session, principal=ctx.principal, group_id=group_id)


@app.command("list")
def list_groups(
    project: Annotated[str | None, typer.Option(help="Project id or name.")] = None,
    camera: Annotated[str | None, typer.Option(help="Camera id.")] = None,
    decided: Annotated[
        bool | None, typer.Option("--decided/--undecided", help="Only decided, or undecided.")
    ] = None,
    min_members: Annotated[
        int, typer.Option(min=1, help="Only groups seen in at least this many sequences.")
    ] = 1,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many groups.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many groups.")] = 0,
    as_json: JsonOption = False,
    user: UserOption = None,
) -> None:
    """List groups, most recently seen first."""
    from lookout.grouping import service
    from lookout.grouping.reads import group_read
    from lookout.grouping.repository import GroupFilters

    with command_context(user) as ctx:
        filters = GroupFilters(
            project_id=resolve_project(ctx.session, ctx.principal, project) if project else None,
            camera_id=parse_uuid(camera, "camera"),
            decided=decided,
            min_members=min_members,
        )
        rows, total = service.list_groups(
            ctx.session, principal=ctx.principal, filters=filters, limit=limit, offset=offset
        )
        items = [group_read(g, camera_name, email) for g, camera_name, email in rows]
    if as_json:
        payload = {"total": total, "items": [i.model_dump(mode="json") for i in items]}
        console.print_json(json.dumps(payload))
        return
    table = Table(
        "group",
        "id",
        "camera",
        "sequences",
        "first seen",
        "last seen",
        "decision",
        title=f"{total} group(s)",
    )
    for item in items:
        table.add_row(
            f"Group {item.number}",
            str(item.id),
            item.camera_name or "-",
            str(item.member_count),
            f"{item.first_seen_at:%Y-%m-%d}" if item.first_seen_at else "-",
            f"{item.last_seen_at:%Y-%m-%d}" if item.last_seen_at else "-",
            service.describe(item.decision, item.smoke_type, item.false_positive_types),
        )
    console.print(table)


@app.command("show")
def show_group(
    group: GroupArgument,
    project: GroupProjectOption = None,
    as_json: JsonOption = False,
    user: UserOption = None,
) -> None:
    """Show a group and its members (sequence, track, date, platform score, status)."""
    from lookout.grouping import service
    from lookout.grouping.reads import group_detail

    with command_context(user) as ctx:
        found = find_group(ctx, group, project)
        detail = group_detail(ctx.session, ctx.principal, found)
    if as_json:
        console.print_json(detail.model_dump_json())
        return
    decision = service.describe(detail.decision, detail.smoke_type, detail.false_positive_types)
    console.print(
        f"Group {detail.number} ({detail.id}) · {detail.camera_name or 'camera'} · "
        f"{detail.member_count} sequence(s) · {decision}"
    )
    table = Table("member", "sequence", "track", "started", "score", "status")
    for m in detail.members:
        score = "-" if m.platform_score is None else f"{m.platform_score:.2f}"
        table.add_row(
            str(m.id),
            str(m.sequence_id),
            str(m.track_index + 1),
            f"{m.started_at:%Y-%m-%d %H:%M}",
            score,
            m.status.replace("_", " "),
        )
    console.print(table)


@app.command("decide")
def decide_group(
    group: GroupArgument,
    decision: Annotated[str, typer.Option(help="false_positive or smoke.")],
    smoke_type: Annotated[
        str | None, typer.Option(help="With smoke: wildfire, industrial or other.")
    ] = None,
    fp_type: Annotated[
        list[str] | None,
        typer.Option("--fp-type", help="With false_positive: a type, e.g. antenna (repeatable)."),
    ] = None,
    project: GroupProjectOption = None,
    user: UserOption = None,
) -> None:
    """Label every undecided member of a group at once (a person's own decisions are kept)."""
    from lookout.grouping import service
    from lookout.grouping.schemas import GroupDecision

    with command_context(user) as ctx:
        body = GroupDecision.model_validate(
            {"decision": decision, "smoke_type": smoke_type, "false_positive_types": fp_type or []}
        )
        group_id = find_group(ctx, group, project).id
        found, applied, kept = service.decide_group(
            ctx.session, principal=ctx.principal, group_id=group_id, body=body
        )
        words = service.describe(found.decision, found.smoke_type, found.false_positive_types)
    console.print(
        f"Group {found.number} ({group_id}): {words}; {applied} track(s) took it, {kept} kept"
    )
