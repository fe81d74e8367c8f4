"""How PostgreSQL runs a claim when a project's history is long and few reviews wait.

The plan is read with EXPLAIN (no timing): a claim must start from the waiting reviews, not
walk the project's sequences in time order past every reviewed one.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.queue_order import explain, insert_queue, review_all_but_newest

POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
HISTORY = 100_000  # sequences of the project, the oldest reviewed
WAITING = 1_000  # the newest, waiting for a review


@POSTGRES
def test_a_claim_in_a_long_history_starts_from_the_waiting_reviews(
    lookout: Any, database_url: str
) -> None:
    alice = lookout.keyed_client("alice@example.org")
    project = lookout.create_project(alice)["id"]
    insert_queue(database_url, project, HISTORY)
    review_all_but_newest(database_url, project, WAITING)

    plan = explain(database_url, project, "oldest")["plan"]
    # Walking the project's sequences in time order would pass 99,000 reviewed ones first.
    assert not any(node.endswith("ix_sequences_project_started") for node in plan), plan
    # And the claim itself takes the oldest waiting sequence.
    claimed = alice.post("/api/review-queue/claim", json={"project_id": project})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["sequence"]["source_id"] == f"seq-{HISTORY - WAITING + 1}"
