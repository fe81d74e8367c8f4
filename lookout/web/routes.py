"""The web UI's pages: server-rendered HTML only.

Pages call the same services as the API with the same principal, so they obey the same access
rules: another group's project, image or sequence is a 404 page in words. Everything a page
changes goes through the JSON API from the page's script. Pages carry a strict
Content-Security-Policy: no inline script or style, data passed in `data-*` attributes or a
JSON block that is never executed.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from lookout import __version__
from lookout.accounts import service as accounts
from lookout.accounts.repository import AccountRepository
from lookout.analyses.models import AnalysisStatus
from lookout.auth.principal import Principal
from lookout.classes import service as image_classes
from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep, SettingsDep
from lookout.errors import LookoutError
from lookout.grouping import service as grouping
from lookout.images import service as images
from lookout.images.schemas import ImageRead
from lookout.projects import service as projects
from lookout.reviewing import camera_stats
from lookout.reviewing import service as review_queue
from lookout.reviewing import stats as review_stats
from lookout.route_table import RouteTable
from lookout.scoring.models import QUEUE_ORDERS
from lookout.scoring.repository import QueueOrder, ScoreRepository
from lookout.sequences import service as sequences
from lookout.sequences.models import (
    FALSE_POSITIVE_TYPES,
    PLATFORM_LABELS,
    SMOKE_TYPES,
    ProcessingStage,
    Sequence,
)
from lookout.web import queries

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
GALLERY_PAGE = 60
LIST_PAGE = 50
STAGES = ProcessingStage.ALL


def _static_version() -> str:
    """A digest of the static files: a new release gets new URLs, so caches can keep them long."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_VERSION = _static_version()


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(fmt) + " UTC"


def _duration(seconds: int) -> str:
    if seconds <= 0:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def group_label(number: int) -> str:
    """A group's name on pages: its number in its project."""
    return f"Group {number}"


@functools.cache
def templates() -> Jinja2Templates:
    """The pages' templates, made with the first page: Jinja loads then, not with every
    server worker (an API-only worker never renders one)."""
    from fastapi.templating import Jinja2Templates

    made = Jinja2Templates(directory=TEMPLATE_DIR)
    made.env.globals["static"] = lambda name: f"/static/{name}?v={STATIC_VERSION}"
    made.env.globals["version"] = __version__
    made.env.filters["when"] = _when
    made.env.filters["size"] = _size
    made.env.filters["stage_label"] = lambda s: (s or "no review").replace("_", " ")
    made.env.filters["duration"] = _duration
    return made


class CachedStatic(StaticFiles):
    """Static files; versioned URLs (`?v=`) are cached for a year, others revalidated."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "no-cache"
            )
        return response


def mount_static(app: FastAPI) -> None:
    """Serve lookout/web/static at /static."""
    app.mount("/static", CachedStatic(directory=STATIC_DIR), name="static")


ERROR_TITLES = {
    400: "That request was not understood",
    401: "Sign-in required",
    403: "Access denied",
    404: "Not found",
    409: "Conflict",
}
ERROR_HINTS = {
    401: "Lookout could not tell who you are. Sign in through your organization's proxy, or "
    "ask an administrator for access.",
    403: "You are signed in, but this is not open to you. Ask an administrator of the group "
    "that owns it.",
    404: "It does not exist, or it belongs to a group you are not a member of.",
}


def _html(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    response = templates().TemplateResponse(request, template, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    context = {
        "title": ERROR_TITLES.get(status, "Something went wrong"),
        "status": status,
        "message": message,
        "hint": ERROR_HINTS.get(status, ""),
        "principal": None,
        "nav": None,
    }
    return _html(request, "error.html", context, status=status)


class PageRoute(APIRoute):
    """Pages answer errors (including the caller's access) with an HTML page in words."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LookoutError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError:
                return error_page(request, 404, "This address does not name a page of Lookout.")

        return page_handler


router = RouteTable(route_class=PageRoute, include_in_schema=False)


def render_page(
    request: Request,
    template: str,
    *,
    session: Any,
    principal: Principal,
    nav: str,
    **context: Any,
) -> HTMLResponse:
    context.update(
        principal=principal,
        nav=nav,
        queue_size=queries.queue_size(session, principal),
    )
    return _html(request, template, context)


# --- parsing of query strings (forms send empty strings for "any") ---------------------------


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _uuid(value: str | None, name: str, problems: list[str]) -> uuid.UUID | None:
    value = _clean(value)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        problems.append(f"{name}: {value!r} is not an id; the filter was ignored")
        return None


def _date(value: str | None, name: str, problems: list[str]) -> date | None:
    value = _clean(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date (YYYY-MM-DD); the filter was ignored")
        return None


def _bool(value: str | None) -> bool | None:
    value = _clean(value)
    return None if value is None else value.lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int, minimum: int = 0) -> int:
    try:
        return min(max(minimum, int(value)), MAX_OFFSET) if value else default
    except ValueError:
        return default


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "", False)})


def _viewer(principal: Principal) -> dict[str, Any]:
    """Who looks at a page, for its scripts (which comments they may edit or delete)."""
    return {"id": str(principal.user_id), "email": principal.email, "is_admin": principal.is_admin}


# --- pages ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects", response_class=HTMLResponse)
def projects_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """The caller's projects with their counts."""
    found = projects.list_projects(session, principal=principal)
    stats = queries.project_stats(session, principal, [p.id for p in found])
    return render_page(
        request,
        "projects.html",
        session=session,
        principal=principal,
        nav="projects",
        projects=found,
        stats=stats,
        empty_stats=queries.ProjectStats(),
    )


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def gallery_page(
    request: Request,
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    sequence: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    model: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    page: str | None = None,
    image_class: Annotated[str | None, Query(alias="class")] = None,
    search_field: str | None = None,
    search_value: str | None = None,
    uploaded_by: str | None = None,
) -> HTMLResponse:
    """A project's image gallery, paged on the server by keyset (the API's `next_cursor`)."""
    project = projects.get_project(session, principal=principal, project_id=project_id)
    problems: list[str] = []
    search_field, search_value = _clean(search_field), _clean(search_value)
    if search_field and not search_value:
        search_field = None  # a field alone filters nothing
    if search_value and not search_field:
        search_field = "metadata"
    try:
        search_field, search_value = images.check_search(search_field, search_value)
    except LookoutError as exc:
        problems.append(f"{exc.message}; the search was ignored")
        search_field = search_value = None
    uploaded_by = _clean(uploaded_by)
    try:
        uploader = images.uploader_id(session, uploaded_by)
    except LookoutError as exc:
        problems.append(f"{exc.message}; the filter was ignored")
        uploaded_by = uploader = None
    day_from = _date(date_from, "from", problems)
    day_to = _date(date_to, "to", problems)
    status = _clean(status)
    if status is not None and status not in AnalysisStatus.ALL:
        problems.append(f"status: {status!r} is not an analysis status; the filter was ignored")
        status = None
    filters = images.ImageFilters(
        sequence_id=_uuid(sequence, "sequence", problems),
        captured_after=_day_start(day_from) if day_from else None,
        captured_before=_day_start(day_to + timedelta(days=1)) if day_to else None,
        model_name=_clean(model),
        analysis_status=status,
        class_id=_uuid(image_class, "class", problems),
        search_field=search_field,
        search_value=search_value,
        uploaded_by_id=uploader,
    )
    items, next_cursor = images.list_images(
        session,
        principal=principal,
        project_id=project.id,
        filters=filters,
        limit=GALLERY_PAGE,
        cursor=_clean(cursor),
    )
    params = {
        "sequence": str(filters.sequence_id or ""),
        "date_from": day_from or "",
        "date_to": day_to or "",
        "model": filters.model_name or "",
        "status": status or "",
        "class": str(filters.class_id or ""),
        "search_field": search_field or "",
        "search_value": search_value or "",
        "uploaded_by": uploaded_by or "",
    }
    page_number = _int(page, 1, 1)
    filtered = any(params.values())
    return render_page(
        request,
        "gallery.html",
        session=session,
        principal=principal,
        nav="projects",
        project=project,
        images=items,
        params=params,
        problems=problems,
        filtered=filtered,
        badges=queries.analyses_by_image(session, principal, [i.id for i in items]),
        models=queries.model_names(session, principal, project.id),
        sequences=queries.project_sequences(session, principal, project.id),
        statuses=AnalysisStatus.ALL,
        page_number=page_number,
        next_url=(
            f"?{_query(params, cursor=next_cursor, page=page_number + 1)}" if next_cursor else None
        ),
        first_url=f"?{_query(params)}" if page_number > 1 else None,
        stats=queries.project_stats(session, principal, [project.id]).get(project.id),
        cameras=camera_stats.stats_read(
            camera_stats.camera_stats(session, principal=principal, project_id=project.id)
        ),
        classes=image_classes.list_classes(session, principal=principal, project_id=project.id),
        project_metadata=projects.list_metadata(
            session, principal=principal, project_id=project.id
        ),
        data={"project_id": str(project.id)},
    )


@router.get("/images/{image_id}", response_class=HTMLResponse)
def image_page(
    request: Request,
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """One image with its analyses drawn as overlays."""
    image = images.get_image(session, principal=principal, image_id=image_id)
    project = projects.get_project(session, principal=principal, project_id=image.project_id)
    sequence = (
        sequences.get_sequence(session, principal=principal, sequence_id=image.sequence_id)
        if image.sequence_id
        else None
    )
    newer, older = queries.image_neighbours(session, principal, image)
    data = {
        "image": ImageRead.of(image).model_dump(mode="json"),
        "viewer": _viewer(principal),
        "ml_enabled": settings.ml_analysis_enabled,
        "newer": f"/images/{newer}" if newer else None,
        "older": f"/images/{older}" if older else None,
    }
    return render_page(
        request,
        "image.html",
        session=session,
        principal=principal,
        nav="projects",
        image=image,
        project=project,
        sequence=sequence,
        data=data,
        newer=newer,
        older=older,
    )


@router.get("/images/{image_id}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    image_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    a: str | None = None,
    b: str | None = None,
    also: str | None = None,
) -> HTMLResponse:
    """Two or more analyses of one image, boxes matched by IoU."""
    image = images.get_image(session, principal=principal, image_id=image_id)
    project = projects.get_project(session, principal=principal, project_id=image.project_id)
    problems: list[str] = []
    extra = [_uuid(v, "also", problems) for v in (also or "").split(",") if v.strip()]
    data = {
        "image": ImageRead.of(image).model_dump(mode="json"),
        "a": str(_uuid(a, "a", problems) or "") or None,
        "b": str(_uuid(b, "b", problems) or "") or None,
        "also": [str(v) for v in extra if v],
    }
    return render_page(
        request,
        "compare.html",
        session=session,
        principal=principal,
        nav="projects",
        image=image,
        project=project,
        data=data,
        problems=problems,
    )


def _sequence_filters(
    params: dict[str, str | None], problems: list[str]
) -> sequences.SequenceFilters:
    stage = _clean(params.get("stage"))
    if stage is not None and stage != "none" and stage not in STAGES:
        problems.append(f"stage: {stage!r} is not a processing stage; the filter was ignored")
        stage = None
    fp_type = _clean(params.get("false_positive_type"))
    if fp_type is not None and fp_type not in FALSE_POSITIVE_TYPES:
        problems.append(f"false positive type: {fp_type!r} is unknown; the filter was ignored")
        fp_type = None
    return sequences.SequenceFilters(
        project_id=_uuid(params.get("project_id"), "project", problems),
        camera_id=_uuid(params.get("camera_id"), "camera", problems),
        organization=_clean(params.get("organization")),
        source=_clean(params.get("source")),
        date_from=_date(params.get("date_from"), "from", problems),
        date_to=_date(params.get("date_to"), "to", problems),
        processing_stage=stage,
        has_smoke=_bool(params.get("has_smoke")),
        has_false_positives=_bool(params.get("has_false_positives")),
        false_positive_type=fp_type,
        has_missed_smoke=_bool(params.get("has_missed_smoke")),
        reviewed_by=_clean(params.get("reviewer")),
        is_unsure=_bool(params.get("is_unsure")),
        platform_label=_platform_label(params.get("platform_label"), problems),
    )


def _platform_label(value: str | None, problems: list[str]) -> str | None:
    """A known platform label (or `none`); anything else is reported and ignored."""
    label = _clean(value)
    if label is not None and label != "none" and label not in PLATFORM_LABELS:
        problems.append(f"platform label: {label!r} is unknown; the filter was ignored")
        return None
    return label


def _order(value: str | None, problems: list[str]) -> str:
    order = _clean(value) or "newest"
    if order not in sequences.SEQUENCE_ORDERS:
        problems.append(f"order: {order!r} is unknown; newest first")
        return "newest"
    return order


SEQUENCE_PARAMS = (
    "project_id",
    "camera_id",
    "organization",
    "source",
    "date_from",
    "date_to",
    "stage",
    "has_smoke",
    "has_false_positives",
    "false_positive_type",
    "has_missed_smoke",
    "reviewer",
    "is_unsure",
    "platform_label",
    "order",
)


def _sequence_list(
    request: Request,
    session: Any,
    principal: Principal,
    *,
    queue: bool,
) -> HTMLResponse:
    raw = {name: request.query_params.get(name) for name in SEQUENCE_PARAMS}
    problems: list[str] = []
    if queue:
        raw["stage"] = ProcessingStage.READY_TO_ANNOTATE
        wanted = {name: _clean(request.query_params.get(name)) for name in QUEUE_ORDER_PARAMS}
        raw["order"] = "oldest"
    filters = _sequence_filters(raw, problems)
    order = _order(raw.get("order"), problems)
    offset = _int(request.query_params.get("offset"), 0)
    rows: list[Any]
    rows, total = sequences.list_sequences(
        session,
        principal=principal,
        filters=filters,
        limit=1 if queue else LIST_PAGE,
        offset=offset,
        order=order,
    )
    whys: dict[uuid.UUID, Any] = {}
    if queue:
        chosen = _queue_order(session, principal, filters, wanted, problems)
        items = review_queue.queue_items(
            session,
            principal=principal,
            filters=filters,
            order=chosen,
            limit=LIST_PAGE,
            offset=offset,
            everyone=True,
        )
        rows = [item.row for item in items]
        whys = {item.row.sequence.id: item.why for item in items}
    params = {k: (v or "") for k, v in raw.items() if not queue or k == "project_id"}
    if queue:
        params |= {k: v or "" for k, v in wanted.items()}
    base = "/sequences/queue" if queue else "/sequences"
    suffix = f"?{_query({'project_id': raw.get('project_id')})}" if raw.get("project_id") else ""
    extras = _queue_extras(session, principal, filters.project_id, base + suffix) if queue else {}
    if queue:
        extras["queue_data"]["order"] = _order_body(chosen) if any(wanted.values()) else None
        extras["queue_order"] = chosen
        extras["whys"] = whys
        extras["score_models"] = _score_models(session, principal, filters.project_id)
        extras["queue_order_label"] = ORDER_LABELS[chosen.order]
    return render_page(
        request,
        "sequences.html",
        session=session,
        principal=principal,
        nav="queue" if queue else "sequences",
        queue=queue,
        rows=rows,
        total=total,
        offset=offset,
        limit=LIST_PAGE,
        params=params,
        problems=problems,
        thumbs=queries.first_frames(session, principal, [r.sequence.id for r in rows]),
        projects=projects.list_projects(session, principal=principal),
        cameras=queries.visible_cameras(session, principal),
        stages=STAGES,
        fp_types=FALSE_POSITIVE_TYPES,
        review_suffix=suffix if queue else "",
        claims=queries.claims_on(session, [r.sequence.id for r in rows]) if queue else {},
        **extras,
        prev_url=(
            f"{base}?{_query(params, offset=max(0, offset - LIST_PAGE))}" if offset > 0 else None
        ),
        next_url=(
            f"{base}?{_query(params, offset=offset + LIST_PAGE)}"
            if offset + LIST_PAGE < total
            else None
        ),
    )


QUEUE_ORDER_PARAMS = ("queue_order", "model", "against_model", "threshold")
ORDER_LABELS = {
    "oldest": "oldest first",
    "score": "the platform's highest score first",
    "disagreement": "where a model and the platform disagree most first",
    "uncertainty": "nearest the threshold first",
}


def _queue_order(
    session: Any,
    principal: Principal,
    filters: sequences.SequenceFilters,
    wanted: dict[str, str | None],
    problems: list[str],
) -> Any:
    """The queue page's order: the one chosen (reported and ignored when it cannot be
    served), else the project's default."""
    threshold: float | None = None
    if wanted.get("threshold"):
        try:
            threshold = float(wanted["threshold"] or "")
            if not 0 <= threshold <= 1:
                raise ValueError
        except ValueError:
            problems.append("threshold: give a number from 0 to 1; the project's was used")
            threshold = None
    order = wanted.get("queue_order")
    if order is not None and order not in QUEUE_ORDERS:
        problems.append(f"order: {order!r} is unknown; the project's order was used")
        order = None
    request = review_queue.OrderRequest(
        order, wanted.get("model"), wanted.get("against_model"), threshold
    )
    try:
        return review_queue.resolve_order(
            session, principal=principal, filters=filters, request=request
        )
    except LookoutError as exc:
        if exc.status == 404:
            raise
        problems.append(f"{exc.message}; oldest first instead")
        return QueueOrder("oldest")


def _order_body(order: QueueOrder) -> dict[str, Any]:
    """The claim body fields of an order (the queue page claims in the order it shows)."""
    body: dict[str, Any] = {"order": order.order}
    if order.model:
        body["model"] = order.model
    if order.against:
        body["against_model"] = order.against
    if order.threshold is not None:
        body["threshold"] = order.threshold
    return body


def _score_models(session: Any, principal: Principal, project_id: uuid.UUID | None) -> list[str]:
    """Models with stored scores, for the queue page's model choice."""
    found = ScoreRepository(session, principal)
    names = found.models(kind="disagreement", project_id=project_id)
    names += found.models(kind="uncertainty", project_id=project_id)
    return sorted(set(names))


def _queue_extras(
    session: Any, principal: Principal, project_id: uuid.UUID | None, queue_url: str
) -> dict[str, Any]:
    """What the queue page shows beside the list: the caller's own count, skips, unsure."""
    unsure = sequences.SequenceFilters(project_id=project_id, is_unsure=True)
    _, unsure_count = sequences.list_sequences(
        session, principal=principal, filters=unsure, limit=1
    )
    skipped, _ = review_queue.skipped(session, principal=principal, limit=50, offset=0)
    return {
        "queue_remaining": queries.queue_size(session, principal, project_id),
        "unsure_count": unsure_count,
        "skipped": skipped,
        "queue_data": {
            "queue_project": str(project_id) if project_id else None,
            "queue_url": queue_url,
        },
    }


@router.get("/sequences", response_class=HTMLResponse)
def sequences_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """Sequences with the API's filters."""
    return _sequence_list(request, session, principal, queue=False)


@router.get("/sequences/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """Sequences ready to review, oldest first."""
    return _sequence_list(request, session, principal, queue=True)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    """The caller's account: who they are, their groups, their API keys (create, revoke)."""
    mine = AccountRepository(session, principal)
    return render_page(
        request,
        "account.html",
        session=session,
        principal=principal,
        nav="account",
        user=mine.user(),
        groups=mine.memberships(),
        keys=[(key, accounts.is_key_active(key)) for key in mine.api_keys()],
        data={"may_create_keys": principal.via != "api_key"},
    )


REVIEWERS_DEFAULT_DAYS = 30


@router.get("/reviewers", response_class=HTMLResponse)
def reviewers_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    project_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    reviewer: str | None = None,
) -> HTMLResponse:
    """Who reviewed what, per reviewer and per day (the last 30 days unless dates are given)."""
    problems: list[str] = []
    project = _uuid(project_id, "project", problems)
    day_from = _date(date_from, "from", problems)
    day_to = _date(date_to, "to", problems)
    if day_from is None and day_to is None and not problems:
        day_from = datetime.now(UTC).date() - timedelta(days=REVIEWERS_DEFAULT_DAYS - 1)
    if day_from and day_to and day_to < day_from:
        problems.append("to: the period ends before it starts; the dates were swapped")
        day_from, day_to = day_to, day_from
    filters = review_stats.StatsFilters(
        project_id=project, date_from=day_from, date_to=day_to, reviewer=_clean(reviewer)
    )
    found = review_stats.reviewer_stats(session, principal=principal, filters=filters)
    read = review_stats.stats_read(found, date_from=day_from, date_to=day_to)
    return render_page(
        request,
        "reviewers.html",
        session=session,
        principal=principal,
        nav="reviewers",
        projects=projects.list_projects(session, principal=principal),
        params={
            "project_id": str(project or ""),
            "date_from": day_from or "",
            "date_to": day_to or "",
            "reviewer": filters.reviewer or "",
        },
        problems=problems,
        rows=read.rows,
        totals=read.totals,
    )


@router.get("/sequences/next", response_class=HTMLResponse)
def next_sequence(
    session: SessionDep,
    principal: PrincipalDep,
    after: str | None = None,
    project_id: str | None = None,
) -> RedirectResponse:
    """Go to the next sequence of the review queue (oldest first) after `after`."""
    problems: list[str] = []
    current = None
    after_id = _uuid(after, "after", problems)
    if after_id is not None:
        current = sequences.get_sequence(session, principal=principal, sequence_id=after_id)
    project = _uuid(project_id, "project", problems)
    found = queries.next_in_queue(session, principal, after=current, project_id=project)
    suffix = f"?{_query({'project_id': project})}" if project else ""
    if found is None:
        sep = "&" if suffix else "?"
        return RedirectResponse(f"/sequences/queue{suffix}{sep}done=1", status_code=303)
    return RedirectResponse(f"/sequences/{found}{suffix}", status_code=303)


# Sibling sequences (the same frames, another smoke object) listed on a review page.
MAX_SIBLINGS = 20


@router.get("/sequences/{sequence_id}", response_class=HTMLResponse)
def review_page(
    request: Request,
    sequence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    project_id: str | None = None,
    queue: str | None = None,
) -> HTMLResponse:
    """Review a sequence: frame player, tracks, boxes, labels, save."""
    sequence: Sequence = sequences.get_sequence(
        session, principal=principal, sequence_id=sequence_id
    )
    project = projects.get_project(session, principal=principal, project_id=sequence.project_id)
    problems: list[str] = []
    queue_project = _uuid(project_id, "project", problems)
    next_params = {"after": sequence.id, "project_id": queue_project}
    queue_suffix = f"?{_query({'project_id': queue_project})}" if queue_project else ""
    data = {
        "sequence_id": str(sequence.id),
        "api": f"/api/sequences/{sequence.id}",
        "next_url": f"/sequences/next?{_query(next_params)}",
        "queue_url": f"/sequences/queue{queue_suffix}",
        "queue_mode": queue == "1",
        "queue_project": str(queue_project) if queue_project else None,
        "claim_seconds": settings.review_claim_seconds,
        "auto_next": settings.review_auto_next,
        "smoke_types": list(SMOKE_TYPES),
        "false_positive_types": list(FALSE_POSITIVE_TYPES),
        "user": principal.email,
        "viewer": _viewer(principal),
    }
    groups = [
        {
            "member": member,
            "group": group,
            "label": group_label(group.number),
            "decision": grouping.describe(
                group.decision, group.smoke_type, group.false_positive_types or []
            ),
        }
        for member, group in grouping.groups_of_sequence(
            session, principal=principal, sequence_id=sequence.id
        )
    ]
    siblings, _ = sequences.list_sequences(
        session,
        principal=principal,
        filters=sequences.SequenceFilters(sibling_of=sequence.id),
        limit=MAX_SIBLINGS,
    )
    return render_page(
        request,
        "review.html",
        session=session,
        principal=principal,
        nav="queue",
        sequence=sequence,
        project=project,
        camera=sequence.camera,
        siblings=siblings,
        groups=groups,
        data=data,
    )
