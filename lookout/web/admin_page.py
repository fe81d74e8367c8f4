"""The admins' page: people, groups and memberships, managed through /api/admin."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from lookout.accounts import admin
from lookout.accounts.admin_routes import group_read, user_read
from lookout.deps import PrincipalDep, SessionDep
from lookout.route_table import RouteTable
from lookout.web.routes import PageRoute, render_page

router = RouteTable(route_class=PageRoute, include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """Users with their groups, groups with their members; forms to change them (admins)."""
    users = [user_read(u) for u in admin.list_users(session, principal)]
    groups = [group_read(g) for g in admin.list_groups(session, principal)]
    return render_page(
        request,
        "admin.html",
        session=session,
        principal=principal,
        nav="admin",
        users=users,
        groups=groups,
        data={
            "me": str(principal.user_id),
            "users": [{"id": str(u.id), "email": u.email} for u in users],
            "groups": [{"id": str(g.id), "name": g.name} for g in groups],
        },
    )
