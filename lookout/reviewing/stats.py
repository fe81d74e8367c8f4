"""Who did what: reviews saved per reviewer and day, from the reviews' history.

Every person's save of a review leaves a `ReviewVersion` (action `save` or `restore`, who,
when, when their claim began, and the state saved). A sequence counts as reviewed by a
person on a day when they saved it as annotated that day; the decisions counted are those
of their last such save of it that day, so saving twice counts once. Time spent is the time
from the start of their claim to each save, at most `MAX_SECONDS_PER_SAVE` (a tab left open
over lunch is not three hours of work).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lookout.accounts.models import User
from lookout.auth.principal import Principal
from lookout.db import UTCDateTime
from lookout.projects.repository import ProjectRepository
from lookout.reviewing.schemas import Decisions, ReviewerDay, ReviewerTotal, ReviewStats
from lookout.sequences.models import ProcessingStage, ReviewVersion, Sequence, TrackDecision
from lookout.sequences.repository import SequenceRepository

PERSON_ACTIONS = ("save", "restore")
MAX_SECONDS_PER_SAVE = 30 * 60
COUNTED = (TrackDecision.SMOKE, TrackDecision.FALSE_POSITIVE, TrackDecision.UNSURE)


@dataclass(frozen=True)
class StatsFilters:
    project_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    reviewer: str | None = None  # an email or a user id


@dataclass
class Tally:
    """What one reviewer did in one period (a day, or the whole range)."""

    sequences: set[uuid.UUID] = field(default_factory=set)
    saves: int = 0
    seconds: float = 0.0
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))


@dataclass(frozen=True)
class Reviewer:
    id: uuid.UUID
    email: str
    display_name: str | None


@dataclass(frozen=True)
class ReviewerStats:
    days: list[tuple[Reviewer, date, Tally]]
    totals: list[tuple[Reviewer, int, Tally]]  # reviewer, active days, tally


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _decisions_column(dialect: str) -> Any:
    """The decisions of a saved state's tracks as a JSON array, extracted by the database
    (boxes stay there)."""
    if dialect == "postgresql":
        path: Any = sa.literal_column("'$.tracks[*].decision'::jsonpath")
        return sa.func.jsonb_path_query_array(ReviewVersion.state, path)
    each = sa.func.json_each(ReviewVersion.state, "$.tracks").table_valued("value")
    return (
        sa.select(sa.func.json_group_array(sa.func.json_extract(each.c.value, "$.decision")))
        .select_from(each)
        .scalar_subquery()
    )


def _reviewer_clause(value: str) -> Any:
    try:
        return ReviewVersion.saved_by_id == uuid.UUID(value)
    except ValueError:
        return sa.func.lower(User.email) == value.strip().lower()


def reviewer_stats(
    session: Session, *, principal: Principal, filters: StatsFilters
) -> ReviewerStats:
    """Per reviewer and UTC day, and per reviewer over the period: sequences reviewed,
    saves, decisions and time spent, on the sequences the caller may read."""
    if filters.project_id is not None:
        ProjectRepository(session, principal).get(filters.project_id)
    readable = SequenceRepository(session, principal).readable().with_only_columns(Sequence.id)
    if filters.project_id is not None:
        readable = readable.where(Sequence.project_id == filters.project_id)
    dialect = session.get_bind().dialect.name
    query = (
        sa.select(
            ReviewVersion.saved_by_id,
            User.email,
            User.display_name,
            ReviewVersion.sequence_id,
            ReviewVersion.saved_at,
            ReviewVersion.started_at,
            ReviewVersion.state["processing_stage"].as_string(),
            _decisions_column(dialect),
        )
        .join(User, User.id == ReviewVersion.saved_by_id)
        .where(
            ReviewVersion.action.in_(PERSON_ACTIONS),
            ReviewVersion.sequence_id.in_(readable),
        )
        .order_by(ReviewVersion.saved_at, ReviewVersion.id)
    )
    if filters.date_from is not None:
        query = query.where(ReviewVersion.saved_at >= _at(filters.date_from))
    if filters.date_to is not None:
        query = query.where(ReviewVersion.saved_at < _at(filters.date_to + timedelta(days=1)))
    if filters.reviewer:
        query = query.where(_reviewer_clause(filters.reviewer))
    return _tally(session.execute(query))


def _at(day: date) -> Any:
    return sa.literal(_day_start(day), UTCDateTime())


def _decisions(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def _tally(rows: Any) -> ReviewerStats:
    reviewers: dict[uuid.UUID, Reviewer] = {}
    days: dict[tuple[uuid.UUID, date], Tally] = defaultdict(Tally)
    # The last annotated save of each (reviewer, day, sequence): its decisions count.
    last: dict[tuple[uuid.UUID, date, uuid.UUID], list[Any]] = {}
    for user_id, email, name, sequence_id, saved_at, started_at, stage, decisions in rows:
        reviewers.setdefault(user_id, Reviewer(user_id, email, name))
        day = saved_at.date()
        tally = days[(user_id, day)]
        tally.saves += 1
        if started_at is not None:
            spent = (saved_at - started_at).total_seconds()
            tally.seconds += min(max(spent, 0.0), MAX_SECONDS_PER_SAVE)
        if stage == ProcessingStage.ANNOTATED:
            tally.sequences.add(sequence_id)
            last[(user_id, day, sequence_id)] = _decisions(decisions)
    for (user_id, day, _sequence_id), decided in last.items():
        counts = days[(user_id, day)].decisions
        for decision in decided:
            if decision in counts:
                counts[decision] += 1
    totals: dict[uuid.UUID, Tally] = defaultdict(Tally)
    active: dict[uuid.UUID, int] = defaultdict(int)
    for (user_id, _day), tally in days.items():
        total = totals[user_id]
        total.sequences |= tally.sequences
        total.saves += tally.saves
        total.seconds += tally.seconds
        for name, count in tally.decisions.items():
            total.decisions[name] += count
        active[user_id] += 1
    by_day = sorted(
        days.items(), key=lambda item: (-item[0][1].toordinal(), reviewers[item[0][0]].email)
    )
    by_reviewer = sorted(
        totals.items(), key=lambda item: (-len(item[1].sequences), reviewers[item[0]].email)
    )
    return ReviewerStats(
        days=[(reviewers[user_id], day, tally) for (user_id, day), tally in by_day],
        totals=[(reviewers[user_id], active[user_id], tally) for user_id, tally in by_reviewer],
    )


def _counts(who: Any, tally: Any) -> dict[str, Any]:
    """What a day's row and a reviewer's total both show."""
    return {
        "reviewer_id": who.id,
        "email": who.email,
        "display_name": who.display_name,
        "sequences_reviewed": len(tally.sequences),
        "saves": tally.saves,
        "decisions": Decisions(**tally.decisions),
        "seconds_spent": round(tally.seconds),
    }


def stats_read(
    found: ReviewerStats, *, date_from: date | None, date_to: date | None
) -> ReviewStats:
    """The statistics as the API answers them (and the reviewers page shows them)."""
    rows = [ReviewerDay(day=day, **_counts(who, tally)) for who, day, tally in found.days]
    totals = [ReviewerTotal(days=days, **_counts(who, tally)) for who, days, tally in found.totals]
    return ReviewStats(date_from=date_from, date_to=date_to, rows=rows, totals=totals)
