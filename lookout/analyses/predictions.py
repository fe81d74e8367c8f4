"""Reads of an analysis's predictions: filters, pages (JSON built by PostgreSQL where it
pays) and the version that tells when a rendered page can be reused."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from lookout.analyses.models import (
    Analysis,
    Prediction,
)
from lookout.analyses.repository import AnalysisRepository
from lookout.analyses.schemas import PREDICTION_JSON
from lookout.auth.principal import Principal
from lookout.db import utcnow
from lookout.rendering import RenderedCache, render_json


@dataclass(frozen=True)
class PredictionFilters:
    annotation_type: str | None = None
    class_name: str | None = None
    min_confidence: float | None = None


def predictions_query(
    analysis_id: uuid.UUID, filters: PredictionFilters | None = None
) -> sa.Select[Prediction]:
    """An analysis's predictions in posted order, optionally filtered."""
    query = sa.select(Prediction).where(Prediction.analysis_id == analysis_id)
    if filters and filters.annotation_type:
        query = query.where(Prediction.annotation_type == filters.annotation_type)
    if filters and filters.class_name:
        query = query.where(Prediction.class_name == filters.class_name)
    if filters and filters.min_confidence is not None:
        query = query.where(Prediction.confidence >= filters.min_confidence)
    return query.order_by(Prediction.created_at, Prediction.id)


def list_predictions(
    session: Session,
    *,
    principal: Principal,
    analysis_id: uuid.UUID,
    filters: PredictionFilters,
    limit: int,
    offset: int,
) -> tuple[list[Prediction], int]:
    """A page of an analysis's predictions with the total matching the filters."""
    analysis = AnalysisRepository(session, principal).get(analysis_id)
    query = predictions_query(analysis.id, filters)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), total


def predictions_json(
    session: Session, *, analysis: Analysis, filters: PredictionFilters, limit: int, offset: int
) -> tuple[bytes, int]:
    """A page of the predictions of an analysis the caller may see (`get_analysis` first), as
    the JSON of a list of PredictionRead, and the total matching the filters.

    On PostgreSQL the database builds the JSON in the same query as the total: a page of 1,000
    annotations is one round trip and no Python object per annotation. Elsewhere the rows are
    read as plain tuples and rendered here; both give the same JSON values. Pages are kept in
    memory (`PAGE_CACHE`) under the analysis's `updated_at`, which every change of its
    predictions moves (`insert_rows`, replacements), so a page is reused only while it holds.
    """
    key = (analysis.id, filters, limit, offset)
    version = analysis.updated_at
    cached = PAGE_CACHE.get(key, version)
    if cached is not None:
        return cached
    shape = (
        bool(filters.annotation_type),
        bool(filters.class_name),
        filters.min_confidence is not None,
    )
    params = {
        "analysis_id": analysis.id,
        "limit": limit,
        "offset": offset,
        "annotation_type": filters.annotation_type,
        "class_name": filters.class_name,
        "min_confidence": filters.min_confidence,
    }
    if session.get_bind().dialect.name == "postgresql":
        row = session.connection().execute(_page_statement(shape, "json"), params).one()
        content, count = row.items.encode("utf-8"), row.total
    else:
        rows = session.connection().execute(_page_statement(shape, "rows"), params)
        content = render_json([PREDICTION_JSON(row) for row in rows])
        count = session.connection().execute(_page_statement(shape, "total"), params).scalar()
    PAGE_CACHE.put(key, version, content, (content, count or 0))
    return content, count or 0


def touch(analysis: Analysis) -> None:
    """Mark the analysis changed (its predictions did): rendered pages of it are not reused.

    Not needed for an analysis created in the current transaction (`create_analysis_row`),
    which no one else can have read yet.
    """
    if _created_here(analysis):
        return
    now, before = utcnow(), analysis.updated_at
    # Strictly later than before, even if the clock stepped back.
    analysis.updated_at = now if before is None else max(now, before + timedelta(microseconds=1))


def _created_here(analysis: Analysis) -> bool:
    """Whether `create_analysis_row` made it in its session's current transaction."""
    created_in = analysis.__dict__.get("_lookout_created_in")
    session = Session.object_session(analysis)
    if created_in is None or session is None:
        return False
    return created_in() is session.get_transaction()


# A prediction's own values (its analysis and time aside), in the order pages and the bulk
# insert's JSON rows list them.
PREDICTION_VALUES = (
    "id",
    "annotation_type",
    "class_name",
    "confidence",
    "data",
    "x1",
    "y1",
    "x2",
    "y2",
    "client_id",
)
_PREDICTION_COLUMNS = (*PREDICTION_VALUES, "created_at")


@functools.cache  # eight filter shapes, three forms
def _page_statement(shape: tuple[bool, bool, bool], form: str) -> sa.Select[Any]:
    """`predictions_query` with bound values: "rows", "total", or "json" (PostgreSQL: the
    total and the page as JSON text, in one statement)."""
    by_type, by_class, by_confidence = shape
    query = sa.select(*(getattr(Prediction, n) for n in _PREDICTION_COLUMNS)).where(
        Prediction.analysis_id == sa.bindparam("analysis_id")
    )
    if by_type:
        query = query.where(Prediction.annotation_type == sa.bindparam("annotation_type"))
    if by_class:
        query = query.where(Prediction.class_name == sa.bindparam("class_name"))
    if by_confidence:
        query = query.where(Prediction.confidence >= sa.bindparam("min_confidence"))
    total = sa.select(sa.func.count()).select_from(query.subquery())
    if form == "total":
        return total
    page = query.order_by(Prediction.created_at, Prediction.id)
    page = page.limit(sa.bindparam("limit", type_=sa.Integer))
    page = page.offset(sa.bindparam("offset", type_=sa.Integer))
    if form == "rows":
        return page
    sub = page.subquery()
    c = sub.c
    items = sa.func.coalesce(
        sa.func.json_agg(aggregate_order_by(_pg_prediction_json(c), c.created_at, c.id)),
        sa.literal_column("'[]'::json"),
    )
    items_text = sa.select(sa.cast(items, sa.Text)).select_from(sub)
    return sa.select(
        total.scalar_subquery().label("total"), items_text.scalar_subquery().label("items")
    )


PAGE_CACHE = RenderedCache(max_bytes=24 * 1024 * 1024)  # sized by the app (size_caches)


def _pg_prediction_json(c: Any) -> Any:
    """json_build_object of one prediction, field for field as `PREDICTION_JSON`."""
    has_box = sa.and_(c.x1.is_not(None), c.y1.is_not(None), c.x2.is_not(None), c.y2.is_not(None))
    box = sa.case((has_box, sa.func.json_build_array(c.x1, c.y1, c.x2, c.y2)), else_=sa.null())
    return PREDICTION_JSON.pg_object(c, {"bbox_xyxyn": box})
