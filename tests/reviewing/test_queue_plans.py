"""How PostgreSQL runs a claim when a project's history is long and few reviews wait.

The plan is read with EXPLAIN (no timing): a claim must start from the waiting reviews, not
walk the project's sequences in time order past every reviewed one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from lookout.accounts import service as accounts
from lookout.db import make_engine, utcnow
from lookout.reviewing.repository import ReviewQueueRepository
from lookout.scoring.repository import QueueOrder
from lookout.sequences.service import SequenceFilters
from tests.conftest import make_settings, start_lookout
from tests.support import Lookout

HISTORY = 100_000  # sequences of the project, the oldest reviewed
WAITING = 1_000  # the newest, waiting for a review


@pytest.fixture
def pg_lookout(tmp_path: Path, postgres_url: str) -> Iterator[Lookout]:
    instance = start_lookout(make_settings(tmp_path, postgres_url), "postgres")
    yield instance
    instance.close()
    instance.server.stop()


def _history(lookout: Lookout, project_id: str) -> None:
    """HISTORY sequences a minute apart with a review each; all but the WAITING newest are
    annotated. Then fresh statistics, as autovacuum would leave them."""
    params = {"project": project_id, "n": HISTORY, "reviewed": HISTORY - WAITING}
    with lookout.sessions() as session:
        session.execute(
            sa.text(
                "INSERT INTO sequences (id, project_id, source, source_id, started_at, extra, "
                "created_at, updated_at) SELECT md5('seq' || g)::uuid, CAST(:project AS uuid), "
                "'test', 'seq-' || g, t, '{}', t, t FROM generate_series(1, :n) AS g, "
                "LATERAL (SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 minute'"
                " AS t) AS ts"
            ),
            params,
        )
        session.execute(
            sa.text(
                "INSERT INTO sequence_reviews (id, sequence_id, tracks, has_smoke, "
                "has_false_positives, false_positive_types, smoke_types, has_missed_smoke, "
                "is_unsure, processing_stage, draft_params, version, created_at, updated_at) "
                "SELECT md5('rev' || g)::uuid, md5('seq' || g)::uuid, '[]', false, false, "
                "'[]', '[]', false, false, CASE WHEN g <= :reviewed THEN 'annotated' "
                "ELSE 'ready_to_annotate' END, '{}', 1, now(), now() "
                "FROM generate_series(1, :n) AS g"
            ),
            params,
        )
        session.commit()
        session.execute(sa.text("ANALYZE"))  # in a transaction, unlike VACUUM
        session.commit()


def _explained_candidates(lookout: Lookout, principal: Any, project_id: str) -> str:
    """The plan of a claim's candidates query (oldest first, in the project), as the claim
    sends it to PostgreSQL."""
    engine = make_engine(lookout.settings.resolved_database_url, pool_size=1)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if statement.lstrip().startswith("SELECT sequences.id"):
            sent.append((statement, params))

    try:
        with Session(engine) as session:
            repo = ReviewQueueRepository(session, principal)
            filters = SequenceFilters(project_id=uuid.UUID(project_id))
            repo.candidates(filters, now=utcnow(), limit=20, order=QueueOrder("oldest"))
            statement, params = sent[-1]
            lines = session.connection().exec_driver_sql("EXPLAIN " + statement, params)
            return "\n".join(str(line) for line in lines.scalars())
    finally:
        engine.dispose()


def test_a_claim_in_a_long_history_starts_from_the_waiting_reviews(
    pg_lookout: Lookout,
) -> None:
    alice = pg_lookout.keyed_client("alice@example.org", "team")
    project = pg_lookout.create_project(alice, "cams")
    _history(pg_lookout, project["id"])
    with pg_lookout.sessions() as session:
        principal = accounts.principal_for(
            session, accounts.get_user(session, email="alice@example.org"), via="api_key"
        )
    plan = _explained_candidates(pg_lookout, principal, project["id"])
    assert "sequence_reviews" in plan, plan
    # Walking the project's sequences in time order would pass 99,000 reviewed ones first.
    assert "ix_sequences_project_started" not in plan, plan
    # And the claim itself takes the oldest waiting sequence.
    claimed = alice.post("/api/review-queue/claim", json={"project_id": project["id"]})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["sequence"]["source_id"] == f"seq-{HISTORY - WAITING + 1}"
