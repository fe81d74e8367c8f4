"""HTTP endpoints of the review queue (claims, skips) and the reviewers' statistics."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Response, status

from lookout.auth.dependencies import RawBodyDep
from lookout.db import MAX_OFFSET
from lookout.deps import PrincipalDep, SessionDep, SettingsDep
from lookout.errors import InvalidInput
from lookout.jsonbody import CheckedJSONRoute, openapi_body, parse_model
from lookout.reviewing import camera_stats, service, stats
from lookout.reviewing.repository import QUEUE_ORDERS
from lookout.reviewing.schemas import (
    CameraStatsRead,
    Claim,
    ClaimRead,
    ClaimRequest,
    QueueFilters,
    QueueItem,
    QueueRead,
    ReviewStats,
    SequenceRef,
    SkippedPage,
    SkippedRead,
    Why,
)
from lookout.route_table import RouteTable
from lookout.sequences.reads import sequence_read
from lookout.sequences.schemas import SequenceRead
from lookout.sequences.service import SequenceFilters

router = RouteTable(tags=["review queue"], route_class=CheckedJSONRoute)

NO_CONTENT = {"description": "Done; nothing to answer"}


def _filters(body: QueueFilters) -> SequenceFilters:
    if body.date_from and body.date_to and body.date_to < body.date_from:
        raise InvalidInput("date_to is before date_from", field="date_to")
    return SequenceFilters(**body.model_dump(include=set(QueueFilters.model_fields)))


def _optional_body(model: type[QueueFilters] = QueueFilters) -> Callable[[], dict[str, Any]]:
    return openapi_body(model, required=False)


def _sequence(row: service.QueueRow) -> SequenceRead:
    return sequence_read(
        row.sequence, camera=row.camera, review=row.review, frame_count=row.frame_count
    )


def _why(found: service.Why) -> Why:
    return Why.model_validate(found, from_attributes=True)


def _claim(held: service.HeldClaim, why: service.Why | None = None) -> ClaimRead:
    reason = held.why or why or service.Why("oldest", detail="renewed")
    return ClaimRead(
        sequence=_sequence(held.row),
        claimed_at=held.claimed_at,
        expires_at=held.expires_at,
        remaining=held.remaining,
        why=_why(reason),
    )


def _order_request(body: Any) -> service.OrderRequest:
    return service.OrderRequest(
        order=body.order,
        model=body.model,
        against_model=body.against_model,
        threshold=body.threshold,
    )


@router.post(
    "/api/review-queue/claim",
    response_model=ClaimRead,
    responses={204: {"description": "Nothing left to review in this queue"}},
    openapi_extra=_optional_body(ClaimRequest),
)
def claim(
    body: RawBodyDep, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Any:
    """Hold the first sequence of your queue for a while (`LOOKOUT_REVIEW_CLAIM_SECONDS`):
    oldest first, or in the `order` asked (`score`, `disagreement` or `uncertainty` with a
    `model`), or the project's default order when none is asked.

    The body (optional) narrows the queue like the sequence list's filters. Asking again
    while you hold a sequence of this queue gives the same one, renewed; any other claim of
    yours is released. Two reviewers asking at once get different sequences. The answer's
    `why` says why this sequence came next. 204: nothing left (everything is reviewed, held
    by others, or skipped by you).
    """
    request = parse_model(ClaimRequest, body, empty={})
    held = service.claim_next(
        session,
        principal=principal,
        filters=_filters(request),
        claim_seconds=settings.review_claim_seconds,
        order=_order_request(request),
    )
    if held is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return _claim(held)


@router.post(
    "/api/review-queue/renew",
    response_model=ClaimRead,
    responses={409: {"description": "Another reviewer holds it, or it no longer waits"}},
    openapi_extra=openapi_body(SequenceRef),
)
def renew(
    body: RawBodyDep, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> ClaimRead:
    """Extend your claim on a sequence (the review page does this while you work).

    A claim that expired or was released is taken again when nobody else holds the
    sequence and it still waits for a review. `remaining` is 0 here (not counted).
    """
    ref = parse_model(SequenceRef, body)
    held = service.renew(
        session,
        principal=principal,
        sequence_id=ref.sequence_id,
        claim_seconds=settings.review_claim_seconds,
    )
    return _claim(held)


@router.post(
    "/api/review-queue/release",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={204: NO_CONTENT},
    openapi_extra=openapi_body(SequenceRef),
)
def release(body: RawBodyDep, session: SessionDep, principal: PrincipalDep) -> Response:
    """Give back your claim on a sequence: others may claim it at once."""
    ref = parse_model(SequenceRef, body)
    service.release(session, principal=principal, sequence_id=ref.sequence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/review-queue/skip",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={204: NO_CONTENT},
    openapi_extra=openapi_body(SequenceRef),
)
def skip(body: RawBodyDep, session: SessionDep, principal: PrincipalDep) -> Response:
    """Set a sequence aside: your claim on it goes and it leaves your queue (not others')."""
    ref = parse_model(SequenceRef, body)
    service.skip(session, principal=principal, sequence_id=ref.sequence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/review-queue/skipped", response_model=SkippedPage)
def list_skipped(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SkippedPage:
    """The sequences you skipped, the last one first."""
    rows, total = service.skipped(session, principal=principal, limit=limit, offset=offset)
    items = [SkippedRead(sequence=_sequence(r.row), skipped_at=r.skipped_at) for r in rows]
    return SkippedPage(items=items, total=total, limit=limit, offset=offset)


@router.delete(
    "/api/review-queue/skipped/{sequence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={204: NO_CONTENT},
)
def unskip(sequence_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    """Put a skipped sequence back in your queue."""
    service.unskip(session, principal=principal, sequence_id=sequence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/review-queue", response_model=QueueRead)
def queue_status(
    session: SessionDep,
    principal: PrincipalDep,
    project_id: uuid.UUID | None = None,
    camera_id: uuid.UUID | None = None,
    organization: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    date_from: date | None = None,
    date_to: Annotated[date | None, Query(description="Inclusive.")] = None,
    has_smoke: bool | None = None,
    order: Annotated[
        str | None,
        Query(description="oldest, score, disagreement or uncertainty (default: the project's)"),
    ] = None,
    model: Annotated[str | None, Query(max_length=310)] = None,
    against_model: Annotated[str | None, Query(max_length=310)] = None,
    threshold: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=0, le=200, description="Sequences listed in `items`")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> QueueRead:
    """How many sequences of your queue nobody holds, your claim in it (or null), and its
    first sequences in the order asked, each with its score and why it is there."""
    filters = _filters(
        QueueFilters(
            project_id=project_id,
            camera_id=camera_id,
            organization=organization,
            source=source,
            date_from=date_from,
            date_to=date_to,
            has_smoke=has_smoke,
        )
    )
    if order is not None and order not in QUEUE_ORDERS:
        raise InvalidInput(
            f"order: {order!r} is not an order; use one of {', '.join(QUEUE_ORDERS)}",
            field="order",
        )
    found = service.status(session, principal=principal, filters=filters)
    resolved = service.resolve_order(
        session,
        principal=principal,
        filters=filters,
        request=service.OrderRequest(order, model, against_model, threshold),
    )
    items = service.queue_items(
        session,
        principal=principal,
        filters=filters,
        order=resolved,
        limit=limit,
        offset=offset,
    )
    held = found.claimed
    claimed = (
        Claim(sequence=_sequence(held.row), claimed_at=held.claimed_at, expires_at=held.expires_at)
        if held
        else None
    )
    return QueueRead(
        remaining=found.remaining,
        claimed=claimed,
        order=resolved.order,
        items=[QueueItem(sequence=_sequence(i.row), why=_why(i.why)) for i in items],
    )


@router.get("/api/review-stats", response_model=ReviewStats)
def review_stats(
    session: SessionDep,
    principal: PrincipalDep,
    project_id: uuid.UUID | None = None,
    date_from: Annotated[date | None, Query(description="First UTC day of saves")] = None,
    date_to: Annotated[date | None, Query(description="Last UTC day of saves (inclusive)")] = None,
    reviewer: Annotated[str | None, Query(max_length=320, description="Email or user id")] = None,
) -> ReviewStats:
    """Who reviewed what: per reviewer and day, sequences saved as reviewed, decisions of
    their tracks and time spent (capped per save), and totals per reviewer."""
    if date_from and date_to and date_to < date_from:
        raise InvalidInput("date_to is before date_from", field="date_to")
    found = stats.reviewer_stats(
        session,
        principal=principal,
        filters=stats.StatsFilters(
            project_id=project_id, date_from=date_from, date_to=date_to, reviewer=reviewer
        ),
    )
    return stats.stats_read(found, date_from=date_from, date_to=date_to)


@router.get("/api/projects/{project_id}/camera-stats", response_model=CameraStatsRead)
def project_camera_stats(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[date | None, Query(description="First UTC day (sequence start)")] = None,
    until: Annotated[date | None, Query(description="Last UTC day (inclusive)")] = None,
) -> CameraStatsRead:
    """Per camera of a project: sequences per day, the false-positive rate of reviewed
    tracks per day and over the period, the top false-positive types, and the share of
    sequences in recurring-object groups. Without dates: the 30 days up to the project's
    latest sequence; at most 366 days."""
    found = camera_stats.camera_stats(
        session, principal=principal, project_id=project_id, since=since, until=until
    )
    return camera_stats.stats_read(found)
