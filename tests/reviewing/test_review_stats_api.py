"""Who did what: reviewer statistics from the reviews' history, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from lookout.accounts.models import User
from lookout.reviewing.models import ReviewClaim
from lookout.sequences.models import ReviewVersion, SequenceReview
from tests.support import Lookout, jpeg_bytes

STATS = "/api/review-stats"


def _sequence_with_frame(client: httpx.Client, project_id: str, name: str) -> tuple[str, str]:
    """A drafted sequence (ready to review) with one frame: (sequence id, frame id)."""
    created = client.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "source": "test",
            "source_id": name,
            "started_at": "2024-01-01T10:00:00Z",
        },
    )
    assert created.status_code == 201, created.text
    sequence_id = created.json()["id"]
    frame = client.post(
        f"/api/sequences/{sequence_id}/frames",
        files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
        data={"metadata": '{"source": "test", "source_id": "' + name + '-f0"}'},
    )
    assert frame.status_code == 201, frame.text
    assert client.post(f"/api/sequences/{sequence_id}/draft", json={}).status_code == 200
    return sequence_id, frame.json()["id"]


def _track(frame_id: str, decision: str) -> dict[str, Any]:
    track: dict[str, Any] = {
        "decision": decision,
        "boxes": [{"frame_id": frame_id, "xyxyn": [0.1, 0.1, 0.2, 0.2]}],
    }
    if decision == "smoke":
        track["smoke_type"] = "wildfire"
    if decision == "false_positive":
        track["false_positive_types"] = ["building"]
    return track


def _save(client: httpx.Client, sequence_id: str, tracks: list[dict[str, Any]]) -> None:
    version = client.get(f"/api/sequences/{sequence_id}/review").json()["version"]
    saved = client.put(
        f"/api/sequences/{sequence_id}/review",
        json={"tracks": tracks, "processing_stage": "annotated", "version": version},
    )
    assert saved.status_code == 200, saved.text


def _claim_began(lookout: Lookout, sequence_id: str, ago: timedelta) -> None:
    """The reviewer's claim began `ago` before now (instead of waiting that long)."""
    with lookout.sessions() as session:
        session.execute(
            sa.update(ReviewClaim)
            .where(ReviewClaim.sequence_id == uuid.UUID(sequence_id))
            .values(claimed_at=datetime.now(UTC) - ago)
        )
        session.commit()


def _claim(client: httpx.Client) -> str:
    response = client.post("/api/review-queue/claim")
    assert response.status_code == 200, response.text
    return response.json()["sequence"]["id"]


def test_stats_count_what_each_reviewer_saved(lookout: Lookout) -> None:
    alice = lookout.keyed_client("alice@example.org", "team")
    bob = lookout.keyed_client("bob@example.org", "team")
    mallory = lookout.keyed_client("mallory@example.org", "other")
    project = lookout.create_project(alice, "cams")
    frames = dict(_sequence_with_frame(alice, project["id"], f"s{i}") for i in range(3))

    # Alice claims a sequence, works on it for 10 minutes and saves smoke, then corrects
    # it (the same sequence again: counted once, with her last decisions).
    first = _claim(alice)
    _claim_began(lookout, first, timedelta(minutes=10))
    _save(alice, first, [_track(frames[first], "false_positive")])
    _save(alice, first, [_track(frames[first], "smoke")])
    # Bob's claim was left open two hours: counted as 30 minutes.
    second = _claim(bob)
    _claim_began(lookout, second, timedelta(hours=2))
    _save(bob, second, [_track(frames[second], "false_positive"), _track(frames[second], "unsure")])
    # A save in review (not annotated) counts as a save, not as a sequence reviewed.
    third = next(s for s in frames if s not in (first, second))
    version = bob.get(f"/api/sequences/{third}/review").json()["version"]
    in_review = bob.put(
        f"/api/sequences/{third}/review",
        json={"tracks": [], "processing_stage": "in_review", "version": version},
    )
    assert in_review.status_code == 200, in_review.text

    stats = alice.get(STATS, params={"project_id": project["id"]})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    today = datetime.now(UTC).date().isoformat()
    by_email = {row["email"]: row for row in body["rows"]}
    assert set(by_email) == {"alice@example.org", "bob@example.org"}
    a, b = by_email["alice@example.org"], by_email["bob@example.org"]
    assert a["day"] == today and b["day"] == today
    assert a["sequences_reviewed"] == 1 and a["saves"] == 2
    assert a["decisions"] == {"smoke": 1, "false_positive": 0, "unsure": 0}
    # 10 minutes from her claim to the first save; the second save had no claim any more.
    assert 600 <= a["seconds_spent"] < 1800
    assert b["sequences_reviewed"] == 1 and b["saves"] == 2
    assert b["decisions"] == {"smoke": 0, "false_positive": 1, "unsure": 1}
    assert b["seconds_spent"] == 1800
    totals = {row["email"]: row for row in body["totals"]}
    assert totals["bob@example.org"]["days"] == 1
    assert totals["alice@example.org"]["sequences_reviewed"] == 1

    only_bob = alice.get(STATS, params={"reviewer": "BOB@example.org"}).json()
    assert [row["email"] for row in only_bob["rows"]] == ["bob@example.org"]
    bob_id = b["reviewer_id"]
    assert [r["email"] for r in alice.get(STATS, params={"reviewer": bob_id}).json()["rows"]] == [
        "bob@example.org"
    ]
    assert alice.get(STATS, params={"date_to": "2024-01-01"}).json()["rows"] == []
    # Another group sees none of it, and may not name the project.
    assert mallory.get(STATS).json() == {
        "date_from": None,
        "date_to": None,
        "rows": [],
        "totals": [],
    }
    assert mallory.get(STATS, params={"project_id": project["id"]}).status_code == 404


def _version(
    session: Any, review: SequenceReview, number: int, user: User, **values: Any
) -> ReviewVersion:
    row = ReviewVersion(
        review_id=review.id,
        sequence_id=review.sequence_id,
        version=number,
        action=values.pop("action", "save"),
        saved_by_id=user.id,
        **values,
    )
    session.add(row)
    return row


def test_stats_group_by_day_and_reviewer(lookout: Lookout) -> None:
    """History rows written directly: several days, restores, drafts and unknown starts."""
    alice = lookout.keyed_client("alice@example.org", "team")
    lookout.keyed_client("bob@example.org", "team")
    project = lookout.create_project(alice, "cams")
    other_project = lookout.create_project(alice, "other-cams")
    seqs = [_sequence_with_frame(alice, project["id"], f"s{i}")[0] for i in range(2)]
    elsewhere = _sequence_with_frame(alice, other_project["id"], "x")[0]
    day1 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    day2 = datetime(2024, 3, 2, 23, 30, tzinfo=UTC)

    def state(*decisions: str, stage: str = "annotated") -> dict[str, Any]:
        tracks = [{"decision": d, "boxes": []} for d in decisions]
        return {"tracks": tracks, "processing_stage": stage, "is_unsure": "unsure" in decisions}

    with lookout.sessions() as session:
        users = {u.email: u for u in session.scalars(sa.select(User))}
        a, b = users["alice@example.org"], users["bob@example.org"]
        reviews = {str(r.sequence_id): r for r in session.scalars(sa.select(SequenceReview))}
        r0, r1, rx = reviews[seqs[0]], reviews[seqs[1]], reviews[elsewhere]
        _version(
            session,
            r0,
            10,
            a,
            saved_at=day1,
            started_at=day1 - timedelta(minutes=5),
            state=state("smoke", "smoke"),
        )
        _version(
            session,
            r1,
            10,
            a,
            saved_at=day1 + timedelta(hours=1),
            started_at=None,
            state=state("false_positive"),
        )
        _version(
            session,
            r0,
            11,
            b,
            saved_at=day2,
            action="restore",
            started_at=day2 - timedelta(minutes=1),
            state=state("unsure"),
        )
        _version(
            session,
            r1,
            11,
            b,
            saved_at=day2 + timedelta(minutes=10),
            action="draft",
            state=state("smoke"),
        )  # a draft: nobody's work
        _version(
            session,
            r1,
            12,
            b,
            saved_at=day2 + timedelta(minutes=20),
            action="send_back",
            state=state("smoke", stage="ready_to_annotate"),
        )
        _version(
            session,
            rx,
            10,
            a,
            saved_at=day2,
            started_at=day2 - timedelta(minutes=2),
            state=state("smoke"),
        )
        session.commit()

    body = alice.get(STATS, params={"project_id": project["id"]}).json()
    rows = [
        (
            r["email"],
            r["day"],
            r["sequences_reviewed"],
            r["saves"],
            r["seconds_spent"],
            r["decisions"],
        )
        for r in body["rows"]
    ]
    assert rows == [
        ("bob@example.org", "2024-03-02", 1, 1, 60, {"smoke": 0, "false_positive": 0, "unsure": 1}),
        (
            "alice@example.org",
            "2024-03-01",
            2,
            2,
            300,
            {"smoke": 2, "false_positive": 1, "unsure": 0},
        ),
    ]
    everything = alice.get(STATS).json()
    alice_total = next(t for t in everything["totals"] if t["email"] == "alice@example.org")
    assert alice_total["days"] == 2 and alice_total["sequences_reviewed"] == 3
    assert alice_total["seconds_spent"] == 420 and alice_total["decisions"]["smoke"] == 3
    one_day = alice.get(STATS, params={"date_from": "2024-03-02", "date_to": "2024-03-02"}).json()
    assert {(r["email"], r["day"]) for r in one_day["rows"]} == {
        ("bob@example.org", "2024-03-02"),
        ("alice@example.org", "2024-03-02"),
    }
    assert alice.get(STATS, params={"reviewer": "nobody@example.org"}).json()["rows"] == []
