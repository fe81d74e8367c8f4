"""Reads of stored queue scores, scoped to the projects the caller may read.

`QueueOrder` says how a queue is ordered; `order_terms` turns it into the score column and
ORDER BY of a select of sequences, so the review queue's claim and list share one definition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.auth.principal import Principal
from lookout.errors import InvalidInput
from lookout.projects.models import Project
from lookout.scoring.models import PLATFORM, QueueScore, ScoreKind
from lookout.sequences.models import Sequence

# Above every character a model name may hold: the end of a `name@` prefix range.
_PREFIX_END = "\U0010ffff"


@dataclass(frozen=True)
class QueueOrder:
    """A resolved queue order: which stored rows it reads and how it sorts them."""

    order: str = "oldest"
    model: str | None = None  # `name@version`, for disagreement and uncertainty
    against: str = PLATFORM  # the other model of a two-model disagreement, or the platform
    threshold: float | None = None  # uncertainty's threshold
    # Uncertainty rows were stored for this threshold: sort by the stored score (an index
    # scan); otherwise the distance is computed from the rows' track confidences.
    stored_threshold: bool = True

    @property
    def kind(self) -> str | None:
        return self.order if self.order in ScoreKind.ALL else None

    @property
    def pair(self) -> tuple[str, str]:
        """(model, against) as stored: a two-model pair once, in name order."""
        assert self.model is not None
        if self.against == PLATFORM:
            return self.model, PLATFORM
        first, second = sorted((self.model, self.against))
        return first, second


def _distance(threshold: float, dialect: str) -> Any:
    """The smallest |track confidence - threshold| of a score row, computed by the database."""
    t: Any = sa.literal(threshold, sa.Double())
    function = "jsonb_array_elements_text" if dialect == "postgresql" else "json_each"
    each = getattr(sa.func, function)(QueueScore.confidences).table_valued("value")
    value: Any = sa.cast(each.c.value, sa.Double())
    return sa.select(sa.func.min(sa.func.abs(value - t))).select_from(each).scalar_subquery()


def score_column(order: QueueOrder, dialect: str) -> Any:
    """What the queue shows as a sequence's score in this order."""
    if order.order == "score":
        return Sequence.platform_score
    if order.kind is None:
        return sa.null()
    if order.kind == ScoreKind.UNCERTAINTY and not order.stored_threshold:
        assert order.threshold is not None
        return _distance(order.threshold, dialect)
    return QueueScore.score


def join_scores(query: Any, order: QueueOrder, project_id: uuid.UUID | None) -> Any:
    """The select of sequences joined with its rows of this order (sequences without one
    drop out: `unscored` keeps them)."""
    model, against = order.pair
    query = query.join(
        QueueScore,
        sa.and_(
            QueueScore.sequence_id == Sequence.id,
            QueueScore.kind == order.kind,
            QueueScore.model == model,
            QueueScore.against == against,
        ),
    )
    if project_id is not None:  # the index's first column: one range of it
        query = query.where(QueueScore.project_id == project_id)
    return query


def unscored(query: Any, order: QueueOrder) -> Any:
    """The select of sequences without a row of this order."""
    model, against = order.pair
    scored = sa.exists().where(
        QueueScore.sequence_id == Sequence.id,
        QueueScore.kind == order.kind,
        QueueScore.model == model,
        QueueScore.against == against,
    )
    return query.where(~scored)


def order_terms(order: QueueOrder, dialect: str) -> tuple[Any, ...]:
    """ORDER BY of a select joined by `join_scores`: the most disagreeing first; the nearest
    to the threshold first. Ties by sequence id: the index's own order."""
    if order.kind == ScoreKind.DISAGREEMENT:
        return (QueueScore.score.desc(), QueueScore.sequence_id.desc())
    if order.stored_threshold:
        return (QueueScore.score.asc(), QueueScore.sequence_id.asc())
    return (score_column(order, dialect).asc(), QueueScore.sequence_id.asc())


class ScoreRepository:
    """Stored scores of the projects a caller may read."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def _projects(self, project_id: uuid.UUID | None) -> Any:
        readable = sa.select(Project.id).where(self.principal.scope.clause(Project.group_id))
        if project_id is not None:
            readable = readable.where(Project.id == project_id)
        return readable

    def _probe(self, kind: str, project_id: uuid.UUID | None, where: Any, descending: bool) -> Any:
        query = (
            sa.select(QueueScore.model)
            .where(
                QueueScore.project_id.in_(self._projects(project_id)),
                QueueScore.kind == kind,
                where,
            )
            .order_by(QueueScore.model.desc() if descending else QueueScore.model.asc())
            .limit(1)
        )
        return self.session.scalar(query)

    def resolve_model(
        self, text: str, *, kind: str, project_id: uuid.UUID | None, field: str = "model"
    ) -> str:
        """The `name@version` key of a model with scores of `kind`: `name@version` as given,
        or `name` when one version of it has scores. Two index probes, never a scan."""
        text = text.strip()
        if not text:
            raise InvalidInput(f"{field}: name a model, e.g. yolo_v8 or yolo_v8@1.2", field=field)
        if "@" in text:
            if self._probe(kind, project_id, QueueScore.model == text, False) is not None:
                return text
        else:
            prefix = sa.and_(
                QueueScore.model >= f"{text}@", QueueScore.model < f"{text}@{_PREFIX_END}"
            )
            first = self._probe(kind, project_id, prefix, False)
            last = self._probe(kind, project_id, prefix, True)
            if first is not None and first == last:
                return str(first)
            if first is not None:
                raise InvalidInput(
                    f"{field}: {text!r} has several versions with scores; name one, "
                    f"e.g. {first} or {last}",
                    field=field,
                )
        known = ", ".join(self.models(kind=kind, project_id=project_id)) or "none"
        raise InvalidInput(
            f"{field}: no {kind} scores for {text!r} here (models with scores: {known}); "
            "scores are computed as analyses complete, or by `lookout rescore-queue`",
            field=field,
        )

    def models(self, *, kind: str, project_id: uuid.UUID | None, limit: int = 50) -> list[str]:
        """Models with stored scores of `kind`, by name."""
        query = (
            sa.select(QueueScore.model)
            .where(QueueScore.project_id.in_(self._projects(project_id)), QueueScore.kind == kind)
            .distinct()
            .order_by(QueueScore.model)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def row(self, sequence_id: uuid.UUID, order: QueueOrder) -> QueueScore | None:
        """A sequence's stored row of this order (the caller has read the sequence)."""
        if order.kind is None or order.model is None:
            return None
        model, against = order.pair
        return self.session.get(QueueScore, (sequence_id, order.kind, model, against))
