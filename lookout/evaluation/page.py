"""The evaluation page: precision-recall curves and models side by side (server-rendered shell).

The page follows the web UI's conventions (lookout/web): its base template, the `page-data`
JSON block, a module script that talks to the JSON API (/api/evaluations).
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import HTMLResponse

from lookout.deps import PrincipalDep, SessionDep
from lookout.evaluation import service
from lookout.evaluation.schemas import summary_of
from lookout.projects import service as projects
from lookout.route_table import RouteTable
from lookout.sequences.models import ProcessingStage
from lookout.web.routes import PageRoute, render_page

router = RouteTable(route_class=PageRoute, include_in_schema=False)


@router.get("/projects/{project_id}/evaluation", response_class=HTMLResponse)
def evaluation_page(
    request: Request, project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> HTMLResponse:
    """Evaluate a project's models against its reviewed truth and compare them."""
    project = projects.get_project(session, principal=principal, project_id=project_id)
    models = service.list_models(session, principal=principal, project_id=project.id)
    runs = service.list_evaluations(session, principal=principal, project_id=project.id, limit=50)
    data = {
        "project_id": str(project.id),
        "models": [{"name": n, "version": v, "images": c} for n, v, c in models],
        "evaluations": [summary_of(r).model_dump(mode="json") for r in runs],
    }
    return render_page(
        request,
        "evaluation.html",
        session=session,
        principal=principal,
        nav="projects",
        project=project,
        models=models,
        runs=[summary_of(r) for r in runs],
        data=data,
        stages=[s for s in ProcessingStage.ALL if s != ProcessingStage.IMPORTED],
    )
