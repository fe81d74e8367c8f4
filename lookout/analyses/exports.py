"""Streamed JSON and CSV exports of an analysis and its annotations.

The generators open their own sessions: a streamed response outlives the request's session.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from lookout.analyses.models import Prediction
from lookout.analyses.predictions import predictions_query
from lookout.analyses.schemas import PREDICTION_JSON
from lookout.csvcells import safe_cell
from lookout.db import utcnow
from lookout.rendering import iso

FORMATS = ("json", "csv")
CSV_COLUMNS = ("id", "annotation_type", "class_name", "confidence", "x1", "y1", "x2", "y2", "data")
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}
_BATCH = 1000


def export_filename(model_name: str, fmt: str, now: datetime | None = None) -> str:
    """analysis_{model}_{YYYYmmddTHHMMSS}.{fmt}, with the model name made file-safe."""
    safe_model = re.sub(r"[^A-Za-z0-9._-]", "_", model_name)[:100] or "model"
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
    return f"analysis_{safe_model}_{stamp}.{fmt}"


def _predictions(sessions: sessionmaker[Session], analysis_id: uuid.UUID) -> Iterator[Prediction]:
    """All predictions in posted order, a page per short transaction.

    A slow download must not hold one long transaction: on SQLite it would hold the write lock.
    """
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        # A select of Prediction rows, however `predictions_query` spells its type.
        query: sa.Select[Any] = predictions_query(analysis_id)
        if after is not None:
            query = query.where(sa.tuple_(Prediction.created_at, Prediction.id) > sa.tuple_(*after))
        with sessions() as session:
            page: list[Prediction] = list(session.scalars(query.limit(_BATCH)))
        yield from page
        if len(page) < _BATCH:
            return
        after = (page[-1].created_at, page[-1].id)


def _json_default(value: Any) -> Any:
    """Times and ids as every answer of the API writes them (`Z` for UTC)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def export_json(
    sessions: sessionmaker[Session], *, analysis: dict[str, Any], analysis_id: uuid.UUID
) -> Iterator[bytes]:
    """{"analysis": {...}, "annotations": [...], "exported_at": ...}, one annotation at a time."""
    head = json.dumps({"analysis": analysis, "exported_at": utcnow()}, default=_json_default)
    yield (head[:-1] + ', "annotations": [').encode()
    first = True
    buffer: list[str] = []
    for p in _predictions(sessions, analysis_id):
        buffer.append(("" if first else ",") + json.dumps(PREDICTION_JSON(p)))
        first = False
        if len(buffer) >= _BATCH:
            yield "".join(buffer).encode()
            buffer.clear()
    buffer.append("]}")
    yield "".join(buffer).encode()


def export_csv(sessions: sessionmaker[Session], *, analysis_id: uuid.UUID) -> Iterator[bytes]:
    """One row per annotation: id, type, class, confidence, normalized box, data as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for count, p in enumerate(_predictions(sessions, analysis_id), start=1):
        row = [
            str(p.id),
            p.annotation_type,
            p.class_name,
            p.confidence,
            p.x1,
            p.y1,
            p.x2,
            p.y2,
            json.dumps(p.data, separators=(",", ":")),
        ]
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
        if count % _BATCH == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
