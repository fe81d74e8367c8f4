"""`lookout sequence-groups list|show|decide`: recurring objects from the command line.

(`lookout groups` manages the access groups of users.)

The commands call the grouping service as the API does, as the named user (`--user`) or the
local admin, so they see exactly the groups that user may see.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lookout.cli_support import command_context, console, parse_uuid, resolve_project

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
        "camera",
        "sequences",
        "first seen",
        "last seen",
        "decision",
        title=f"{total} group(s)",
    )
    for item in items:
        table.add_row(
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
    group: Annotated[str, typer.Argument(help="The group's id.")],
    as_json: JsonOption = False,
    user: UserOption = None,
) -> None:
    """Show a group and its members (sequence, track, date, platform score, status)."""
    from lookout.grouping import service
    from lookout.grouping.reads import group_detail

    with command_context(user) as ctx:
        group_id = parse_uuid(group, "group")
        assert group_id is not None
        found = service.get_group(ctx.session, principal=ctx.principal, group_id=group_id)
        detail = group_detail(ctx.session, ctx.principal, found)
    if as_json:
        console.print_json(detail.model_dump_json())
        return
    decision = service.describe(detail.decision, detail.smoke_type, detail.false_positive_types)
    console.print(
        f"group {detail.id} · {detail.camera_name or 'camera'} · {detail.member_count} "
        f"sequence(s) · {decision}"
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
    group: Annotated[str, typer.Argument(help="The group's id.")],
    decision: Annotated[str, typer.Option(help="false_positive or smoke.")],
    smoke_type: Annotated[
        str | None, typer.Option(help="With smoke: wildfire, industrial or other.")
    ] = None,
    fp_type: Annotated[
        list[str] | None,
        typer.Option("--fp-type", help="With false_positive: a type, e.g. antenna (repeatable)."),
    ] = None,
    user: UserOption = None,
) -> None:
    """Label every undecided member of a group at once (a person's own decisions are kept)."""
    from lookout.grouping import service
    from lookout.grouping.schemas import GroupDecision

    with command_context(user) as ctx:
        group_id = parse_uuid(group, "group")
        assert group_id is not None
        body = GroupDecision.model_validate(
            {"decision": decision, "smoke_type": smoke_type, "false_positive_types": fp_type or []}
        )
        found, applied, kept = service.decide_group(
            ctx.session, principal=ctx.principal, group_id=group_id, body=body
        )
        words = service.describe(found.decision, found.smoke_type, found.false_positive_types)
    console.print(f"group {group_id}: {words}; {applied} track(s) took it, {kept} kept")
