"""Who reviewed what, in the sequence list (API and page) and on the reviewers page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from lookout.web.routes import CSP
from tests.exports.builders import make_world
from tests.support import Lookout


def _save(client: httpx.Client, sequence_id: str, frame_id: str, decision: str) -> None:
    review = client.get(f"/api/sequences/{sequence_id}/review")
    version = review.json()["version"] if review.status_code == 200 else None
    track: dict[str, Any] = {
        "decision": decision,
        "boxes": [{"frame_id": frame_id, "xyxyn": [0.1, 0.1, 0.2, 0.2]}],
    }
    if decision == "smoke":
        track["smoke_type"] = "wildfire"
    saved = client.put(
        f"/api/sequences/{sequence_id}/review",
        json={"tracks": [track], "processing_stage": "annotated", "version": version},
    )
    assert saved.status_code == 200, saved.text


def _world(lookout: Lookout) -> dict[str, Any]:
    world = make_world(lookout, email="alice@example.org", group="team")
    bob = lookout.keyed_client("bob@example.org", "team")
    s1 = world.add_sequence("s1", frames=1, started_at="2024-05-01T10:00:00")
    s2 = world.add_sequence("s2", frames=1, started_at="2024-05-02T10:00:00")
    s3 = world.add_sequence("s3", frames=1, started_at="2024-05-03T10:00:00")
    _save(world.client, s1.id, s1.frames[0], "smoke")
    _save(bob, s2.id, s2.frames[0], "false_positive")
    return {"alice": world.client, "bob": bob, "world": world, "seqs": (s1, s2, s3)}


def test_sequences_filter_by_reviewer(lookout: Lookout) -> None:
    w = _world(lookout)
    alice, (s1, s2, s3) = w["alice"], w["seqs"]

    def listed(**params: Any) -> list[tuple[str, str | None]]:
        page = alice.get("/api/sequences", params=params)
        assert page.status_code == 200, page.text
        return [(item["id"], item["reviewed_by"]) for item in page.json()["items"]]

    assert listed() == [(s3.id, None), (s2.id, "bob@example.org"), (s1.id, "alice@example.org")]
    assert listed(reviewed_by="Bob@Example.org") == [(s2.id, "bob@example.org")]
    assert listed(reviewed_by="nobody@example.org") == []
    with lookout.sessions() as session:
        from lookout.accounts import service as accounts

        alice_id = str(accounts.get_user(session, email="alice@example.org").id)
    assert listed(reviewed_by=alice_id) == [(s1.id, "alice@example.org")]
    detail = alice.get(f"/api/sequences/{s2.id}").json()
    assert detail["reviewed_by"] == "bob@example.org" == detail["review"]["reviewed_by"]

    page = alice.get("/sequences", params={"reviewer": "bob@example.org"})
    assert page.status_code == 200
    assert f"/sequences/{s2.id}" in page.text and f"/sequences/{s1.id}" not in page.text
    assert ">Reviewer</th>" in page.text and 'value="bob@example.org"' in page.text
    everything = alice.get("/sequences").text
    assert 'href="/sequences?reviewer=alice%40example.org">alice@example.org</a>' in everything


def test_reviewers_page_shows_who_did_what(lookout: Lookout) -> None:
    w = _world(lookout)
    alice, world = w["alice"], w["world"]
    page = alice.get("/reviewers")
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-security-policy"] == CSP
    html = page.text
    assert 'aria-current="page">Reviewers</a>' in html
    today = datetime.now(UTC).date().isoformat()
    assert 'name="date_from" value="' in html and "alice@example.org" in html
    assert "bob@example.org" in html and f"<td>{today}</td>" in html
    assert 'id="reviewer-totals"' in html and 'id="reviewer-days"' in html
    # Filters: a reviewer, a project, dates (a bad one is explained, not fatal).
    only_bob = alice.get("/reviewers", params={"reviewer": "bob@example.org"}).text
    # (alice's own email is in the top bar, a link to her account: look at the tables.)
    tables = only_bob[only_bob.index('id="reviewer-totals"') :]
    assert "bob@example.org" in tables and "alice@example.org</a>" not in tables
    past = alice.get("/reviewers", params={"date_from": "2020-01-01", "date_to": "2020-01-31"})
    assert "No reviews in this period" in past.text
    bad = alice.get("/reviewers", params={"date_from": "soon"})
    assert bad.status_code == 200 and "is not a date" in bad.text
    project = alice.get("/reviewers", params={"project_id": world.project_id})
    assert "alice@example.org" in project.text
    # Another group: nothing of the team's, and the team's project is a 404 page.
    mallory = lookout.keyed_client("mallory@example.org", "other")
    theirs = mallory.get("/reviewers")
    assert theirs.status_code == 200 and "alice@example.org" not in theirs.text
    assert "No reviews in this period" in theirs.text
    assert mallory.get("/reviewers", params={"project_id": world.project_id}).status_code == 404
