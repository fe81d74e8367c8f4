"""How each database runs a claim when a project's history is long and few reviews wait.

The plan is read with EXPLAIN (no timing): a claim must read the queue's own index of
waiting reviews in order, not walk (or join) the project's sequences past every reviewed one.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from bench.queue_order import explain, insert_queue, review_all_but_newest
from lookout.auth.principal import Principal
from lookout.db import refresh_sqlite_statistics, utcnow
from lookout.reviewing.repository import ReviewQueueRepository
from lookout.scoring.repository import QueueOrder
from lookout.sequences.models import SequenceReview
from lookout.sequences.service import SequenceFilters
from tests.reviewing.test_review_queue_api import add_waiting
from tests.support import Lookout

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HISTORY = 100_000  # sequences of the project, the oldest reviewed
WAITING = 1_000  # the newest, waiting for a review
QUEUE_INDEX = "ix_sequence_reviews_waiting"


@POSTGRES
def test_a_claim_in_a_long_history_reads_the_queue_index(lookout: Any, database_url: str) -> None:
    alice = lookout.keyed_client("alice@example.org")
    project = lookout.create_project(alice)["id"]
    insert_queue(database_url, project, HISTORY)
    review_all_but_newest(database_url, project, WAITING)

    for order in ("oldest", "newest"):
        plan = explain(database_url, project, order)["plan"]
        # Walking the project's sequences in time order would pass 99,000 reviewed ones first;
        # joining them all would read 100,000 rows: the queue's index holds only the waiting.
        assert not any(node.endswith("ix_sequences_project_started") for node in plan), plan
        assert any(node.endswith(QUEUE_INDEX) for node in plan), plan
    # And the claim itself takes the oldest waiting sequence.
    claimed = alice.post("/api/review-queue/claim", json={"project_id": project})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["sequence"]["source_id"] == f"seq-{HISTORY - WAITING + 1}"


@SQLITE
def test_sqlite_reads_the_queue_index_in_order(lookout: Lookout, database_url: str) -> None:
    alice = lookout.keyed_client("alice@example.org")
    project = lookout.create_project(alice)["id"]
    ids = [add_waiting(alice, project, f"s{n}", f"2024-01-{n + 1:02d}T00:00:00Z") for n in range(6)]
    with lookout.sessions() as session:
        session.execute(
            sa.text(
                "UPDATE sequence_reviews SET processing_stage = 'annotated' "
                "WHERE sequence_id IN (:a, :b)"
            ),
            {"a": uuid.UUID(ids[0]).hex, "b": uuid.UUID(ids[1]).hex},
        )
        session.commit()
        refresh_sqlite_statistics(session.get_bind())  # as a server does now and then
        principal = Principal(user_id=uuid.uuid4(), email="plan@example.org", is_admin=True)
        repo = ReviewQueueRepository(session, principal)
        filters = SequenceFilters(project_id=uuid.UUID(project))
        for order in ("oldest", "newest"):
            run = functools.partial(
                repo.candidates, filters, now=utcnow(), limit=20, order=QueueOrder(order)
            )
            plan = _sqlite_plan(session, run)
            assert QUEUE_INDEX in plan, plan
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
        found = repo.candidates(filters, now=utcnow(), limit=20, order=QueueOrder("oldest"))
    assert [str(i) for i in found] == ids[2:]


def _sqlite_plan(session: Any, run: Any) -> str:
    """EXPLAIN QUERY PLAN of the first statement selecting sequence ids that `run` executes."""
    captured: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT sequences.id"):
            captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    statement, parameters = captured[0]
    rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(row[-1] for row in rows)


def test_a_draft_holds_its_sequences_start(lookout: Lookout) -> None:
    """The queue sorts on the review's copy of the start: the draft's INSERT copies it, to
    the microsecond, on both databases."""
    alice = lookout.keyed_client("alice@example.org")
    project = lookout.create_project(alice)["id"]
    sequence_id = add_waiting(alice, project, "s", "2024-03-01T08:15:42.123456Z")
    with lookout.sessions() as session:
        review = session.scalar(
            sa.select(SequenceReview).where(SequenceReview.sequence_id == uuid.UUID(sequence_id))
        )
        assert review is not None
        assert review.sequence_started_at == review.sequence.started_at
        assert review.sequence_started_at == datetime(2024, 3, 1, 8, 15, 42, 123456, tzinfo=UTC)
