"""`lookout rescore-queue`: (re)compute a project's stored queue scores."""

from __future__ import annotations

from typing import Annotated

import typer

from lookout.cli_support import command_context, console, progress_bar, resolve_project


def rescore_queue(
    project: Annotated[str, typer.Option(help="Project id or name.")],
    model: Annotated[
        str | None,
        typer.Option(help="Only the scores that involve this model (name@version)."),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Act as this user (default: local admin).")
    ] = None,
) -> None:
    """Compute the disagreement and uncertainty scores of every sequence of a project.

    Scores are kept up to date as frames and analyses arrive; run this after importing
    analyses in bulk (import-dataset), after changing the project's uncertainty threshold,
    or to fill the scores of a project imported before they existed.
    """
    from lookout.scoring import service

    with command_context(user) as ctx:
        project_id = resolve_project(ctx.session, ctx.principal, project)
        with progress_bar() as bar:
            task = bar.add_task("rescoring sequences", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            sequences, rows = service.rescore_project(
                ctx.session, project_id=project_id, model=model, on_batch=advance
            )
    console.print(f"rescored {sequences} sequences: {rows} scores stored")
