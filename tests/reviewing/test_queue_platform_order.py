"""The review queue ordered by the platform's score, and narrowed by its score and label."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reviewing.test_review_queue_api import CLAIM, add_waiting, claimed_id
from tests.support import Lookout


@pytest.fixture
def scored(lookout: Lookout) -> dict[str, Any]:
    """Four waiting sequences: the oldest has the lowest score, one has none."""
    client = lookout.keyed_client("alice@example.org", "team")
    project = lookout.create_project(client, "cams")["id"]
    ids = {
        name: add_waiting(
            client,
            project,
            name,
            f"2024-01-0{day}T10:00:00Z",
            platform_score=score,
            source_label=label,
        )
        for name, day, score, label in (
            ("low-oldest", 1, 0.2, "other"),
            ("unscored", 2, None, None),
            ("high", 3, 0.95, "wildfire_smoke"),
            ("middle", 4, 0.5, "wildfire_smoke"),
        )
    }
    return {"client": client, "ids": ids}


def _claim_all(client: Any, body: dict[str, Any]) -> list[str]:
    """Claim then skip until the queue is empty: the order the queue hands them out."""
    order = []
    while (response := client.post(CLAIM, json=body)).status_code == 200:
        sequence_id = claimed_id(response)
        order.append(sequence_id)
        skipped = client.post("/api/review-queue/skip", json={"sequence_id": sequence_id})
        assert skipped.status_code in (200, 204), skipped.text
    assert response.status_code == 204, response.text
    return order


def test_default_order_stays_oldest_first(scored: dict[str, Any]) -> None:
    ids = scored["ids"]
    assert _claim_all(scored["client"], {}) == [
        ids["low-oldest"],
        ids["unscored"],
        ids["high"],
        ids["middle"],
    ]


def test_order_by_score_gives_the_most_confident_first(scored: dict[str, Any]) -> None:
    ids = scored["ids"]
    assert _claim_all(scored["client"], {"order": "score"}) == [
        ids["high"],
        ids["middle"],
        ids["low-oldest"],
        ids["unscored"],
    ]


def test_queue_filters_by_platform_score_and_label(scored: dict[str, Any]) -> None:
    ids = scored["ids"]
    client = scored["client"]
    body = {"order": "score", "platform_label": "wildfire_smoke", "min_platform_score": 0.6}
    assert _claim_all(client, body) == [ids["high"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order": "newest"}, "order"),
        ({"platform_label": "fire"}, "platform_label"),
        ({"min_platform_score": -1}, "min_platform_score"),
    ],
)
def test_bad_claim_order_or_filter_names_the_field(
    lookout: Lookout, body: dict[str, Any], field: str
) -> None:
    response = lookout.keyed_client().post(CLAIM, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
