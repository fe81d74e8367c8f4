"""The review queue through the API: claims, renewals, releases, skips, on both databases."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lookout.db import utcnow
from lookout.reviewing.models import ReviewClaim
from tests.support import Lookout

CLAIM = "/api/review-queue/claim"


def add_waiting(
    client: httpx.Client, project_id: str, name: str, started_at: str, **extra: Any
) -> str:
    """A sequence whose draft waits for a review (stage ready_to_annotate)."""
    created = client.post(
        "/api/sequences",
        json={
            "project_id": project_id,
            "source": "test",
            "source_id": name,
            "started_at": started_at,
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    sequence_id = created.json()["id"]
    drafted = client.post(f"/api/sequences/{sequence_id}/draft", json={})
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["review"]["processing_stage"] == "ready_to_annotate"
    return sequence_id


@pytest.fixture
def world(lookout: Lookout) -> dict[str, Any]:
    """Alice and Bob review the team's project of three waiting sequences; Mallory is in
    another group."""
    alice = lookout.keyed_client("alice@example.org", "team")
    bob = lookout.keyed_client("bob@example.org", "team")
    mallory = lookout.keyed_client("mallory@example.org", "other")
    project = lookout.create_project(alice, "cams")
    ids = [
        add_waiting(alice, project["id"], f"seq-{day}", f"2024-01-0{day}T10:00:00Z")
        for day in (3, 1, 2)
    ]
    oldest_first = [ids[1], ids[2], ids[0]]
    return {
        "lookout": lookout,
        "alice": alice,
        "bob": bob,
        "mallory": mallory,
        "project": project,
        "seqs": oldest_first,
    }


def claim(client: httpx.Client, body: Any = None) -> httpx.Response:
    return client.post(CLAIM, json=body) if body is not None else client.post(CLAIM)


def claimed_id(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["sequence"]["id"]


def expire_claims(lookout: Lookout, sequence_id: str | None = None) -> None:
    """Move claims' expiry into the past (as if the reviewer had gone away)."""
    statement = sa.update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1))
    if sequence_id is not None:
        statement = statement.where(ReviewClaim.sequence_id == uuid.UUID(sequence_id))
    with lookout.sessions() as session:
        session.execute(statement)
        session.commit()


def test_claim_gives_the_oldest_and_the_same_again_while_held(world: dict[str, Any]) -> None:
    alice, bob, seqs = world["alice"], world["bob"], world["seqs"]
    # An older sequence already reviewed is not in the queue.
    reviewed = add_waiting(alice, world["project"]["id"], "seq-0", "2023-12-31T10:00:00Z")
    review = alice.get(f"/api/sequences/{reviewed}/review").json()
    saved = alice.put(
        f"/api/sequences/{reviewed}/review",
        json={"tracks": [], "processing_stage": "annotated", "version": review["version"]},
    )
    assert saved.status_code == 200, saved.text

    first = claim(alice)
    assert claimed_id(first) == seqs[0]
    body = first.json()
    assert body["remaining"] == 2
    assert body["expires_at"] > body["claimed_at"]
    # The sequence as the list shows it: the same JSON.
    listed = alice.get("/api/sequences", params={"order": "oldest"}).json()["items"]
    assert body["sequence"] == next(item for item in listed if item["id"] == seqs[0])
    assert body["sequence"]["processing_stage"] == "ready_to_annotate"

    again = claim(alice, {})
    assert claimed_id(again) == seqs[0]
    assert again.json()["claimed_at"] == body["claimed_at"]
    assert again.json()["expires_at"] >= body["expires_at"]

    assert claimed_id(claim(bob)) == seqs[1]
    status = alice.get("/api/review-queue").json()
    assert status["remaining"] == 1
    assert status["claimed"]["sequence"]["id"] == seqs[0]
    assert bob.get("/api/review-queue").json()["claimed"]["sequence"]["id"] == seqs[1]
    assert claimed_id(claim(world["lookout"].keyed_client("carol@example.org"))) == seqs[2]
    nothing = claim(world["lookout"].keyed_client("dave@example.org"))
    assert nothing.status_code == 204 and nothing.content == b""
    assert alice.get("/api/review-queue").json()["remaining"] == 0


def test_claim_takes_an_empty_body_no_body_or_filters(world: dict[str, Any]) -> None:
    alice, seqs, project = world["alice"], world["seqs"], world["project"]
    empty = alice.post(CLAIM, content=b"", headers={"Content-Type": "application/json"})
    assert claimed_id(empty) == seqs[0]
    assert claimed_id(alice.post(CLAIM)) == seqs[0]
    # Other filters: a reviewer holds one sequence, so a claim elsewhere releases the first.
    later = claim(alice, {"project_id": project["id"], "date_from": "2024-01-02"})
    assert claimed_id(later) == seqs[1]
    assert later.json()["remaining"] == 1  # seq-3: seq-1 is before date_from
    status = alice.get("/api/review-queue", params={"date_to": "2024-01-01"}).json()
    assert (status["remaining"], status["claimed"]) == (1, None)
    other = world["lookout"].create_project(alice, "elsewhere")
    assert claim(alice, {"project_id": other["id"]}).status_code == 204
    assert claimed_id(claim(world["bob"])) == seqs[0]


def test_concurrent_claims_get_different_sequences(world: dict[str, Any]) -> None:
    lookout, project = world["lookout"], world["project"]
    for day in range(4, 9):
        add_waiting(world["alice"], project["id"], f"seq-{day}", f"2024-01-0{day}T10:00:00Z")
    reviewers = [lookout.keyed_client(f"reviewer{i}@example.org", "team") for i in range(8)]
    barrier = threading.Barrier(len(reviewers))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def ask(client: httpx.Client) -> None:
        barrier.wait()
        response = claim(client)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=ask, args=(c,)) for c in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [200] * 8, [r.text for r in answers]
    got = [r.json()["sequence"]["id"] for r in answers]
    assert len(set(got)) == 8  # eight sequences, eight reviewers, each their own
    with lookout.sessions() as session:
        holders = session.execute(sa.select(ReviewClaim.sequence_id, ReviewClaim.user_id)).all()
    assert len(holders) == 8 and len({user for _seq, user in holders}) == 8


def test_an_expired_claim_goes_to_the_next_reviewer(world: dict[str, Any]) -> None:
    lookout, alice, bob, seqs = world["lookout"], world["alice"], world["bob"], world["seqs"]
    assert claimed_id(claim(alice)) == seqs[0]
    expire_claims(lookout, seqs[0])
    taken = claim(bob)
    assert claimed_id(taken) == seqs[0]
    assert taken.json()["remaining"] == 2
    # Alice's renewal now finds Bob there: a 409 that says so, and Bob keeps it.
    renewed = alice.post("/api/review-queue/renew", json={"sequence_id": seqs[0]})
    assert renewed.status_code == 409, renewed.text
    assert "another reviewer" in renewed.json()["detail"]
    assert renewed.json()["field"] == "sequence_id"
    assert bob.get("/api/review-queue").json()["claimed"]["sequence"]["id"] == seqs[0]
    assert claimed_id(claim(alice)) == seqs[1]


def test_renew_extends_and_retakes_release_gives_back(world: dict[str, Any]) -> None:
    lookout, alice, bob, seqs = world["lookout"], world["alice"], world["bob"], world["seqs"]
    first = claim(alice).json()
    renew = alice.post("/api/review-queue/renew", json={"sequence_id": seqs[0]})
    assert renew.status_code == 200, renew.text
    assert renew.json()["sequence"]["id"] == seqs[0]
    assert renew.json()["claimed_at"] == first["claimed_at"]
    assert renew.json()["expires_at"] >= first["expires_at"]
    # Expired, nobody took it: a renewal takes it again.
    expire_claims(lookout)
    assert (
        claimed_id(alice.post("/api/review-queue/renew", json={"sequence_id": seqs[0]}))
        == (seqs[0])
    )
    assert claimed_id(claim(bob)) == seqs[1]
    released = alice.post("/api/review-queue/release", json={"sequence_id": seqs[0]})
    assert released.status_code == 204 and released.content == b""
    assert alice.get("/api/review-queue").json()["claimed"] is None
    assert claimed_id(claim(world["lookout"].keyed_client("carol@example.org"))) == seqs[0]
    # Releasing what one does not hold changes nothing.
    assert alice.post("/api/review-queue/release", json={"sequence_id": seqs[1]}).status_code == 204
    assert bob.get("/api/review-queue").json()["claimed"]["sequence"]["id"] == seqs[1]


def test_renewing_a_reviewed_sequence_is_a_conflict(world: dict[str, Any]) -> None:
    alice, seqs = world["alice"], world["seqs"]
    review = alice.get(f"/api/sequences/{seqs[2]}/review").json()
    saved = alice.put(
        f"/api/sequences/{seqs[2]}/review",
        json={"tracks": [], "processing_stage": "annotated", "version": review["version"]},
    )
    assert saved.status_code == 200, saved.text
    renewed = alice.post("/api/review-queue/renew", json={"sequence_id": seqs[2]})
    assert renewed.status_code == 409
    assert "no longer waits" in renewed.json()["detail"]


def test_skip_leaves_only_that_reviewers_queue(world: dict[str, Any]) -> None:
    alice, bob, seqs = world["alice"], world["bob"], world["seqs"]
    assert claimed_id(claim(alice)) == seqs[0]
    skipped = alice.post("/api/review-queue/skip", json={"sequence_id": seqs[0]})
    assert skipped.status_code == 204
    status = alice.get("/api/review-queue").json()
    assert (status["remaining"], status["claimed"]) == (2, None)
    assert claimed_id(claim(alice)) == seqs[1]
    # Bob still gets it: the skip released Alice's claim.
    assert claimed_id(claim(bob)) == seqs[0]
    listed = alice.get("/api/review-queue/skipped").json()
    assert listed["total"] == 1
    assert [item["sequence"]["id"] for item in listed["items"]] == [seqs[0]]
    assert listed["items"][0]["sequence"]["processing_stage"] == "ready_to_annotate"
    assert bob.get("/api/review-queue/skipped").json()["total"] == 0
    # Skipping again is harmless; taking it back puts it in Alice's queue again.
    assert alice.post("/api/review-queue/skip", json={"sequence_id": seqs[2]}).status_code == 204
    assert [
        item["sequence"]["id"] for item in alice.get("/api/review-queue/skipped").json()["items"]
    ] == [seqs[2], seqs[0]]
    assert alice.delete(f"/api/review-queue/skipped/{seqs[2]}").status_code == 204
    assert alice.delete(f"/api/review-queue/skipped/{seqs[2]}").status_code == 204
    assert alice.get("/api/review-queue").json()["remaining"] == 1  # seq-3; seq-1 is Bob's


def test_another_group_never_claims_or_touches_the_sequences(world: dict[str, Any]) -> None:
    mallory, seqs, project = world["mallory"], world["seqs"], world["project"]
    assert claim(mallory).status_code == 204
    status = mallory.get("/api/review-queue").json()
    assert (status["remaining"], status["claimed"], status["items"]) == (0, None, [])
    refused = claim(mallory, {"project_id": project["id"]})
    assert refused.status_code == 404
    for action in ("renew", "release", "skip"):
        response = mallory.post(f"/api/review-queue/{action}", json={"sequence_id": seqs[0]})
        assert response.status_code == 404, (action, response.text)
        assert seqs[0] not in response.text or "not found" in response.json()["detail"]
    assert mallory.delete(f"/api/review-queue/skipped/{seqs[0]}").status_code == 404
    assert mallory.get("/api/review-queue/skipped").json()["total"] == 0
    with world["lookout"].sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ReviewClaim)) == 0
    # Alice's queue is whole.
    assert claimed_id(claim(world["alice"])) == seqs[0]
    # A sequence skipped, then out of reach (another group's), is not listed any more.
    own = world["lookout"].create_project(mallory, "theirs")
    theirs = add_waiting(mallory, own["id"], "m-1", "2024-01-01T00:00:00Z")
    assert mallory.post("/api/review-queue/skip", json={"sequence_id": theirs}).status_code == 204
    assert world["alice"].get("/api/review-queue/skipped").json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("renew", {"sequence_id": "not-a-uuid"}, "sequence_id"),
        ("renew", {}, "sequence_id"),
        ("skip", {"sequence_id": 12}, "sequence_id"),
        ("release", {"sequence_id": "x", "extra": 1}, "sequence_id"),
        ("claim", {"project_id": "nope"}, "project_id"),
        ("claim", {"processing_stage": "annotated"}, "processing_stage"),
        ("claim", {"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_to"),
        ("claim", {"date_from": "yesterday"}, "date_from"),
        ("claim", [], "body"),
    ],
)
def test_bad_input_names_the_field(lookout: Lookout, path: str, body: Any, field: str) -> None:
    client = lookout.keyed_client()
    response = client.post(f"/api/review-queue/{path}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert field in response.json()["detail"] or field == "body"


def test_bad_query_and_path_values_are_refused(lookout: Lookout) -> None:
    client = lookout.keyed_client()
    for path, name in (
        ("/api/review-queue?project_id=zzz", "project_id"),
        ("/api/review-queue?date_from=nope", "date_from"),
        ("/api/review-queue/skipped?limit=0", "limit"),
        ("/api/review-stats?date_to=2024-13-01", "date_to"),
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert name in response.text
    assert client.delete("/api/review-queue/skipped/zzz").status_code == 422
    unknown = client.post("/api/review-queue/renew", json={"sequence_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    bad_range = client.get("/api/review-stats?date_from=2024-02-01&date_to=2024-01-01")
    assert bad_range.status_code == 400 and bad_range.json()["field"] == "date_to"


def _principal(lookout: Lookout, email: str) -> Any:
    from lookout.accounts import service as accounts

    with lookout.sessions() as session:
        return accounts.principal_for(
            session, accounts.get_user(session, email=email), via="api_key"
        )


def test_a_claim_that_loses_a_race_takes_the_next_sequence(world: dict[str, Any]) -> None:
    """Bob's claim reads the oldest sequence as free while Alice's claim of it is not yet
    committed: he waits for her transaction, finds it taken and gets the next one."""
    from lookout.reviewing import service
    from lookout.reviewing.repository import ReviewQueueRepository
    from lookout.sequences.service import SequenceFilters

    lookout, seqs = world["lookout"], world["seqs"]
    alice, bob = _principal(lookout, "alice@example.org"), _principal(lookout, "bob@example.org")
    holder = lookout.sessions()
    now = utcnow()
    repo = ReviewQueueRepository(holder, alice)
    assert repo.take(uuid.UUID(seqs[0]), now=now, expires_at=now + timedelta(minutes=5))
    result: dict[str, Any] = {}

    def bob_claims() -> None:
        with lookout.sessions() as session:
            result["held"] = service.claim_next(
                session, principal=bob, filters=SequenceFilters(), claim_seconds=300
            )

    thread = threading.Thread(target=bob_claims)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()  # waiting for Alice's transaction
    holder.commit()
    holder.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert str(result["held"].row.sequence.id) == seqs[1]


def test_releasing_a_claim_on_a_sequence_out_of_reach_is_refused_and_keeps_it(
    world: dict[str, Any],
) -> None:
    """A claim Mallory holds on a sequence she may not read (as if she had left the team
    after claiming it) is not dropped by her release: 404, and the claim stays."""
    lookout, mallory, seqs = world["lookout"], world["mallory"], world["seqs"]
    with lookout.sessions() as session:
        mallory_id = session.scalar(
            sa.text("SELECT id FROM users WHERE email = 'mallory@example.org'")
        )
        now = utcnow()
        session.add(
            ReviewClaim(
                sequence_id=uuid.UUID(seqs[0]),
                user_id=uuid.UUID(str(mallory_id)),
                claimed_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
        session.commit()
    refused = mallory.post("/api/review-queue/release", json={"sequence_id": seqs[0]})
    assert refused.status_code == 404, refused.text
    with lookout.sessions() as session:
        kept = session.scalars(sa.select(ReviewClaim.sequence_id)).all()
    assert kept == [uuid.UUID(seqs[0])]
    # Her own readable sequence's claim goes in one release; a second release is harmless.
    own = lookout.create_project(mallory, "theirs")
    theirs = add_waiting(mallory, own["id"], "m-1", "2024-01-01T00:00:00Z")
    assert claimed_id(claim(mallory)) == theirs
    for _ in range(2):
        released = mallory.post("/api/review-queue/release", json={"sequence_id": theirs})
        assert released.status_code == 204, released.text
    assert mallory.get("/api/review-queue").json()["claimed"] is None


def test_the_waiting_stage_is_written_into_the_queue_sql() -> None:
    """PostgreSQL plans a prepared statement once for any parameter: the stage a queue asks
    for is in the SQL itself, so the plan knows how few reviews wait."""
    from sqlalchemy.dialects import postgresql

    from lookout.auth.principal import Principal
    from lookout.reviewing.repository import ReviewQueueRepository
    from lookout.sequences.service import SequenceFilters

    principal = Principal(uuid.uuid4(), "x@example.org", group_ids=frozenset({uuid.uuid4()}))
    repo = ReviewQueueRepository(None, principal)  # type: ignore[arg-type]
    query = repo.queue(SequenceFilters(), now=utcnow())
    # What reaches the driver: parameters rendered at execution are inlined here.
    sql = str(
        query.compile(dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True})
    )
    assert "sequence_reviews.processing_stage = 'ready_to_annotate'" in sql
